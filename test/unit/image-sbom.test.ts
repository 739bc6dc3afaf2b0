/**
 * The SBOM in the image: `generate` writes envseal.sbom.cdx.json next to the lock (the bytes `envseal sbom`
 * prints), the Dockerfile copies it in and labels its digest, `generate --check` and `verify` catch a missing or
 * stale file; the in-image digest comparison and WANDB_DOCKER are pure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serializeLock } from '../../src/lock/lock-file.js';
import { sha256Hex } from '../../src/core/canonical-json.js';
import { sbomFileProblems } from '../../src/app/verify-environment.js';
import { wandbDocker } from '../../src/app/run-command.js';
import { makeTempDir, runCliInProcess } from './cli-harness.js';
import { assertValidCycloneDx } from './attest-schemas.js';
import { PACKAGE_LOCK, sbomLock } from '../fixtures/lock/sbom-lock.js';

async function project(files: Record<string, string>): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const tmp = await makeTempDir('envseal-attest12-');
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(tmp.dir, name, '..'), { recursive: true });
    await writeFile(join(tmp.dir, name), text);
  }
  return tmp;
}

const lockText = serializeLock(sbomLock());

test('generate writes the lock SBOM next to the lock; the Dockerfile copies it and labels its sha256', async () => {
  const { dir, cleanup } = await project({ 'envseal.lock': lockText, 'package-lock.json': PACKAGE_LOCK });
  try {
    const g = await runCliInProcess(['generate', '--json'], { cwd: dir });
    assert.equal(g.code, 0, g.stderr);
    assert.deepEqual(JSON.parse(g.stdout), {
      ok: true,
      dockerfile: 'envseal.Dockerfile',
      sbom: 'envseal.sbom.cdx.json',
      written: true,
      fingerprint: sbomLock().fingerprint,
    });
    const sbom = await readFile(join(dir, 'envseal.sbom.cdx.json'), 'utf8');
    await assertValidCycloneDx(sbom);
    const printed = await runCliInProcess(['sbom'], { cwd: dir });
    assert.equal(sbom, printed.stdout, 'the same document `envseal sbom` prints');
    const dockerfile = await readFile(join(dir, 'envseal.Dockerfile'), 'utf8');
    assert.equal(dockerfile.split('COPY envseal.sbom.cdx.json /etc/envseal/sbom.cdx.json').length - 1, 2);
    assert.equal(dockerfile.split(`dev.envseal.sbom-digest="sha256:${sha256Hex(sbom)}"`).length - 1, 2);
    const again = await runCliInProcess(['generate', '--json'], { cwd: dir });
    assert.equal(JSON.parse(again.stdout).written, false, 'the same lock, the same bytes');
    assert.equal((await runCliInProcess(['generate', '--check'], { cwd: dir })).code, 0);
  } finally {
    await cleanup();
  }
});

test('a lock in a subdirectory: the SBOM sits next to it and the COPY names it from the project root', async () => {
  const { dir, cleanup } = await project({ 'locks/env.lock': lockText, 'package-lock.json': PACKAGE_LOCK });
  try {
    const g = await runCliInProcess(['--lock', 'locks/env.lock', 'generate'], { cwd: dir });
    assert.equal(g.code, 0, g.stderr);
    await readFile(join(dir, 'locks/envseal.sbom.cdx.json'), 'utf8');
    assert.match(await readFile(join(dir, 'envseal.Dockerfile'), 'utf8'), /^COPY locks\/envseal\.sbom\.cdx\.json \/etc\/envseal\/sbom\.cdx\.json$/m);
  } finally {
    await cleanup();
  }
});

test('generate --check: a missing SBOM and an edited one exit 1, naming the file', async () => {
  const { dir, cleanup } = await project({ 'envseal.lock': lockText, 'package-lock.json': PACKAGE_LOCK });
  try {
    assert.equal((await runCliInProcess(['generate'], { cwd: dir })).code, 0);
    const file = join(dir, 'envseal.sbom.cdx.json');
    const good = await readFile(file, 'utf8');
    await writeFile(file, good.replace('"specVersion": "1.6"', '"specVersion": "1.5"'));
    const stale = await runCliInProcess(['generate', '--check'], { cwd: dir });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /envseal\.sbom\.cdx\.json is not the SBOM of envseal\.lock/);
    assert.match(stale.stderr, /run `envseal generate`/);
    await rm(file);
    const missing = await runCliInProcess(['generate', '--check'], { cwd: dir });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /envseal\.sbom\.cdx\.json does not exist/);
  } finally {
    await cleanup();
  }
});

test('a package-lock.json changed since the lock: the image SBOM lists the lockfile by hash, generate still works', async () => {
  const { dir, cleanup } = await project({ 'envseal.lock': lockText, 'package-lock.json': PACKAGE_LOCK.replace('1.3.0', '1.3.1') });
  try {
    const g = await runCliInProcess(['generate'], { cwd: dir });
    assert.equal(g.code, 0, g.stderr);
    const sbom = await readFile(join(dir, 'envseal.sbom.cdx.json'), 'utf8');
    await assertValidCycloneDx(sbom);
    assert.doesNotMatch(sbom, /pkg:npm\/left-pad/);
  } finally {
    await cleanup();
  }
});

test('sbomFileProblems: the in-image file must have the lock SBOM digest', () => {
  const hex = 'a'.repeat(64);
  assert.deepEqual(sbomFileProblems(`${hex}  /etc/envseal/sbom.cdx.json\n`, `sha256:${hex}`), []);
  assert.deepEqual(sbomFileProblems(`${'b'.repeat(64)}  /etc/envseal/sbom.cdx.json\n`, `sha256:${hex}`), [
    `/etc/envseal/sbom.cdx.json has digest sha256:${'b'.repeat(64)}, the lock's SBOM is sha256:${hex}`,
  ]);
  assert.deepEqual(sbomFileProblems('', `sha256:${hex}`), ['/etc/envseal/sbom.cdx.json is missing from the image']);
  assert.deepEqual(sbomFileProblems(null, `sha256:${hex}`), ['/etc/envseal/sbom.cdx.json is missing from the image']);
});

test('wandbDocker: the repo digest of the repository the run used, else the first, else the image ID', () => {
  const id = `sha256:${'1'.repeat(64)}`;
  const a = `127.0.0.1:5000/a@sha256:${'2'.repeat(64)}`;
  const b = `127.0.0.1:5000/b@sha256:${'3'.repeat(64)}`;
  assert.equal(wandbDocker('127.0.0.1:5000/b:v1', { id, repoDigests: [a, b] }), b);
  assert.equal(wandbDocker(b, { id, repoDigests: [b, a] }), b);
  assert.equal(wandbDocker('envseal/x:dev-123', { id, repoDigests: [b, a] }), a);
  assert.equal(wandbDocker('envseal/x:dev-123', { id, repoDigests: [] }), id);
  assert.equal(wandbDocker(id, { id, repoDigests: [] }), id);
});
