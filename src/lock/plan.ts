/**
 * What `envseal lock` must redo, decided from plain data: the current declared inputs, the previous lock and
 * the options. Pure; app/lock-environment.ts reads the inputs, asks this, and applies the answer.
 *
 * The base is re-resolved when `base`/`platform` changed (or on --upgrade). The probe is redone when the base
 * manifest changed or the interpreter a wing probes for changed. A wing's previous section is kept when its
 * declared inputs are the same, the base manifest is the same, no full upgrade was asked for, and the wing
 * agrees (`keepable`: e.g. python also wants the same exclude-newer and no --upgrade-package).
 */
import { canonicalJsonCompact } from '../core/canonical-json.js';
import type { LockedBase } from '../core/ground.js';
import { ECOSYSTEMS, type WingId } from '../ecosystems/registry.js';
import type { ResolveOptions } from '../ecosystems/types.js';
import type { DeclaredInputs, Lock } from './schema.js';

export interface EnvironmentPlan {
  /** The base manifest differs from the previous lock's (or there is none). */
  baseChanged: boolean;
  /** Probe the base image again (else the previous lock's probe stands). */
  reprobe: boolean;
  /** The interpreter the probe looks at (the first wing that asks for one), or null. */
  interpreter: string | null;
  /** Per wing in use: keep the previous section, or resolve it again. */
  wings: Partial<Record<WingId, 'keep' | 'resolve'>>;
  /** The base image must be present in the engine (a probe or a resolution runs a container of it). */
  needsImage: boolean;
}

/** Keep the previous lock's base, or resolve the tag again? Both declared inputs are normalised. */
export function planBase(current: DeclaredInputs, previous: Lock | null, options: ResolveOptions): 'keep' | 'resolve' {
  const prev = previous?.declared;
  return prev && prev.base === current.base && same(prev.platform, current.platform) && !options.upgradeAll ? 'keep' : 'resolve';
}

/** `current` and the previous lock's declared inputs must be normalised (normalizeDeclared) for comparison. */
export function planEnvironment(
  current: DeclaredInputs,
  previous: { lock: Lock; declared: DeclaredInputs } | null,
  base: LockedBase,
  options: ResolveOptions,
): EnvironmentPlan {
  const wings = ECOSYSTEMS;
  const interpreterOf = (declared: DeclaredInputs) =>
    wings.map((w) => sectionOf(declared, w.id)).flatMap((d, i) => (d && wings[i]!.probeInterpreter ? [wings[i]!.probeInterpreter!(d)] : []))[0] ?? null;
  const interpreter = interpreterOf(current);
  const baseChanged = !previous || previous.lock.base.platformDigest !== base.platformDigest;
  const reprobe = baseChanged || !previous || interpreterOf(previous.declared) !== interpreter || options.upgradeAll;
  const plan: EnvironmentPlan = { baseChanged, reprobe, interpreter, wings: {}, needsImage: reprobe };
  for (const wing of wings) {
    const declared = sectionOf(current, wing.id);
    if (!declared) continue;
    const keep =
      previous !== null &&
      !baseChanged &&
      !options.upgradeAll &&
      same(sectionOf(previous.declared, wing.id), declared) &&
      (wing.keepable?.(declared, { previous: sectionOf(previous.lock, wing.id), reprobed: reprobe, options }) ?? true);
    plan.wings[wing.id as WingId] = keep ? 'keep' : 'resolve';
    if (!keep && wing.needsImage?.(declared)) plan.needsImage = true;
  }
  return plan;
}

/** The plan redoes nothing: the previous lock stands as it is. */
export function keepsEverything(plan: EnvironmentPlan): boolean {
  return !plan.baseChanged && !plan.reprobe && Object.values(plan.wings).every((w) => w === 'keep');
}

function sectionOf(holder: object, id: string): unknown {
  return (holder as Record<string, unknown>)[id] ?? null;
}

function same(a: unknown, b: unknown): boolean {
  return canonicalJsonCompact(a ?? null) === canonicalJsonCompact(b ?? null);
}
