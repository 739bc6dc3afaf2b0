/**
 * A fast yes for JSON that a zod schema accepts unchanged. Parsing a 500-package lock with zod took ~40-70 ms
 * of a ~300 ms `verify` (zod runs a payload, an issue list and its check machinery per node; measured with
 * `node --cpu-prof`): ~30 ms of CPU against ~65 ms for zod on that lock. `parseExact(schema, value)` walks the same schema definition (zod stays the only
 * source of truth: nothing here restates a rule) over the parsed JSON and returns `schema.safeParse(value)`'s
 * data (a copy with object keys in the schema's order, as zod gives it) only when it is sure zod would accept
 * the value unchanged; otherwise undefined. Anything it does not know for certain (a check or schema kind not
 * listed below, defaults, transforms, `__proto__` keys, `undefined`) is either handed to zod for that one node
 * or answered undefined, which means "ask zod": callers then parse with zod as before, so error messages and
 * every edge case are zod's own.
 * test/unit/zod-exact.test.ts checks the equivalence on generated valid and broken locks (fast-check).
 */
import type { z } from 'zod';

/** The node's data (zod's copy of the value), or FAIL. */
type Check = (value: unknown) => unknown;
type Test = (value: unknown) => boolean;
const FAIL: unique symbol = Symbol('not accepted unchanged');

interface Def {
  type: string;
  checks?: { _zod: { def: Record<string, unknown> } }[];
  [key: string]: unknown;
}

const compiled = new WeakMap<object, Check>();
/**
 * Schemas whose check fails exactly when zod fails (leaves with known checks, arrays and nullables of them): a
 * union may only answer through an option when every option before it is one (zod takes the first option that
 * succeeds, and an earlier option this file cannot rule out might succeed with other data).
 */
const exact = new WeakSet<object>();

/** `schema.safeParse(value).data` when zod accepts `value` unchanged, else undefined (ask zod). */
export function parseExact<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> | undefined {
  const data = compile(schema)(value);
  return data === FAIL ? undefined : (data as z.infer<T>);
}

function compile(schema: z.ZodType): Check {
  let check = compiled.get(schema);
  if (!check) {
    // Set before compiling the children, so a (lazy) cycle finds the entry instead of recursing forever.
    let inner: Check = () => FAIL;
    compiled.set(schema, (v) => inner(v));
    inner = build(schema);
    check = inner;
    compiled.set(schema, check);
    if (isExact(schema)) exact.add(schema);
  }
  return check;
}

const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

function isExact(schema: z.ZodType): boolean {
  const def = defOf(schema);
  if (def.coerce) return false;
  const checks = def.checks ?? [];
  switch (def.type) {
    case 'string':
    case 'number':
      return def.format === undefined && def.check === undefined && leafTest(checks, () => true, def.type) !== null;
    case 'boolean':
    case 'literal':
    case 'enum':
      return checks.length === 0;
    case 'array':
      return leafTest(checks, () => true, 'array') !== null && exact.has(def.element as object);
    case 'nullable':
      return exact.has(def.innerType as object);
    default:
      return false;
  }
}

/** A leaf: the value itself when `test` passes. */
const leaf =
  (test: Test): Check =>
  (v) =>
    test(v) ? v : FAIL;

function build(schema: z.ZodType): Check {
  const def = defOf(schema);
  if (def.coerce) return delegate(schema);
  const checks = def.checks ?? [];
  switch (def.type) {
    case 'string': {
      const test = def.format === undefined && def.check === undefined ? leafTest(checks, (v) => typeof v === 'string', 'string') : null;
      return test ? leaf(test) : delegate(schema);
    }
    case 'number': {
      const test = def.format === undefined && def.check === undefined ? leafTest(checks, (v) => typeof v === 'number' && Number.isFinite(v), 'number') : null;
      return test ? leaf(test) : delegate(schema);
    }
    case 'boolean':
      return checks.length ? delegate(schema) : leaf((v) => typeof v === 'boolean');
    case 'literal': {
      // What zod's own literal check does: membership in a Set of the values.
      const values = new Set(def.values as unknown[]);
      return checks.length ? delegate(schema) : leaf((v) => values.has(v));
    }
    case 'enum': {
      const values = new Set(Object.values(def.entries as Record<string, unknown>).filter((x) => typeof x === 'string'));
      return checks.length ? delegate(schema) : leaf((v) => typeof v === 'string' && values.has(v));
    }
    case 'nullable': {
      const inner = compile(def.innerType as z.ZodType);
      return (v) => (v === null ? null : inner(v));
    }
    case 'optional':
      // Absent keys are the object's business; an undefined value is left to zod (FAIL below).
      return compile(def.innerType as z.ZodType);
    case 'union':
      return checks.length || def.discriminator !== undefined ? delegate(schema) : unionCheck(def);
    case 'array':
      return arrayCheck(schema, def, checks);
    case 'record':
      return checks.length ? delegate(schema) : recordCheck(schema, def);
    case 'object':
      return checks.length ? delegate(schema) : objectCheck(def);
    default:
      return delegate(schema);
  }
}

function unionCheck(def: Def): Check {
  const options = def.options as z.ZodType[];
  const checksOf = options.map(compile);
  // Options that may answer: up to and including the first that is not exact (see `exact`).
  const firstInexact = options.findIndex((o) => !exact.has(o));
  const usable = firstInexact < 0 ? checksOf : checksOf.slice(0, firstInexact + 1);
  return (v) => {
    for (const option of usable) {
      const data = option(v);
      if (data !== FAIL) return data;
    }
    return FAIL;
  };
}

function arrayCheck(schema: z.ZodType, def: Def, checks: NonNullable<Def['checks']>): Check {
  const element = compile(def.element as z.ZodType);
  const test = leafTest(checks, Array.isArray, 'array');
  if (!test) return delegate(schema);
  return (v) => {
    if (!test(v)) return FAIL;
    const items = v as unknown[];
    const out = new Array<unknown>(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const data = item === undefined ? FAIL : element(item);
      if (data === FAIL) return FAIL;
      out[i] = data;
    }
    return out;
  };
}

/** The node's own type test plus the checks known to keep the value as it is; null when one is unknown. */
function leafTest(checks: NonNullable<Def['checks']>, base: Test, kind: string): Test | null {
  const parts: Test[] = [base];
  for (const c of checks) {
    const d = c._zod.def;
    if (d.when !== undefined || d.abort === true) return null;
    if (kind === 'string' && d.check === 'string_format' && d.format === 'regex' && d.pattern instanceof RegExp) {
      const pattern = d.pattern;
      parts.push((v) => {
        pattern.lastIndex = 0;
        return pattern.test(v as string);
      });
    } else if ((kind === 'string' || kind === 'array') && d.check === 'min_length' && typeof d.minimum === 'number') {
      const min = d.minimum;
      parts.push((v) => (v as string | unknown[]).length >= min);
    } else if (kind === 'number' && d.check === 'number_format' && d.format === 'safeint') {
      parts.push((v) => Number.isSafeInteger(v));
    } else if (kind === 'number' && d.check === 'greater_than' && typeof d.value === 'number') {
      const min = d.value;
      parts.push(d.inclusive === true ? (v) => (v as number) >= min : (v) => (v as number) > min);
    } else {
      return null;
    }
  }
  if (parts.length === 1) return base;
  if (parts.length === 2) {
    const [a, b] = parts as [Test, Test];
    return (v) => a(v) && b(v);
  }
  return (v) => parts.every((p) => p(v));
}

function objectCheck(def: Def): Check {
  const catchall = def.catchall as z.ZodType | undefined;
  // Strict objects (unknown keys are errors) and plain ones (unknown keys dropped: here, answered FAIL).
  if (catchall !== undefined && defOf(catchall).type !== 'never') return () => FAIL;
  const shape = def.shape as Record<string, z.ZodType>;
  const fields = Object.entries(shape).map(([key, s]) => ({ key, check: compile(s), optional: defOf(s).type === 'optional' }));
  const known = new Set(Object.keys(shape));
  return (v) => {
    if (!isPlainObject(v)) return FAIL;
    for (const key in v) if (!known.has(key)) return FAIL;
    // zod's data: the keys in the schema's order.
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      if (!Object.prototype.hasOwnProperty.call(v, f.key)) {
        if (!f.optional) return FAIL;
        continue;
      }
      const x = v[f.key];
      const data = x === undefined ? FAIL : f.check(x);
      if (data === FAIL) return FAIL;
      out[f.key] = data;
    }
    return out;
  };
}

function recordCheck(schema: z.ZodType, def: Def): Check {
  // Plain string keys (with known checks) only; enum- and literal-keyed records are exhaustive: zod decides.
  if (defOf(def.keyType).type !== 'string') return delegate(schema);
  const key = compile(def.keyType as z.ZodType);
  const value = compile(def.valueType as z.ZodType);
  return (v) => {
    if (!isPlainObject(v)) return FAIL;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      if (k === '__proto__' || key(k) === FAIL) return FAIL;
      const x = v[k];
      const data = x === undefined ? FAIL : value(x);
      if (data === FAIL) return FAIL;
      out[k] = data;
    }
    return out;
  };
}

/** A kind this file does not know: zod parses the node itself, and its data must equal the input. */
function delegate(schema: z.ZodType): Check {
  return (v) => {
    const r = schema.safeParse(v);
    return r.success && jsonEqual(r.data, v) ? r.data : FAIL;
  };
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}
