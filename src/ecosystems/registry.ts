/**
 * The ecosystems envseal knows, in the order their Dockerfile blocks are installed (system packages first).
 * Adding an ecosystem: a folder under ecosystems/ implementing `Ecosystem` (types.ts) and one line here.
 */
import type { z } from 'zod';
import type { AnyEcosystem } from './types.js';
import { aptWing } from './apt/index.js';
import { filesWing } from './files/index.js';
import { npmWing } from './npm/index.js';
import { pythonWing } from './python/index.js';

const WINGS = [aptWing, filesWing, pythonWing, npmWing] as const;

/** The same list, typed for code that handles every wing alike (sections as plain values). */
export const ECOSYSTEMS: readonly AnyEcosystem[] = WINGS;

export type Wing = (typeof WINGS)[number];
export type WingId = Wing['id'];

type Schemas = Wing['schemas'];
/**
 * `{ apt: ZodNullable<apt's schema>, python: …, … }` for the lock's declared inputs or its sections. Typed as
 * optional too: a wing added after lock format 1 (`addedLater`) has no key at all when a project does not use it.
 */
type NullableShape<K extends 'declared' | 'section'> = { [W in Wing as W['id']]: z.ZodOptional<z.ZodNullable<W['schemas'][K]>> };
/** `{ apt: ZodOptional<apt's spec schema>, … }` for envseal.yaml, top level or under targets.dev. */
type SpecShape = { [W in Wing as W['id']]: z.ZodOptional<W['schemas']['spec']> };
type DevSpecShape = { [W in Wing as W['schemas']['devSpec'] extends z.ZodType ? W['id'] : never]: z.ZodOptional<NonNullable<W['schemas']['devSpec']>> };

export function nullableShape<K extends 'declared' | 'section'>(key: K): NullableShape<K> {
  return Object.fromEntries(
    WINGS.map((w) => {
      const schema = (w.schemas[key] as Schemas[K]).nullable();
      return [w.id, (w as AnyEcosystem).addedLater ? schema.optional() : schema];
    }),
  ) as unknown as NullableShape<K>;
}

/**
 * What the lock (its declared inputs, its sections, the fingerprint input) holds for a wing a project does not
 * use: null for the first wings (apt, python, npm; every lock has their keys), nothing at all for a wing added
 * later, so that adding a wing changes no byte and no fingerprint of an existing lock.
 */
export function unusedValue(wing: AnyEcosystem): null | undefined {
  return wing.addedLater ? undefined : null;
}

/**
 * `{ python: ZodOptional<ZodNullable<python's section>> }`: the sections a platform entry of the lock holds. At run
 * time only the wings with `perPlatform`; typed as every wing's (all optional) since the flag is not a literal type.
 */
type PerPlatformShape = { [W in Wing as W['id']]: z.ZodOptional<z.ZodNullable<W['schemas']['section']>> };

export function perPlatformShape(): PerPlatformShape {
  return Object.fromEntries(WINGS.filter((w) => isPerPlatform(w)).map((w) => [w.id, w.schemas.section.nullable().optional()])) as unknown as PerPlatformShape;
}

/** The wings whose section a lock of several platforms holds once per platform. */
export function isPerPlatform(wing: AnyEcosystem): boolean {
  return (wing as { perPlatform?: boolean }).perPlatform === true;
}

export function specShape(): SpecShape {
  return Object.fromEntries(WINGS.map((w) => [w.id, w.schemas.spec.optional()])) as unknown as SpecShape;
}

export function devSpecShape(): DevSpecShape {
  return Object.fromEntries(WINGS.flatMap((w) => (w.schemas.devSpec ? [[w.id, w.schemas.devSpec.optional()]] : []))) as unknown as DevSpecShape;
}
