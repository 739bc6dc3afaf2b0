/**
 * Shared pieces of the fuzz suite (test/unit/fuzz-*.test.ts, issue 14): the fixed seed, arbitraries that
 * mutate valid documents, and the property every parser and the CLI must keep: a result, or an input error
 * (exit 2) with a message; never another exception (exit 70), never a hang.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isEnvsealError } from '../../src/core/errors.js';

/** Fixed so a failure is reproducible; FUZZ_SEED=<n> explores other cases. Printed by every fuzz file. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261202);

/** A case slower than this counts as a hang (parsers are synchronous: measured, not pre-empted). */
export const CASE_BUDGET_MS = 2000;

export function fuzzParams(numRuns: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns, endOnFailure: true };
}

/** Counts of cases tried, per property, printed at the end of each file. */
export const tried: Record<string, number> = {};
/** Cases that broke the property (before shrinking), printed with the counts. */
export const failures = { count: 0 };

/** Runs `parse` on `input`: returns, or throws an input error with a message. Anything else fails the case. */
export function expectResultOrInputError<T>(name: string, parse: () => T): T | undefined {
  tried[name] = (tried[name] ?? 0) + 1;
  const started = performance.now();
  try {
    return parse();
  } catch (err) {
    if (!isEnvsealError(err) || err.exitCode !== 2) failures.count++;
    if (!isEnvsealError(err)) throw new Error(`${name}: threw a non-envseal error (would exit 70): ${String(err)}`, { cause: err });
    assert.equal(err.exitCode, 2, `${name}: exit ${err.exitCode} (${err.code}: ${err.message})`);
    assert.ok(err.message.length > 0, `${name}: empty message`);
    return undefined;
  } finally {
    const ms = performance.now() - started;
    if (ms >= CASE_BUDGET_MS) failures.count++;
    assert.ok(ms < CASE_BUDGET_MS, `${name}: one case took ${ms.toFixed(0)} ms`);
  }
}

/** Random edits of a text: insert, delete or replace a few characters (keeps most of the structure). */
export function mutatedText(base: string, alphabet: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.nat({ max: 8 }), alphabet);
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let text = base;
    for (const [at, del, ins] of edits) {
      const i = at % (text.length + 1);
      text = text.slice(0, i) + ins + text.slice(i + del);
    }
    return text;
  });
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function valueAt(doc: Json, path: (string | number)[]): Json | undefined {
  let cur: Json | undefined = doc;
  for (const key of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, Json>)[key as string] : undefined;
  return cur;
}

function pathsOf(value: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  return out;
}

/**
 * A valid JSON document with one to three values replaced or removed: by any JSON value, or (`stringsOnly`)
 * string leaves by other strings, which keeps the shape valid so cases get past the schema to the code after it.
 */
export function mutatedJson(base: unknown, options: { stringsOnly?: boolean } = {}): fc.Arbitrary<unknown> {
  const paths = pathsOf(base as Json).filter((p) => p.length > 0 && (!options.stringsOnly || typeof valueAt(base as Json, p) === 'string'));
  const replacement = options.stringsOnly
    ? fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.string({ unit: 'binary', maxLength: 20 }),
        fc.constantFrom('\n', '"', '$HOME', '\\', ' ', '', '\u0000', 'RUN x'),
      )
    : fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined));
  const edit = fc.tuple(fc.nat({ max: paths.length - 1 }), replacement);
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    const doc = structuredClone(base) as Json;
    for (const [index, value] of edits) {
      const path = paths[index]!;
      let parent: Json = doc;
      for (const key of path.slice(0, -1)) {
        if (parent === null || typeof parent !== 'object') break;
        parent = (parent as Record<string, Json>)[key as string] as Json;
      }
      if (parent === null || typeof parent !== 'object') continue;
      const last = path[path.length - 1]!;
      if (value === undefined) {
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete (parent as Record<string, Json>)[last];
      } else (parent as Record<string | number, Json>)[last] = value as Json;
    }
    return doc;
  });
}

/** Characters that matter to the formats under test, plus any Unicode. */
export function syntaxChars(special: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...special.split('')) },
    { weight: 2, arbitrary: fc.string({ maxLength: 4 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
  );
}
