/**
 * Real TLS material for tests that read or speak TLS without the lab: `.ci/lab-tls` (the lab's own openssl
 * script) run once into a temp dir, giving a CA, a server certificate for 127.0.0.1 and a client certificate,
 * plus a second, unrelated CA for the "wrong CA" cases.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TlsMaterial {
  /** ca.pem, server-cert.pem, server-key.pem (what an engine reads). */
  dir: string;
  /** ca.pem, cert.pem, key.pem of a client (a DOCKER_CERT_PATH). */
  client: string;
  /** Another lab's material: its ca.pem did not sign `dir`'s certificates. */
  other: string;
}

let made: TlsMaterial | undefined;

function labTls(labDir: string): string {
  const res = spawnSync('bash', [fileURLToPath(new URL('../../.ci/lab-tls', import.meta.url))], {
    env: { ...process.env, ENVSEAL_LAB_DIR: labDir },
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`.ci/lab-tls failed (is openssl installed?): ${res.stderr}${res.stdout}`);
  return join(labDir, 'tls');
}

export function tlsMaterial(): TlsMaterial {
  if (!made) {
    const root = mkdtempSync(join(tmpdir(), 'envseal-tls-'));
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
    const dir = labTls(join(root, 'lab'));
    made = { dir, client: join(dir, 'client'), other: labTls(join(root, 'other')) };
  }
  return made;
}
