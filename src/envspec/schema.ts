/**
 * The env spec, `envseal.yaml`: what a project declares about its environment. Versioned and strict: unknown
 * keys and wrong types are errors, reported all at once with their dotted paths (see load-spec.ts).
 */
import { z } from 'zod';

export const SPEC_VERSION = 1;
export const MAX_NAME_LENGTH = 128;

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name');
const relPath = z
  .string()
  .min(1, 'must not be empty')
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a path inside the project (relative, no "..")');
const absPath = z.string().regex(/^\/[^\0]*$/, 'must be an absolute path inside the image');
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL');
const aptName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/, 'must be a Debian package name, optionally name=version');

const pyprojectRef = z.union([
  relPath,
  z.strictObject({
    path: relPath.default('pyproject.toml'),
    /** Names of `[project.optional-dependencies]` groups to install. */
    extras: z.array(z.string().min(1)).default([]),
  }),
]);

const pythonPackages = z.strictObject({
  /** requirements.txt-style files, relative to the project. */
  requirements: z.array(relPath).default([]),
  /** Inline PEP 508 requirements. */
  packages: z.array(z.string().min(1)).default([]),
});

const aptPackages = z.strictObject({
  packages: z.array(aptName).default([]),
  /** Files with one package per line (apt.txt, as repo2docker reads it). */
  lists: z.array(relPath).default([]),
});

export const specSchema = z.strictObject({
  version: z.literal(SPEC_VERSION, { error: `must be ${SPEC_VERSION} (the only spec version this envseal reads)` }),
  name: z
    .string()
    // The name is part of image tags (envseal/<name>:<target>-<fingerprint>; Docker allows 255 characters in all).
    .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters (it names the image)`)
    .regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lowercase letters, digits, ".", "_" or "-" (it names the image)'),
  /** Base image reference: `name:tag` or `name@sha256:...` (or both). */
  base: z.string().min(1),
  platform: z
    .string()
    .regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, 'must look like os/arch[/variant], e.g. linux/amd64')
    .default('linux/amd64'),
  workdir: absPath.default('/workspace'),
  env: z.record(envName, z.string()).default({}),
  /** Default seed for `envseal run` (else a fresh one per run, recorded). */
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  python: z
    .strictObject({
      /** The interpreter inside the image the packages are for. */
      interpreter: z.string().min(1).default('python3'),
      requirements: z.array(relPath).default([]),
      /** Constraint files (`-c`): versions they name bind, but install nothing on their own. */
      constraints: z.array(relPath).default([]),
      packages: z.array(z.string().min(1)).default([]),
      pyproject: pyprojectRef.optional(),
      /** PEP 503/691 simple index URL; requirement files may set their own with --index-url. */
      index: httpUrl.optional(),
      extraIndexes: z.array(httpUrl).default([]),
      /**
       * Per-package index pinning (e.g. CUDA builds of torch from their own index): project name → index URL.
       * A pinned project is looked up on that index only.
       */
      packageIndexes: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a project name'), httpUrl).default({}),
      /** Ignore files uploaded after this instant (ISO 8601), so resolving again later gives the same answer. */
      excludeNewer: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 timestamp like 2026-11-01T00:00:00Z' }).optional(),
      /** Install into a venv: `auto` = when the base Python is externally managed (PEP 668). */
      venv: z.union([z.boolean(), z.literal('auto')]).default('auto'),
      /** Let the venv see the base image's (e.g. apt-installed) Python packages. */
      systemSitePackages: z.boolean().default(false),
    })
    .optional(),
  apt: aptPackages
    .extend({
      installRecommends: z.boolean().default(false),
      /**
       * Install from a dated snapshot archive (snapshot.debian.org / snapshot.ubuntu.com) so the locked versions
       * stay installable: `true` = the lock's resolution time, or a timestamp `YYYYMMDDTHHMMSSZ`.
       */
      snapshot: z
        .union([z.boolean(), z.string().regex(/^\d{8}T\d{6}Z$/, 'must be true, false or a timestamp like 20261127T120000Z')])
        .default(false),
      /** A site's own mirror of the snapshot service (default: the official one for the base's distribution). */
      snapshotUrl: httpUrl.optional(),
    })
    .optional(),
  npm: z
    .strictObject({
      /** Directory holding package.json and package-lock.json, relative to the project. */
      dir: relPath.default('.'),
      /** Where the npm packages are installed inside the image. */
      target: absPath.default('/opt/envseal/npm'),
    })
    .optional(),
  targets: z
    .strictObject({
      dev: z
        .strictObject({
          python: pythonPackages.optional(),
          apt: aptPackages.optional(),
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
export type EnvSpecInput = z.input<typeof specSchema>;
