/**
 * `envseal.lock`: everything the spec and manifests declared, resolved to exact pins. Canonical JSON
 * (sorted keys and entries, 2-space indent, trailing newline), versioned, strict.
 *
 * Two halves:
 * - `declared`: the normalised inputs (spec + manifests). `inputHash` is their digest: `lock --check` compares
 *   it with the current inputs and, when it differs, diffs `declared` to say which file and which requirement
 *   drifted. Reformatting a file or reordering requirements does not change it.
 * - everything else: the resolved environment. `fingerprint` is the digest of its canonical form (see
 *   fingerprint/compute-fingerprint.ts), so it changes with any pin, digest or env var and with nothing else.
 */
import { z } from 'zod';

export const LOCK_VERSION = 1;

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex>');
const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits');
const targetName = z.enum(['deploy', 'dev']);
/** Instants are read back (SOURCE_DATE_EPOCH, index upload filters): a lock must not carry a non-date. */
const instant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time like 2026-11-27T12:00:00Z' });
const targetList = z.array(targetName).min(1);

export const declaredRequirementSchema = z.strictObject({
  /** Normalised PEP 508 requirement text. */
  requirement: z.string(),
  /** Allowed hashes given in the manifest (`--hash`), `sha256:<hex>`. */
  hashes: z.array(z.string()),
  /** Project-relative file the requirement came from, or `envseal.yaml`. */
  source: z.string(),
  /** `requirement` installs it; `constraint` only limits versions. */
  kind: z.enum(['requirement', 'constraint']),
  targets: targetList,
});
export type DeclaredRequirement = z.infer<typeof declaredRequirementSchema>;

export const declaredSchema = z.strictObject({
  base: z.string(),
  platform: z.string(),
  workdir: z.string(),
  env: z.record(z.string(), z.string()),
  seed: z.number().int().optional(),
  python: z
    .strictObject({
      interpreter: z.string(),
      indexes: z.array(z.string()),
      venv: z.union([z.boolean(), z.literal('auto')]),
      systemSitePackages: z.boolean(),
      /** Normalised project name → the only index it is taken from. */
      packageIndexes: z.record(z.string(), z.string()),
      excludeNewer: instant.optional(),
      requirements: z.array(declaredRequirementSchema),
      /** Resolver options that change the answer (pre-releases, only-binary, ...). */
      options: z.record(z.string(), z.union([z.string(), z.boolean(), z.array(z.string())])),
    })
    .nullable(),
  apt: z
    .strictObject({
      installRecommends: z.boolean(),
      snapshot: z.union([z.boolean(), z.string()]),
      snapshotUrl: z.string().optional(),
      packages: z.array(z.strictObject({ name: z.string(), source: z.string(), targets: targetList })),
    })
    .nullable(),
  npm: z
    .strictObject({
      dir: z.string(),
      target: z.string(),
      packageJsonSha256: hex64,
      lockfileSha256: hex64,
    })
    .nullable(),
  targets: z.strictObject({
    dev: z.strictObject({ env: z.record(z.string(), z.string()) }),
    deploy: z.strictObject({
      copy: z.array(z.string()),
      command: z.array(z.string()).optional(),
      entrypoint: z.array(z.string()).optional(),
      user: z.string(),
      uid: z.number().int(),
      env: z.record(z.string(), z.string()),
    }),
  }),
});
export type DeclaredInputs = z.infer<typeof declaredSchema>;

export const lockedBaseSchema = z.strictObject({
  /** As written in the spec. */
  reference: z.string(),
  /** `registry/repository` as Docker names it (docker.io images in their short form). */
  repository: z.string(),
  tag: z.string().optional(),
  /** What the tag points to: an index / manifest list or a single manifest. `FROM` pins this. */
  digest,
  mediaType: z.string(),
  /** The manifest for `platform` (equals `digest` for single-platform images). */
  platformDigest: digest,
  configDigest: digest.optional(),
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
});
export type TargetProbe = z.infer<typeof targetProbeSchema>;

export const lockedPythonFileSchema = z.strictObject({
  filename: z.string(),
  url: z.string(),
  sha256: hex64,
  size: z.number().int().nonnegative().optional(),
  uploadTime: z.string().optional(),
});

export const lockedPythonPackageSchema = z.strictObject({
  /** PEP 503 normalised name. */
  name: z.string(),
  version: z.string(),
  file: lockedPythonFileSchema,
  index: z.string(),
  /** Why it is here: the requirement chains that pulled it in, e.g. `requirements.txt > pandas > numpy`. */
  via: z.array(z.string()),
  targets: targetList,
});
export type LockedPythonPackage = z.infer<typeof lockedPythonPackageSchema>;

export const lockedAptPackageSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  architecture: z.string(),
  /** Already installed in the base image at this version (so pinned by the base digest, not installed again). */
  installed: z.boolean(),
  targets: targetList,
});
export type LockedAptPackage = z.infer<typeof lockedAptPackageSchema>;

export const lockSchema = z.strictObject({
  lockVersion: z.literal(LOCK_VERSION),
  tool: z.strictObject({ name: z.literal('envseal'), version: z.string() }),
  name: z.string(),
  resolvedAt: instant,
  inputHash: digest,
  /** Project-relative files that were read to make this lock. */
  inputFiles: z.array(z.string()),
  declared: declaredSchema,
  base: lockedBaseSchema,
  target: targetProbeSchema,
  python: z
    .strictObject({
      interpreter: z.string(),
      /** The venv the packages go into, or null to install into the interpreter's own site-packages. */
      venv: z.string().nullable(),
      systemSitePackages: z.boolean(),
      indexes: z.array(z.string()),
      /** Files uploaded after this instant were ignored (from the spec or `lock --exclude-newer`). */
      excludeNewer: instant.optional(),
      packages: z.array(lockedPythonPackageSchema),
    })
    .nullable(),
  apt: z
    .strictObject({
      /** The dated snapshot archive apt installs from (null: the base image's own sources). */
      snapshot: z.strictObject({ timestamp: z.string().regex(/^\d{8}T\d{6}Z$/, 'must be a timestamp like 20261127T120000Z'), url: z.string() }).nullable(),
      packages: z.array(lockedAptPackageSchema),
    })
    .nullable(),
  npm: z
    .strictObject({
      dir: z.string(),
      target: z.string(),
      lockfile: z.string(),
      lockfileVersion: z.number().int(),
      sha256: hex64,
      packages: z.number().int(),
    })
    .nullable(),
  env: z.record(z.string(), z.string()),
  workdir: z.string(),
  targets: declaredSchema.shape.targets,
  fingerprint: digest,
});
export type Lock = z.infer<typeof lockSchema>;
export type LockWithoutFingerprint = Omit<Lock, 'fingerprint'>;
