import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, canonicalJsonCompact, digestOf } from '../../src/core/canonical-json.js';

test('canonical JSON sorts keys by code unit at every depth, drops undefined members and keeps array holes as null', () => {
  const value = { b: [{ z: 1, a: undefined, B: 'x' }, undefined, new Date('2026-01-02T03:04:05Z')], a: { é: true, e: null }, A: 0 };
  assert.equal(canonicalJsonCompact(value), '{"A":0,"a":{"e":null,"é":true},"b":[{"B":"x","z":1},null,"2026-01-02T03:04:05.000Z"]}');
  assert.equal(canonicalJson({ b: 1, a: [2] }), '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n');
  assert.equal(digestOf({ b: 1, a: 2 }), digestOf({ a: 2, b: 1 }));
});

test('canonical JSON names where a non-finite number or an unsupported value sits', () => {
  assert.throws(() => canonicalJson({ a: [{ b: 1 }, { c: Number.NaN }] }), /non-finite number at \$\.a\[1\]\.c$/);
  assert.throws(() => canonicalJsonCompact({ x: { y: [() => 1] } }), /unsupported function at \$\.x\.y\[0\]$/);
  assert.throws(() => canonicalJsonCompact(1n), /unsupported bigint at \$$/);
});
