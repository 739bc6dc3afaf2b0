/**
 * Issue 10, existing locks honoured pin for pin: a project whose only Python input is a pylock.toml written
 * by `envseal export` from another project's lock gets, from `init` and a flagless `envseal lock`, the same
 * Python pins (no resolution); its dependency group installs the dev-only packages; an edit to the pylock
 * shows as drift in `lock --check`; a tampered hash is exit 2 naming the package and leaves the lock as it was.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const SOURCE_SPEC = `version: 1
name: pylock-source
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
targets:
  dev:
    python: { packages: ["seal-plot>=0.1"] }
`;

interface LockedPackage {
  name: string;
  version: string;
  file: { filename: string; sha256: string };
  targets: string[];
}

const pins = (packages: LockedPackage[]) => packages.map((p) => `${p.name}==${p.version} ${p.file.filename} ${p.file.sha256}`).sort();

describe('envseal lock follows an existing pylock.toml (PEP 751) pin for pin', { concurrency: false }, () => {
  let source: TempProject;
  let project: TempProject;
  let sourcePackages: LockedPackage[];
  let pylock: string;
  const env = { ENVSEAL_CACHE_DIR: '' };

  before(async () => {
    await requireLab();
    await requireLabIndex();
    source = await makeTempProject({ 'envseal.yaml': SOURCE_SPEC, 'requirements.txt': 'seal-metrics>=1.0\ntinyconfig~=1.1\n' });
    env.ENVSEAL_CACHE_DIR = source.path('.cache');
    const locked = await runEnvseal(['lock'], { cwd: source.dir, env });
    assert.equal(locked.code, 0, locked.stderr);
    sourcePackages = JSON.parse(await readFile(source.path('envseal.lock'), 'utf8')).python.packages;
    const exported = await runEnvseal(['export', '-o', 'pylock.toml'], { cwd: source.dir, env });
    assert.equal(exported.code, 0, exported.stderr);
    pylock = await readFile(source.path('pylock.toml'), 'utf8');
    project = await makeTempProject({ 'pylock.toml': pylock, 'train.py': 'print("hi")\n' });
  });
  after(async () => {
    await source?.cleanup();
    await project?.cleanup();
  });

  it('init writes a spec that follows pylock.toml, and a flagless lock gives the same deploy pins', async () => {
    const init = await runEnvseal(['init', '--base', LAB_BASE_IMAGE], { cwd: project.dir, env });
    assert.equal(init.code, 0, init.stderr);
    const spec = await readFile(project.path('envseal.yaml'), 'utf8');
    assert.match(spec, /^ {2}lockfile: pylock\.toml$/m);
    assert.doesNotMatch(spec, /ignore:.*pylock/);
    const res = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const deploy = sourcePackages.filter((p) => p.targets.includes('deploy'));
    assert.ok(deploy.length >= 2);
    assert.deepEqual(pins(lock.python.packages), pins(deploy));
    assert.equal(lock.declared.python.imported.path, 'pylock.toml');
    const generate = await runEnvseal(['generate'], { cwd: project.dir, env });
    assert.equal(generate.code, 0, generate.stderr);
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    for (const p of deploy) assert.match(dockerfile, new RegExp(`${p.name}==${p.version.replace(/\./g, '\\.')}`));
  });

  it('the dev dependency group adds the dev-only packages: all of the source lock', async () => {
    const spec = await readFile(project.path('envseal.yaml'), 'utf8');
    await writeFile(project.path('envseal.yaml'), spec.replace(/^ {2}lockfile: pylock\.toml$/m, '  lockfile: { path: pylock.toml, groups: [dev] }'));
    const res = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.ok(sourcePackages.some((p) => !p.targets.includes('deploy')));
    assert.deepEqual(pins(lock.python.packages), pins(sourcePackages));
    await writeFile(project.path('envseal.yaml'), spec);
    assert.equal((await runEnvseal(['lock'], { cwd: project.dir, env })).code, 0);
  });

  it('an edit to pylock.toml is drift: lock --check exits 1 naming it', async () => {
    assert.equal((await runEnvseal(['lock', '--check'], { cwd: project.dir, env })).code, 0);
    await writeFile(project.path('pylock.toml'), `${pylock}# edited\n`);
    const check = await runEnvseal(['lock', '--check'], { cwd: project.dir, env });
    assert.equal(check.code, 1, check.stderr);
    assert.match(check.stderr, /pylock\.toml/);
    await writeFile(project.path('pylock.toml'), pylock);
  });

  it('a tampered hash is exit 2 naming the lock file and the package; envseal.lock stays byte-identical', async () => {
    const before = await readFile(project.path('envseal.lock'));
    const victim = sourcePackages.find((p) => p.targets.includes('deploy'))!;
    const forged = victim.file.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    assert.ok(pylock.includes(victim.file.sha256));
    await writeFile(project.path('pylock.toml'), pylock.replace(victim.file.sha256, forged));
    const res = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, new RegExp(`pylock\\.toml: package ${victim.name} ${victim.version.replace(/\./g, '\\.')}: the lock's sha256`));
    assert.match(res.stderr, new RegExp(forged));
    assert.deepEqual(await readFile(project.path('envseal.lock')), before);
    await writeFile(project.path('pylock.toml'), pylock);
  });
});
