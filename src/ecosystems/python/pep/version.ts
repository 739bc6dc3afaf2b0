/**
 * PEP 440 versions: parsing, the canonical (normalised) string, ordering, and the pre/post/dev/local parts.
 * https://peps.python.org/pep-0440/ and the living spec
 * https://packaging.python.org/en/latest/specifications/version-specifiers/
 *
 * Written here rather than taken from `@renovatebot/pep440`: that library fails the conformance vectors
 * computed with `packaging` (it turns the local separators of `1.0+a.b` into commas, rejects surrounding
 * whitespace that PEP 440 allows, and uses the pre-2022 pre-release rules in its range checks), and pip's
 * behaviour is what a lock has to reproduce.
 *
 * Versions are plain immutable data; every operation is a function. Numbers are JavaScript numbers: a
 * component above 2^53 - 1 cannot be compared exactly, so such a version is rejected as invalid rather than
 * silently mis-sorted (no real project uses one).
 */
import { inputError } from '../../../core/errors.js';

export type PreReleaseKind = 'a' | 'b' | 'rc';

/** One segment of a local version label: numbers compare as numbers, words as lower-case strings. */
export type LocalSegment = number | string;

export interface Version {
  /** N in `N!`; 0 when absent. */
  readonly epoch: number;
  /** The release segment as written (trailing zeros kept: `1.0` is [1, 0]). */
  readonly release: readonly number[];
  readonly pre: { readonly kind: PreReleaseKind; readonly number: number } | null;
  /** N in `.postN` (also `-N`, `.revN`, `.rN`). */
  readonly post: number | null;
  /** N in `.devN`. */
  readonly dev: number | null;
  /** Segments of the local label after `+`, lower-cased, numbers parsed; null when there is none. */
  readonly local: readonly LocalSegment[] | null;
}

/**
 * Python's `str.isspace()` characters, which is what `\s` and `str.strip()` mean in `packaging` (JavaScript's
 * `\s` differs: it has U+FEFF and lacks U+001C..U+001F and U+0085).
 */
export const PY_WHITESPACE = '\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, 'g');

/** `str.strip()` with Python's idea of whitespace. */
export function stripPythonWhitespace(text: string): string {
  return text.replace(PY_STRIP, '');
}

/**
 * The version pattern of PEP 440's appendix, case-insensitive. The `i` flag without `u` never folds a
 * non-ASCII character onto an ASCII one (ECMAScript Canonicalize), which matches the ASCII-only classes
 * `packaging` uses: `1.0+ſ` stays invalid.
 */
export const VERSION_PATTERN_SOURCE =
  'v?' +
  '(?:(?<epoch>[0-9]+)!)?' +
  '(?<release>[0-9]+(?:\\.[0-9]+)*)' +
  '(?<pre>[._-]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[._-]?(?<pre_n>[0-9]+)?)?' +
  '(?<post>(?:-(?<post_n1>[0-9]+))|(?:[._-]?(?<post_l>post|rev|r)[._-]?(?<post_n2>[0-9]+)?))?' +
  '(?<dev>[._-]?(?<dev_l>dev)[._-]?(?<dev_n>[0-9]+)?)?' +
  '(?:\\+(?<local>[a-z0-9]+(?:[._-][a-z0-9]+)*))?';

const VERSION_RE = new RegExp(`^[${PY_WHITESPACE}]*${VERSION_PATTERN_SOURCE}[${PY_WHITESPACE}]*$`, 'i');

const PRE_LETTERS: Record<string, PreReleaseKind> = {
  a: 'a',
  alpha: 'a',
  b: 'b',
  beta: 'b',
  c: 'rc',
  rc: 'rc',
  pre: 'rc',
  preview: 'rc',
};

const VERSION_HINT = 'PEP 440 versions look like 1.2, 1.2.3rc1, 1.2.post1, 1.2.dev3, 2!1.0 or 1.2+local.1 ' + '(https://peps.python.org/pep-0440/)';

function parseNumber(digits: string): number | null {
  const value = Number(digits);
  return Number.isSafeInteger(value) ? value : null;
}

/** Parses a version, or returns null when `text` is not a valid PEP 440 version. */
export function tryParseVersion(text: string): Version | null {
  const m = VERSION_RE.exec(text);
  if (!m?.groups) return null;
  const g = m.groups;
  const num = (digits: string | undefined): number | null => (digits === undefined ? 0 : parseNumber(digits));
  const epoch = num(g.epoch);
  const release = g.release!.split('.').map((part) => num(part));
  if (epoch === null || release.some((n) => n === null)) return null;

  let pre: Version['pre'] = null;
  if (g.pre_l !== undefined) {
    const n = num(g.pre_n);
    if (n === null) return null;
    pre = { kind: PRE_LETTERS[g.pre_l.toLowerCase()]!, number: n };
  }
  let post: number | null = null;
  if (g.post !== undefined) {
    post = num(g.post_n1 ?? g.post_n2);
    if (post === null) return null;
  }
  let dev: number | null = null;
  if (g.dev !== undefined) {
    dev = num(g.dev_n);
    if (dev === null) return null;
  }
  let local: LocalSegment[] | null = null;
  if (g.local !== undefined) {
    local = [];
    for (const part of g.local.split(/[._-]/)) {
      if (/^[0-9]+$/.test(part)) {
        const n = parseNumber(part);
        if (n === null) return null;
        local.push(n);
      } else {
        local.push(part.toLowerCase());
      }
    }
  }
  return Object.freeze({
    epoch,
    release: Object.freeze(release as number[]),
    pre: pre && Object.freeze(pre),
    post,
    dev,
    local: local && Object.freeze(local),
  });
}

/** Parses a version; throws an input error (code `pep440.version.invalid`) when it is not PEP 440. */
export function parseVersion(text: string): Version {
  const version = tryParseVersion(text);
  if (!version) {
    throw inputError('pep440.version.invalid', `invalid version ${JSON.stringify(text)}: not a PEP 440 version`, {
      hint: VERSION_HINT,
    });
  }
  return version;
}

export function isValidVersion(text: string): boolean {
  return tryParseVersion(text) !== null;
}

function toVersion(v: Version | string): Version {
  return typeof v === 'string' ? parseVersion(v) : v;
}

/** `N!` (when N > 0) and the release segment: `2!1.0` for `2!1.0rc1.post2+x`. */
export function formatBaseVersion(v: Version | string): string {
  const version = toVersion(v);
  return (version.epoch !== 0 ? `${version.epoch}!` : '') + version.release.join('.');
}

/** The canonical form without the local label: `1.0rc1.post2.dev3`. */
export function formatPublicVersion(v: Version | string): string {
  const version = toVersion(v);
  let out = formatBaseVersion(version);
  if (version.pre) out += `${version.pre.kind}${version.pre.number}`;
  if (version.post !== null) out += `.post${version.post}`;
  if (version.dev !== null) out += `.dev${version.dev}`;
  return out;
}

/** The local label in canonical form (`ubuntu.1`), or null. */
export function formatLocalVersion(v: Version | string): string | null {
  const version = toVersion(v);
  return version.local ? version.local.join('.') : null;
}

/** The canonical (normalised) string of PEP 440's "Normalization" section: `1.0-RC.1` → `1.0rc1`. */
export function formatVersion(v: Version | string): string {
  const version = toVersion(v);
  const local = formatLocalVersion(version);
  return formatPublicVersion(version) + (local === null ? '' : `+${local}`);
}

/** Normalises a version string (throws on an invalid one). */
export function normalizeVersion(text: string): string {
  return formatVersion(parseVersion(text));
}

export function isPrerelease(v: Version | string): boolean {
  const version = toVersion(v);
  return version.pre !== null || version.dev !== null;
}

export function isPostrelease(v: Version | string): boolean {
  return toVersion(v).post !== null;
}

export function isDevrelease(v: Version | string): boolean {
  return toVersion(v).dev !== null;
}

/** The same version without its local label. */
export function stripLocal(v: Version): Version {
  return v.local === null ? v : Object.freeze({ ...v, local: null });
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareReleases(a: readonly number[], b: readonly number[]): number {
  // Trailing zeros do not count: 1.0.0 == 1.0 == 1 (PEP 440, "Release segment").
  let la = a.length;
  while (la > 0 && a[la - 1] === 0) la--;
  let lb = b.length;
  while (lb > 0 && b[lb - 1] === 0) lb--;
  for (let i = 0; i < Math.min(la, lb); i++) {
    const c = compareNumbers(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return compareNumbers(la, lb);
}

const PRE_RANK: Record<PreReleaseKind, number> = { a: 0, b: 1, rc: 2 };

/**
 * The pre/post/dev part as a tuple that sorts by plain comparison (PEP 440, "Summary of permitted suffixes
 * and relative ordering"): `.devN` alone sorts before any pre-release, a release without a pre-release sorts
 * after `rc`, a post-release after its release, and a dev release before the same thing without `.dev`.
 */
function suffixKey(v: Version): [number, number, number, number, number, number] {
  let preRank: number;
  let preN = 0;
  if (v.pre) {
    preRank = PRE_RANK[v.pre.kind];
    preN = v.pre.number;
  } else if (v.post === null && v.dev !== null) {
    preRank = -1;
  } else {
    preRank = 3;
  }
  return [preRank, preN, v.post === null ? 0 : 1, v.post ?? 0, v.dev === null ? 1 : 0, v.dev ?? 0];
}

function compareLocal(a: readonly LocalSegment[] | null, b: readonly LocalSegment[] | null): number {
  // No label sorts before any label; within labels, words sort before numbers, words compare as strings,
  // numbers as numbers, and a shorter label that is a prefix of a longer one sorts first.
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (typeof x === 'number' && typeof y === 'number') {
      const c = compareNumbers(x, y);
      if (c !== 0) return c;
    } else if (typeof x === 'string' && typeof y === 'string') {
      if (x !== y) return x < y ? -1 : 1;
    } else {
      return typeof x === 'string' ? -1 : 1;
    }
  }
  return compareNumbers(a.length, b.length);
}

/** Orders two versions the way PEP 440 (and `packaging.version.Version`) does: negative, 0 or positive. */
export function compareVersions(a: Version | string, b: Version | string): number {
  const x = toVersion(a);
  const y = toVersion(b);
  if (x.epoch !== y.epoch) return compareNumbers(x.epoch, y.epoch);
  const r = compareReleases(x.release, y.release);
  if (r !== 0) return r;
  const kx = suffixKey(x);
  const ky = suffixKey(y);
  for (let i = 0; i < kx.length; i++) {
    const c = compareNumbers(kx[i]!, ky[i]!);
    if (c !== 0) return c;
  }
  return compareLocal(x.local, y.local);
}

export function versionsEqual(a: Version | string, b: Version | string): boolean {
  return compareVersions(a, b) === 0;
}

/** A sorted copy (ascending), stable for equal versions; throws on an invalid version string. */
export function sortVersions<T extends Version | string>(versions: readonly T[]): T[] {
  const parsed = versions.map((v) => ({ v, p: toVersion(v) }));
  parsed.sort((a, b) => compareVersions(a.p, b.p));
  return parsed.map((e) => e.v);
}
