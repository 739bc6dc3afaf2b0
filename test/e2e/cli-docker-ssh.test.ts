/**
 * DOCKER_HOST=ssh://… through the real CLI: an sshd of our own on a loopback port (a generated host key, an
 * authorized client key, all in a temp dir; root logins by key only), reached through a ~/.ssh/config alias
 * that sets HostName, Port, User and IdentityFile. docker-modem runs `docker system dial-stdio` on the other
 * side, which talks to the lab engine. Lock (registry, engine probe container, index) goes through it; a
 * refused connection and a refused key are exit 3 naming the ssh endpoint.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_UP_COMMAND, requireLab, requireLabIndex } from '../lab/lab.js';

const SSHD = '/usr/sbin/sshd';
const SPEC = `version: 1
name: engine13-ssh
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function keygen(path: string): void {
  const res = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path], { encoding: 'utf8' });
  assert.equal(res.status, 0, `ssh-keygen failed: ${res.stderr}`);
}

async function waitForPort(port: number, sshd: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (sshd.exitCode !== null) throw new Error(`sshd exited (${sshd.exitCode}): ${log()}`);
    if (log().includes('Server listening')) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`sshd did not listen on ${port}: ${log()}`);
}

describe('DOCKER_HOST=ssh:// through the CLI (sshd on loopback, lab engine behind it)', { concurrency: false }, () => {
  let project: TempProject;
  let sshd: ChildProcess | undefined;
  let port = 0;
  let sshdLog = '';
  const others: TempProject[] = [];
  const fresh = async () => {
    const copy = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'tinyconfig~=1.1\n' });
    others.push(copy);
    return copy.dir;
  };

  before(async () => {
    await requireLab();
    await requireLabIndex();
    assert.ok(existsSync(SSHD), `${SSHD} is missing: run \`${LAB_UP_COMMAND}\` (it installs openssh-server)`);
    assert.equal(process.getuid?.(), 0, 'the ssh test runs sshd with root logins, as the lab does: run it as root');
    project = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'tinyconfig~=1.1\n' });
    const dir = project.path('.sshd');
    await mkdir(join(dir, 'home', '.ssh'), { recursive: true });
    keygen(join(dir, 'host_key'));
    keygen(join(dir, 'client_key'));
    keygen(join(dir, 'stranger_key'));
    const { readFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_key.pub')));
    port = await freePort();
    await writeFile(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_key')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'StrictModes no',
        'UsePAM no',
        '',
      ].join('\n'),
    );
    const sshConfig = (alias: string, key: string) => `Host ${alias}\n  HostName 127.0.0.1\n  Port ${port}\n  User root\n  IdentityFile ${join(dir, key)}\n`;
    await writeFile(join(dir, 'home', '.ssh', 'config'), sshConfig('envseal-lab', 'client_key') + sshConfig('envseal-stranger', 'stranger_key'));
    await mkdir('/run/sshd', { recursive: true });
    sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    sshd.stderr!.on('data', (chunk: Buffer) => (sshdLog += chunk.toString('utf8')));
    await waitForPort(port, sshd, () => sshdLog);
  });
  after(async () => {
    if (sshd && sshd.exitCode === null) {
      const exited = new Promise((resolve) => sshd!.once('exit', resolve));
      sshd.kill('SIGTERM');
      await exited;
    }
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
    assert.match(sshdLog, /Accepted publickey for root/);
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
