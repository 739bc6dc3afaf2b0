/**
 * The contract between the lock use case and the Python resolver. The resolver turns declared requirements
 * (ranges, extras, markers, constraints, optional --hash allow-lists) into a complete, hash-pinned closure for
 * the TARGET interpreter (from the target probe), never for the host.
 */
import type { IndexFile, Logger, PackageIndex } from '../../../core/ports.js';
import type { TargetProbe } from '../../../core/ground.js';
import type { DeclaredRequirement, LockedPythonPackage } from '../schema.js';

export interface ResolvePythonRequest {
  /** Normalised requirement texts with their targets; `kind: 'constraint'` only limits versions. */
  requirements: DeclaredRequirement[];
  /** Index URLs in priority order (first index that has a project wins, like uv). */
  indexes: string[];
  /** Per-package index pinning: normalised project name → index URL (must be one of `indexes` or extra). */
  indexPins?: Record<string, string>;
  /** The probed target; `target.python` is non-null when this is called. */
  target: TargetProbe;
  options: {
    /** Allow pre-releases everywhere (pip --pre). */
    pre?: boolean;
    /** Project names (normalised) or ':all:' that must come as wheels. */
    onlyBinary?: string[];
    /** Ignore files uploaded after this instant (ISO 8601). */
    excludeNewer?: string;
  };
  /**
   * Wheels pinned by URL (`name @ URL` requirements, fetched and checked by the caller): each is the only
   * version and file of its project, whatever the indexes hold; its dependencies resolve from the indexes.
   */
  direct?: DirectWheel[];
  /** The previous lock's packages: pins that still satisfy the inputs are kept (stability). */
  previous?: LockedPythonPackage[];
  /** true: ignore all previous pins; string[]: ignore them for these projects. */
  upgrade?: boolean | string[];
}

/** A wheel named by URL, as the resolver sees it: one file (URL, sha256) and its METADATA text. */
export interface DirectWheel {
  /** PEP 503 normalised project name. */
  name: string;
  /** `url` without fragment, `hashes.sha256` of the download. */
  file: IndexFile;
  metadata: string;
}

export interface ResolvePythonResult {
  /** Every package of the closure with its chosen file, index, via chains and targets. */
  packages: LockedPythonPackage[];
}

export interface ResolvePythonDeps {
  index: PackageIndex;
  logger?: Logger;
  /** Most index lookups fetched ahead at once (default 16). */
  concurrency?: number;
  /**
   * Builds an sdist whose metadata is not static (PEP 643: Metadata-Version below 2.2, or a field the resolver
   * reads marked `Dynamic`) and gives the METADATA of the wheel it built. Absent: such an sdist is
   * `python.needs-build`.
   */
  buildMetadata?: (sdist: SdistToBuild) => Promise<string>;
}

/** An sdist the resolver needs built to know its dependencies. */
export interface SdistToBuild {
  name: string;
  version: string;
  index: string;
  file: IndexFile;
}
