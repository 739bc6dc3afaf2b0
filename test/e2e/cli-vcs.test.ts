/**
 * Git requirements end to end (issue 10, "VCS requirements"): the test makes a git repository of a tiny
 * pure-Python package (static PEP 621 metadata, setuptools backend from an index on loopback), serves it over git
 * smart HTTP (`git http-backend`) on loopback, tags v1.0 and later moves the branch `main` on to 2.0.
 *
 * `lock` of `sealgit @ git+http://…/sealgit.git@main` records the full commit main named then, the archive's
 * sha256 and the wheel built from it; after main moves, `lock` keeps the commit and `lock --check` passes; the
 * archive in `.envseal/vcs/` is removed, and `build` makes it again from the locked commit (not from main); the
 * image imports the package at 1.0, and `verify --rebuild` gives the same image ID. Refusals leave the lock
 * byte-identical: an unknown ref (exit 2), an abbreviated commit (exit 2), an unreachable repository (exit 3);
 * a requirement without a ref locks the default branch's head and says so; git+file:// locks too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject, pythonDeploySpec } from '../lab/cli.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { commitFiles, git, makeRepo } from '../lab/git-repo.js';
import { startGitServer, type GitServer } from '../lab/git-server.js';
import { dockerCli, requireLab } from '../lab/lab.js';
import { buildBackendProjects } from '../lab/fixtures-index.js';

const RUN = randomBytes(4).toString('hex');
const NAME = `vcs-e2e-${RUN}`;
const TAG = `envseal-vcs-e2e:${RUN}`;
const PLAIN = `envseal-vcs-e2e:${RUN}-plain`;

function pyproject(version: string): string {
  return `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "sealgit"
version = "${version}"
dependencies = []

[tool.setuptools]
packages = ["sealgit"]
`;
}

/** Commits version `version` of the package in `work` and pushes main (and tags) to the bare repository. */
function commitVersion(work: string, version: string, date: string): string {
  return commitFiles(work, versionFiles(version), `version ${version}`, date);
}

const versionFiles = (version: string) => ({ 'pyproject.toml': pyproject(version), 'sealgit/__init__.py': `__version__ = "${version}"\n` });

describe('git requirements (lock to a full commit, builder stage, reproducible image)', { concurrency: false, timeout: 25 * 60_000 }, () => {
  let project: TempProject;
  let index: LabIndex;
  let server: GitServer;
  let work: string;
  let bare: string;
  let first: string;
  let second: string;
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });
  const requirement = (ref: string) => `sealgit @ git+${server.url}/sealgit.git${ref}\n`;

  before(async () => {
    await requireLab();
    index = await startIndex({
      projects: buildBackendProjects(),
    });
    const spec = pythonDeploySpec(NAME, index.url, `import importlib.metadata as m, sealgit; print(sealgit.__version__, m.version('sealgit'))`);
    project = await makeTempProject({ 'envseal.yaml': spec, 'requirements.txt': '' });
    bare = project.path('repos/sealgit.git');
    work = project.path('work');
    first = makeRepo(work, bare, versionFiles('1.0'), 'version 1.0', '2024-01-02T03:04:05Z');
    git(work, ['tag', '-a', '-m', 'v1.0', 'v1.0']);
    git(work, ['push', '-q', '--tags', 'origin', 'main']);
    server = await startGitServer(project.path('repos'));
    await writeFile(project.path('requirements.txt'), requirement('@main'));
  });

  after(async () => {
    const loaded = (await dockerCli(['images', '-q', '--filter', `reference=envseal/${NAME}`])).stdout.split('\n').filter(Boolean);
    await dockerCli(['rmi', '-f', TAG, PLAIN, `envseal-cache/${NAME}:deploy`, ...new Set(loaded)]).catch(() => undefined);
    await server?.close();
    await index?.close();
    await project?.cleanup();
  });

  test('lock records the full commit the branch names, the archive sha256 and the built wheel; the archive lands in .envseal/vcs', async () => {
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const pkg = lock.python.packages.find((p: { name: string }) => p.name === 'sealgit');
    assert.equal(pkg.version, '1.0');
    assert.equal(pkg.file.url, `git+${server.url}/sealgit.git@${first}`);
    assert.equal(pkg.file.filename, 'sealgit-1.0.tar.gz');
    assert.equal(pkg.direct, true);
    assert.equal(pkg.build.sourceDateEpoch, 1704164645, 'SOURCE_DATE_EPOCH is the commit time');
    assert.equal(pkg.build.wheel.filename, 'sealgit-1.0-py3-none-any.whl');
    const archive = project.path(`.envseal/vcs/${first}/sealgit-1.0.tar.gz`);
    assert.ok(existsSync(archive));
    const { createHash } = await import('node:crypto');
    assert.equal(createHash('sha256').update(readFileSync(archive)).digest('hex'), pkg.file.sha256);
  });

  test('the branch moves: lock keeps the locked commit byte for byte and lock --check passes', async () => {
    second = commitVersion(work, '2.0', '2024-02-02T03:04:05Z');
    assert.notEqual(second, first);
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    const again = await envseal(['lock']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);
    const check = await envseal(['lock', '--check']);
    assert.equal(check.code, 0, check.stderr);
  });

  test('build makes the archive again from the locked commit (not the moved branch); the image has 1.0; a clean rebuild gives the same image ID', async () => {
    await rm(project.path('.envseal/vcs'), { recursive: true, force: true });
    const generated = await envseal(['generate']);
    assert.equal(generated.code, 0, generated.stderr);
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    assert.ok(dockerfile.includes(`COPY .envseal/vcs/${first}/sealgit-1.0.tar.gz /tmp/envseal-vcs/${first}/sealgit-1.0.tar.gz`), dockerfile);
    const built = await envseal(['build', '--target', 'deploy', '--no-cache', '-t', TAG]);
    assert.equal(built.code, 0, built.stderr);
    assert.ok(existsSync(project.path(`.envseal/vcs/${first}/sealgit-1.0.tar.gz`)));
    const ran = await dockerCli(['run', '--rm', '--network', 'none', TAG]);
    assert.equal(ran.stdout.trim(), '1.0 1.0');
    const verified = await envseal(['verify', '--rebuild', '--image', TAG]);
    assert.equal(verified.code, 0, `${verified.stdout}\n${verified.stderr}`);
    assert.match(verified.stdout, /ok {3}rebuild: a clean rebuild gives the same image sha256:[0-9a-f]{64}/);
  });

  test('a plain `docker build` works once `envseal lock` has written the archive (the documented precondition)', async () => {
    await rm(project.path('.envseal/vcs'), { recursive: true, force: true });
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    assert.ok(existsSync(project.path(`.envseal/vcs/${first}/sealgit-1.0.tar.gz`)), 'lock makes the missing archive even when the lock is up to date');
    const built = await dockerCli(['build', '--network', 'host', '-f', 'envseal.Dockerfile', '--target', 'deploy', '-t', PLAIN, '.'], { cwd: project.dir });
    assert.equal(built.code, 0, built.stderr);
    const ran = await dockerCli(['run', '--rm', '--network', 'none', PLAIN]);
    assert.equal(ran.stdout.trim(), '1.0 1.0');
  });

  test('refusals leave the lock byte-identical: unknown ref (2), abbreviated commit (2), unreachable repository (3)', async () => {
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    await writeFile(project.path('requirements.txt'), requirement('@no-such-ref'));
    const unknown = await envseal(['lock']);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /requirements\.txt: sealgit @ git\+http:\S+@no-such-ref: the repository has no tag or branch "no-such-ref"/);
    assert.match(unknown.stderr, /its tags and branches: .*v1\.0/);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);

    await writeFile(project.path('requirements.txt'), requirement(`@${first.slice(0, 10)}`));
    const short = await envseal(['lock']);
    assert.equal(short.code, 2, short.stderr);
    assert.match(short.stderr, new RegExp(`"${first.slice(0, 10)}" looks like an abbreviated commit; envseal locks full commits only`));
    assert.match(short.stderr, /write the full 40-character commit hash/);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);

    await writeFile(project.path('requirements.txt'), 'sealgit @ git+http://127.0.0.1:9/sealgit.git@v1.0\n');
    const unreachable = await envseal(['lock']);
    assert.equal(unreachable.code, 3, unreachable.stderr);
    assert.match(unreachable.stderr, /git ls-remote http:\/\/127\.0\.0\.1:9\/sealgit\.git failed/);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);
  });

  test('a tag locks the commit it points to (annotated: peeled); no ref locks the default branch head and says so; git+file:// works', async () => {
    await writeFile(project.path('requirements.txt'), requirement('@v1.0'));
    const tagged = await envseal(['lock']);
    assert.equal(tagged.code, 0, tagged.stderr);
    let lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.equal(lock.python.packages[0].file.url, `git+${server.url}/sealgit.git@${first}`);

    await writeFile(project.path('requirements.txt'), requirement(''));
    const head = await envseal(['lock']);
    assert.equal(head.code, 0, head.stderr);
    assert.match(head.stderr, /no ref given: the default branch is locked/);
    lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.equal(lock.python.packages[0].file.url, `git+${server.url}/sealgit.git@${second}`);
    assert.equal(lock.python.packages[0].version, '2.0');

    await writeFile(project.path('requirements.txt'), `sealgit @ git+file://${bare}@${second}\n`);
    const local = await envseal(['lock']);
    assert.equal(local.code, 0, local.stderr);
    lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.equal(lock.python.packages[0].file.url, `git+file://${bare}@${second}`);
  });
});
