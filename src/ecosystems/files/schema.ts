/**
 * The files wing's formats: the `files:` list of envseal.yaml (remote files the image needs, such as model
 * weights, tokenizers or a dataset, each fetched by URL into an absolute path), its declared inputs and its lock
 * section. Strict: unknown keys and wrong types are errors.
 */
import { z } from 'zod';
import { hex64Schema } from '../../core/ground.js';
import { absPathSchema, httpUrlSchema } from '../../core/spec-values.js';

const fileSpecSchema = z.strictObject({
  /** Where the file is fetched from (by the lock to hash it, by the image build's ADD to install it). */
  url: httpUrlSchema,
  /** Where it goes in the image (an absolute file path; parent directories are created). */
  path: absPathSchema.refine((p) => !p.endsWith('/'), 'must name a file, not a directory'),
  /** Its sha256 when known; otherwise `envseal lock` fetches it once and pins what it got. */
  sha256: hex64Schema.optional(),
});

export const filesSpecSchema = z.array(fileSpecSchema).min(1, 'must list at least one file (or leave `files` out)');

export const filesDeclaredSchema = z.array(fileSpecSchema);
export type FilesDeclared = z.infer<typeof filesDeclaredSchema>;

export const lockedFileSchema = z.strictObject({
  path: z.string(),
  url: z.string(),
  sha256: hex64Schema,
  size: z.number().int().nonnegative(),
});
export type LockedFile = z.infer<typeof lockedFileSchema>;

export const filesSectionSchema = z.array(lockedFileSchema);
export type FilesSection = z.infer<typeof filesSectionSchema>;
