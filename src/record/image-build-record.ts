/**
 * The build record: `.envseal/builds/<target>.json`, written by `envseal build` for the last build of each
 * target, read by `envseal provenance`. Strict and versioned; the parameters (`revision`, `platform`,
 * `network`) are optional because records written before they were added lack them.
 */
import { z } from 'zod';
import { describeError, inputError } from '../core/errors.js';
import { readTextFile } from '../core/read-text-file.js';
import { formatIssuePath } from './schema.js';

export const BUILDS_DIR = '.envseal/builds';

const sha256Digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected "sha256:" and 64 lowercase hex digits');

const parametersShape = {
  /** Git commit the build was made from (null: not a git checkout). */
  revision: z.string().nullable(),
  platform: z.string(),
  network: z.string(),
};

const imageBuildRecordSchema = z.strictObject({
  buildRecordVersion: z.literal(1),
  builtAt: z.iso.datetime({ offset: true }),
  imageId: sha256Digest,
  tags: z.array(z.string()),
  target: z.enum(['dev', 'deploy']),
  fingerprint: sha256Digest,
  lockDigest: sha256Digest,
  diffIds: z.array(sha256Digest),
  reproducible: z.boolean(),
  pushed: z.array(z.strictObject({ tag: z.string(), digest: sha256Digest })),
  steps: z.number().int().nonnegative(),
  revision: parametersShape.revision.optional(),
  platform: parametersShape.platform.optional(),
  network: parametersShape.network.optional(),
});
export type ImageBuildRecord = z.infer<typeof imageBuildRecordSchema>;
export type BuildParameters = { revision: string | null; platform: string; network: string };

export async function readImageBuildRecord(path: string, label: string): Promise<ImageBuildRecord> {
  let text: string;
  try {
    text = await readTextFile(path, label);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw inputError(missing ? 'build-record.missing' : 'build-record.unreadable', `cannot read build record ${label}: ${describeError(err)}`, {
      hint: missing ? 'build the image first: `envseal build --target <target>`' : 'make the file readable',
      cause: err,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw inputError('build-record.invalid', `${label} is not valid JSON: ${describeError(err)}`, { hint: 'build the image again to rewrite it' });
  }
  const parsed = imageBuildRecordSchema.safeParse(raw);
  if (!parsed.success) {
    throw inputError('build-record.invalid', `${label} is not a valid envseal build record`, {
      details: parsed.error.issues.map((i) => `${label}: ${formatIssuePath(i.path)}: ${i.message}`),
      hint: 'build the image again to rewrite it',
    });
  }
  return parsed.data;
}
