/**
 * DOCKER_HOST=tcp://…:2376 with TLS through the real CLI: the lab engine's second endpoint (dockerd --tlsverify
 * on 127.0.0.1:2376, certificates made by .ci/lab-tls at lab-up) carries lock, build, run (attach and wait over
 * TLS) and verify, and `-v` names it; a docker context with TLS material pointing there works too. Bad TLS
 * material fails fast with exit 2 naming the file; an engine certificate signed by another CA, or a client
 * certificate the engine does not trust, is exit 3 (docker.tls-failed) saying which side; plain HTTP to the
 * TLS port is exit 3 with the hint to turn TLS on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempProject, REPO_ROOT, runEnvseal, type TempProject } from '../lab/cli.js';
import {
  dockerCli,
  LAB_BASE_IMAGE,
  LAB_ENGINE_TLS_CERTS,
  LAB_ENGINE_TLS_HOST,
  LAB_INDEX_URL,
  LAB_UP_COMMAND,
  requireLab,
  requireLabIndex,
} from '../lab/lab.js';

const SPEC = `version: 1
name: engine13-tls
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
`;
const ENDPOINT = 'https://127.0.0.1:2376';
const TAG = 'envseal-engine13/tls:dev';
/** Every failure below is about the connection, not the work: it must come quickly. */
const FAST_MS = 20_000;

describe('DOCKER_HOST=tcp:// with TLS through the CLI (the lab engine on 127.0.0.1:2376)', { concurrency: false }, () => {
  let project: TempProject;
  const others: TempProject[] = [];
  /** A fresh copy of the project without a lock, so `lock` has to reach the engine again. */
  const fresh = async () => {
    const copy = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'tinyconfig~=1.1\n' });
    others.push(copy);
    return copy.dir;
  };
  const env = (certs: string | undefined, cache: string, extra: Record<string, string | undefined> = {}) => ({
    DOCKER_HOST: LAB_ENGINE_TLS_HOST,
    DOCKER_TLS_VERIFY: certs === undefined ? undefined : '1',
    DOCKER_CERT_PATH: certs,
    DOCKER_CONTEXT: undefined,
    DOCKER_CONFIG: project.path('.docker'),
    ENVSEAL_CACHE_DIR: project.path(cache),
    ...extra,
  });
  /** A DOCKER_CERT_PATH made of the lab's files with some replaced (from another CA's material, or broken). */
  const certDir = async (name: string, files: Record<string, string | null>) => {
    const dir = project.path(join('certs', name));
    await mkdir(dir, { recursive: true });
    for (const file of ['ca.pem', 'cert.pem', 'key.pem']) {
      const from = files[file];
      if (from === undefined) await copyFile(join(LAB_ENGINE_TLS_CERTS, file), join(dir, file));
      else if (from === null) await mkdir(join(dir, file));
      else await copyFile(from, join(dir, file));
    }
    return dir;
  };
  let otherLab = '';

  before(async () => {
    await requireLab();
    await requireLabIndex();
    for (const file of ['ca.pem', 'cert.pem', 'key.pem']) {
      assert.ok(existsSync(join(LAB_ENGINE_TLS_CERTS, file)), `${join(LAB_ENGINE_TLS_CERTS, file)} is missing: run \`${LAB_UP_COMMAND}\` (step tls)`);
    }
    const ping = await dockerCli([
      '--host',
      LAB_ENGINE_TLS_HOST,
      '--tlsverify',
      ...['ca', 'cert', 'key'].flatMap((f) => [`--tls${f === 'ca' ? 'cacert' : f}`, join(LAB_ENGINE_TLS_CERTS, `${f}.pem`)]),
      'version',
    ]);
    assert.equal(
      ping.code,
      0,
      `the lab engine has no TLS endpoint on ${LAB_ENGINE_TLS_HOST}: run \`${LAB_UP_COMMAND}\` (it restarts an idle lab dockerd to add it): ${ping.stderr}`,
    );
    project = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'tinyconfig~=1.1\n' });
    // Another lab's CA and client certificate: the engine's certificate is not theirs, nor theirs the engine's.
    otherLab = project.path('other-lab');
    const made = spawnSync('bash', [join(REPO_ROOT, '.ci/lab-tls')], { env: { ...process.env, ENVSEAL_LAB_DIR: otherLab }, encoding: 'utf8' });
    assert.equal(made.status, 0, `.ci/lab-tls: ${made.stderr}`);
  });
  after(async () => {
    await dockerCli(['rmi', '-f', TAG]);
    for (const other of others) await other.cleanup();
    await project?.cleanup();
  });

  test('lock, build, run and verify --image go through the TLS endpoint, and -v names it', async () => {
    const lock = await runEnvseal(['lock', '-v'], { cwd: project.dir, env: env(LAB_ENGINE_TLS_CERTS, '.cache') });
    assert.equal(lock.code, 0, lock.stderr);
    assert.match(lock.stderr, /Docker engine: https:\/\/127\.0\.0\.1:2376 \(from DOCKER_HOST\)/);
    assert.equal((await runEnvseal(['generate'], { cwd: project.dir, env: env(LAB_ENGINE_TLS_CERTS, '.cache') })).code, 0);
    const build = await runEnvseal(['build', '--target', 'dev', '-t', TAG, '-v'], { cwd: project.dir, env: env(LAB_ENGINE_TLS_CERTS, '.cache') });
    assert.equal(build.code, 0, build.stderr);
    assert.match(build.stderr, /Docker engine: https:\/\/127\.0\.0\.1:2376 \(from DOCKER_HOST\)/);
    const run = await runEnvseal(
      ['run', '--image', TAG, '--seed', '7', '--no-build', '--', 'python3', '-c', 'import os; print("seed", os.environ["ENVSEAL_SEED"])'],
      {
        cwd: project.dir,
        env: env(LAB_ENGINE_TLS_CERTS, '.cache'),
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^seed 7$/m);
    const verify = await runEnvseal(['verify', '--image', TAG, '-v'], { cwd: project.dir, env: env(LAB_ENGINE_TLS_CERTS, '.cache') });
    assert.equal(verify.code, 0, verify.stderr + verify.stdout);
    assert.match(verify.stderr, /Docker engine: https:\/\/127\.0\.0\.1:2376 \(from DOCKER_HOST\)/);
  });

  test('a docker context with TLS material (meta.json + tls/) pointing at the TLS endpoint', async () => {
    const configDir = project.path('.docker-ctx');
    const id = createHash('sha256').update('labtls').digest('hex');
    await mkdir(join(configDir, 'contexts', 'meta', id), { recursive: true });
    await writeFile(
      join(configDir, 'contexts', 'meta', id, 'meta.json'),
      JSON.stringify({ Name: 'labtls', Metadata: {}, Endpoints: { docker: { Host: LAB_ENGINE_TLS_HOST, SkipTLSVerify: false } } }),
    );
    const tlsDir = join(configDir, 'contexts', 'tls', id, 'docker');
    await mkdir(tlsDir, { recursive: true });
    for (const file of ['ca.pem', 'cert.pem', 'key.pem']) await copyFile(join(LAB_ENGINE_TLS_CERTS, file), join(tlsDir, file));
    const res = await runEnvseal(['lock', '-v'], {
      cwd: await fresh(),
      env: {
        DOCKER_HOST: undefined,
        DOCKER_TLS_VERIFY: undefined,
        DOCKER_CERT_PATH: undefined,
        DOCKER_CONTEXT: 'labtls',
        DOCKER_CONFIG: configDir,
        ENVSEAL_CACHE_DIR: project.path('.cache-ctx'),
      },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /Docker engine: https:\/\/127\.0\.0\.1:2376 \(from docker context "labtls" \(DOCKER_CONTEXT\)\)/);
  });

  test('missing or unusable TLS files: exit 2 naming the file, before any connection', async () => {
    const cases: [string, RegExp][] = [
      [project.path('certs/none'), /cannot read .*certs\/none\/ca\.pem \(DOCKER_CERT_PATH\) for the TLS connection to the Docker engine: ENOENT/],
      [await certDir('key-dir', { 'key.pem': null }), /cannot read .*certs\/key-dir\/key\.pem \(DOCKER_CERT_PATH\).*EISDIR/],
      [
        await certDir('other-key', { 'key.pem': join(otherLab, 'tls/client/key.pem') }),
        /certs\/other-key\/key\.pem \(DOCKER_CERT_PATH\) cannot be used .*: it is not the private key of cert\.pem/,
      ],
    ];
    for (const [certs, message] of cases) {
      const started = Date.now();
      const res = await runEnvseal(['lock'], { cwd: await fresh(), env: env(certs, '.cache-bad'), timeoutMs: FAST_MS });
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, message);
      assert.match(res.stderr, /hint: /);
      assert.ok(Date.now() - started < FAST_MS, `took ${Date.now() - started} ms`);
    }
  });

  test('an engine certificate another CA signed, or a client certificate the engine does not trust: exit 3 (docker.tls-failed), quickly', async () => {
    const wrongCa = await certDir('wrong-ca', { 'ca.pem': join(otherLab, 'tls/client/ca.pem') });
    const res = await runEnvseal(['lock', '--json'], { cwd: await fresh(), env: env(wrongCa, '.cache-ca'), timeoutMs: FAST_MS });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /cannot reach the Docker engine at https:\/\/127\.0\.0\.1:2376: TLS: its certificate is not trusted/);
    assert.equal((JSON.parse(res.stdout) as { error: { code: string } }).error.code, 'docker.tls-failed');
    const stranger = await certDir('stranger', { 'cert.pem': join(otherLab, 'tls/client/cert.pem'), 'key.pem': join(otherLab, 'tls/client/key.pem') });
    const refused = await runEnvseal(['lock'], { cwd: await fresh(), env: env(stranger, '.cache-st'), timeoutMs: FAST_MS });
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `cannot reach the Docker engine at ${ENDPOINT.replaceAll('.', '\\.')}: TLS: the engine (refused the connection|closed the connection during the handshake)`,
      ),
    );
    assert.match(refused.stderr, /hint: the client certificate \(cert\.pem, key\.pem\) must be signed by the CA the engine trusts/);
  });

  test('plain HTTP to the TLS port: exit 3 with the hint to turn TLS on', async () => {
    const res = await runEnvseal(['lock'], { cwd: await fresh(), env: env(undefined, '.cache-plain'), timeoutMs: FAST_MS });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /hint: the engine at http:\/\/127\.0\.0\.1:2376 speaks TLS: set DOCKER_TLS_VERIFY=1/);
  });
});
