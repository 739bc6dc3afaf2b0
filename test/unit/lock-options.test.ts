import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectUnsupportedOptions } from '../../src/ecosystems/python/index.js';
import { parseSpec } from '../../src/envspec/load-spec.js';

test('requirements options envseal cannot honour are clear errors', () => {
  assert.doesNotThrow(() => rejectUnsupportedOptions({ pre: true, onlyBinary: [':all:'], preferBinary: true, requireHashes: true, trustedHosts: ['x'] }));
  assert.throws(
    () => rejectUnsupportedOptions({ noBinary: ['numpy'] }),
    (e: any) => e.code === 'python.unsupported-option' && e.exitCode === 2 && /--no-binary numpy/.test(e.message),
  );
  assert.throws(
    () => rejectUnsupportedOptions({ findLinks: ['./wheels'] }),
    (e: any) => e.code === 'python.unsupported-option' && /PEP 503 index/.test(e.hint),
  );
  assert.throws(
    () => rejectUnsupportedOptions({ noIndex: true }),
    (e: any) => /--no-index/.test(e.message),
  );
});

test('spec: per-package indexes and exclude-newer', () => {
  const spec = parseSpec(`version: 1
name: gpu
base: python:3.11
python:
  packages: ["torch==2.3.1+cu121"]
  index: https://pypi.org/simple
  packageIndexes: { torch: "https://download.pytorch.org/whl/cu121" }
  excludeNewer: "2026-11-01T00:00:00Z"
`);
  assert.deepEqual(spec.python?.packageIndexes, { torch: 'https://download.pytorch.org/whl/cu121' });
  assert.equal(spec.python?.excludeNewer, '2026-11-01T00:00:00Z');
  assert.throws(
    () => parseSpec('version: 1\nname: x\nbase: y\npython:\n  excludeNewer: yesterday\n  packageIndexes: { torch: "not a url" }\n'),
    (e: any) =>
      e.details.some((d: string) => d.startsWith('envseal.yaml: python.excludeNewer: must be an ISO 8601 timestamp')) &&
      e.details.some((d: string) => d.startsWith('envseal.yaml: python.packageIndexes.torch: must be an http(s) URL')),
  );
});
