/** Package IDs and small shared helpers of the Python resolver. */
import { parseSpecifierSet, type SpecifierSet } from '../pep/specifier.js';

/** The solver's root package: its dependencies are the declared requirements. */
export const ROOT = '<requirements>';

/** What a dependency edge carries for version choice and for the `via` chains. */
export interface EdgeMeta {
  specifier: SpecifierSet;
  /** The specifier names a pre-release (`>=2.0b1`): pre-releases are then acceptable (PEP 440). */
  impliesPre: boolean;
  /** Root edges: the requirement's source file and whether it is for `deploy`. */
  source?: string;
  deploy?: boolean;
}

const specifierSets = new Map<string, SpecifierSet>();

/** Specifier sets repeat across requirements and releases; parse each text once (they are immutable). */
export function parseSpecifierSetOnce(text: string): SpecifierSet {
  let set = specifierSets.get(text);
  if (!set) {
    set = parseSpecifierSet(text);
    if (specifierSets.size > 50_000) specifierSets.clear();
    specifierSets.set(text, set);
  }
  return set;
}

/** `name` or `name[extra]`. */
export function formatPackageId(name: string, extra?: string): string {
  return extra === undefined ? name : `${name}[${extra}]`;
}

export function splitId(id: string): { name: string; extra?: string } {
  const m = /^([^[]+)\[([^\]]+)\]$/.exec(id);
  return m ? { name: m[1]!, extra: m[2]! } : { name: id };
}

/** `==`/`===` without a wildcard: the requirement pins a version, so a yanked one may be used (PEP 592). */
export function isPinned(specifier: SpecifierSet): boolean {
  return specifier.specifiers.some((s) => (s.operator === '==' && !s.wildcard) || s.operator === '===');
}

export function makeBit(i: number): bigint {
  return 1n << BigInt(i);
}

export function summarizeVersions(versions: readonly string[], limit = 12): string {
  if (versions.length <= limit) return versions.join(', ');
  return `${versions.slice(0, 3).join(', ')}, …, ${versions.slice(-(limit - 4)).join(', ')} (${versions.length} versions)`;
}
