/**
 * `envseal.lock`: everything the spec and manifests declared, resolved to exact pins. Canonical JSON
 * (sorted keys and entries, 2-space indent, trailing newline), versioned, strict.
 *
 * Two halves:
 * - `declared`: the normalised inputs (spec + manifests). `inputHash` is their digest: `lock --check` compares
 *   it with the current inputs and, when it differs, diffs `declared` to say which file and which requirement
 *   drifted. Reformatting a file or reordering requirements does not change it.
 * - everything else: the resolved environment. `fingerprint` is the digest of its canonical form (see
 *   fingerprint.ts), so it changes with any pin, digest or env var and with nothing else.
 *
 * Each ecosystem wing (ecosystems/registry.ts) contributes one key to `declared` and one section to the lock,
 * with its own schemas; the base image and its probe are the ground they share (core/ground.ts).
 */
import { z } from 'zod';
import { instantSchema, lockedBaseSchema, sha256DigestSchema, targetProbeSchema } from '../core/ground.js';
import { nullableShape } from '../ecosystems/registry.js';

export const LOCK_VERSION = 1;

const targetsSchema = z.strictObject({
  dev: z.strictObject({ env: z.record(z.string(), z.string()) }),
  deploy: z.strictObject({
    copy: z.array(z.string()),
    command: z.array(z.string()).optional(),
    entrypoint: z.array(z.string()).optional(),
    user: z.string(),
    uid: z.number().int(),
    env: z.record(z.string(), z.string()),
  }),
});

export const declaredSchema = z.strictObject({
  base: z.string(),
  platform: z.string(),
  workdir: z.string(),
  env: z.record(z.string(), z.string()),
  seed: z.number().int().optional(),
  ...nullableShape('declared'),
  targets: targetsSchema,
});
export type DeclaredInputs = z.infer<typeof declaredSchema>;

export const lockSchema = z.strictObject({
  lockVersion: z.literal(LOCK_VERSION),
  tool: z.strictObject({ name: z.literal('envseal'), version: z.string() }),
  name: z.string(),
  resolvedAt: instantSchema,
  inputHash: sha256DigestSchema,
  /** Project-relative files that were read to make this lock. */
  inputFiles: z.array(z.string()),
  declared: declaredSchema,
  base: lockedBaseSchema,
  target: targetProbeSchema,
  ...nullableShape('section'),
  env: z.record(z.string(), z.string()),
  workdir: z.string(),
  targets: targetsSchema,
  fingerprint: sha256DigestSchema,
});
export type Lock = z.infer<typeof lockSchema>;
export type LockWithoutFingerprint = Omit<Lock, 'fingerprint'>;
