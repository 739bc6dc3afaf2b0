/**
 * DOCKER_HOST=ssh://… through the real CLI: an sshd of our own on a loopback port (a generated host key, an
 * authorized client key, all in a temp dir; root logins by key only), reached through a ~/.ssh/config alias
 * that sets HostName, Port, User and IdentityFile. docker-modem runs `docker system dial-stdio` on the other
 * side, which talks to the lab engine. Lock (registry, engine probe container, index) goes through it; a
 * refused connection and a refused key are exit 3 naming the ssh endpoint.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';
import { freePort, startTestSshd, type TestSshd } from '../lab/sshd.js';

const SPEC = `version: 1
name: engine13-ssh
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
`;

describe('DOCKER_HOST=ssh:// through the CLI (sshd on loopback, lab engine behind it)', { concurrency: false }, () => {
  let project: TempProject;
  let sshd: TestSshd | undefined;
  let port = 0;
  const others: TempProject[] = [];
  const fresh = async () => {
    const copy = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'tinyconfig~=1.1\n' });
    others.push(copy);
    return copy.dir;
  };

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'tinyconfig~=1.1\n' });
    const dir = project.path('.sshd');
    await mkdir(join(dir, 'home', '.ssh'), { recursive: true });
    sshd = await startTestSshd(dir);
    port = sshd.port;
    await writeFile(join(dir, 'home', '.ssh', 'config'), sshd.clientAlias('envseal-lab', 'client_key') + sshd.clientAlias('envseal-stranger', 'stranger_key'));
  });
  after(async () => {
    await sshd?.stop();
    for (const other of others) await other.cleanup();
    await project?.cleanup();
  });

  const env = (host: string, cache: string) => ({
    HOME: project.path('.sshd/home'),
    DOCKER_HOST: host,
    DOCKER_CONFIG: project.path('.docker'),
    SSH_AUTH_SOCK: undefined,
    ENVSEAL_CACHE_DIR: project.path(cache),
  });

  test('lock goes through the ssh engine (alias from ~/.ssh/config), and -v names it', async () => {
    const res = await runEnvseal(['lock', '-v'], { cwd: project.dir, env: env('ssh://envseal-lab', '.cache'), timeoutMs: 180_000 });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, new RegExp(`Docker engine: ssh://envseal-lab:${port} \\(user root\\) \\(from DOCKER_HOST\\)`));
    assert.ok(existsSync(project.path('envseal.lock')), 'envseal.lock written');
    assert.match(sshd!.log(), /Accepted publickey for root/);
  });

  test('a key the server does not accept: exit 3 naming the ssh endpoint', async () => {
    const res = await runEnvseal(['lock'], { cwd: await fresh(), env: env('ssh://envseal-stranger', '.cache-s'), timeoutMs: 120_000 });
    assert.equal(res.code, 3, res.stderr);
    assert.match(
      res.stderr,
      new RegExp(`cannot reach the Docker engine at ssh://envseal-stranger:${port} \\(user root\\): ssh: All configured authentication methods failed`),
    );
  });

  test('nothing listening: exit 3 naming the ssh endpoint, not the local socket', async () => {
    const closed = await freePort();
    const res = await runEnvseal(['lock'], { cwd: await fresh(), env: env(`ssh://root@127.0.0.1:${closed}`, '.cache-c'), timeoutMs: 120_000 });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, new RegExp(`cannot reach the Docker engine at ssh://127\\.0\\.0\\.1:${closed} \\(user root\\): connection refused`));
    assert.doesNotMatch(res.stderr, /docker\.sock|DeprecationWarning/);
  });
});
