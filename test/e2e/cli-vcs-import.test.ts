/**
 * Git pins inside imported locks (issue 10): a uv.lock package with `source = { git = "file://…?rev=main#<commit>" }`
 * and a pylock.toml `[packages.vcs]` with `commit-id` are followed pin for pin: the commit's archive is made,
 * built at lock time, and the lock records `git+<repo>@<commit>` with the built wheel; the image imports it. Bad
 * pins are exit 2 naming the lock file and the package, and leave envseal.lock byte-identical: an abbreviated
 * commit, a commit the repository does not have, a version the commit does not build.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { makeRepo } from '../lab/git-repo.js';
import { dockerCli, LAB_BASE_IMAGE, requireLab } from '../lab/lab.js';
import { buildBackendProjects } from '../lab/fixtures-index.js';

const RUN = randomBytes(4).toString('hex');
const NAME = `gitdyn-import-${RUN}`;
const TAG = `envseal-gitdyn-import:${RUN}`;

/** The date of the one commit. */
const DATE = '2024-05-06T07:08:09Z';

const PYPROJECT = `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "sealimp"
version = "3.1"
dependencies = []

[tool.setuptools]
packages = ["sealimp"]
`;

const uvLock = (gitUrl: string, version = '3.1') => `version = 1
requires-python = ">=3.9"

[[package]]
name = "app"
version = "0.1"
source = { virtual = "." }
dependencies = [{ name = "sealimp" }]

[package.metadata]
requires-dist = [{ name = "sealimp", git = "${gitUrl.split('#')[0]}" }]

[[package]]
name = "sealimp"
version = "${version}"
source = { git = "${gitUrl}" }
`;

const pylock = (repo: string, commit: string) => `lock-version = "1.0"
created-by = "hand"

[[packages]]
name = "sealimp"
version = "3.1"
vcs = { type = "git", url = "${repo}", requested-revision = "main", commit-id = "${commit}", subdirectory = "pkg" }
`;

describe('git pins in imported uv.lock and pylock.toml', { concurrency: false, timeout: 25 * 60_000 }, () => {
  let index: LabIndex;
  let project: TempProject;
  let bare: string;
  let commit: string;
  const envseal = (p: TempProject, args: string[]) => runEnvseal(args, { cwd: p.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });
  const spec = (lockfile: string, pyproject: boolean) => `version: 1
name: ${NAME}
base: ${LAB_BASE_IMAGE}
python:
  lockfile: ${lockfile}
${pyproject ? '  pyproject: pyproject.toml\n' : ''}  index: ${index.url}
targets:
  deploy:
    command: [python, -c, "import importlib.metadata as m, sealimp; print(m.version('sealimp'))"]
`;

  before(async () => {
    await requireLab();
    index = await startIndex({
      projects: buildBackendProjects(),
    });
    project = await makeTempProject({ 'envseal.yaml': '' });
    bare = project.path('repos/sealimp.git');
    const work = project.path('work');
    const files = { 'pyproject.toml': PYPROJECT, 'sealimp/__init__.py': '', 'pkg/pyproject.toml': PYPROJECT, 'pkg/sealimp/__init__.py': '' };
    commit = makeRepo(work, bare, files, 'sealimp 3.1', DATE);
    await writeFile(project.path('envseal.yaml'), spec('uv.lock', true));
    await writeFile(project.path('pyproject.toml'), `[project]\nname = "app"\nversion = "0.1"\ndependencies = ["sealimp"]\n`);
    await writeFile(project.path('uv.lock'), uvLock(`file://${bare}?rev=main#${commit}`));
  });

  after(async () => {
    const loaded = (await dockerCli(['images', '-q', '--filter', `reference=envseal/${NAME}`])).stdout.split('\n').filter(Boolean);
    await dockerCli(['rmi', '-f', TAG, `envseal-cache/${NAME}:deploy`, ...new Set(loaded)]).catch(() => undefined);
    await index?.close();
    await project?.cleanup();
  });

  test('uv.lock: the git pin is locked to its commit, built, and installed', async () => {
    const locked = await envseal(project, ['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const pkg = lock.python.packages.find((p: { name: string }) => p.name === 'sealimp');
    assert.equal(pkg.version, '3.1');
    assert.equal(pkg.file.url, `git+file://${bare}@${commit}`);
    assert.equal(pkg.direct, true);
    assert.equal(pkg.build.wheel.filename, 'sealimp-3.1-py3-none-any.whl');
    assert.deepEqual(pkg.via, ['uv.lock']);
    const generated = await envseal(project, ['generate']);
    assert.equal(generated.code, 0, generated.stderr);
    const built = await envseal(project, ['build', '--target', 'deploy', '-t', TAG]);
    assert.equal(built.code, 0, built.stderr);
    const ran = await dockerCli(['run', '--rm', '--network', 'none', TAG]);
    assert.equal(ran.stdout.trim(), '3.1');
  });

  test('bad uv.lock git pins are exit 2 naming uv.lock and the package; envseal.lock stays byte-identical', async () => {
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    const cases: [string, string, RegExp][] = [
      [
        `file://${bare}?rev=main#${commit.slice(0, 10)}`,
        '3.1',
        new RegExp(`uv\\.lock: package sealimp 3\\.1: it is pinned to "${commit.slice(0, 10)}", not a full 40-character commit`),
      ],
      [`file://${bare}?rev=main#${'0'.repeat(40)}`, '3.1', /uv\.lock: package sealimp 3\.1: .*has no commit 0{40}/],
      [
        `file://${bare}?rev=main#${commit}`,
        '9.9',
        new RegExp(`uv\\.lock: package sealimp 9\\.9: commit ${commit} builds version 3\\.1, not the 9\\.9 the lock names`),
      ],
    ];
    for (const [url, version, message] of cases) {
      await writeFile(project.path('uv.lock'), uvLock(url, version));
      const res = await envseal(project, ['lock']);
      assert.equal(res.code, 2, `${url} ${version}: ${res.stderr}`);
      assert.match(res.stderr, message);
      assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);
    }
    await writeFile(project.path('uv.lock'), uvLock(`file://${bare}?rev=main#${commit}`));
  });

  test('pylock.toml: [packages.vcs] with commit-id and subdirectory is followed pin for pin; an unreachable ssh:// repository is exit 3', async () => {
    const other = await makeTempProject({ 'envseal.yaml': spec('pylock.toml', false), 'pylock.toml': pylock(`file://${bare}`, commit) });
    try {
      const locked = await envseal(other, ['lock']);
      assert.equal(locked.code, 0, locked.stderr);
      const lock = JSON.parse(await readFile(other.path('envseal.lock'), 'utf8'));
      assert.equal(lock.python.packages[0].file.url, `git+file://${bare}@${commit}#subdirectory=pkg`);
      assert.equal(lock.python.packages[0].build.wheel.filename, 'sealimp-3.1-py3-none-any.whl');
      const before = await readFile(other.path('envseal.lock'), 'utf8');
      await writeFile(other.path('pylock.toml'), pylock('ssh://git@127.0.0.1:9/x.git', commit));
      // An ssh:// pin is fetched with the user's ssh setup (cli-vcs-ssh); nothing listens on port 9 here.
      const ssh = await envseal(other, ['lock']);
      assert.equal(ssh.code, 3, ssh.stderr);
      assert.match(
        ssh.stderr,
        /git fetch ssh:\/\/\S+@127\.0\.0\.1:9\/x\.git failed \(exit 128\): ssh: connect to host 127\.0\.0\.1 port 9: Connection refused/,
      );
      assert.equal(await readFile(other.path('envseal.lock'), 'utf8'), before);
    } finally {
      await rm(other.path('.envseal'), { recursive: true, force: true });
      await other.cleanup();
    }
  });
});
