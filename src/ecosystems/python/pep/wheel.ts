/**
 * Distribution file names: wheels (PEP 427/491, "Binary distribution format") and source distributions
 * (PEP 625, "Source distribution format").
 * https://packaging.python.org/en/latest/specifications/binary-distribution-format/#file-name-convention
 * https://packaging.python.org/en/latest/specifications/source-distribution-format/#source-distribution-file-name
 *
 * Index pages list files with names written by many tools over many years, so both parsers accept names
 * that are not normalised (`Django-4.2.tar.gz`, `Foo_Bar-1.0-py3-none-any.whl`) and hand back the PEP 503
 * form for comparison.
 */
import { inputError } from '../../../core/errors.js';
import { normalizeName } from './names.js';
import { type WheelTag, tryParseTagSet } from './tags.js';
import { type Version, formatVersion, tryParseVersion } from './version.js';

/** The optional build tag: its leading number and the rest (`1foo` → 1, "foo"); ties between builds sort on it. */
export interface BuildTag {
  number: number;
  suffix: string;
}

export interface WheelFilename {
  filename: string;
  /** The distribution name as written in the file name. */
  name: string;
  normalizedName: string;
  version: Version;
  /** The version in canonical form. */
  versionText: string;
  buildTag: BuildTag | null;
  /** The tag set, compressed sets expanded (`py2.py3-none-any` → two tags). */
  tags: WheelTag[];
}

export interface SdistFilename {
  filename: string;
  name: string;
  normalizedName: string;
  version: Version;
  versionText: string;
  /** `.tar.gz` or `.zip`. */
  extension: '.tar.gz' | '.zip';
}

/** A problem with a file name, as data; the throwing parsers turn it into an EnvsealError. */
export type FilenameResult<T> = { ok: true; value: T } | { ok: false; reason: string };

// PEP 427: the name part is escaped to `[\w\d.]` with runs of `-_.` as `_`; `packaging` accepts any word
// characters and dots but rejects a double underscore, and so do we.
const WHEEL_NAME = /^[\p{L}\p{N}_.]*$/u;

/** Parses a wheel file name, reporting why it is not one. */
export function tryParseWheelFilename(filename: string): FilenameResult<WheelFilename> {
  if (!filename.endsWith('.whl')) return { ok: false, reason: 'the extension is not .whl' };
  const stem = filename.slice(0, -4);
  const parts = stem.split('-');
  if (parts.length !== 5 && parts.length !== 6) {
    return {
      ok: false,
      reason: `expected name-version[-build]-python-abi-platform.whl, found ${parts.length} dash-separated parts`,
    };
  }
  const name = parts[0]!;
  if (name === '' || name.includes('__') || !WHEEL_NAME.test(name)) {
    return { ok: false, reason: `${JSON.stringify(name)} is not an escaped project name` };
  }
  const version = tryParseVersion(parts[1]!);
  if (!version) return { ok: false, reason: `${JSON.stringify(parts[1])} is not a PEP 440 version` };
  let buildTag: BuildTag | null = null;
  if (parts.length === 6) {
    const m = /^([0-9]+)(.*)$/s.exec(parts[2]!);
    const n = m ? Number(m[1]) : NaN;
    if (!m || !Number.isSafeInteger(n)) {
      return { ok: false, reason: `build tag ${JSON.stringify(parts[2])} does not start with a number` };
    }
    buildTag = { number: n, suffix: m[2]! };
  }
  const tags = tryParseTagSet(parts.slice(-3).join('-'));
  if (!tags) return { ok: false, reason: 'the python, abi and platform tags are not all present' };
  return {
    ok: true,
    value: {
      filename,
      name,
      normalizedName: normalizeName(name),
      version,
      versionText: formatVersion(version),
      buildTag,
      tags,
    },
  };
}

/** Parses a wheel file name; throws `wheel.filename.invalid`. */
export function parseWheelFilename(filename: string): WheelFilename {
  const result = tryParseWheelFilename(filename);
  if (!result.ok) {
    throw inputError('wheel.filename.invalid', `invalid wheel file name ${JSON.stringify(filename)}: ${result.reason}`, {
      hint: 'wheel names look like numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (PEP 427)',
    });
  }
  return result.value;
}

/**
 * Parses a source distribution file name `name-version.tar.gz` / `.zip`. Without `project`, the version is
 * what follows the last `-` (as `packaging` reads it). With the project name the file was listed under,
 * the name is matched first (as pip does), so legacy names with dashes and versions with dashes
 * (`python-dateutil-2.8.2`, `foo-1.0-1`) are split correctly.
 */
export function tryParseSdistFilename(filename: string, project?: string): FilenameResult<SdistFilename> {
  const extension = filename.endsWith('.tar.gz') ? '.tar.gz' : filename.endsWith('.zip') ? '.zip' : null;
  if (!extension) return { ok: false, reason: 'the extension is neither .tar.gz nor .zip' };
  const stem = filename.slice(0, -extension.length);
  let split = -1;
  if (project !== undefined) {
    const wanted = normalizeName(project);
    for (let i = stem.indexOf('-'); i !== -1; i = stem.indexOf('-', i + 1)) {
      if (normalizeName(stem.slice(0, i)) === wanted) {
        split = i;
        break;
      }
    }
    if (split === -1) return { ok: false, reason: `the name does not start with the project name ${JSON.stringify(project)}` };
  } else {
    split = stem.lastIndexOf('-');
    if (split === -1) return { ok: false, reason: 'there is no "-" between the name and the version' };
  }
  const name = stem.slice(0, split);
  if (name === '') return { ok: false, reason: 'the name is empty' };
  const versionPart = stem.slice(split + 1);
  const version = tryParseVersion(versionPart);
  if (!version) return { ok: false, reason: `${JSON.stringify(versionPart)} is not a PEP 440 version` };
  return {
    ok: true,
    value: {
      filename,
      name,
      normalizedName: normalizeName(name),
      version,
      versionText: formatVersion(version),
      extension,
    },
  };
}

/** Parses a source distribution file name; throws `sdist.filename.invalid`. */
export function parseSdistFilename(filename: string, project?: string): SdistFilename {
  const result = tryParseSdistFilename(filename, project);
  if (!result.ok) {
    throw inputError('sdist.filename.invalid', `invalid source distribution file name ${JSON.stringify(filename)}: ${result.reason}`, {
      hint: 'source distributions are named name-version.tar.gz (PEP 625)',
    });
  }
  return result.value;
}

/** Orders build tags (no tag sorts first, then by number, then by suffix as a string), as pip does. */
export function compareBuildTags(a: BuildTag | null, b: BuildTag | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (a.number !== b.number) return a.number < b.number ? -1 : 1;
  return a.suffix < b.suffix ? -1 : a.suffix > b.suffix ? 1 : 0;
}
