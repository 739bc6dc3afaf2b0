/**
 * An sshd of a test's own on a free loopback port, from Debian's openssh-server (lab-up installs it): generated
 * host key and client keys in `dir`, root logins by key only (`client_key` is authorized, `stranger_key` is not).
 * The tests write their own ~/.ssh/config-style aliases with `clientAlias`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { LAB_UP_COMMAND } from './lab.js';

const SSHD = '/usr/sbin/sshd';

export interface TestSshd {
  port: number;
  /** Where the keys, sshd_config and authorized_keys are. */
  dir: string;
  /** `[127.0.0.1]:<port> <type> <key>`: the known_hosts line for this server. */
  knownHostsLine: string;
  /** A `Host` block for an ssh config: `alias` reaches this server as root with `key` (a file in `dir`). */
  clientAlias(alias: string, key: 'client_key' | 'stranger_key', extra?: string[]): string;
  log(): string;
  stop(): Promise<void>;
}

export async function startTestSshd(dir: string): Promise<TestSshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: run \`${LAB_UP_COMMAND}\` (it installs openssh-server)`);
  if (process.getuid?.() !== 0) throw new Error('the ssh tests run sshd with root logins, as the lab does: run them as root');
  await mkdir(dir, { recursive: true });
  for (const key of ['host_key', 'client_key', 'stranger_key']) keygen(join(dir, key));
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_key.pub')));
  const port = await freePort();
  const hostPub = (await readFile(join(dir, 'host_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
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
  await mkdir('/run/sshd', { recursive: true });
  const sshd: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  sshd.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  const stop = async () => {
    if (sshd.exitCode !== null || sshd.signalCode !== null) return;
    const exited = new Promise((resolve) => sshd.once('exit', resolve));
    sshd.kill('SIGTERM');
    await exited;
  };
  try {
    await waitForListening(sshd, () => log, port);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    dir,
    knownHostsLine: `[127.0.0.1]:${port} ${hostPub}`,
    clientAlias: (alias, key, extra = []) =>
      [`Host ${alias}`, '  HostName 127.0.0.1', `  Port ${port}`, '  User root', `  IdentityFile ${join(dir, key)}`, ...extra.map((l) => `  ${l}`), ''].join(
        '\n',
      ),
    log: () => log,
    stop,
  };
}

function keygen(path: string): void {
  const res = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`ssh-keygen failed: ${res.stderr}`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForListening(sshd: ChildProcess, log: () => string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (sshd.exitCode !== null) throw new Error(`sshd exited (${sshd.exitCode}): ${log()}`);
    if (log().includes('Server listening')) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`sshd did not listen on ${port}: ${log()}`);
}
