/**
 * The env spec, `envseal.yaml`: what a project declares about its environment. Versioned and strict: unknown
 * keys and wrong types are errors, reported all at once with their dotted paths (see load-spec.ts). Each
 * ecosystem wing contributes its section (`python`, `apt`, `npm`, ...) and its `targets.dev` section.
 */
import { z } from 'zod';
import { absPathSchema as absPath, relPathSchema as relPath } from '../core/spec-values.js';
import { devSpecShape, specShape } from '../ecosystems/registry.js';

export const SPEC_VERSION = 1;
export const MAX_NAME_LENGTH = 128;

const platformName = z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, 'must look like os/arch[/variant], e.g. linux/amd64');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name');

export const specSchema = z.strictObject({
  version: z.literal(SPEC_VERSION, { error: `must be ${SPEC_VERSION} (the only spec version this envseal reads)` }),
  name: z
    .string()
    // The name is part of image tags (envseal/<name>:<target>-<fingerprint>; Docker allows 255 characters in all).
    .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters (it names the image)`)
    .regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lowercase letters, digits, ".", "_" or "-" (it names the image)'),
  /** Base image reference: `name:tag` or `name@sha256:...` (or both). */
  base: z.string().min(1),
  /**
   * One platform, or several (`[linux/amd64, linux/arm64]`): the first is the primary one (probed, built by
   * default, verified); the lock pins the base digest and the Python wheels per platform (docs/spec.md).
   */
  platform: z
    .union([
      platformName,
      z
        .array(platformName)
        .min(1, 'must name at least one platform')
        .refine((list) => new Set(list).size === list.length, 'must not name a platform twice'),
    ])
    .default('linux/amd64'),
  workdir: absPath.default('/workspace'),
  env: z.record(envName, z.string()).default({}),
  /** Default seed for `envseal run` (else a fresh one per run, recorded). */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .optional(),
  ...specShape(),
  /**
   * Project files envseal recognises but must not treat as inputs of this environment (e.g. a uv.lock kept for
   * another tool). Without this, `lock` refuses while such a file is present.
   */
  ignore: z.array(relPath).default([]),
  targets: z
    .strictObject({
      dev: z
        .strictObject({
          ...devSpecShape(),
          env: z.record(envName, z.string()).default({}),
        })
        .default({ env: {} }),
      deploy: z
        .strictObject({
          /** Paths copied into the image at the workdir (files or directories). */
          copy: z.array(relPath).default([]),
          command: z.array(z.string()).optional(),
          entrypoint: z.array(z.string()).optional(),
          /** The non-root user the deploy image runs as. */
          user: z
            .string()
            .regex(/^[a-z_][a-z0-9_-]*$/, 'must be a POSIX user name')
            .refine((u) => u !== 'root', 'must not be root: the deploy image runs as a non-root user')
            .default('envseal'),
          uid: z.number().int().min(1000).max(65533).default(10001),
          env: z.record(envName, z.string()).default({}),
        })
        .default({ copy: [], user: 'envseal', uid: 10001, env: {} }),
    })
    .default({ dev: { env: {} }, deploy: { copy: [], user: 'envseal', uid: 10001, env: {} } }),
});

export type EnvSpec = z.infer<typeof specSchema>;
