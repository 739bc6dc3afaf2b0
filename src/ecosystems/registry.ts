/**
 * The ecosystems envseal knows, in the order their Dockerfile blocks are installed (system packages first).
 * Adding an ecosystem: a folder under ecosystems/ implementing `Ecosystem` (types.ts) and one line here.
 */
import type { z } from 'zod';
import type { AnyEcosystem } from './types.js';
import { aptWing } from './apt/index.js';
import { npmWing } from './npm/index.js';
import { pythonWing } from './python/index.js';

const WINGS = [aptWing, pythonWing, npmWing] as const;

/** The same list, typed for code that handles every wing alike (sections as plain values). */
export const ECOSYSTEMS: readonly AnyEcosystem[] = WINGS;

export type Wing = (typeof WINGS)[number];
export type WingId = Wing['id'];

type Schemas = Wing['schemas'];
/** `{ apt: ZodNullable<apt's schema>, python: …, … }` for the lock's declared inputs or its sections. */
type NullableShape<K extends 'declared' | 'section'> = { [W in Wing as W['id']]: z.ZodNullable<W['schemas'][K]> };
/** `{ apt: ZodOptional<apt's spec schema>, … }` for envseal.yaml, top level or under targets.dev. */
type SpecShape = { [W in Wing as W['id']]: z.ZodOptional<W['schemas']['spec']> };
type DevSpecShape = { [W in Wing as W['schemas']['devSpec'] extends z.ZodType ? W['id'] : never]: z.ZodOptional<NonNullable<W['schemas']['devSpec']>> };

export function nullableShape<K extends 'declared' | 'section'>(key: K): NullableShape<K> {
  return Object.fromEntries(WINGS.map((w) => [w.id, (w.schemas[key] as Schemas[K]).nullable()])) as unknown as NullableShape<K>;
}

export function specShape(): SpecShape {
  return Object.fromEntries(WINGS.map((w) => [w.id, w.schemas.spec.optional()])) as unknown as SpecShape;
}

export function devSpecShape(): DevSpecShape {
  return Object.fromEntries(WINGS.flatMap((w) => (w.schemas.devSpec ? [[w.id, w.schemas.devSpec.optional()]] : []))) as unknown as DevSpecShape;
}
