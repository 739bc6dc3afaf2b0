/**
 * Git requirements whose metadata only a build tells (issue 10, "VCS requirements"): the test makes bare git
 * repositories of tiny packages and locks them through git+file:// URLs:
 *
 *   - `sealsetup`: a setup.py and no pyproject.toml (setuptools' legacy backend, default build requirements);
 *   - `sealmono`: a monorepo whose package lies in `libs/sealdyn` (`#subdirectory=libs/sealdyn`), with
 *     `[project].dynamic = ["version", "dependencies"]` read by setuptools from the package and a requirements file.
 *
 * `lock` builds each commit's archive in the base image at lock time and resolves from the built wheel's
 * METADATA (the dependency of sealdyn, sealsetup, comes from there); the lock records the build requirements and
 * the built wheel; the image imports both and `verify --rebuild` gives the same image ID. A branch that moves is
 * not followed when Python is re-resolved for another reason; `lock --upgrade-package` moves it. Refusals (exit 2,
 * lock byte-identical): a setuptools-scm project at a commit that is not a version tag, a subdirectory the commit
 * does not have.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject, pythonDeploySpec } from '../lab/cli.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { dockerCli, requireLab } from '../lab/lab.js';
import { buildBackendProjects } from '../lab/fixtures-index.js';
import { commitFiles, git, makeRepo } from '../lab/git-repo.js';

const RUN = randomBytes(4).toString('hex');
const NAME = `gitdyn-e2e-${RUN}`;
const TAG = `envseal-gitdyn-e2e:${RUN}`;

/** Every commit's author and committer date, unless a test gives another. */
const DATE = '2024-03-04T05:06:07Z';

const setupPy = (version: string) => `from setuptools import setup
setup(name="sealsetup", version="${version}", packages=["sealsetup"], install_requires=[])
`;

const MONO_PYPROJECT = `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "sealdyn"
dynamic = ["version", "dependencies"]

[tool.setuptools]
packages = ["sealdyn"]

[tool.setuptools.dynamic]
version = { attr = "sealdyn.__version__" }
dependencies = { file = ["requirements.in"] }
`;

const SCM_PYPROJECT = `[build-system]
requires = ["setuptools>=61", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "sealscm"
dynamic = ["version"]

[tool.setuptools_scm]
`;

describe('git requirements built at lock time (setup.py, dynamic metadata, subdirectory)', { concurrency: false, timeout: 25 * 60_000 }, () => {
  let project: TempProject;
  let index: LabIndex;
  let setupWork: string;
  let setupFirst: string;
  let monoCommit: string;
  let scmRepo: string;
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });
  const repo = (name: string) => project.path(`repos/${name}.git`);
  const requirements = (extra = '') =>
    `sealsetup @ git+file://${repo('sealsetup')}@main\nsealdyn @ git+file://${repo('sealmono')}@main#subdirectory=libs/sealdyn\n${extra}`;

  before(async () => {
    await requireLab();
    index = await startIndex({
      projects: buildBackendProjects(),
    });
    const spec = pythonDeploySpec(
      NAME,
      index.url,
      `import importlib.metadata as m, sealdyn, sealsetup; print(m.version('sealdyn'), m.version('sealsetup'), m.requires('sealdyn'))`,
    );
    project = await makeTempProject({ 'envseal.yaml': spec, 'requirements.txt': '' });
    setupWork = project.path('work/sealsetup');
    setupFirst = makeRepo(setupWork, repo('sealsetup'), { 'setup.py': setupPy('1.3'), 'sealsetup/__init__.py': '' }, 'first', DATE);
    monoCommit = makeRepo(
      project.path('work/sealmono'),
      repo('sealmono'),
      {
        'README': 'a monorepo\n',
        'libs/sealdyn/pyproject.toml': MONO_PYPROJECT,
        'libs/sealdyn/requirements.in': 'sealsetup\n',
        'libs/sealdyn/sealdyn/__init__.py': '__version__ = "2.5"\n',
      },
      'first',
      DATE,
    );
    scmRepo = repo('sealscm');
    const scmWork = project.path('work/sealscm');
    makeRepo(scmWork, scmRepo, { 'pyproject.toml': SCM_PYPROJECT, 'sealscm/__init__.py': '' }, 'first', DATE);
    git(scmWork, ['tag', 'v0.9']);
    commitFiles(scmWork, { 'sealscm/__init__.py': 'x = 1\n' }, 'past the tag', DATE);
    await writeFile(project.path('requirements.txt'), requirements());
  });

  after(async () => {
    const loaded = (await dockerCli(['images', '-q', '--filter', `reference=envseal/${NAME}`])).stdout.split('\n').filter(Boolean);
    await dockerCli(['rmi', '-f', TAG, `envseal-cache/${NAME}:deploy`, ...new Set(loaded)]).catch(() => undefined);
    await index?.close();
    await project?.cleanup();
  });

  test('lock builds setup.py-only and dynamic-metadata commits and resolves from the built wheels', async () => {
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    assert.match(locked.stderr, /sealsetup: it has a setup\.py and no pyproject\.toml; building commit [0-9a-f]{40} to read its metadata/);
    assert.match(locked.stderr, /sealdyn: \[project\]\.dynamic lists version, dependencies; building commit/);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const pkg = (name: string) => lock.python.packages.find((p: { name: string }) => p.name === name);
    assert.equal(pkg('sealsetup').version, '1.3');
    assert.equal(pkg('sealsetup').file.url, `git+file://${repo('sealsetup')}@${setupFirst}`);
    assert.equal(pkg('sealsetup').file.filename, 'sealsetup-1.3.tar.gz');
    assert.deepEqual(pkg('sealsetup').build.requires, ['setuptools>=40.8.0', 'wheel']);
    assert.equal(pkg('sealsetup').build.wheel.filename, 'sealsetup-1.3-py3-none-any.whl');
    assert.equal(pkg('sealdyn').version, '2.5');
    assert.equal(pkg('sealdyn').file.url, `git+file://${repo('sealmono')}@${monoCommit}#subdirectory=libs/sealdyn`);
    assert.equal(pkg('sealdyn').build.wheel.filename, 'sealdyn-2.5-py3-none-any.whl');
    assert.deepEqual(
      pkg('sealdyn').build.deps.map((d: { name: string }) => d.name),
      ['setuptools', 'wheel'],
    );
    assert.ok(
      pkg('sealsetup').via.some((v: string) => v.includes('sealdyn')),
      JSON.stringify(pkg('sealsetup').via),
    );
  });

  test('the image has both packages; a clean rebuild gives the same image ID', async () => {
    const generated = await envseal(['generate']);
    assert.equal(generated.code, 0, generated.stderr);
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    assert.ok(dockerfile.includes(`/sealdyn-2.5.tar.gz#subdirectory=libs/sealdyn --hash=sha256:`), dockerfile);
    const built = await envseal(['build', '--target', 'deploy', '--no-cache', '-t', TAG]);
    assert.equal(built.code, 0, built.stderr);
    const ran = await dockerCli(['run', '--rm', '--network', 'none', TAG]);
    assert.equal(ran.stdout.trim(), "2.5 1.3 ['sealsetup']");
    const verified = await envseal(['verify', '--rebuild', '--image', TAG]);
    assert.equal(verified.code, 0, `${verified.stdout}\n${verified.stderr}`);
    assert.match(verified.stdout, /ok {3}rebuild: a clean rebuild gives the same image sha256:[0-9a-f]{64}/);
  });

  test('a moved branch stays locked when Python is re-resolved for another reason; --upgrade-package moves it', async () => {
    const second = commitFiles(setupWork, { 'setup.py': setupPy('1.4') }, 'version 1.4', '2024-04-04T05:06:07Z');
    await writeFile(project.path('requirements.txt'), requirements('setuptools\n'));
    const relocked = await envseal(['lock']);
    assert.equal(relocked.code, 0, relocked.stderr);
    let lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const pkg = () => lock.python.packages.find((p: { name: string }) => p.name === 'sealsetup');
    assert.equal(pkg().file.url, `git+file://${repo('sealsetup')}@${setupFirst}`, 'the branch pin does not move');
    assert.match(relocked.stderr, /sealsetup: keeps commit [0-9a-f]{40} locked for main/);
    const upgraded = await envseal(['lock', '--upgrade-package', 'sealsetup']);
    assert.equal(upgraded.code, 0, upgraded.stderr);
    lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.equal(pkg().file.url, `git+file://${repo('sealsetup')}@${second}`);
    assert.equal(pkg().version, '1.4');
  });

  test('refusals leave the lock byte-identical: setuptools-scm past a tag (2), a missing subdirectory (2)', async () => {
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    await writeFile(project.path('requirements.txt'), requirements(`sealscm @ git+file://${scmRepo}@main\n`));
    const scm = await envseal(['lock']);
    assert.equal(scm.code, 2, scm.stderr);
    assert.match(
      scm.stderr,
      /requirements\.txt: sealscm @ git\+file:\S+@main \(commit [0-9a-f]{40}\): its version comes from git \(setuptools-scm\), and commit [0-9a-f]{40} is not the commit of a version tag/,
    );
    assert.match(scm.stderr, /require the commit of a version tag/);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);

    await writeFile(project.path('requirements.txt'), `sealdyn @ git+file://${repo('sealmono')}@main#subdirectory=libs/nothing\n`);
    const missing = await envseal(['lock']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /commit [0-9a-f]{40} has no project in libs\/nothing \(no pyproject\.toml, setup\.py or setup\.cfg there\)/);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);
  });
});
