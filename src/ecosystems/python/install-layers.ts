/**
 * How the locked Python packages are split over the Dockerfile's install steps (issue 11): the classic builder
 * reuses a RUN step when everything up to it is unchanged, so a one-pin change should re-install that
 * package's group and the groups above it, not every wheel. Pure, and a function of the lock only.
 *
 * Order, bottom to top:
 *  1. each platform-specific wheel (a platform tag other than `any`: numpy, torch, scipy; heavy, compiled,
 *     rarely bumped) in a step of its own, the largest file first (the lock's `file.size`; without one, after
 *     those with one, by name). With every step equally likely to change, this order makes the expected
 *     re-install cost smallest (the big ones are re-installed only when they change themselves). More than
 *     MAX_PLATFORM_STEPS such wheels: the largest MAX_PLATFORM_STEPS - 1 alone, the rest in one step;
 *  2. the pure-Python wheels (`any`) in one step: many small, often bumped packages, cheap to install again;
 *  3. the packages built in the sdist stage (sdists, git commits; the ones most likely to change) in one step.
 * At most MAX_PLATFORM_STEPS + 2 steps, well under the overlay layer limit.
 */
import type { LockedPythonPackage } from './schema.js';
import { tryParseWheelFilename } from './pep/wheel.js';

/** At most this many steps for platform-specific wheels (the last one may hold several). */
export const MAX_PLATFORM_STEPS = 12;

export type InstallGroupKind = 'platform' | 'platform-rest' | 'pure' | 'built';

export interface InstallGroup {
  kind: InstallGroupKind;
  /** In the lock's order within a group (by name), except a platform step of one. */
  packages: LockedPythonPackage[];
}

/** Whether the package installs a wheel for one platform only (a compiled extension, usually). */
export function isPlatformWheel(p: LockedPythonPackage): boolean {
  if (p.build) return false;
  const parsed = tryParseWheelFilename(p.file.filename);
  return parsed.ok && parsed.value.tags.some((t) => t.platform !== 'any');
}

/** Largest known size first, then unknown sizes; ties by name (so the order never depends on anything but the lock). */
function byCost(a: LockedPythonPackage, b: LockedPythonPackage): number {
  const [sa, sb] = [a.file.size ?? -1, b.file.size ?? -1];
  if (sa !== sb) return sb - sa;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The install steps for `packages` (one target's), bottom first; empty groups are left out. */
export function installGroups(packages: LockedPythonPackage[]): InstallGroup[] {
  const built = packages.filter((p) => p.build);
  const platform = packages.filter(isPlatformWheel).sort(byCost);
  const pure = packages.filter((p) => !p.build && !isPlatformWheel(p));
  const singles = platform.length > MAX_PLATFORM_STEPS ? platform.slice(0, MAX_PLATFORM_STEPS - 1) : platform;
  const rest = platform.slice(singles.length);
  const inLockOrder = (group: LockedPythonPackage[]) => packages.filter((p) => group.includes(p));
  const groups: InstallGroup[] = [
    ...singles.map((p): InstallGroup => ({ kind: 'platform', packages: [p] })),
    { kind: 'platform-rest', packages: inLockOrder(rest) },
    { kind: 'pure', packages: pure },
    { kind: 'built', packages: built },
  ];
  return groups.filter((g) => g.packages.length > 0);
}
