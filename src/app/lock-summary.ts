/**
 * What a lock pins, per ecosystem, for run records, `envseal diff` and the CLI's counts. Knows no ecosystem by
 * name: every wing of the registry answers for its own section. Pure.
 */
import type { TargetName } from '../core/image-contract.js';
import { ECOSYSTEMS } from '../ecosystems/registry.js';
import type { Lock } from '../lock/schema.js';

/** Per ecosystem the lock uses, what it pins for `target` (or for either target: `null`), as name → version. */
export function lockPins(lock: Lock, target: TargetName | null): Record<string, Record<string, string>> {
  const packages: Record<string, Record<string, string>> = {};
  for (const [wing, section] of usedSections(lock)) {
    packages[wing.id] = target ? wing.pins(section, target) : { ...wing.pins(section, 'deploy'), ...wing.pins(section, 'dev') };
  }
  return packages;
}

/** Per ecosystem the lock uses, how many packages (or files) it pins for the dev image, which has them all. */
export function lockCounts(lock: Lock): Record<string, number> {
  return Object.fromEntries(usedSections(lock).map(([wing, section]) => [wing.id, wing.count(section, 'dev')]));
}

/** `12 apt, 4 python, 1 npm` (the ecosystems' ids, in install order), or `nothing` for an empty lock. */
export function formatCounts(counts: Record<string, number>): string {
  const parts = Object.entries(counts).map(([id, n]) => `${n} ${id}`);
  return parts.length ? parts.join(', ') : 'nothing';
}

function usedSections(lock: Lock): [(typeof ECOSYSTEMS)[number], unknown][] {
  return ECOSYSTEMS.flatMap((wing) => {
    const section: unknown = lock[wing.id as keyof Lock];
    return section === null || section === undefined ? [] : [[wing, section] as [(typeof ECOSYSTEMS)[number], unknown]];
  });
}
