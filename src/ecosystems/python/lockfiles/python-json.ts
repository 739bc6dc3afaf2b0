/**
 * Python's `json.dumps(value, sort_keys=True)` byte for byte (ensure_ascii on), which Poetry's `content-hash` and
 * pipenv's `_meta.hash` are taken over: `", "`/`": "` separators by default, `","`/`":"` when compact. Pure.
 */

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function pyNumber(n: number | bigint): string {
  if (typeof n === 'bigint' || Number.isInteger(n)) return String(n);
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  // Python's float repr: shortest round-trip digits, exponent form like 1e-05 / 1e+16.
  const s = String(n);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** `json.dumps(value, sort_keys=True[, separators=(",", ":")])`. Dates (TOML datetimes) are not JSON and are refused. */
export function pythonJsonDumps(value: unknown, compact = false): string {
  const [item, key] = compact ? [',', ':'] : [', ', ': '];
  const dump = (v: unknown): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number' || typeof v === 'bigint') return pyNumber(v);
    if (typeof v === 'string') return pyString(v);
    if (Array.isArray(v)) return `[${v.map(dump).join(item)}]`;
    if (v instanceof Date) throw new Error('a TOML date has no JSON form');
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${pyString(k)}${key}${dump(x)}`).join(item)}}`;
  };
  return dump(value);
}
