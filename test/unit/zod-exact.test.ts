/**
 * core/zod-exact.ts answers "zod accepts this unchanged" only when zod does: on valid locks (the fast path
 * must be taken) and on locks broken at random places (fast-check), compared with `safeParse` itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { z } from 'zod';
import { parseExact } from '../../src/core/zod-exact.js';
import { lockSchema } from '../../src/lock/schema.js';
import { pythonSpecSchema } from '../../src/ecosystems/python/schema.js';
import { specSchema as envSpecSchema } from '../../src/envspec/schema.js';
import { sampleLock } from '../fixtures/lock/sample-lock.js';
import { sbomLock } from '../fixtures/lock/sbom-lock.js';
import { fuzzParams } from './fuzz-support.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const clone = (v: unknown): Json => JSON.parse(JSON.stringify(v)) as Json;
const LOCKS = [clone(sampleLock()), clone(sbomLock())];

/** Every path to a value inside `v` (the root included). */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

type Op = 'replace' | 'delete' | 'add-key' | 'duplicate' | 'null' | 'empty';

function mutate(root: Json, at: (string | number)[], op: Op, value: Json, key: string): Json {
  if (!at.length) return op === 'replace' ? value : root;
  const parentPath = at.slice(0, -1);
  const last = at.at(-1)!;
  let parent = root as Record<string | number, Json>;
  for (const p of parentPath) parent = parent[p] as Record<string | number, Json>;
  const target = parent[last]!;
  if (op === 'replace') parent[last] = value;
  else if (op === 'null') parent[last] = null;
  else if (op === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (op === 'add-key' && target && typeof target === 'object' && !Array.isArray(target)) target[key] = value;
  else if (op === 'duplicate' && Array.isArray(target) && target.length) target.push(clone(target[0]));
  else if (op === 'empty') parent[last] = Array.isArray(target) ? [] : typeof target === 'string' ? '' : target && typeof target === 'object' ? {} : 0;
  return root;
}

function zodAcceptsUnchanged(schema: z.ZodType, value: Json): boolean {
  const r = schema.safeParse(value);
  return r.success && isDeepStrictEqual(r.data, value);
}

/** The fast answer, checked against zod's when there is one: the same data, object keys in the same order. */
function acceptsUnchanged(schema: z.ZodType, value: Json): boolean {
  const data = parseExact(schema, value);
  if (data === undefined) return false;
  const r = schema.safeParse(value);
  assert.ok(r.success, 'fast path gave data, zod refused the value');
  assert.equal(JSON.stringify(data), JSON.stringify(r.data), 'fast path data (or its key order) differs from zod');
  assert.ok(isDeepStrictEqual(data, value), 'fast path changed the value');
  return true;
}

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

test('zod-exact: valid locks take the fast path', () => {
  for (const lock of LOCKS) {
    assert.equal(lockSchema.safeParse(lock).success, true);
    assert.equal(acceptsUnchanged(lockSchema, lock), true);
  }
});

test('zod-exact: on broken locks, yes only when zod accepts the value unchanged (fast-check)', () => {
  const ops: Op[] = ['replace', 'delete', 'add-key', 'duplicate', 'null', 'empty'];
  let yes = 0;
  let no = 0;
  fc.assert(
    fc.property(
      fc.nat(LOCKS.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(...ops), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, fc.string()), { minLength: 1, maxLength: 3 }),
      (which, edits) => {
        let value = clone(LOCKS[which]);
        for (const [pick, op, v, key] of edits) {
          const all = paths(value);
          value = mutate(value, all[pick % all.length]!, op, clone(v), key);
        }
        const fast = acceptsUnchanged(lockSchema, value);
        if (fast) {
          yes++;
          assert.equal(zodAcceptsUnchanged(lockSchema, value), true, 'fast path said yes, zod did not accept it unchanged');
        } else no++;
      },
    ),
    fuzzParams(1500),
  );
  assert.ok(yes > 20 && no > 200, `both answers seen (yes ${yes}, no ${no})`);
});

test('zod-exact: schemas with defaults and unions answer no when zod would change the value', () => {
  // A default to fill in: zod's data differs from the input, so the answer must be no.
  assert.equal(acceptsUnchanged(pythonSpecSchema, {}), false);
  assert.equal(
    acceptsUnchanged(envSpecSchema, { version: 1, name: 'x', base: 'debian:12' }),
    zodAcceptsUnchanged(envSpecSchema, { version: 1, name: 'x', base: 'debian:12' }),
  );
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>, (value) => {
      for (const schema of [pythonSpecSchema, envSpecSchema, lockSchema] as z.ZodType[]) {
        if (acceptsUnchanged(schema, value)) assert.equal(zodAcceptsUnchanged(schema, value), true);
      }
    }),
    fuzzParams(500),
  );
});
