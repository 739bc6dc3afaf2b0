/** Spec value types every wing's section of envseal.yaml uses (paths inside the project, URLs, image paths). */
import { z } from 'zod';

export const relPathSchema = z
  .string()
  .min(1, 'must not be empty')
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a path inside the project (relative, no "..")');
export const absPathSchema = z.string().regex(/^\/[^\0]*$/, 'must be an absolute path inside the image');
export const httpUrlSchema = z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL');
