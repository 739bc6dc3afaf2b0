/**
 * `envseal sbom`: CycloneDX 1.6 and SPDX 2.3 documents from fixture locks (apt + Python + npm), validated against
 * the official JSON schemas: CycloneDX's through the CycloneDX library's strict JSON validator (the schema it
 * ships, res/schema/bom-1.6.SNAPSHOT.schema.json), SPDX's with ajv and spdx-spec v2.3's schemas/spdx-schema.json
 * (vendored in test/fixtures/schemas/, see the README there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSbomModel, type NpmContents } from '../../src/attest/sbom-model.js';
import { writeCycloneDx } from '../../src/attest/cyclonedx.js';
import { writeSpdx } from '../../src/attest/spdx.js';
import { listLockfilePackages } from '../../src/ecosystems/npm/parse-npm.js';
import { finalizeLock } from '../../src/lock/lock-file.js';
import { sampleLock } from '../fixtures/lock/sample-lock.js';
import { assertValidCycloneDx, assertValidSpdx, cycloneDxErrors, validateSpdxSchema } from './attest-schemas.js';
import { PACKAGE_LOCK, sbomDraft, sbomLock, sha512Hex } from '../fixtures/lock/sbom-lock.js';

const npmFound = (): NpmContents => ({ found: true, ...listLockfilePackages(PACKAGE_LOCK, 'package-lock.json') });

interface CdxComponent {
  'bom-ref': string;
  name: string;
  version: string;
  purl?: string;
  type: string;
  hashes?: { alg: string; content: string }[];
  externalReferences?: { type: string; url: string }[];
}
interface Cdx {
  serialNumber: string;
  metadata: { timestamp: string; component: { 'bom-ref': string; version: string } };
  components: CdxComponent[];
  dependencies: { ref: string; dependsOn?: string[] }[];
}

test('CycloneDX 1.6: valid against the official schema, with purls, hashes, download URLs and dependencies', async () => {
  const lock = sbomLock();
  const text = await writeCycloneDx(buildSbomModel(lock, { toolVersion: '9.9.9', npm: npmFound() }));
  await assertValidCycloneDx(text);
  const bom = JSON.parse(text) as Cdx;
  assert.match(bom.serialNumber, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(bom.metadata.timestamp, '2026-11-27T12:00:00.000Z');
  assert.equal(bom.metadata.component.version, lock.fingerprint);
  const byPurl = new Map(bom.components.map((c) => [c.purl ?? c['bom-ref'], c]));

  const base = bom.components.find((c) => c.type === 'container')!;
  assert.equal(base.purl, `pkg:oci/python@sha256:${'b'.repeat(64)}?arch=amd64&repository_url=127.0.0.1%3A5000%2Fpython&tag=bookworm`);
  assert.deepEqual(base.hashes, [{ alg: 'SHA-256', content: 'b'.repeat(64) }]);

  assert.ok(byPurl.has('pkg:deb/debian/python3-numpy@1:1.24.2-1+deb12u1?arch=amd64&distro=debian-12'));
  const metrics = byPurl.get('pkg:pypi/seal-metrics@1.2.0')!;
  assert.deepEqual(metrics.hashes, [{ alg: 'SHA-256', content: 'e'.repeat(64) }]);
  assert.deepEqual(metrics.externalReferences, [{ type: 'distribution', url: 'http://127.0.0.1:5080/files/seal_metrics-1.2.0-py3-none-any.whl' }]);
  // Credentials in a (hand-edited or old) lock or in package-lock.json never reach the SBOM.
  assert.equal(byPurl.get('pkg:pypi/tinyconfig@0.3.1')!.externalReferences![0]!.url, 'https://pypi.example.com/files/tinyconfig-0.3.1-py3-none-any.whl');
  assert.doesNotMatch(text, /secret|pyuser|npmuser/);

  const leftPad = byPurl.get('pkg:npm/left-pad@1.3.0')!;
  assert.deepEqual(leftPad.hashes, [{ alg: 'SHA-512', content: sha512Hex('left-pad') }]);
  assert.equal(byPurl.get('pkg:npm/%40scope/util@2.0.0')!.hashes![0]!.alg, 'SHA-1');
  assert.equal(byPurl.has('pkg:npm/tap@1.0.0'), false, 'devDependencies are not installed by npm ci --omit=dev');

  const deps = new Map(bom.dependencies.map((d) => [d.ref, d.dependsOn ?? []]));
  const root = deps.get('envseal:environment')!;
  assert.ok(root.includes(base['bom-ref']));
  assert.ok(root.includes('pkg:npm/left-pad@1.3.0') && root.includes('pkg:npm/%40scope/util@2.0.0'));
  assert.ok(root.includes('pkg:pypi/seal-metrics@1.2.0') && root.includes('pkg:pypi/tinyconfig@0.3.1') && root.includes('pkg:pypi/seal-devtools@2.0.0'));
  assert.ok(root.includes('pkg:deb/debian/git@1:2.39.5-0+deb12u2?arch=amd64&distro=debian-12'));
  assert.equal(root.includes('pkg:deb/debian/python3@3.11.2-1+b1?arch=amd64&distro=debian-12'), false, 'installed in the base: the base carries it');
  assert.deepEqual(deps.get(base['bom-ref']), ['pkg:deb/debian/python3@3.11.2-1+b1?arch=amd64&distro=debian-12']);
  assert.deepEqual(deps.get('pkg:pypi/seal-metrics@1.2.0'), ['pkg:pypi/tinyconfig@0.3.1'], 'the via chain through an extra is an edge');
  // Node's lookup: left-pad gets its own nested dep@2, @scope/util the top-level dep@1.
  assert.deepEqual(deps.get('pkg:npm/left-pad@1.3.0'), ['pkg:npm/dep@2.0.0']);
  assert.deepEqual(deps.get('pkg:npm/%40scope/util@2.0.0'), ['pkg:npm/dep@1.0.0']);
});

test('SPDX 2.3: valid against the official schema, packages with purls and checksums, DEPENDS_ON relationships', () => {
  const lock = sbomLock();
  const text = writeSpdx(buildSbomModel(lock, { toolVersion: '9.9.9', npm: npmFound() }));
  assertValidSpdx(text);
  const doc = JSON.parse(text) as {
    spdxVersion: string;
    documentNamespace: string;
    creationInfo: { created: string; creators: string[] };
    packages: {
      SPDXID: string;
      name: string;
      downloadLocation: string;
      checksums?: { algorithm: string; checksumValue: string }[];
      externalRefs?: { referenceLocator: string }[];
    }[];
    relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
  };
  assert.equal(doc.spdxVersion, 'SPDX-2.3');
  assert.equal(doc.creationInfo.created, '2026-11-27T12:00:00Z');
  assert.deepEqual(doc.creationInfo.creators, ['Tool: envseal-9.9.9']);
  assert.match(doc.documentNamespace, /^urn:uuid:/);
  const ids = new Set(doc.packages.map((p) => p.SPDXID));
  assert.equal(ids.size, doc.packages.length, 'SPDX IDs are unique');
  for (const id of ids) assert.match(id, /^SPDXRef-[A-Za-z0-9.-]+$/);
  const byPurl = new Map(doc.packages.map((p) => [p.externalRefs?.[0]?.referenceLocator ?? p.name, p]));
  const tiny = byPurl.get('pkg:pypi/tinyconfig@0.3.1')!;
  assert.deepEqual(tiny.checksums, [{ algorithm: 'SHA256', checksumValue: 'd'.repeat(64) }]);
  assert.equal(tiny.downloadLocation, 'https://pypi.example.com/files/tinyconfig-0.3.1-py3-none-any.whl');
  assert.equal(byPurl.get('pkg:deb/debian/git@1:2.39.5-0+deb12u2?arch=amd64&distro=debian-12')!.downloadLocation, 'NOASSERTION');
  assert.doesNotMatch(text, /secret|pyuser|npmuser/);
  const rel = (a: string, b: string) =>
    doc.relationships.some((r) => r.spdxElementId === a && r.relationshipType === 'DEPENDS_ON' && r.relatedSpdxElement === b);
  const metrics = byPurl.get('pkg:pypi/seal-metrics@1.2.0')!.SPDXID;
  assert.ok(rel('SPDXRef-environment', metrics));
  assert.ok(rel(metrics, tiny.SPDXID));
  assert.ok(
    doc.relationships.some(
      (r) => r.spdxElementId === 'SPDXRef-DOCUMENT' && r.relationshipType === 'DESCRIBES' && r.relatedSpdxElement === 'SPDXRef-environment',
    ),
  );
});

test('without package-lock.json the lockfile stands for the npm packages by its hash; both formats stay valid', async () => {
  const lock = sbomLock();
  const model = buildSbomModel(lock, { toolVersion: '9.9.9', npm: { found: false, reason: 'package-lock.json is not in the project' } });
  const cdx = await writeCycloneDx(model);
  await assertValidCycloneDx(cdx);
  assertValidSpdx(writeSpdx(model));
  const file = (JSON.parse(cdx) as Cdx).components.find((c) => c.type === 'file')!;
  assert.equal(file.name, 'package-lock.json');
  assert.deepEqual(file.hashes, [{ alg: 'SHA-256', content: lock.npm!.sha256 }]);
  assert.match(cdx, /not listed one by one: package-lock.json is not in the project/);
});

test('a lock without apt, Python or npm (base image only) gives valid documents', async () => {
  const bare = finalizeLock({ ...sbomDraft(), apt: null, python: null, npm: null });
  const model = buildSbomModel(bare, { toolVersion: '9.9.9', npm: null });
  assert.equal(model.components.length, 1);
  await assertValidCycloneDx(await writeCycloneDx(model));
  assertValidSpdx(writeSpdx(model));
});

test('canonical: the same lock gives the same bytes; another lock another serial number and namespace', async () => {
  const a1 = buildSbomModel(sbomLock(), { toolVersion: '9.9.9', npm: npmFound() });
  const a2 = buildSbomModel(sbomLock(), { toolVersion: '9.9.9', npm: npmFound() });
  assert.equal(await writeCycloneDx(a1), await writeCycloneDx(a2));
  assert.equal(writeSpdx(a1), writeSpdx(a2));
  const b = buildSbomModel(sampleLock(), { toolVersion: '9.9.9', npm: null });
  const serial = (t: string) => (JSON.parse(t) as Cdx).serialNumber;
  assert.notEqual(serial(await writeCycloneDx(a1)), serial(await writeCycloneDx(b)));
  const ns = (t: string) => (JSON.parse(t) as { documentNamespace: string }).documentNamespace;
  assert.notEqual(ns(writeSpdx(a1)), ns(writeSpdx(b)));
  // CycloneDX and SPDX of the same lock do not share an identifier.
  assert.notEqual(serial(await writeCycloneDx(a1)).slice('urn:uuid:'.length), ns(writeSpdx(a1)).slice('urn:uuid:'.length));
});

test('the schemas do catch a broken document (the validation can fail)', async () => {
  const text = await writeCycloneDx(buildSbomModel(sbomLock(), { toolVersion: '9.9.9', npm: npmFound() }));
  const broken = JSON.parse(text) as Cdx;
  broken.components[0]!.hashes = [{ alg: 'SHA-256', content: 'not-hex' }];
  assert.notEqual(await cycloneDxErrors(JSON.stringify(broken)), null);
  const spdx = JSON.parse(writeSpdx(buildSbomModel(sbomLock(), { toolVersion: '9.9.9', npm: null }))) as { packages: { checksums?: unknown }[] };
  spdx.packages[0]!.checksums = [{ algorithm: 'SHA256' }];
  assert.equal(validateSpdxSchema(spdx), false);
});

test('--target: a deploy SBOM leaves out dev-only packages; dev has them all; without it both, each saying where it goes', async () => {
  const purls = (target?: 'dev' | 'deploy') => {
    const model = buildSbomModel(sbomLock(), { toolVersion: '9.9.9', npm: npmFound(), ...(target ? { target } : {}) });
    return { model, purls: model.components.map((c) => c.purl ?? c.ref) };
  };
  const deploy = purls('deploy');
  assert.equal(deploy.purls.includes('pkg:pypi/seal-devtools@2.0.0'), false);
  assert.equal(deploy.purls.includes('pkg:deb/debian/git@1:2.39.5-0+deb12u2?arch=amd64&distro=debian-12'), false);
  assert.ok(deploy.purls.includes('pkg:pypi/seal-metrics@1.2.0') && deploy.purls.includes('pkg:npm/left-pad@1.3.0'));
  assert.ok(deploy.model.properties.some(([n, v]) => n === 'envseal:target' && v === 'deploy'));
  await assertValidCycloneDx(await writeCycloneDx(deploy.model));
  assertValidSpdx(writeSpdx(deploy.model));
  assert.equal(purls('dev').purls.length, purls().purls.length);
  const all = purls().model;
  assert.deepEqual(
    all.components.find((c) => c.purl === 'pkg:pypi/seal-devtools@2.0.0')!.properties.find(([n]) => n === 'envseal:targets'),
    ['envseal:targets', 'dev'],
  );
});

test('Python edges: a chain through a package of the other target gives no edge, and no package is left unreachable', () => {
  const draft = sbomDraft();
  const devtools = draft.python!.packages.find((p) => p.name === 'seal-devtools')!;
  const metrics = draft.python!.packages.find((p) => p.name === 'seal-metrics')!;
  // seal-metrics is needed by deploy, and (in dev) also pulled in by seal-devtools.
  metrics.via = ['requirements-dev.txt > seal-devtools > seal-metrics', 'requirements.txt > seal-metrics'];
  devtools.via = ['requirements-dev.txt > seal-devtools'];
  const lock = finalizeLock(draft);
  const dev = buildSbomModel(lock, { toolVersion: '9.9.9', npm: null, target: 'dev' });
  assert.deepEqual(dev.components.find((c) => c.name === 'seal-devtools')!.dependsOn, ['pkg:pypi/seal-metrics@1.2.0']);
  const deploy = buildSbomModel(lock, { toolVersion: '9.9.9', npm: null, target: 'deploy' });
  assert.ok(deploy.root.dependsOn.includes('pkg:pypi/seal-metrics@1.2.0'));
  // A package whose only chain runs through an unlisted parent still hangs off the root.
  metrics.via = ['requirements-dev.txt > seal-devtools > seal-metrics'];
  const orphan = buildSbomModel(finalizeLock(draft), { toolVersion: '9.9.9', npm: null, target: 'deploy' });
  assert.ok(orphan.root.dependsOn.includes('pkg:pypi/seal-metrics@1.2.0'));
});
