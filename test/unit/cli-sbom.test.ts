/**
 * `envseal sbom` through the CLI: stdout and `-o`, determinism, `--lock`, the npm lockfile, and every error
 * path with its exit code and message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serializeLock } from '../../src/lock/lock-file.js';
import { makeTempDir, runCliInProcess } from './cli-harness.js';
import { assertValidCycloneDx, assertValidSpdx } from './attest-schemas.js';
import { PACKAGE_LOCK, sbomLock } from '../fixtures/lock/sbom-lock.js';

async function project(files: Record<string, string>): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const tmp = await makeTempDir('envseal-sbom12-');
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(tmp.dir, name, '..'), { recursive: true });
    await writeFile(join(tmp.dir, name), text);
  }
  return tmp;
}

const lockText = serializeLock(sbomLock());

test('sbom: CycloneDX on stdout by default, the same bytes on every run and with -o (atomic, nothing else left)', async () => {
  const { dir, cleanup } = await project({ 'envseal.lock': lockText, 'package-lock.json': PACKAGE_LOCK });
  try {
    const a = await runCliInProcess(['sbom'], { cwd: dir });
    assert.equal(a.code, 0, a.stderr);
    await assertValidCycloneDx(a.stdout);
    assert.match(a.stdout, /"specVersion": "1.6"/);
    assert.match(a.stdout, /pkg:npm\/left-pad@1.3.0/);
    const b = await runCliInProcess(['sbom', '--format', 'cyclonedx'], { cwd: dir });
    assert.equal(b.stdout, a.stdout);
    const o = await runCliInProcess(['sbom', '-o', 'out/sbom.cdx.json', '--json'], { cwd: dir, env: {} }).catch((e: unknown) => e);
    assert.equal((o as { code: number }).code, 2, 'a missing directory is for the user to create');
    await mkdir(join(dir, 'out'));
    const w = await runCliInProcess(['sbom', '-o', 'out/sbom.cdx.json', '--json'], { cwd: dir });
    assert.equal(w.code, 0, w.stderr);
    assert.equal(await readFile(join(dir, 'out/sbom.cdx.json'), 'utf8'), a.stdout);
    assert.deepEqual(JSON.parse(w.stdout), { ok: true, file: 'out/sbom.cdx.json', format: 'cyclonedx', fingerprint: sbomLock().fingerprint, components: 12 });
    assert.deepEqual(await readdir(join(dir, 'out')), ['sbom.cdx.json']);
  } finally {
    await cleanup();
  }
});

test('sbom --format spdx: valid SPDX 2.3, deterministic; --lock names another lock file', async () => {
  const { dir, cleanup } = await project({ 'locks/other.lock': lockText, 'package-lock.json': PACKAGE_LOCK });
  try {
    const a = await runCliInProcess(['--lock', 'locks/other.lock', 'sbom', '--format', 'spdx'], { cwd: dir });
    assert.equal(a.code, 0, a.stderr);
    assertValidSpdx(a.stdout);
    const b = await runCliInProcess(['--lock', 'locks/other.lock', 'sbom', '--format', 'spdx', '-o', 'sbom.spdx.json'], { cwd: dir });
    assert.equal(b.code, 0, b.stderr);
    assert.equal(await readFile(join(dir, 'sbom.spdx.json'), 'utf8'), a.stdout);
    const deploy = await runCliInProcess(['--lock', 'locks/other.lock', 'sbom', '--format', 'spdx', '--target', 'deploy'], { cwd: dir });
    assert.equal(deploy.code, 0, deploy.stderr);
    assertValidSpdx(deploy.stdout);
    assert.match(a.stdout, /seal-devtools/);
    assert.doesNotMatch(deploy.stdout, /seal-devtools/);
    const badTarget = await runCliInProcess(['--lock', 'locks/other.lock', 'sbom', '--target', 'prod'], { cwd: dir });
    assert.equal(badTarget.code, 2);
    assert.match(badTarget.stderr, /argument 'prod' is invalid/);
  } finally {
    await cleanup();
  }
});

test('sbom without package-lock.json: a warning, and the lockfile listed by its hash', async () => {
  const { dir, cleanup } = await project({ 'envseal.lock': lockText });
  try {
    const r = await runCliInProcess(['sbom'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: package-lock.json is not in the project: the SBOM lists it by its sha256 only, not the 5 npm packages it pins/);
    await assertValidCycloneDx(r.stdout);
    assert.doesNotMatch(r.stdout, /pkg:npm\//);
  } finally {
    await cleanup();
  }
});

test('sbom errors: missing lock, invalid lock, unknown format (exit 2); a package-lock.json changed since the lock (exit 1)', async () => {
  const { dir, cleanup } = await project({});
  try {
    const missing = await runCliInProcess(['sbom'], { cwd: dir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /error: envseal.lock does not exist\nhint: run `envseal lock` first/);
    assert.equal(missing.stdout, '');

    await writeFile(join(dir, 'envseal.lock'), '{"lockVersion": 1, "name": 3}');
    const invalid = await runCliInProcess(['sbom', '--format', 'spdx'], { cwd: dir });
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /envseal.lock is not a valid envseal lock/);

    await writeFile(join(dir, 'envseal.lock'), lockText.replace('e'.repeat(64), '0'.repeat(64)));
    const tampered = await runCliInProcess(['sbom'], { cwd: dir });
    assert.equal(tampered.code, 2);
    assert.match(tampered.stderr, /does not match its content/);

    await writeFile(join(dir, 'envseal.lock'), lockText);
    const format = await runCliInProcess(['sbom', '--format', 'swid'], { cwd: dir });
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--format swid: unknown SBOM format\nhint: use one of: cyclonedx, spdx/);

    await writeFile(join(dir, 'package-lock.json'), PACKAGE_LOCK.replace('1.3.0', '1.3.1'));
    const stale = await runCliInProcess(['sbom', '--json'], { cwd: dir });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /check failed: package-lock.json has changed since envseal.lock was made/);
    assert.equal((JSON.parse(stale.stdout) as { error: { code: string } }).error.code, 'sbom.npm-stale');

    await writeFile(join(dir, 'package-lock.json'), PACKAGE_LOCK);
    await mkdir(join(dir, 'a-dir'));
    const unwritable = await runCliInProcess(['sbom', '-o', 'a-dir'], { cwd: dir });
    assert.equal(unwritable.code, 2);
    assert.match(unwritable.stderr, /cannot write a-dir/);
  } finally {
    await cleanup();
  }
});
