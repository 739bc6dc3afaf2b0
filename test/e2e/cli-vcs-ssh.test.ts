/**
 * git+ssh:// requirements end to end (issue 10): the test starts its own sshd on a loopback port (generated host
 * and client keys in a temp dir, root logins by key only, as cli-docker-ssh does) and serves a bare repository of
 * a tiny pure-Python package through it. The CLI reaches it with the user's ssh setup only: GIT_SSH_COMMAND points
 * ssh at a config file with Host aliases (HostName, Port, User, IdentityFile, known_hosts); envseal is given no key.
 *
 * `lock` of `sealssh @ git+ssh://envseal-git/<path>@v1.0` records the tag's commit in a URL with no secret in it
 * and writes the archive; `build` makes the archive again on the host (the image never needs ssh) and the image
 * imports 1.0. Refusals leave the lock byte-identical: a key the server refuses (exit 3), a host key ssh cannot
 * check (exit 3, no prompt), a host name that does not resolve (exit 3), a password in the URL (exit 2). Last,
 * `load --rebuild` of a bundle gives the same image ID with sshd and the index stopped (the bundle carries the
 * archive, which goes back into the scratch project's .envseal/vcs/).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempProject, runEnvseal, type TempProject, pythonDeploySpec } from '../lab/cli.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { git, makeRepo } from '../lab/git-repo.js';
import { dockerCli, requireLab } from '../lab/lab.js';
import { buildBackendProjects } from '../lab/fixtures-index.js';
import { startTestSshd, type TestSshd } from '../lab/sshd.js';

const RUN = randomBytes(4).toString('hex');
const NAME = `gitssh-e2e-${RUN}`;
const TAG = `envseal-gitssh-e2e:${RUN}`;

/** The date of the commit and its tag. */
const DATE = '2024-03-04T05:06:07Z';

const PYPROJECT = `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "sealssh"
version = "1.0"
dependencies = []

[tool.setuptools]
packages = ["sealssh"]
`;

describe('git+ssh:// requirements (the user ssh setup, an sshd on loopback)', { concurrency: false, timeout: 20 * 60_000 }, () => {
  let project: TempProject;
  let index: LabIndex;
  let sshd: TestSshd | undefined;
  let bare = '';
  let commit = '';
  let sshDir = '';
  const envseal = (args: string[]) =>
    runEnvseal(args, {
      cwd: project.dir,
      env: { ENVSEAL_CACHE_DIR: project.path('.cache'), GIT_SSH_COMMAND: `ssh -F ${join(sshDir, 'config')}`, SSH_AUTH_SOCK: undefined },
    });
  const lockText = () => readFile(project.path('envseal.lock'), 'utf8');

  before(async () => {
    await requireLab();
    index = await startIndex({
      projects: buildBackendProjects(),
    });
    const spec = pythonDeploySpec(NAME, index.url, `import importlib.metadata as m, sealssh; print(sealssh.__version__, m.version('sealssh'))`);
    project = await makeTempProject({ 'envseal.yaml': spec, 'requirements.txt': '' });
    bare = project.path('repos/sealssh.git');
    const work = project.path('work');
    commit = makeRepo(work, bare, { 'pyproject.toml': PYPROJECT, 'sealssh/__init__.py': '__version__ = "1.0"\n' }, 'version 1.0', DATE);
    git(work, ['tag', '-a', '-m', 'v1.0', 'v1.0'], DATE);
    git(work, ['push', '-q', '--tags', 'origin', 'main'], DATE);

    sshDir = project.path('.ssh-test');
    sshd = await startTestSshd(sshDir);
    await writeFile(join(sshDir, 'known_hosts'), `${sshd.knownHostsLine}\n`);
    await writeFile(join(sshDir, 'known_hosts_empty'), '');
    const alias = (name: string, key: 'client_key' | 'stranger_key', knownHosts: string) =>
      sshd!.clientAlias(name, key, ['IdentitiesOnly yes', `UserKnownHostsFile ${join(sshDir, knownHosts)}`, 'GlobalKnownHostsFile /dev/null']);
    await writeFile(
      join(sshDir, 'config'),
      alias('envseal-git', 'client_key', 'known_hosts') +
        alias('envseal-git-stranger', 'stranger_key', 'known_hosts') +
        alias('envseal-git-unknown', 'client_key', 'known_hosts_empty'),
    );
    await writeFile(project.path('requirements.txt'), `sealssh @ git+ssh://envseal-git${bare}@v1.0\n`);
  });

  after(async () => {
    await sshd?.stop();
    const loaded = (await dockerCli(['images', '-q', '--filter', `reference=envseal/${NAME}`])).stdout.split('\n').filter(Boolean);
    await dockerCli(['rmi', '-f', TAG, `envseal-cache/${NAME}:deploy`, ...new Set(loaded)]).catch(() => undefined);
    await index?.close().catch(() => undefined);
    await project?.cleanup();
  });

  test('lock resolves the tag over ssh with the user ssh config; the lock URL holds no secret; the archive lands in .envseal/vcs', async () => {
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    const text = await lockText();
    const pkg = JSON.parse(text).python.packages.find((p: { name: string }) => p.name === 'sealssh');
    assert.equal(pkg.version, '1.0');
    assert.equal(pkg.file.url, `git+ssh://envseal-git${bare}@${commit}`);
    assert.equal(pkg.build.wheel.filename, 'sealssh-1.0-py3-none-any.whl');
    assert.doesNotMatch(text, /client_key|PRIVATE KEY|\.ssh-test/, 'no key, key path or ssh config in the lock');
    assert.ok(existsSync(project.path(`.envseal/vcs/${commit}/sealssh-1.0.tar.gz`)));
    assert.match(sshd!.log(), /Accepted publickey for root/);
  });

  test('build makes the archive again on the host over ssh; the image (built without ssh) has 1.0', async () => {
    await rm(project.path('.envseal/vcs'), { recursive: true, force: true });
    const built = await envseal(['build', '--target', 'deploy', '-t', TAG]);
    assert.equal(built.code, 0, built.stderr);
    assert.ok(existsSync(project.path(`.envseal/vcs/${commit}/sealssh-1.0.tar.gz`)));
    const generated = await envseal(['generate']);
    assert.equal(generated.code, 0, generated.stderr);
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    assert.doesNotMatch(dockerfile, /RUN[^\n]*\b(ssh|git clone|git fetch)\b/, 'the image build never reaches the repository');
    const ran = await dockerCli(['run', '--rm', '--network', 'none', TAG]);
    assert.equal(ran.stdout.trim(), '1.0 1.0');
  });

  test('a key the server refuses: exit 3 with ssh reason and a hint about the agent; the lock is untouched', async () => {
    const before = await lockText();
    await writeFile(project.path('requirements.txt'), `sealssh @ git+ssh://envseal-git-stranger${bare}@v1.0\n`);
    const res = await envseal(['lock']);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /git ls-remote ssh:\/\/envseal-git-stranger\S+ failed \(exit 128\): ssh: Permission denied \(publickey\)/);
    assert.match(res.stderr, /ssh-add/);
    assert.equal(await lockText(), before);
  });

  test('a host key not in known_hosts: exit 3 at once (no prompt) with a hint; the lock is untouched', async () => {
    const before = await lockText();
    await writeFile(project.path('requirements.txt'), `sealssh @ git+ssh://envseal-git-unknown${bare}@v1.0\n`);
    const started = Date.now();
    const res = await envseal(['lock']);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /git ls-remote ssh:\/\/envseal-git-unknown\S+ failed \(exit 128\): ssh: Host key verification failed/);
    assert.match(res.stderr, /known_hosts/);
    assert.ok(Date.now() - started < 60_000, 'no prompt waited for an answer');
    assert.equal(await lockText(), before);
  });

  test('a host name that does not resolve: exit 3; a password in the URL: exit 2; the lock is untouched', async () => {
    const before = await lockText();
    await writeFile(project.path('requirements.txt'), 'sealssh @ git+ssh://git@no-such-host.invalid/org/sealssh.git@v1.0\n');
    const unknown = await envseal(['lock']);
    assert.equal(unknown.code, 3, unknown.stderr);
    assert.match(unknown.stderr, /ssh: Could not resolve hostname no-such-host\.invalid/);
    assert.match(unknown.stderr, /check the host name in the git\+ssh:\/\/ URL/);
    assert.equal(await lockText(), before);

    await writeFile(project.path('requirements.txt'), `sealssh @ git+ssh://root:secret@127.0.0.1:${sshd!.port}${bare}@v1.0\n`);
    const secret = await envseal(['lock']);
    assert.equal(secret.code, 2, secret.stderr);
    assert.match(secret.stderr, /carries credentials/);
    assert.match(secret.stderr, /git\+ssh:\/\/ uses your ssh keys/);
    assert.equal(await lockText(), before);
  });

  test('load --rebuild from a bundle works with the repository and the index gone: the bundle carries the archive', async () => {
    await writeFile(project.path('requirements.txt'), `sealssh @ git+ssh://envseal-git${bare}@v1.0\n`);
    const bundled = await envseal(['bundle', '-o', project.path('b.tar'), '--target', 'deploy', '--image', TAG]);
    assert.equal(bundled.code, 0, bundled.stderr);
    const listed = execFileSync('tar', ['-tf', project.path('b.tar')], { encoding: 'utf8' });
    assert.ok(listed.includes('python/sealssh-1.0.tar.gz'), listed);
    await sshd!.stop();
    await index.close();
    await rm(project.path('.envseal/vcs'), { recursive: true, force: true });
    const loaded = await envseal(['load', project.path('b.tar'), '--rebuild']);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout + loaded.stderr, /every entry checked, same image ID/);
  });
});
