/** The imported locks as envseal reads them: PEP 751 pylock.toml and uv.lock (version 1). */

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
  wheels: ImportedFile[];
  sdist?: ImportedFile;
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

export type ImportedLock = PylockLock | UvLock;
