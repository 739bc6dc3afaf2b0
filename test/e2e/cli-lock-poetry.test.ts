/**
 * Issue 10, the locks Poetry and pipenv users already have, and Poetry projects without a lock, against the
 * lab index. The poetry.lock and Pipfile.lock are real tool output (test/fixtures/poetry-project,
 * pipenv-project). Each: `init` writes a spec that follows it, a flagless `lock` pins exactly the lock's
 * versions and files; a stale lock and a tampered hash are exit 2 naming the lock and leave envseal.lock
 * byte-identical. A Poetry project without poetry.lock resolves from [tool.poetry] (caret/tilde, groups, source).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const fixture = (dir: string, name: string) => readFileSync(new URL(`../fixtures/${dir}/${name}`, import.meta.url), 'utf8');
const PYPROJECT = fixture('poetry-project', 'pyproject.toml');
const POETRY_LOCK = fixture('poetry-project', 'poetry.lock');
const PIPFILE = fixture('pipenv-project', 'Pipfile');
const PIPFILE_LOCK = fixture('pipenv-project', 'Pipfile.lock');
const TINYCONFIG_SHA = '9b581424b3a004c3cf1170cbda6eec4e4495726c1ea36097b3e208ca0db7963e';

interface Locked {
  name: string;
  version: string;
  file: { filename: string; sha256: string };
  targets: string[];
}
const pins = async (p: TempProject) =>
  (JSON.parse(await readFile(p.path('envseal.lock'), 'utf8')).python.packages as Locked[]).map(
    (x) => `${x.name}==${x.version} ${x.file.sha256.slice(0, 12)} ${x.targets.join()}`,
  );
/** `name==version sha256-prefix targets` for the given lock lines. */
const expected = (lines: [string, string, string][]) => lines.map(([nv, sha, t]) => `${nv} ${sha.slice(0, 12)} ${t}`);
const SHA = {
  metrics10: '2dba20cc03bef19df90957c0c90ddafc384f0b2e71af08d11dbf657aad5c3006',
  metrics11: '56335742d954fcefe240c1e687b8edd5a950849685f18ca839fe382a61a39f0e',
  plot: 'c6dec3a21ddb966ac287d8878685ce8035f32f1c491e8659fd30a227079d9890',
  utils: 'fa2c0516867e9c18b4e220673af378b8ed113b069da4f8fd914b1186a84ac00f',
  tiny: TINYCONFIG_SHA,
};

describe('envseal lock follows poetry.lock and Pipfile.lock, and resolves Poetry projects', { concurrency: false }, () => {
  let poetry: TempProject;
  let pipenv: TempProject;
  let bare: TempProject;
  const env = { ENVSEAL_CACHE_DIR: '' };

  before(async () => {
    await requireLab();
    await requireLabIndex();
    poetry = await makeTempProject({ 'pyproject.toml': PYPROJECT, 'poetry.lock': POETRY_LOCK, 'train.py': 'print("hi")\n' });
    pipenv = await makeTempProject({ Pipfile: PIPFILE, 'Pipfile.lock': PIPFILE_LOCK, 'train.py': 'print("hi")\n' });
    bare = await makeTempProject({ 'pyproject.toml': PYPROJECT, 'train.py': 'print("hi")\n' });
    env.ENVSEAL_CACHE_DIR = poetry.path('.cache');
  });
  const tags: string[] = [];
  after(async () => {
    if (tags.length) await dockerCli(['rmi', '-f', ...tags]);
    await poetry?.cleanup();
    await pipenv?.cleanup();
    await bare?.cleanup();
  });

  async function initAndLock(p: TempProject, lockfileLine: RegExp): Promise<string> {
    const init = await runEnvseal(['init', '--base', LAB_BASE_IMAGE], { cwd: p.dir, env });
    assert.equal(init.code, 0, init.stderr);
    const spec = await readFile(p.path('envseal.yaml'), 'utf8');
    assert.match(spec, lockfileLine);
    const res = await runEnvseal(['lock'], { cwd: p.dir, env });
    assert.equal(res.code, 0, res.stderr);
    return spec;
  }

  async function expectRefused(p: TempProject, file: string, text: string, message: RegExp): Promise<void> {
    const before = await readFile(p.path('envseal.lock'));
    const original = await readFile(p.path(file), 'utf8');
    await writeFile(p.path(file), text);
    const res = await runEnvseal(['lock'], { cwd: p.dir, env });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, message);
    assert.deepEqual(await readFile(p.path('envseal.lock')), before);
    await writeFile(p.path(file), original);
  }

  it('poetry.lock: init follows it; lock pins its versions and hashes; groups: [dev] adds the dev group for the dev image', async () => {
    const spec = await initAndLock(poetry, /^ {2}lockfile: poetry\.lock$/m);
    const main: [string, string, string][] = [
      ['seal-metrics==1.0.0', SHA.metrics10, 'deploy,dev'],
      ['seal-utils==1.0.0', SHA.utils, 'deploy,dev'],
      ['tinyconfig==1.1.0', SHA.tiny, 'deploy,dev'],
    ];
    assert.deepEqual(await pins(poetry), expected(main));
    const lock = JSON.parse(await readFile(poetry.path('envseal.lock'), 'utf8'));
    assert.equal(lock.declared.python.imported.kind, 'poetry');
    await writeFile(poetry.path('envseal.yaml'), spec.replace(/^ {2}lockfile: poetry\.lock$/m, '  lockfile: { path: poetry.lock, groups: [dev] }'));
    const dev = await runEnvseal(['lock'], { cwd: poetry.dir, env });
    assert.equal(dev.code, 0, dev.stderr);
    assert.deepEqual(await pins(poetry), expected([main[0]!, ['seal-plot==0.1.0', SHA.plot, 'dev'], main[1]!, main[2]!]));
  });

  it('poetry.lock stale against pyproject.toml (content-hash), or with a tampered hash: exit 2 naming it, envseal.lock byte-identical', async () => {
    await expectRefused(
      poetry,
      'pyproject.toml',
      PYPROJECT.replace('tinyconfig = "~1.1"', 'tinyconfig = "~1.0"'),
      /poetry\.lock is stale against pyproject\.toml: its content-hash is 8dda453a/,
    );
    const forged = `0${TINYCONFIG_SHA.slice(1)}`;
    await expectRefused(
      poetry,
      'poetry.lock',
      POETRY_LOCK.replace(TINYCONFIG_SHA, forged),
      new RegExp(`poetry\\.lock: package tinyconfig 1\\.1\\.0: the lock's sha256 of tinyconfig-1\\.1\\.0-py3-none-any\\.whl is ${forged}`),
    );
  });

  it('the poetry.lock project builds: generate, build --target dev, verify passes (image contents included)', async () => {
    assert.equal((await runEnvseal(['generate'], { cwd: poetry.dir, env })).code, 0);
    const built = await runEnvseal(['build', '--target', 'dev', '--json'], { cwd: poetry.dir, env });
    assert.equal(built.code, 0, built.stderr);
    tags.push(...(JSON.parse(built.stdout) as { tags: string[] }).tags);
    const verify = await runEnvseal(['verify', '--image', tags[0]!], { cwd: poetry.dir, env });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });

  it('Pipfile.lock: init follows it; lock pins its versions, files chosen on the index by its hashes; groups: [develop] adds seal-plot', async () => {
    const spec = await initAndLock(pipenv, /^ {2}lockfile: Pipfile\.lock$/m);
    const main: [string, string, string][] = [
      ['seal-metrics==1.1.0', SHA.metrics11, 'deploy,dev'],
      ['seal-utils==1.0.0', SHA.utils, 'deploy,dev'],
      ['tinyconfig==1.1.0', SHA.tiny, 'deploy,dev'],
    ];
    assert.deepEqual(await pins(pipenv), expected(main));
    await writeFile(pipenv.path('envseal.yaml'), spec.replace(/^ {2}lockfile: Pipfile\.lock$/m, '  lockfile: { path: Pipfile.lock, groups: [develop] }'));
    const dev = await runEnvseal(['lock'], { cwd: pipenv.dir, env });
    assert.equal(dev.code, 0, dev.stderr);
    assert.deepEqual(await pins(pipenv), expected([main[0]!, ['seal-plot==0.1.0', SHA.plot, 'dev'], main[1]!, main[2]!]));
  });

  it('Pipfile.lock stale against Pipfile (_meta.hash), or with a hash the index does not give: exit 2 naming it, envseal.lock byte-identical', async () => {
    await expectRefused(
      pipenv,
      'Pipfile',
      PIPFILE.replace('tinyconfig = "~=1.1"', 'tinyconfig = "~=1.0"'),
      /Pipfile\.lock is stale against Pipfile: its _meta\.hash is 6c4581db/,
    );
    await expectRefused(
      pipenv,
      'Pipfile.lock',
      PIPFILE_LOCK.replaceAll(TINYCONFIG_SHA, `0${TINYCONFIG_SHA.slice(1)}`),
      /Pipfile\.lock: package tinyconfig 1\.1\.0: none of the lock's sha256/,
    );
  });

  it('a Poetry project without poetry.lock resolves from [tool.poetry]: ^1.0 / ~1.1, the dev group, the lab source, python = "^3.9"', async () => {
    const init = await runEnvseal(['init', '--base', LAB_BASE_IMAGE], { cwd: bare.dir, env });
    assert.equal(init.code, 0, init.stderr);
    const spec = await readFile(bare.path('envseal.yaml'), 'utf8');
    await writeFile(
      bare.path('envseal.yaml'),
      spec.replace(/pyproject: \{ path: pyproject\.toml, extras: \[\] \}/, 'pyproject: { path: pyproject.toml, groups: [dev] }'),
    );
    const res = await runEnvseal(['lock'], { cwd: bare.dir, env });
    assert.equal(res.code, 0, res.stderr);
    const lock = JSON.parse(await readFile(bare.path('envseal.lock'), 'utf8'));
    assert.deepEqual(
      lock.declared.python.requirements.map((r: { requirement: string; targets: string[] }) => `${r.requirement} ${r.targets.join()}`),
      ['seal-metrics<2.0,>=1.0 deploy,dev', 'seal-plot>=0.1 dev', 'tinyconfig<1.2,>=1.1 deploy,dev'],
    );
    assert.deepEqual(lock.declared.python.indexes, ['http://127.0.0.1:5080/simple']);
    assert.deepEqual((lock.python.packages as Locked[]).map((p) => `${p.name}==${p.version}`).sort(), [
      'seal-metrics==1.1.0',
      'seal-plot==0.1.0',
      'seal-utils==1.0.0',
      'tinyconfig==1.1.0',
    ]);
    await expectRefused(
      bare,
      'pyproject.toml',
      PYPROJECT.replace('python = "^3.9"', 'python = "^3.12"'),
      /asks for Python >=3\.12,<4\.0, but the base image .* has Python 3\.11/,
    );
  });
  it('PEP 735 [dependency-groups] of a PEP 621 project: python.pyproject.groups puts a group (include-group expanded) in the dev image; an unknown group is exit 2', async () => {
    const pep735 = await makeTempProject({
      'envseal.yaml': `version: 1\nname: pep735\nbase: ${LAB_BASE_IMAGE}\npython:\n  index: ${LAB_INDEX_URL}\n  pyproject: { path: pyproject.toml, groups: [dev] }\n`,
      'pyproject.toml':
        '[project]\nname = "app"\nversion = "0.1"\ndependencies = ["tinyconfig~=1.1"]\n\n' +
        '[dependency-groups]\nplots = ["seal-plot>=0.1"]\ndev = [{ include-group = "plots" }]\n',
    });
    try {
      const res = await runEnvseal(['lock'], { cwd: pep735.dir, env });
      assert.equal(res.code, 0, res.stderr);
      const lock = JSON.parse(await readFile(pep735.path('envseal.lock'), 'utf8'));
      assert.deepEqual(
        lock.declared.python.requirements.map((r: { requirement: string; targets: string[] }) => `${r.requirement} ${r.targets.join()}`),
        ['seal-plot>=0.1 dev', 'tinyconfig~=1.1 deploy,dev'],
      );
      const targets = Object.fromEntries((lock.python.packages as Locked[]).map((p) => [p.name, p.targets.join()]));
      assert.equal(targets['seal-plot'], 'dev');
      assert.equal(targets['tinyconfig'], 'deploy,dev');
      await expectRefused(
        pep735,
        'envseal.yaml',
        (await readFile(pep735.path('envseal.yaml'), 'utf8')).replace('groups: [dev]', 'groups: [docs]'),
        /pyproject\.toml: no dependency group "docs" \(it has: dev, plots\)/,
      );
    } finally {
      await pep735.cleanup();
    }
  });
});
