/**
 * Core metadata (https://packaging.python.org/en/latest/specifications/core-metadata/): the METADATA of a
 * wheel / PEP 658 file, or the PKG-INFO of an sdist. Only the fields a resolver needs are read: Name,
 * Version, Requires-Python, Requires-Dist, Provides-Extra, and (PEP 643, Metadata-Version 2.2) Dynamic.
 *
 * The format is RFC 822 style headers: `Field: value`, continuation lines start with whitespace, the headers
 * end at the first empty line (the description may follow as the body).
 */
import { inputError } from '../../../core/errors.js';
import { normalizeName } from '../pep/names.js';
import { tryParseRequirement, type Requirement, type RequirementParseResult } from '../pep/requirement.js';
import { tryParseSpecifierSet } from '../pep/specifier.js';
import { compareVersions, tryParseVersion } from '../pep/version.js';

export interface CoreMetadata {
  metadataVersion: string;
  /** PEP 503 normalised. */
  name: string;
  version: string;
  requiresPython?: string;
  requiresDist: Requirement[];
  /** PEP 685 normalised. */
  providesExtra: string[];
  /** PEP 643 `Dynamic` fields, lower-cased. */
  dynamic: string[];
}

/** Header fields of a core-metadata text; repeated fields keep every value, in order. Keys lower-cased. */
export function readMetadataHeaders(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let last: { key: string; list: string[] } | undefined;
  for (const line of text.replace(/^\ufeff/, '').split(/\r\n|\n|\r/)) {
    if (line === '') break;
    if (/^[ \t]/.test(line)) {
      if (last) last.list[last.list.length - 1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const list = fields.get(key) ?? [];
    list.push(line.slice(colon + 1).trim());
    fields.set(key, list);
    last = { key, list };
  }
  return fields;
}

export interface MetadataOrigin {
  /** The project as asked for (normalised). */
  project: string;
  /** The version the index listed the file under. */
  version: string;
  filename: string;
  index: string;
}

function badMetadata(origin: MetadataOrigin, problem: string, details: string[] = []) {
  return inputError('python.bad-metadata', `the metadata of ${origin.filename} (${origin.project} ${origin.version}) is malformed: ${problem}`, {
    hint: `this release of ${origin.project} is broken on ${origin.index}; exclude it (e.g. "${origin.project}!=${origin.version}") or pin another version`,
    details,
    data: { project: origin.project, version: origin.version, file: origin.filename },
  });
}

/**
 * Parses and checks core metadata: the name and version must be those the index listed the file under
 * (pip refuses inconsistent metadata the same way), every Requires-Dist must be PEP 508, Requires-Python a
 * PEP 440 specifier set. Anything else is `python.bad-metadata` (exit 2).
 */
export function parseCoreMetadata(text: string, origin: MetadataOrigin): CoreMetadata {
  const headers = readMetadataHeaders(text);
  const one = (key: string) => headers.get(key)?.[0];
  const name = one('name');
  const version = one('version');
  if (!name) throw badMetadata(origin, 'it has no Name field');
  if (!version) throw badMetadata(origin, 'it has no Version field');
  if (normalizeName(name) !== origin.project) throw badMetadata(origin, `its Name is ${JSON.stringify(name)}, not ${origin.project}`);
  const parsedVersion = tryParseVersion(version);
  if (!parsedVersion) throw badMetadata(origin, `its Version ${JSON.stringify(version)} is not a PEP 440 version`);
  if (compareVersions(parsedVersion, origin.version) !== 0) throw badMetadata(origin, `its Version is ${version}, but the file is listed as ${origin.version}`);

  const requiresDist: Requirement[] = [];
  const problems: string[] = [];
  for (const line of headers.get('requires-dist') ?? []) {
    const result = parseRequirementOnce(line);
    if (result.ok) requiresDist.push(result.requirement);
    else problems.push(`Requires-Dist: ${line}: ${result.reason} at column ${result.column}`);
  }
  if (problems.length > 0) throw badMetadata(origin, `${problems.length} Requires-Dist line(s) are not PEP 508`, problems);

  const meta: CoreMetadata = {
    metadataVersion: one('metadata-version') ?? '',
    name: normalizeName(name),
    version,
    requiresDist,
    providesExtra: [...new Set((headers.get('provides-extra') ?? []).map(normalizeName))],
    dynamic: (headers.get('dynamic') ?? []).map((d) => d.toLowerCase()),
  };
  const requiresPython = one('requires-python');
  if (requiresPython !== undefined && requiresPython !== '') {
    if (!tryParseSpecifierSet(requiresPython))
      throw badMetadata(origin, `its Requires-Python ${JSON.stringify(requiresPython)} is not a PEP 440 specifier set`);
    meta.requiresPython = requiresPython;
  }
  return meta;
}

/** Releases of a project repeat the same Requires-Dist lines; parse each distinct line once per process. */
const parsedLines = new Map<string, RequirementParseResult>();

function parseRequirementOnce(line: string): RequirementParseResult {
  let result = parsedLines.get(line);
  if (!result) {
    result = tryParseRequirement(line);
    if (parsedLines.size > 50_000) parsedLines.clear();
    parsedLines.set(line, result);
  }
  return result;
}

/** The fields a resolver reads; an sdist whose PKG-INFO marks any of them Dynamic needs a build to know them. */
const RESOLVER_FIELDS = ['requires-dist', 'requires-python', 'provides-extra'];

/**
 * Whether an sdist's PKG-INFO can be trusted without building it (PEP 643): Metadata-Version 2.2 or later
 * and none of the fields we use listed as `Dynamic`. Returns the reason when it cannot.
 */
export function sdistMetadataProblem(meta: CoreMetadata): string | null {
  const [major = 0, minor = 0] = meta.metadataVersion.split('.').map(Number);
  if (!(major > 2 || (major === 2 && minor >= 2))) {
    return `its PKG-INFO has Metadata-Version ${meta.metadataVersion || '(none)'}; only 2.2 or later (PEP 643) promises static metadata`;
  }
  const dynamic = meta.dynamic.filter((d) => RESOLVER_FIELDS.includes(d));
  if (dynamic.length > 0) return `its PKG-INFO marks ${dynamic.join(', ')} as Dynamic (PEP 643), so they are only known after a build`;
  return null;
}
