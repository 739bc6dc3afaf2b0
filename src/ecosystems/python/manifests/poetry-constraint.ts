/**
 * Poetry's version constraints (poetry-core `parse_constraint`) translated to PEP 440 specifier sets, bound for
 * bound as Poetry computes them: caret `^1.2.3` is `>=1.2.3,<2.0.0` (the next breaking release: major, or
 * minor when the major is 0, or patch when major and minor are 0), tilde `~1.2.3` is `>=1.2.3,<1.3.0` (`~1`
 * is `>=1,<2`), `1.*` is `==1.*`, a bare version is `==` it, `*` is anything; clauses are joined by `,` or
 * spaces. The upper bound keeps the precision of the version written (`^1.2` is `<2.0`), as Poetry does.
 * An alternative (`||`) has no single PEP 440 form: `poetryAlternatives` gives one set per alternative (what a
 * lock's `python-versions` and edges need), `poetryConstraintToPep440` refuses it. Pure.
 */
import { tryParseSpecifier } from '../pep/specifier.js';
import { tryParseVersion } from '../pep/version.js';

/** Thrown for a constraint that has no PEP 440 translation; the caller names the file and the dependency. */
export class PoetryConstraintError extends Error {}

function release(text: string): number[] {
  const v = tryParseVersion(text);
  if (!v) throw new PoetryConstraintError(`${JSON.stringify(text)} is not a version`);
  return [...v.release];
}

/** Bumps the part at `at` and zeroes the ones after it, keeping the number of parts written (at least at + 1). */
function bump(parts: number[], at: number): string {
  const out = parts.slice();
  while (out.length <= at) out.push(0);
  out[at] = out[at]! + 1;
  for (let i = at + 1; i < out.length; i++) out[i] = 0;
  return out.join('.');
}

/** `^v`: poetry-core `Version.next_breaking()`. */
export function caretUpperBound(version: string): string {
  const r = release(version);
  const [major, minor, patch] = [r[0]!, r[1], r[2]];
  if (major > 0 || minor === undefined) return bump(r.slice(0, Math.max(r.length, 1)), 0);
  if (minor > 0 || patch === undefined) return bump(r, 1);
  return bump(r, 2);
}

/** `~v`: the next major for a one-part version, else the next minor. */
export function tildeUpperBound(version: string): string {
  const r = release(version);
  return r.length === 1 ? bump(r, 0) : bump(r, 1);
}

function clause(text: string): string[] {
  const c = text.trim();
  if (c === '*' || c === '') return [];
  let m = /^\^\s*(\S+)$/.exec(c);
  if (m) return [`>=${m[1]}`, `<${caretUpperBound(m[1]!)}`];
  m = /^~(?!=)\s*(\S+)$/.exec(c);
  if (m) return [`>=${m[1]}`, `<${tildeUpperBound(m[1]!)}`];
  m = /^(==|!=)?\s*(\d+(?:\.\d+)*)\.\*$/.exec(c);
  if (m) return [`${m[1] ?? '=='}${m[2]}.*`];
  m = /^(~=|===|==|!=|<=|>=|<|>|=)?\s*(\S+)$/.exec(c);
  if (!m) throw new PoetryConstraintError(`${JSON.stringify(c)} is not a version constraint`);
  const op = m[1] === undefined || m[1] === '=' ? '==' : m[1];
  const spec = `${op}${m[2]}`;
  if (!tryParseSpecifier(spec)) throw new PoetryConstraintError(`${JSON.stringify(c)} is not a version constraint`);
  return [spec];
}

/**
 * A Poetry constraint as a PEP 440 specifier set (`''` for any version). Throws `PoetryConstraintError`.
 */
export function poetryConstraintToPep440(constraint: string): string {
  const text = constraint.trim();
  if (/\|/.test(text)) throw new PoetryConstraintError(`${JSON.stringify(constraint)} is an alternative (||), which one PEP 440 specifier set cannot express`);
  // poetry-core splits on commas, and on spaces that do not follow an operator.
  const clauses = text
    .replace(/(~=|===|==|!=|<=|>=|<|>|=|\^|~)\s+/g, '$1')
    .split(/\s*,\s*|\s+/)
    .filter((c) => c !== '');
  return clauses.flatMap(clause).join(',');
}

/** A constraint with alternatives (`~2.7 || >=3.5`) as one PEP 440 specifier set per alternative (`''`: any). */
export function poetryAlternatives(constraint: string): string[] {
  return constraint.split(/\s*\|\|?\s*/).map(poetryConstraintToPep440);
}

/** A Python constraint (`python = "^3.8"`, alternatives too) as a PEP 508 marker on the interpreter's version. */
export function pythonConstraintToMarker(constraint: string): string {
  const alternatives = poetryAlternatives(constraint);
  if (alternatives.some((a) => a === '')) return '';
  const markers = alternatives.map(specifierToMarker);
  return markers.length === 1 ? markers[0]! : markers.map((m) => `(${m})`).join(' or ');
}

function specifierToMarker(spec: string): string {
  return spec
    .split(',')
    .map((s) => {
      const m = /^(~=|===|==|!=|<=|>=|<|>)(.+)$/.exec(s)!;
      const v = m[2]!;
      const full = release(v.replace(/\.\*$/, '')).length > 2;
      return `${full ? 'python_full_version' : 'python_version'} ${m[1]} "${v}"`;
    })
    .join(' and ');
}
