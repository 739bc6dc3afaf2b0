/**
 * The ground every ecosystem stands on: the pinned base image and what the probe found inside it (OS,
 * architecture, libc, PATH, interpreter). The lock stores both; wings read them to resolve and render.
 * Also the small schema pieces every lock section shares (digests, target lists).
 */
import { z } from 'zod';

export const sha256DigestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex>');
/** Instants are read back (SOURCE_DATE_EPOCH, index upload filters): a lock must not carry a non-date. */
export const instantSchema = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time like 2026-11-27T12:00:00Z' });
export const hex64Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits');
/** Which targets get an entry: deploy (and so dev, which builds on it) or dev only. */
export const targetListSchema = z.array(z.enum(['deploy', 'dev'])).min(1);

export const lockedBaseSchema = z.strictObject({
  /** As written in the spec. */
  reference: z.string(),
  /** `registry/repository` as Docker names it (docker.io images in their short form). */
  repository: z.string(),
  tag: z.string().optional(),
  /** What the tag points to: an index / manifest list or a single manifest. `FROM` pins this. */
  digest: sha256DigestSchema,
  mediaType: z.string(),
  /** The manifest for `platform` (equals `digest` for single-platform images). */
  platformDigest: sha256DigestSchema,
  configDigest: sha256DigestSchema.optional(),
  platform: z.string(),
  /** The reference the Dockerfile uses: `repository[:tag]@digest`. */
  pinned: z.string(),
});
export type LockedBase = z.infer<typeof lockedBaseSchema>;

export const targetProbeSchema = z.strictObject({
  os: z.strictObject({ id: z.string(), versionId: z.string(), codename: z.string() }),
  /** dpkg architecture (amd64, arm64) or `uname -m` when there is no dpkg. */
  architecture: z.string(),
  machine: z.string(),
  /** The PATH a container of the base image gets (the engine's default when the image sets none). */
  path: z.string(),
  libc: z.strictObject({ kind: z.enum(['glibc', 'musl']), version: z.string() }).nullable(),
  hasApt: z.boolean(),
  python: z
    .strictObject({
      executable: z.string(),
      version: z.string(),
      implementation: z.string(),
      abiflags: z.string(),
      soabi: z.string().nullable(),
      externallyManaged: z.boolean(),
      /** PEP 508 marker environment of the interpreter. */
      markers: z.record(z.string(), z.string()),
    })
    .nullable(),
  /**
   * The CUDA toolkit the base image declares (its `CUDA_VERSION` env or `com.nvidia.cuda.version` label, see
   * core/cuda.ts). Absent when it declares none, and in locks written before envseal read it; a lock that has
   * it is version 3.
   */
  cuda: z.strictObject({ version: z.string(), cudnn: z.string().nullable(), source: z.string() }).optional(),
});
export type TargetProbe = z.infer<typeof targetProbeSchema>;

/** The pinned base and its probe: what a wing resolves and renders against. */
export interface Ground {
  base: LockedBase;
  target: TargetProbe;
}
