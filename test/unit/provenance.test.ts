/**
 * `envseal provenance`: the in-toto Statement v1 / SLSA provenance v1 shape (zod schemas written from the spec
 * texts, src/attest/in-toto-schema.ts), its content (subjects, resolved dependencies, parameters), and the CLI:
 * determinism, -o, and the error paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildProvenance } from '../../src/attest/provenance.js';
import { inTotoStatementV1Schema } from '../../src/attest/in-toto-schema.js';
import { buildSbomModel } from '../../src/attest/sbom-model.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { listLockfilePackages } from '../../src/ecosystems/npm/parse-npm.js';
import { lockDigest, serializeLock } from '../../src/lock/lock-file.js';
import { makeTempDir, runCliInProcess } from './cli-harness.js';
import { PACKAGE_LOCK, sbomLock, sha512Hex } from '../fixtures/lock/sbom-lock.js';

const H = (c: string) => `sha256:${c.repeat(64)}`;
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const lockText = serializeLock(sbomLock());

function buildRecord(overrides: Record<string, unknown> = {}) {
  return {
    buildRecordVersion: 1 as const,
    builtAt: '2026-11-28T09:00:00.000Z',
    imageId: H('a'),
    tags: ['127.0.0.1:5000/iris:1'],
    target: 'deploy' as const,
    fingerprint: sbomLock().fingerprint,
    lockDigest: lockDigest(lockText),
    diffIds: [H('1'), H('2')],
    reproducible: true,
    pushed: [{ tag: '127.0.0.1:5000/iris:1', digest: H('9') }],
    steps: 12,
    revision: COMMIT,
    platform: 'linux/amd64',
    network: 'host',
    ...overrides,
  };
}

function statement() {
  const npm = { found: true as const, ...listLockfilePackages(PACKAGE_LOCK, 'package-lock.json') };
  const model = buildSbomModel(sbomLock(), { toolVersion: '9.9.9', npm, target: 'deploy' });
  return buildProvenance({
    model,
    build: buildRecord(),
    lockDigest: lockDigest(lockText),
    lockFile: 'envseal.lock',
    sourceDateEpoch: 1796212800,
    toolVersion: '9.9.9',
  });
}

test('provenance: a valid in-toto Statement v1 with SLSA provenance v1: subjects, dependencies, parameters, builder', () => {
  const s = statement();
  assert.equal(inTotoStatementV1Schema.safeParse(JSON.parse(canonicalJson(s))).success, true);
  assert.equal(s._type, 'https://in-toto.io/Statement/v1');
  assert.equal(s.predicateType, 'https://slsa.dev/provenance/v1');
  assert.deepEqual(
    s.subject.map((x) => [x.name, x.digest]),
    [
      ['127.0.0.1:5000/iris:1', { sha256: 'a'.repeat(64) }],
      ['127.0.0.1:5000/iris', { sha256: '9'.repeat(64) }],
    ],
  );
  const def = s.predicate.buildDefinition;
  assert.deepEqual(def.externalParameters, {
    target: 'deploy',
    platform: 'linux/amd64',
    lockFingerprint: sbomLock().fingerprint,
    lockDigest: lockDigest(lockText),
    network: 'host',
    reproducible: true,
    tags: ['127.0.0.1:5000/iris:1'],
  });
  const deps = def.resolvedDependencies!;
  const byUri = new Map(deps.map((d) => [d.uri ?? d.name, d]));
  assert.deepEqual(byUri.get('source')!.digest, { gitCommit: COMMIT });
  assert.deepEqual(byUri.get('envseal.lock')!.digest, { sha256: lockDigest(lockText).slice(7) });
  assert.deepEqual(
    [...byUri.keys()].filter((k) => k?.startsWith('pkg:oci/')).map((k) => byUri.get(k)!.digest),
    [{ sha256: 'b'.repeat(64) }],
  );
  const tiny = byUri.get('pkg:pypi/tinyconfig@0.3.1')!;
  assert.deepEqual(tiny.digest, { sha256: 'd'.repeat(64) });
  assert.equal(tiny.name, 'tinyconfig-0.3.1-py3-none-any.whl');
  assert.equal(tiny.downloadLocation, 'https://pypi.example.com/files/tinyconfig-0.3.1-py3-none-any.whl');
  assert.deepEqual(byUri.get('pkg:npm/left-pad@1.3.0')!.digest, { sha512: sha512Hex('left-pad') });
  assert.ok(byUri.has('pkg:deb/debian/python3-numpy@1:1.24.2-1+deb12u1?arch=amd64&distro=debian-12'));
  assert.equal(byUri.has('pkg:deb/debian/git@1:2.39.5-0+deb12u2?arch=amd64&distro=debian-12'), false);
  // A deploy image: the dev-only git (apt) and seal-devtools (Python) are not among its dependencies.
  assert.equal(deps.length, 2 + 10);
  assert.equal(byUri.has('pkg:pypi/seal-devtools@2.0.0'), false);
  assert.deepEqual(s.predicate.runDetails.builder, { id: 'pkg:npm/envseal@9.9.9', version: { envseal: '9.9.9' } });
  assert.equal(s.predicate.runDetails.metadata!.finishedOn, '2026-11-28T09:00:00Z');
  assert.doesNotMatch(JSON.stringify(s), /secret|pyuser|npmuser/);
});

test('the statement schema rejects what the specs forbid (it can fail)', () => {
  const good = JSON.parse(canonicalJson(statement())) as Record<string, unknown> & {
    subject: { digest: unknown }[];
    predicate: { buildDefinition: { resolvedDependencies: unknown[] } };
  };
  const bad = (mutate: (s: typeof good) => void) => {
    const copy = structuredClone(good);
    mutate(copy);
    return inTotoStatementV1Schema.safeParse(copy).success;
  };
  assert.equal(
    bad(() => {}),
    true,
  );
  assert.equal(
    bad((s) => (s._type = 'https://in-toto.io/Statement/v0.1')),
    false,
  );
  assert.equal(
    bad((s) => (s.subject[0]!.digest = {})),
    false,
  );
  assert.equal(
    bad((s) => (s.subject[0]!.digest = { sha256: 'ABC' })),
    false,
  );
  assert.equal(
    bad((s) => s.predicate.buildDefinition.resolvedDependencies.push({ name: 'nothing to identify it' })),
    false,
  );
  assert.equal(
    bad((s) => (s.subject = [])),
    false,
  );
});

async function project(build: unknown, extra: Record<string, string> = {}) {
  const tmp = await makeTempDir('envseal-sbom12-');
  await writeFile(join(tmp.dir, 'envseal.lock'), lockText);
  await writeFile(join(tmp.dir, 'package-lock.json'), PACKAGE_LOCK);
  await mkdir(join(tmp.dir, '.envseal/builds'), { recursive: true });
  if (build !== undefined) await writeFile(join(tmp.dir, '.envseal/builds/deploy.json'), typeof build === 'string' ? build : canonicalJson(build));
  for (const [name, text] of Object.entries(extra)) await writeFile(join(tmp.dir, name), text);
  return tmp;
}

test('envseal provenance: stdout and -o give the same bytes every time; --build-record names another record', async () => {
  const { dir, cleanup } = await project(buildRecord(), { 'other-build.json': canonicalJson(buildRecord({ target: 'dev', imageId: H('c'), pushed: [] })) });
  try {
    const a = await runCliInProcess(['provenance'], { cwd: dir });
    assert.equal(a.code, 0, a.stderr);
    const b = await runCliInProcess(['provenance', '--target', 'deploy', '-o', 'prov.json', '--json'], { cwd: dir });
    assert.equal(b.code, 0, b.stderr);
    assert.equal(await readFile(join(dir, 'prov.json'), 'utf8'), a.stdout);
    assert.equal((JSON.parse(b.stdout) as { subject: unknown[] }).subject.length, 2);
    const parsed = inTotoStatementV1Schema.parse(JSON.parse(a.stdout));
    assert.equal(parsed.subject[0]!.digest.sha256, 'a'.repeat(64));
    const other = await runCliInProcess(['provenance', '--build-record', 'other-build.json'], { cwd: dir });
    assert.equal(other.code, 0, other.stderr);
    assert.equal(inTotoStatementV1Schema.parse(JSON.parse(other.stdout)).subject[0]!.digest.sha256, 'c'.repeat(64));
  } finally {
    await cleanup();
  }
});

test('envseal provenance errors: no build record, invalid record (exit 2), a record of another lock (exit 1); no commit warns', async () => {
  const none = await project(undefined);
  try {
    const r = await runCliInProcess(['provenance'], { cwd: none.dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read build record \.envseal\/builds\/deploy\.json.*\nhint: build the image first/);
    const dev = await runCliInProcess(['provenance', '--target', 'staging'], { cwd: none.dir });
    assert.equal(dev.code, 2);
  } finally {
    await none.cleanup();
  }
  const invalid = await project('{"buildRecordVersion": 1, "imageId": "x"}');
  try {
    const r = await runCliInProcess(['provenance'], { cwd: invalid.dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\.envseal\/builds\/deploy\.json is not a valid envseal build record/);
    assert.match(r.stderr, /imageId: expected "sha256:"/);
  } finally {
    await invalid.cleanup();
  }
  const other = await project(buildRecord({ fingerprint: H('e') }));
  try {
    const r = await runCliInProcess(['provenance'], { cwd: other.dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /check failed: \.envseal\/builds\/deploy\.json is a build of another lock/);
  } finally {
    await other.cleanup();
  }
  const old = await project(buildRecord({ revision: undefined, platform: undefined, network: undefined }));
  try {
    const r = await runCliInProcess(['provenance'], { cwd: old.dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: .*records no git commit/);
    assert.equal(inTotoStatementV1Schema.safeParse(JSON.parse(r.stdout)).success, true);
  } finally {
    await old.cleanup();
  }
});

test('envseal provenance of a deploy build names no dev-only package; of a dev build it does', async () => {
  const { dir, cleanup } = await project(buildRecord(), { 'dev-build.json': canonicalJson(buildRecord({ target: 'dev', pushed: [] })) });
  try {
    const deploy = await runCliInProcess(['provenance'], { cwd: dir });
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.doesNotMatch(deploy.stdout, /seal-devtools|pkg:deb\/debian\/git@/);
    const dev = await runCliInProcess(['provenance', '--build-record', 'dev-build.json'], { cwd: dir });
    assert.equal(dev.code, 0, dev.stderr);
    assert.match(dev.stdout, /pkg:pypi\/seal-devtools@2\.0\.0/);
  } finally {
    await cleanup();
  }
});
