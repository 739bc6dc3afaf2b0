/** The imported locks as envseal reads them: PEP 751 pylock.toml, uv.lock (version 1), poetry.lock (2.x), Pipfile.lock. */
import type { Requirement } from '../pep/requirement.js';

/** One distribution file a lock names. */
export interface ImportedFile {
  filename: string;
  url?: string;
  sha256: string;
  size?: number;
  uploadTime?: string;
}

export interface ImportedPackage {
  /** PEP 503 normalised. */
  name: string;
  version: string;
  marker?: string;
  requiresPython?: string;
  /** The simple-API index the files come from, when the lock names it. */
  index?: string;
  /** The files come from their URLs, not from an index (uv `source = { url }`, pylock `[packages.archive]`). */
  direct?: true;
  /** A git pin (uv `source = { git }`, pylock `[packages.vcs]`): no files, the commit is built (import-lock.ts). */
  git?: ImportedGit;
  wheels: ImportedFile[];
  sdist?: ImportedFile;
}

/** A package an imported lock pins to a git commit, as the lock writes it (checked in import-lock.ts). */
export interface ImportedGit {
  repo: string;
  /** As the lock gives it (a full commit is required). */
  commit: string;
  subdirectory?: string;
}

export interface PylockLock {
  kind: 'pylock';
  /** Project-relative path, for messages. */
  path: string;
  /** PEP 508 markers of the environments the lock is for (any one must hold); empty: any. */
  environments: string[];
  requiresPython?: string;
  extras: string[];
  dependencyGroups: string[];
  defaultGroups: string[];
  packages: ImportedPackage[];
}

/** A uv.lock dependency edge: `{ name, version?, source?, marker?, extra? }`. */
export interface UvDependency {
  name: string;
  version?: string;
  registry?: string;
  marker?: string;
  /** Extras of the dependency this edge activates. */
  extras: string[];
}

export interface UvPackage {
  name: string;
  version: string;
  /** `source.registry` (an index URL), or the kind of a non-index source (`editable`, `virtual`, `git`, ...). */
  registry?: string;
  sourceKind: string;
  /** `source.editable`/`virtual`/`directory`/`path` value, for local projects. */
  sourcePath?: string;
  /** `source.url`: a package locked from a URL (a wheel or an sdist), not from an index. */
  sourceUrl?: string;
  /** `source.git`: a package locked to a git commit. */
  sourceGit?: ImportedGit;
  resolutionMarkers: string[];
  wheels: ImportedFile[];
  sdist?: ImportedFile;
  dependencies: UvDependency[];
  optional: Record<string, UvDependency[]>;
  dev: Record<string, UvDependency[]>;
  /** `[package.metadata]`: what the project asked for when the lock was made (roots only). */
  requiresDist: UvRequirement[];
  requiresDev: Record<string, UvRequirement[]>;
}

/** One `requires-dist`/`requires-dev` entry of `[package.metadata]`. */
export interface UvRequirement {
  name: string;
  specifier?: string;
  extras: string[];
  marker?: string;
}

export interface UvLock {
  kind: 'uv';
  path: string;
  requiresPython?: string;
  packages: UvPackage[];
}

/** A `[package.dependencies]` edge of a poetry.lock, its constraint as a PEP 440 specifier set. */
export interface PoetryDependency {
  name: string;
  /** The constraint's alternatives (`||`), each a PEP 440 specifier set (`''`: any). */
  specifiers: string[];
  marker?: string;
  optional: boolean;
  extras: string[];
}

export interface PoetryLockPackage {
  name: string;
  version: string;
  /** `[package.source] type`: `pypi` when absent, `legacy` for an index, else git/directory/file/url. */
  sourceType: string;
  index?: string;
  /** `python-versions` as alternatives of PEP 440 specifier sets. */
  pythonVersions: string[];
  files: ImportedFile[];
  dependencies: PoetryDependency[];
  /** `[package.extras]`: extra → the dependency names it turns on. */
  extras: Record<string, string[]>;
}

/** Where the walk through a poetry.lock starts: the project's requirements, from pyproject.toml. */
export interface PoetryRoots {
  file: string;
  main: Requirement[];
  extras: Record<string, Requirement[]>;
  groups: Record<string, Requirement[]>;
}

export interface PoetryLock {
  kind: 'poetry';
  path: string;
  lockVersion: string;
  contentHash: string;
  /** `[metadata] python-versions` as alternatives of PEP 440 specifier sets. */
  pythonVersions: string[];
  packages: PoetryLockPackage[];
  /** Set when the project's pyproject.toml was read (a poetry.lock cannot be followed without it). */
  roots?: PoetryRoots;
}

/** One package of a Pipfile.lock section: pinned version, the hashes of its allowed files, marker, source name. */
export interface PipfilePackage {
  name: string;
  version: string;
  hashes: string[];
  marker?: string;
  /** The `_meta.sources` URL its `index` names (the first source when it names none). */
  index?: string;
}

export interface PipfileLock {
  kind: 'pipfile';
  path: string;
  /** `_meta.hash.sha256`: the Pipfile it was made from. */
  pipfileHash: string;
  requiresPython?: string;
  sources: { name: string; url: string }[];
  /** `default`, `develop` and any other package category, by name. */
  sections: Record<string, PipfilePackage[]>;
}

export type ImportedLock = PylockLock | UvLock | PoetryLock | PipfileLock;
