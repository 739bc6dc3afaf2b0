import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit order, 2-space indentation, trailing newline.
 * The same value always gives the same bytes, which is what makes locks and records diff-friendly and
 * lets a hash of the text stand for the value. `undefined` members are dropped (as JSON.stringify does);
 * non-finite numbers are rejected rather than silently turned into null.
 */
export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(sortDeep(value, []), null, 2)}\n`;
}

/** Compact canonical form (no whitespace): the input to fingerprints and digests. */
export function canonicalJsonCompact(value: unknown): string {
  return JSON.stringify(sortDeep(value, []));
}

/** `$.a[0].b`: where a value sits, for error messages only. */
function formatPath(at: (string | number)[]): string {
  return `$${at.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`;
}

/**
 * The value with every object's keys in sorted order. `at` is the path to `value`, kept as a stack and turned
 * into text only for an error: building a path string per node cost more than the sorting on large locks.
 */
function sortDeep(value: unknown, at: (string | number)[]): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number at ${formatPath(at)}`);
    return value;
  }
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      at.push(i);
      out[i] = v === undefined ? null : sortDeep(v, at);
      at.pop();
    }
    return out;
  }
  if (typeof value === 'object') {
    if (value instanceof Date) return value.toISOString();
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined) continue;
      at.push(key);
      out[key] = sortDeep(v, at);
      at.pop();
    }
    return out;
  }
  throw new TypeError(`canonicalJson: unsupported ${typeof value} at ${formatPath(at)}`);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `sha256:<hex>` digest of the compact canonical JSON of a value. */
export function digestOf(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJsonCompact(value))}`;
}
