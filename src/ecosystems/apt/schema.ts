/**
 * The apt wing's formats: its envseal.yaml sections (`apt`, `targets.dev.apt`), its declared inputs and its
 * lock section. Strict: unknown keys and wrong types are errors.
 */
import { z } from 'zod';
import { targetListSchema } from '../../core/ground.js';
import { httpUrlSchema, relPathSchema } from '../../core/spec-values.js';

const aptName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/, 'must be a Debian package name, optionally name=version');

export const aptDevSpecSchema = z.strictObject({
  packages: z.array(aptName).default([]),
  /** Files with one package per line (apt.txt, as repo2docker reads it). */
  lists: z.array(relPathSchema).default([]),
});
export type AptDevSpec = z.infer<typeof aptDevSpecSchema>;

export const aptSpecSchema = aptDevSpecSchema.extend({
  installRecommends: z.boolean().default(false),
  /**
   * Install from a dated snapshot archive (snapshot.debian.org / snapshot.ubuntu.com) so the locked versions
   * stay installable: `true` = the lock's resolution time, or a timestamp `YYYYMMDDTHHMMSSZ`.
   */
  snapshot: z.union([z.boolean(), z.string().regex(/^\d{8}T\d{6}Z$/, 'must be true, false or a timestamp like 20261127T120000Z')]).default(false),
  /** A site's own mirror of the snapshot service (default: the official one for the base's distribution). */
  snapshotUrl: httpUrlSchema.optional(),
});
export type AptSpec = z.infer<typeof aptSpecSchema>;

export const aptDeclaredSchema = z.strictObject({
  installRecommends: z.boolean(),
  snapshot: z.union([z.boolean(), z.string()]),
  snapshotUrl: z.string().optional(),
  packages: z.array(z.strictObject({ name: z.string(), source: z.string(), targets: targetListSchema })),
});
export type AptDeclared = z.infer<typeof aptDeclaredSchema>;

export const lockedAptPackageSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  architecture: z.string(),
  /** Already installed in the base image at this version (so pinned by the base digest, not installed again). */
  installed: z.boolean(),
  targets: targetListSchema,
});
export type LockedAptPackage = z.infer<typeof lockedAptPackageSchema>;

export const aptSectionSchema = z.strictObject({
  /** The dated snapshot archive apt installs from (null: the base image's own sources). */
  snapshot: z.strictObject({ timestamp: z.string().regex(/^\d{8}T\d{6}Z$/, 'must be a timestamp like 20261127T120000Z'), url: z.string() }).nullable(),
  packages: z.array(lockedAptPackageSchema),
});
export type AptSection = z.infer<typeof aptSectionSchema>;
