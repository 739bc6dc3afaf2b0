/**
 * PEP 440 version specifiers and specifier sets (`>=1.0,!=1.3.*,<2`), with the pre-release rules of the
 * living spec as implemented by `packaging` 26 (what pip vendors from 25.x on, and what the conformance
 * vectors were computed with):
 * https://packaging.python.org/en/latest/specifications/version-specifiers/#version-specifiers
 *
 * Pre-releases: a set accepts them when asked to (`prereleases: true`, pip's `--pre`), when one of its
 * specifiers names a pre-release (`>=2.0b1`), or when no final release matches at all ("accept pre-releases
 * if they are the only versions available", PEP 440 "Handling of pre-releases"). `filterVersions` applies
 * that to a list of candidates; `contains` applies it to a single version, where a matching pre-release is
 * by definition the only candidate.
 */
import { inputError } from '../../../core/errors.js';
import { type Version, PY_WHITESPACE, compareVersions, formatVersion, isPrerelease, stripLocal, stripPythonWhitespace, tryParseVersion } from './version.js';

export type SpecifierOperator = '~=' | '==' | '!=' | '<=' | '>=' | '<' | '>' | '===';

export interface Specifier {
  readonly operator: SpecifierOperator;
  /** The version part as written, surrounding whitespace removed (`1.0.*`, `2.0rc1`, `foobar` for ===). */
  readonly version: string;
  /** True for the prefix-matching form `==1.2.*` / `!=1.2.*`. */
  readonly wildcard: boolean;
  /** The parsed version (for a wildcard: of the prefix); null only for `===` with a non-PEP 440 string. */
  readonly parsed: Version | null;
}

const WS = `[${PY_WHITESPACE}]`;
const PRE = '(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?';
const POST = '(?:(?:-[0-9]+)|(?:[-_.]?(?:post|rev|r)[-_.]?[0-9]*))?';
const DEV = '(?:[-_.]?dev[-_.]?[0-9]*)?';
const LOCAL = '(?:\\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?';

/**
 * One specifier, as the grammar in the spec's "Version specifiers" section allows (and `packaging`'s
 * regular expression): `===` takes anything up to whitespace, `;` or `)`; `==`/`!=` allow a `.*` suffix or
 * a local label; `~=` needs two release components; the ordered comparisons allow neither. Exported so the
 * PEP 508 tokenizer can match a specifier inside a requirement.
 */
export const SPECIFIER_PATTERN_SOURCE =
  '(?:' +
  `(?:===${WS}*[^${PY_WHITESPACE};)]*)` +
  `|(?:(?:==|!=)${WS}*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*(?:\\.\\*|${PRE}${POST}${DEV}${LOCAL}))` +
  `|(?:~=${WS}*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)+${PRE}${POST}${DEV})` +
  `|(?:(?:<=|>=|<|>)${WS}*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*${PRE}${POST}${DEV})` +
  ')';

const SPECIFIER_RE = new RegExp(`^${WS}*${SPECIFIER_PATTERN_SOURCE}${WS}*$`, 'i');

const SPECIFIER_HINT =
  'specifiers look like ==1.2.3, >=1.0,<2, ~=1.4.2, !=1.3.*, ===1.0 ' + '(https://packaging.python.org/en/latest/specifications/version-specifiers/)';

/** Parses one specifier, or returns null when it is not valid. */
export function tryParseSpecifier(text: string): Specifier | null {
  if (!SPECIFIER_RE.test(text)) return null;
  const spec = stripPythonWhitespace(text);
  const operator = (spec.startsWith('===') ? '===' : /^(~=|==|!=|<=|>=)/.test(spec) ? spec.slice(0, 2) : spec.slice(0, 1)) as SpecifierOperator;
  const version = stripPythonWhitespace(spec.slice(operator.length));
  const wildcard = version.endsWith('.*');
  const parsed = tryParseVersion(wildcard ? version.slice(0, -2) : version);
  if (!parsed && operator !== '===') return null; // a number too large to compare exactly
  return Object.freeze({ operator, version, wildcard, parsed });
}

/** Parses one specifier; throws `pep440.specifier.invalid`. */
export function parseSpecifier(text: string): Specifier {
  const spec = tryParseSpecifier(text);
  if (!spec) {
    throw inputError('pep440.specifier.invalid', `invalid version specifier ${JSON.stringify(text)}`, {
      hint: SPECIFIER_HINT,
    });
  }
  return spec;
}

export function formatSpecifier(spec: Specifier): string {
  return `${spec.operator}${spec.version}`;
}

/**
 * Whether this one specifier, on its own, asks for pre-releases: `!=` and `==X.*` never do; the others do
 * when their version is a pre-release; `===` with a non-version string cannot tell (null).
 */
export function specifierImpliesPrereleases(spec: Specifier): boolean | null {
  if (spec.operator === '!=') return false;
  if (spec.operator === '==' && spec.wildcard) return false;
  if (!spec.parsed) return null;
  return isPrerelease(spec.parsed);
}

/** `==X.*`: same epoch, and the release padded with zeros starts with the prefix; the local label is ignored. */
function matchesPrefix(candidate: Version, prefix: Version): boolean {
  if (candidate.epoch !== prefix.epoch) return false;
  return prefix.release.every((n, i) => (candidate.release[i] ?? 0) === n);
}

function matchesEqual(candidate: Version, spec: Specifier, target: Version): boolean {
  if (spec.wildcard) return matchesPrefix(candidate, target);
  // Without a local label in the specifier, a candidate's local label is ignored ("==1.0" matches 1.0+x).
  return compareVersions(target.local ? candidate : stripLocal(candidate), target) === 0;
}

/** The version with `post`, `dev` and `local` dropped: what a post-release is a post-release of. */
function postBase(v: Version): Version {
  return Object.freeze({ ...v, post: null, dev: null, local: null });
}

function matchesOperator(candidate: Version, spec: Specifier): boolean {
  const target = spec.parsed!;
  switch (spec.operator) {
    case '==':
      return matchesEqual(candidate, spec, target);
    case '!=':
      return !matchesEqual(candidate, spec, target);
    case '<=':
      return compareVersions(stripLocal(candidate), target) <= 0;
    case '>=':
      return compareVersions(stripLocal(candidate), target) >= 0;
    case '<':
      if (compareVersions(candidate, target) >= 0) return false;
      // "<V MUST NOT allow a pre-release of the specified version unless the specified version is itself a
      // pre-release": reject candidates at or above V.dev0.
      if (!isPrerelease(target) && isPrerelease(candidate)) {
        const earliest: Version = Object.freeze({ ...target, dev: 0, local: null });
        if (compareVersions(candidate, earliest) >= 0) return false;
      }
      return true;
    case '>':
      if (compareVersions(candidate, target) <= 0) return false;
      // ">V MUST NOT allow a post-release of the specified version unless the specified version is itself a
      // post-release", and must not match a local version of V.
      if (target.post === null && candidate.post !== null && compareVersions(postBase(candidate), target) === 0) {
        return false;
      }
      if (candidate.local !== null && compareVersions(stripLocal(candidate), target) === 0) return false;
      return true;
    case '~=': {
      // "~=V.N" is ">=V.N, ==V.*" (PEP 440, "Compatible release"), suffixes of V.N ignored for the prefix.
      if (compareVersions(stripLocal(candidate), target) < 0) return false;
      const prefix: Version = Object.freeze({
        epoch: target.epoch,
        release: target.release.slice(0, -1),
        pre: null,
        post: null,
        dev: null,
        local: null,
      });
      return matchesPrefix(candidate, prefix);
    }
    case '===':
      throw new Error('unreachable: === is matched on strings');
  }
}

/** A version to test: a string (kept as written for `===`) or an already-parsed version. */
export type VersionInput = string | Version;

interface Candidate {
  /** The text `===` compares against: the string as given, or the canonical form of a parsed version. */
  text: string;
  parsed: Version | null;
}

function toCandidate(item: VersionInput): Candidate {
  if (typeof item === 'string') return { text: item, parsed: tryParseVersion(item) };
  return { text: formatVersion(item), parsed: item };
}

/** Whether a candidate satisfies every specifier, ignoring the pre-release policy. */
function matchesAll(specs: readonly Specifier[], c: Candidate): boolean {
  for (const spec of specs) {
    if (spec.operator === '===') {
      // "Arbitrary equality": a case-insensitive string comparison, the only operator that can match a
      // string that is not a PEP 440 version.
      if (c.text.toLowerCase() !== spec.version.toLowerCase()) return false;
    } else if (!c.parsed || !matchesOperator(c.parsed, spec)) {
      return false;
    }
  }
  return true;
}

export interface PrereleaseOptions {
  /**
   * true: accept pre-releases (pip's `--pre`); false: never; undefined (default): accept them only when a
   * specifier names one or when no final release matches.
   */
  prereleases?: boolean;
}

/** A parsed, immutable set of specifiers joined by "and" (comma). The empty set matches everything. */
export class SpecifierSet {
  readonly specifiers: readonly Specifier[];

  constructor(specifiers: readonly Specifier[]) {
    this.specifiers = Object.freeze([...specifiers]);
  }

  /** True when one of the specifiers names a pre-release (then pre-releases are accepted), else null. */
  get impliesPrereleases(): boolean | null {
    return this.specifiers.some((s) => specifierImpliesPrereleases(s) === true) ? true : null;
  }

  get isEmpty(): boolean {
    return this.specifiers.length === 0;
  }

  /** Whether `version` is in the set; a lone matching pre-release is accepted unless `prereleases: false`. */
  contains(version: VersionInput, options: PrereleaseOptions = {}): boolean {
    return filterVersions([version], this, options).length > 0;
  }

  /** The canonical string: specifiers deduplicated and sorted as strings, joined by "," (like `packaging`). */
  toString(): string {
    return formatSpecifierSet(this);
  }
}

/** Parses a comma-separated specifier set (`""` and `","` are the empty set). Throws `pep440.specifier.invalid`. */
export function parseSpecifierSet(text: string): SpecifierSet {
  const parts = text
    .split(',')
    .map((p) => stripPythonWhitespace(p))
    .filter((p) => p.length > 0);
  const specs: Specifier[] = [];
  for (const part of parts) {
    const spec = tryParseSpecifier(part);
    if (!spec) {
      throw inputError(
        'pep440.specifier.invalid',
        `invalid version specifier ${JSON.stringify(part)}${parts.length > 1 ? ` in ${JSON.stringify(text)}` : ''}`,
        { hint: SPECIFIER_HINT },
      );
    }
    specs.push(spec);
  }
  return new SpecifierSet(specs);
}

export function tryParseSpecifierSet(text: string): SpecifierSet | null {
  try {
    return parseSpecifierSet(text);
  } catch {
    return null;
  }
}

export function formatSpecifierSet(set: SpecifierSet): string {
  const texts = [...new Set(set.specifiers.map(formatSpecifier))];
  texts.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return texts.join(',');
}

/** Both sets at once ("and"): what a resolver holds when two requirements name the same project. */
export function intersectSpecifierSets(a: SpecifierSet, b: SpecifierSet): SpecifierSet {
  return new SpecifierSet([...a.specifiers, ...b.specifiers]);
}

function toSet(spec: SpecifierSet | string): SpecifierSet {
  return typeof spec === 'string' ? parseSpecifierSet(spec) : spec;
}

/** Whether `version` satisfies `spec` (see `SpecifierSet.contains`). */
export function containsVersion(spec: SpecifierSet | string, version: VersionInput, options: PrereleaseOptions = {}): boolean {
  return toSet(spec).contains(version, options);
}

/**
 * The versions that satisfy `spec`, in their input order, with `packaging`'s `SpecifierSet.filter` rules:
 * pre-releases are kept when `prereleases` is true or a specifier names a pre-release; when it is false
 * they are dropped; otherwise they are kept only if no final release matched. Strings that are not PEP 440
 * versions only pass `===`; they are never treated as pre-releases.
 */
export function filterVersions<T extends VersionInput>(versions: Iterable<T>, spec: SpecifierSet | string, options: PrereleaseOptions = {}): T[] {
  const set = toSet(spec);
  const prereleases = options.prereleases ?? set.impliesPrereleases ?? undefined;
  const matched: { item: T; pre: boolean }[] = [];
  for (const item of versions) {
    const c = toCandidate(item);
    if (!matchesAll(set.specifiers, c)) continue;
    const pre = c.parsed !== null && isPrerelease(c.parsed);
    if (pre && prereleases === false) continue;
    matched.push({ item, pre });
  }
  if (prereleases !== undefined || !matched.some((m) => !m.pre)) return matched.map((m) => m.item);
  return matched.filter((m) => !m.pre).map((m) => m.item);
}
