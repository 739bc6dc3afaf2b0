/**
 * Pure comparisons between what a lock pins and what an image really contains (read from a container of it):
 * every difference listed with what to do about it.
 */
import type { Lock } from '../../lock/schema.js';
import type { TargetName } from '../../core/image-contract.js';

export interface ObservedDist {
  name: string;
  version: string;
  /** The site directory it is installed in. */
  location: string;
}

export interface ObservedPython {
  /** Site directories the locked packages are installed into (purelib, platlib). */
  siteDirs: string[];
  dists: ObservedDist[];
}

export interface ObservedDeb {
  name: string;
  version: string;
  architecture: string;
}

export interface ContentsComparison {
  python: { missing: string[]; different: string[]; extra: string[] };
  apt: { missing: string[]; different: string[]; extra: string[] };
}

/** Bootstrap tools a venv brings with it (ensurepip); not reported as extra unless the lock pins them. */
const VENV_BOOTSTRAP = new Set(['pip', 'setuptools', 'wheel']);

export function normalizeDistName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

export function compareContents(
  lock: Lock,
  target: TargetName,
  observed: { python: ObservedPython | null; debs: ObservedDeb[] | null; baseDebs: ObservedDeb[] | null },
): ContentsComparison {
  const result: ContentsComparison = { python: { missing: [], different: [], extra: [] }, apt: { missing: [], different: [], extra: [] } };

  const lockedPy = new Map((lock.python?.packages ?? []).filter((p) => p.targets.includes(target)).map((p) => [p.name, p.version]));
  if (observed.python) {
    const inSite = observed.python.dists.filter((d) => observed.python!.siteDirs.some((s) => sameDir(d.location, s)));
    const seen = new Map<string, string>();
    for (const d of inSite) seen.set(normalizeDistName(d.name), d.version);
    for (const [name, version] of lockedPy) {
      const have = seen.get(name);
      if (have === undefined) result.python.missing.push(`${name}==${version}`);
      else if (have !== version) result.python.different.push(`${name}: locked ${version}, installed ${have}`);
    }
    for (const [name, version] of seen) {
      if (!lockedPy.has(name) && !VENV_BOOTSTRAP.has(name)) result.python.extra.push(`${name}==${version}`);
    }
  } else if (lockedPy.size) {
    result.python.missing.push(...[...lockedPy].map(([n, v]) => `${n}==${v}`));
  }

  const lockedApt = (lock.apt?.packages ?? []).filter((p) => p.targets.includes(target));
  if (observed.debs) {
    const installed = new Map(observed.debs.map((d) => [d.name, d]));
    for (const p of lockedApt) {
      const have = installed.get(p.name);
      if (!have) result.apt.missing.push(`${p.name}=${p.version}`);
      else if (have.version !== p.version) result.apt.different.push(`${p.name}: locked ${p.version}, installed ${have.version}`);
    }
    if (observed.baseDebs) {
      const inBase = new Set(observed.baseDebs.map((d) => d.name));
      const locked = new Set(lockedApt.map((p) => p.name));
      for (const d of observed.debs) if (!inBase.has(d.name) && !locked.has(d.name)) result.apt.extra.push(`${d.name}=${d.version}`);
    }
  }
  for (const list of [result.python.missing, result.python.different, result.python.extra, result.apt.missing, result.apt.different, result.apt.extra]) list.sort();
  return result;
}

export function contentsProblems(c: ContentsComparison): string[] {
  const out: string[] = [];
  for (const m of c.python.missing) out.push(`python: missing ${m}`);
  for (const d of c.python.different) out.push(`python: ${d}`);
  for (const e of c.python.extra) out.push(`python: not in the lock: ${e}`);
  for (const m of c.apt.missing) out.push(`apt: missing ${m}`);
  for (const d of c.apt.different) out.push(`apt: ${d}`);
  for (const e of c.apt.extra) out.push(`apt: not in the lock: ${e}`);
  return out;
}

function sameDir(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
