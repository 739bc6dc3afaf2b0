/**
 * The python wing's formats: its envseal.yaml sections (`python`, `targets.dev.python`), its declared inputs
 * and its lock section. Strict: unknown keys and wrong types are errors.
 */
import { z } from 'zod';
import { hex64Schema, instantSchema, targetListSchema } from '../../core/ground.js';
import { httpUrlSchema, relPathSchema } from '../../core/spec-values.js';

const pyprojectRef = z.union([
  relPathSchema,
  z.strictObject({
    path: relPathSchema.default('pyproject.toml'),
    /** Names of `[project.optional-dependencies]` groups (Poetry: `[tool.poetry.extras]`) to install. */
    extras: z.array(z.string().min(1)).default([]),
    /**
     * Dependency groups for the dev image: Poetry's (`[tool.poetry.group.<name>]`, `dev-dependencies` as `dev`), or
     * PEP 735 `[dependency-groups]` (uv's `[tool.uv] dev-dependencies` as `dev`) in a project without [tool.poetry].
     */
    groups: z.array(z.string().min(1)).default([]),
  }),
]);

const lockfileRef = z.union([
  relPathSchema,
  z.strictObject({
    path: relPathSchema,
    /**
     * Dependency groups for the dev image (PEP 751 `dependency-groups`, uv dev groups). The deploy image gets the
     * lock's default selection (PEP 751 `default-groups`; for uv.lock, no group) with `extras`.
     */
    groups: z.array(z.string().min(1)).default([]),
    /** Extras to install in both images. */
    extras: z.array(z.string().min(1)).default([]),
  }),
]);

export const pythonSpecSchema = z.strictObject({
  /** The interpreter inside the image the packages are for. */
  interpreter: z.string().min(1).default('python3'),
  requirements: z.array(relPathSchema).default([]),
  /** Constraint files (`-c`): versions they name bind, but install nothing on their own. */
  constraints: z.array(relPathSchema).default([]),
  packages: z.array(z.string().min(1)).default([]),
  pyproject: pyprojectRef.optional(),
  /**
   * A conda environment.yml: its `pip:` section is locked like a requirements file, `python=X.Y` is checked
   * against the base image's interpreter; any other conda package is an error (envseal runs no conda solver).
   */
  environment: relPathSchema.optional(),
  /**
   * An existing lock to follow pin for pin instead of resolving (`pylock.toml`, PEP 751, or `uv.lock`). With
   * it, `pyproject` is only checked against the lock, and requirements, constraints and packages must be empty.
   */
  lockfile: lockfileRef.optional(),
  /** PEP 503/691 simple index URL; requirement files may set their own with --index-url. */
  index: httpUrlSchema.optional(),
  extraIndexes: z.array(httpUrlSchema).default([]),
  /**
   * Per-package index pinning (e.g. CUDA builds of torch from their own index): project name → index URL.
   * A pinned project is looked up on that index only.
   */
  packageIndexes: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a project name'), httpUrlSchema).default({}),
  /** Ignore files uploaded after this instant (ISO 8601), so resolving again later gives the same answer. */
  excludeNewer: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 timestamp like 2026-11-01T00:00:00Z' }).optional(),
  /** Install into a venv: `auto` = when the base Python is externally managed (PEP 668). */
  venv: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  /** Let the venv see the base image's (e.g. apt-installed) Python packages. */
  systemSitePackages: z.boolean().default(false),
});
export type PythonSpec = z.infer<typeof pythonSpecSchema>;

export const pythonDevSpecSchema = z.strictObject({
  /** requirements.txt-style files, relative to the project. */
  requirements: z.array(relPathSchema).default([]),
  /** Inline PEP 508 requirements. */
  packages: z.array(z.string().min(1)).default([]),
});
export type PythonDevSpec = z.infer<typeof pythonDevSpecSchema>;

export const declaredRequirementSchema = z.strictObject({
  /** Normalised PEP 508 requirement text. */
  requirement: z.string(),
  /** Allowed hashes given in the manifest (`--hash`), `sha256:<hex>`. */
  hashes: z.array(z.string()),
  /** Project-relative file the requirement came from, or `envseal.yaml`. */
  source: z.string(),
  /** `requirement` installs it; `constraint` only limits versions. */
  kind: z.enum(['requirement', 'constraint']),
  targets: targetListSchema,
});
export type DeclaredRequirement = z.infer<typeof declaredRequirementSchema>;

/** An imported lock as the input hash sees it: the file's digest, what was selected from it, what it is checked against. */
export const importedLockSchema = z.strictObject({
  path: z.string(),
  kind: z.enum(['pylock', 'uv', 'poetry', 'pipfile']),
  sha256: hex64Schema,
  groups: z.array(z.string()),
  extras: z.array(z.string()),
  /** The pyproject.toml requirements the lock is checked against (stale lock: exit 2), when the spec names one. */
  pyproject: z.strictObject({ path: z.string(), requirements: z.array(z.string()) }).optional(),
});
export type ImportedLockRef = z.infer<typeof importedLockSchema>;

export const pythonDeclaredSchema = z.strictObject({
  interpreter: z.string(),
  indexes: z.array(z.string()),
  venv: z.union([z.boolean(), z.literal('auto')]),
  systemSitePackages: z.boolean(),
  /** Normalised project name → the only index it is taken from. */
  packageIndexes: z.record(z.string(), z.string()),
  excludeNewer: instantSchema.optional(),
  requirements: z.array(declaredRequirementSchema),
  /** Resolver options that change the answer (pre-releases, only-binary, ...). */
  options: z.record(z.string(), z.union([z.string(), z.boolean(), z.array(z.string())])),
  /** The interpreter versions a manifest asks for (conda's `python=3.11` as `==3.11.*`), checked against the base. */
  requiresPython: z.strictObject({ specifier: z.string(), source: z.string() }).optional(),
  /** Set when the packages come from an existing lock (`python.lockfile`) instead of the resolver. */
  imported: importedLockSchema.optional(),
});
export type PythonDeclared = z.infer<typeof pythonDeclaredSchema>;

export const lockedPythonFileSchema = z.strictObject({
  filename: z.string(),
  url: z.string(),
  sha256: hex64Schema,
  size: z.number().int().nonnegative().optional(),
  uploadTime: z.string().optional(),
});

/** A build requirement of an sdist, locked like any package: installed hash-checked (wheels only) before the build. */
const lockedBuildDepSchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  file: lockedPythonFileSchema,
  index: z.string(),
});

/**
 * How an sdist (the package's `file`) becomes the wheel that is installed: built once at lock time in the pinned
 * base image and again by the Dockerfile's builder stage, which checks that the wheel is the same bytes.
 */
export const sdistBuildSchema = z.strictObject({
  /** `[build-system].requires` of the sdist's pyproject.toml; without one, setuptools' default (PEP 517/518). */
  requires: z.array(z.string()),
  /** SOURCE_DATE_EPOCH of the build (timestamps inside the wheel): from the sdist's upload time, else 1980-01-01. */
  sourceDateEpoch: z.number().int().nonnegative(),
  /** The build requirements, resolved for the target (wheels only) and installed hash-checked. */
  deps: z.array(lockedBuildDepSchema),
  /** The wheel the build gives. */
  wheel: z.strictObject({ filename: z.string(), sha256: hex64Schema }),
  /**
   * A git package whose version setuptools-scm computes: the version of the tag its commit carries, given to the
   * build as SETUPTOOLS_SCM_PRETEND_VERSION (the archive has no .git). Absent otherwise.
   */
  scmVersion: z.string().optional(),
});
export type SdistBuild = z.infer<typeof sdistBuildSchema>;

export const lockedPythonPackageSchema = z.strictObject({
  /** PEP 503 normalised name. */
  name: z.string(),
  version: z.string(),
  file: lockedPythonFileSchema,
  /** The index the file came from; for a wheel required by URL (`direct`), that URL. */
  index: z.string(),
  /** Required by URL (`name @ https://…/name-1.0-py3-none-any.whl`): installed from `file.url`, not from an index. */
  direct: z.literal(true).optional(),
  /**
   * A git package: the ref its requirement names (`HEAD` for none: the default branch). Re-resolving keeps the
   * locked commit while the requirement names the same repository and ref; `lock --upgrade` moves it.
   */
  ref: z.string().optional(),
  /** Set when `file` is an sdist: how it is built into a wheel (lock version 4). */
  build: sdistBuildSchema.optional(),
  /** Why it is here: the requirement chains that pulled it in, e.g. `requirements.txt > pandas > numpy`. */
  via: z.array(z.string()),
  targets: targetListSchema,
});
export type LockedPythonPackage = z.infer<typeof lockedPythonPackageSchema>;

export const pythonSectionSchema = z.strictObject({
  interpreter: z.string(),
  /** The venv the packages go into, or null to install into the interpreter's own site-packages. */
  venv: z.string().nullable(),
  systemSitePackages: z.boolean(),
  indexes: z.array(z.string()),
  /** Files uploaded after this instant were ignored (from the spec or `lock --exclude-newer`). */
  excludeNewer: instantSchema.optional(),
  packages: z.array(lockedPythonPackageSchema),
});
export type PythonSection = z.infer<typeof pythonSectionSchema>;

/** Every file the section names, once by filename: the packages' and their sdists' build requirements (bundles carry them all). */
export function lockedPythonFiles(
  section: PythonSection | null | undefined,
): { name: string; version: string; index: string; file: LockedPythonPackage['file'] }[] {
  const all = (section?.packages ?? []).flatMap((p) => [p, ...(p.build?.deps ?? [])]);
  const seen = new Set<string>();
  return all.filter((p) => !seen.has(p.file.filename) && Boolean(seen.add(p.file.filename)));
}
