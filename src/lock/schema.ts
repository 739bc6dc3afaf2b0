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
import { nullableShape, perPlatformShape } from '../ecosystems/registry.js';

/**
 * The newest lock version this envseal writes and reads. Version 2 adds `platforms` (several platforms in one
 * lock) and the sections of wings added after format 1 (`files`); version 3 adds `target.cuda` (the CUDA
 * version of a base image that declares one). A lock that uses none of them is still written as version 1,
 * byte for byte what it was, so an older envseal keeps reading it and only a lock that needs the new fields
 * says "upgrade envseal" to an old reader. Older locks are read as they are: a lock of version 1 or 2 has no
 * `target.cuda` (it was not read), which `lock` fills in when it probes the base again. Version 4 adds what a
 * wing says needs it (Python: sdists built into wheels, `packages[].build`).
 */
export const LOCK_VERSION = 4;
/** The lock versions this envseal reads: 1 (one platform), 2 (`platforms`, later wings), 3 (`target.cuda`), 4 (built sdists). */
export const READABLE_LOCK_VERSIONS: readonly number[] = [1, 2, 3, 4];

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
  /** One platform, or the list (two or more, primary first) as the spec names them. */
  platform: z.union([z.string(), z.array(z.string()).min(2)]),
  workdir: z.string(),
  env: z.record(z.string(), z.string()),
  seed: z.number().int().optional(),
  ...nullableShape('declared'),
  targets: targetsSchema,
});
export type DeclaredInputs = z.infer<typeof declaredSchema>;

/**
 * What a platform other than the primary one gets of its own: its base manifest, its target (probed in its own
 * image under emulation, or derived from the primary platform's probe when the engine cannot run it, see
 * ecosystems/base/probe-platform.ts) and the sections of the wings that resolve
 * per platform (Python's wheel selection). The other sections (apt, npm) are shared with the primary platform.
 */
export const platformEntrySchema = z.strictObject({
  base: lockedBaseSchema,
  target: targetProbeSchema,
  /**
   * The platform whose probe gave this target: the platform itself when it was probed in its own image (the
   * engine runs it, natively or under qemu emulation), else the primary platform it was derived from.
   */
  targetDerivedFrom: z.string(),
  ...perPlatformShape(),
});
export type PlatformEntry = z.infer<typeof platformEntrySchema>;

export const lockSchema = z.strictObject({
  /** 1 without `platforms`, later wings' sections and `target.cuda`; 2 with the first two; 3 with `target.cuda`; 4 with built sdists (see LOCK_VERSION). */
  lockVersion: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(LOCK_VERSION)]),
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
  /** The platforms after the primary one (whose base, target and sections are the top-level ones), by name. */
  platforms: z.record(z.string(), platformEntrySchema).optional(),
  env: z.record(z.string(), z.string()),
  workdir: z.string(),
  targets: targetsSchema,
  fingerprint: sha256DigestSchema,
});
export type Lock = z.infer<typeof lockSchema>;
export type LockWithoutFingerprint = Omit<Lock, 'fingerprint'>;
