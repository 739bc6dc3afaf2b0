/**
 * The direct CycloneDX writer (src/attest/cyclonedx.ts) gives the OWASP library's bytes
 * (src/attest/cyclonedx-library.ts) for every model it writes, and leaves the others to the library.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildSbomModel, type SbomComponent, type SbomModel } from '../../src/attest/sbom-model.js';
import { writableDirectly, writeCycloneDx, writeCycloneDxDirect } from '../../src/attest/cyclonedx.js';
import { writeCycloneDxWithLibrary } from '../../src/attest/cyclonedx-library.js';
import { sampleLock } from '../fixtures/lock/sample-lock.js';
import { listLockfilePackages } from '../../src/ecosystems/npm/parse-npm.js';
import { PACKAGE_LOCK, sbomLock } from '../fixtures/lock/sbom-lock.js';
import { fuzzParams } from './fuzz-support.js';

const npmFoundForTests = () => ({ found: true as const, ...listLockfilePackages(PACKAGE_LOCK, 'package-lock.json') });
const hexChar = fc.constantFrom(...'0123456789abcdefABCDEF');
const hex = (length: number) => fc.string({ unit: hexChar, minLength: length, maxLength: length });
/** Text with what JSON and the URI escaping care about. */
const text = fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom('a', ' ', '"', "'", '[', ']', '<', '>', '{', '}', '\\', '\n', 'é', '%', '/', ':') }));
const hashArb = fc.record({
  algorithm: fc.constantFrom('SHA-1', 'SHA-256', 'SHA-384', 'SHA-512') as fc.Arbitrary<SbomComponent['hashes'][number]['algorithm']>,
  hex: fc.oneof(hex(32), hex(40), hex(64), hex(96), hex(128), fc.string()),
});
const pair = fc.tuple(text, text);

function modelArb(): fc.Arbitrary<SbomModel> {
  return fc
    .record({
      refs: fc.uniqueArray(fc.oneof(text, fc.constantFrom('envseal:environment', 'envseal:tool', '')), { maxLength: 8 }),
      rootName: text,
      fingerprint: text,
      resolvedAt: fc.date({ min: new Date(0), max: new Date(4102444800000), noInvalidDate: true }).map((d) => d.toISOString()),
      toolVersion: text,
      properties: fc.array(pair, { maxLength: 3 }),
      digest: hex(64),
      parts: fc.array(
        fc.record({
          kind: fc.constantFrom('container', 'library', 'file') as fc.Arbitrary<SbomComponent['kind']>,
          name: text,
          version: text,
          purl: fc.option(text, { nil: null }),
          hashes: fc.array(hashArb, { maxLength: 3 }),
          downloadUrl: fc.option(text, { nil: null }),
          properties: fc.array(pair, { maxLength: 3 }),
          deps: fc.array(fc.nat(12), { maxLength: 5 }),
        }),
        { maxLength: 8 },
      ),
      rootDeps: fc.array(fc.nat(12), { maxLength: 5 }),
    })
    .map((r) => {
      // Edges point at components by index (some past the end: unknown refs, which both writers drop).
      const refAt = (i: number) => (i === 0 ? 'envseal:environment' : (r.refs[i - 1] ?? `unknown-${i}`));
      const components = r.parts.slice(0, r.refs.length).map((p, i): SbomComponent => ({
        ref: r.refs[i]!,
        kind: p.kind,
        ecosystem: 'pypi',
        name: p.name,
        version: p.version,
        purl: p.purl,
        hashes: p.hashes,
        downloadUrl: p.downloadUrl,
        properties: p.properties,
        dependsOn: p.deps.map(refAt),
      }));
      return {
        root: { ref: 'envseal:environment', name: r.rootName, fingerprint: r.fingerprint, dependsOn: r.rootDeps.map(refAt) },
        resolvedAt: r.resolvedAt,
        toolVersion: r.toolVersion,
        properties: r.properties,
        components,
        digest: r.digest,
      };
    });
}

test('direct CycloneDX writer: the library bytes for every model it accepts; the library writes the others', async () => {
  let direct = 0;
  let library = 0;
  await fc.assert(
    fc.asyncProperty(modelArb(), async (model) => {
      const written = await writeCycloneDx(model);
      if (writableDirectly(model)) {
        direct++;
        assert.equal(writeCycloneDxDirect(model), writeCycloneDxWithLibrary(model));
        assert.equal(written, writeCycloneDxDirect(model));
      } else {
        library++;
        // An empty or repeated bom-ref gets a random one from the library: only the shape can be compared.
        assert.equal(JSON.parse(written).components.length, model.components.length);
      }
    }),
    fuzzParams(400),
  );
  assert.ok(direct > 100 && library > 10, `both paths exercised (direct ${direct}, library ${library})`);
});

test('direct CycloneDX writer: the library bytes for SBOMs of real locks (python, apt, npm, base image)', () => {
  const models = [
    buildSbomModel(sbomLock(), { toolVersion: '9.9.9', npm: npmFoundForTests() }),
    buildSbomModel(sbomLock(), { toolVersion: '9.9.9', npm: { found: false, reason: 'not read' } }),
    buildSbomModel(sbomLock(), { toolVersion: '9.9.9', npm: npmFoundForTests(), target: 'deploy' }),
    buildSbomModel(sampleLock(), { toolVersion: '0.1.0', npm: null }),
  ];
  for (const model of models) {
    assert.ok(writableDirectly(model));
    assert.equal(writeCycloneDxDirect(model), writeCycloneDxWithLibrary(model));
  }
});
