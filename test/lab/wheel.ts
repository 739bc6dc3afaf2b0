/**
 * Real Python distributions built in-process for tests: wheels that pip installs, and sdists whose
 * PKG-INFO carries static metadata.
 *
 * Specs implemented (https://packaging.python.org/en/latest/specifications/):
 *  - binary distribution format (PEP 427/491): `{name}-{version}(-{build})?-{tag}.whl`, a ZIP with
 *    `{name}-{version}.dist-info/{METADATA,WHEEL,RECORD}`; RECORD lists `path,sha256=<urlsafe b64, no
 *    padding>,<size>` for every file and `RECORD,,` for itself; name escaped as lowercase with runs of
 *    `-_.` replaced by `_`.
 *  - core metadata (PEP 566/643): `Metadata-Version`, `Name`, `Version`, `Requires-Python`, `Requires-Dist`,
 *    `Provides-Extra`, and (2.2+) `Dynamic`.
 *  - source distribution format (PEP 517/625): `{name}-{version}.tar.gz` with a single top directory
 *    `{name}-{version}/` holding `PKG-INFO` and `pyproject.toml`.
 *  - name normalization (PEP 503): lowercase, runs of `-_.` become `-`.
 *
 * Everything is deterministic: same spec, same bytes (stored ZIP entries by default, fixed timestamps).
 */
import { createHash } from 'node:crypto';
import { readZip, writeZip, type ZipMethod } from './zip.js';
import { readTar, writeTarGz } from './tar.js';

export interface DistSpec {
  name: string;
  version: string;
  requiresDist?: string[];
  requiresPython?: string;
  providesExtra?: string[];
  summary?: string;
  /** Extra raw core-metadata header lines, e.g. `License: MIT`. */
  extraMetadata?: string[];
  /** Files of the distribution, path → content. Default: one importable module (see defaultModuleFiles). */
  files?: Record<string, string | Uint8Array>;
}

export interface WheelSpec extends DistSpec {
  /** Compressed tag set, e.g. 'py3-none-any' (default), 'py2.py3-none-any', 'cp311-cp311-manylinux_2_17_x86_64'. */
  tag?: string;
  /** Optional build tag (must start with a digit). */
  buildTag?: string;
  /** Default '2.1' (understood by every pip that knows PEP 658). */
  metadataVersion?: string;
  /** ZIP method for every entry; default 'stored' so the bytes do not depend on the zlib build. */
  compression?: ZipMethod;
}

export interface BuiltWheel {
  filename: string;
  bytes: Buffer;
  /** The METADATA text (what an index serves as the PEP 658 `.metadata` file). */
  metadata: string;
  /** Hex sha256 of `bytes`. */
  sha256: string;
}

export interface SdistSpec extends DistSpec {
  /** Default '2.2' (PEP 643: the first version whose metadata in an sdist can be trusted). */
  metadataVersion?: string;
  /** PEP 643 `Dynamic:` fields, e.g. ['Requires-Dist']. */
  dynamic?: string[];
}

export interface BuiltSdist {
  filename: string;
  bytes: Buffer;
  /** The PKG-INFO text. */
  pkgInfo: string;
  sha256: string;
}

export type DistKind = 'wheel' | 'sdist';

export interface ParsedDistFilename {
  kind: DistKind;
  /** PEP 503 normalized project name. */
  project: string;
  version: string;
  /** For wheels: the compressed tag triple. */
  tag?: string;
}

/** PEP 503 normalized project name: lowercase, runs of `-`, `_`, `.` become a single `-`. */
export function normalizeProjectName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** The name as it appears in wheel/sdist filenames and the .dist-info directory (`-_.` runs → `_`). */
export function escapeDistName(name: string): string {
  return name.replace(/[-_.]+/g, '_').toLowerCase();
}

/** Parses `name-version(-build)?-py-abi-plat.whl` or `name-version.tar.gz` / `.zip`; null if neither. */
export function parseDistFilename(filename: string): ParsedDistFilename | null {
  if (filename.endsWith('.whl')) {
    const parts = filename.slice(0, -4).split('-');
    if (parts.length !== 5 && parts.length !== 6) return null;
    return {
      kind: 'wheel',
      project: normalizeProjectName(parts[0]!),
      version: parts[1]!,
      tag: parts.slice(-3).join('-'),
    };
  }
  const ext = ['.tar.gz', '.zip'].find((e) => filename.endsWith(e));
  if (!ext) return null;
  const stem = filename.slice(0, -ext.length);
  // Older sdists may have '-' inside the name; the version is what follows the last '-'.
  const dash = stem.lastIndexOf('-');
  if (dash <= 0 || dash === stem.length - 1) return null;
  return { kind: 'sdist', project: normalizeProjectName(stem.slice(0, dash)), version: stem.slice(dash + 1) };
}

/** Hex sha256 of some bytes. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `sha256=<urlsafe base64 without padding>`, the RECORD hash form (PEP 376/427). */
export function recordHash(data: Uint8Array | string): string {
  return `sha256=${createHash('sha256').update(data).digest('base64url')}`;
}

/** The default content of a distribution: `<import_name>/__init__.py` with `__version__`. */
export function defaultModuleFiles(name: string, version: string): Record<string, string> {
  const module = escapeDistName(name);
  return {
    [`${module}/__init__.py`]: `"""Test-lab package ${name}."""\n__version__ = ${JSON.stringify(version)}\n`,
  };
}

function renderCoreMetadata(spec: DistSpec, metadataVersion: string, dynamic: string[] = []): string {
  const lines = [`Metadata-Version: ${metadataVersion}`, `Name: ${spec.name}`, `Version: ${spec.version}`];
  for (const field of dynamic) lines.push(`Dynamic: ${field}`);
  if (spec.summary !== undefined) lines.push(`Summary: ${spec.summary}`);
  if (spec.requiresPython !== undefined) lines.push(`Requires-Python: ${spec.requiresPython}`);
  for (const extra of spec.providesExtra ?? []) lines.push(`Provides-Extra: ${extra}`);
  for (const req of spec.requiresDist ?? []) lines.push(`Requires-Dist: ${req}`);
  lines.push(...(spec.extraMetadata ?? []));
  for (const line of lines) {
    if (/[\r\n]/.test(line)) throw new Error(`core metadata line contains a newline: ${JSON.stringify(line)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Expands a compressed tag set (`py2.py3-none-any`) into single tags, in the order written. */
function expandTags(tag: string): string[] {
  const parts = tag.split('-');
  if (parts.length !== 3 || parts.some((p) => !p)) throw new Error(`invalid wheel tag ${tag}: want python-abi-platform`);
  const [pys, abis, plats] = parts.map((p) => p.split('.')) as [string[], string[], string[]];
  const out: string[] = [];
  for (const py of pys) for (const abi of abis) for (const plat of plats) out.push(`${py}-${abi}-${plat}`);
  return out;
}

function quoteCsvField(field: string): string {
  return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** Builds a wheel that pip installs: package files first, then the .dist-info with RECORD last. */
export function buildWheel(spec: WheelSpec): BuiltWheel {
  const tag = spec.tag ?? 'py3-none-any';
  const tags = expandTags(tag);
  if (spec.buildTag !== undefined && !/^\d[^-]*$/.test(spec.buildTag)) {
    throw new Error(`invalid build tag ${spec.buildTag}: must start with a digit and contain no '-'`);
  }
  if (spec.version.includes('-')) throw new Error(`version ${spec.version} contains '-'; use the normalized form`);
  const distName = escapeDistName(spec.name);
  const distInfo = `${distName}-${spec.version}.dist-info`;
  const metadata = renderCoreMetadata(spec, spec.metadataVersion ?? '2.1');
  // A wheel whose platform tag is 'any' and ABI 'none' is pure Python; others go to platlib.
  const purelib = tags.every((t) => t.endsWith('-none-any'));
  const wheelText = [
    'Wheel-Version: 1.0',
    'Generator: envseal-test-lab',
    `Root-Is-Purelib: ${purelib ? 'true' : 'false'}`,
    ...tags.map((t) => `Tag: ${t}`),
    ...(spec.buildTag !== undefined ? [`Build: ${spec.buildTag}`] : []),
  ].join('\n');

  const files: [string, Buffer][] = Object.entries(spec.files ?? defaultModuleFiles(spec.name, spec.version)).map(([path, content]) => [
    path,
    Buffer.from(content),
  ]);
  for (const [path] of files) {
    if (path.startsWith(`${distInfo}/`)) throw new Error(`wheel file ${path} would clash with the generated .dist-info`);
  }
  files.push([`${distInfo}/METADATA`, Buffer.from(metadata)], [`${distInfo}/WHEEL`, Buffer.from(`${wheelText}\n`)]);
  const recordPath = `${distInfo}/RECORD`;
  const record = files.map(([path, data]) => `${quoteCsvField(path)},${recordHash(data)},${data.length}`).join('\n') + `\n${recordPath},,\n`;
  files.push([recordPath, Buffer.from(record)]);

  const bytes = writeZip(
    files.map(([name, data]) => ({ name, data })),
    { method: spec.compression ?? 'stored' },
  );
  const build = spec.buildTag !== undefined ? `-${spec.buildTag}` : '';
  return { filename: `${distName}-${spec.version}${build}-${tag}.whl`, bytes, metadata, sha256: sha256Hex(bytes) };
}

/**
 * Builds an sdist whose PKG-INFO carries the given metadata. It also holds a pyproject.toml (setuptools
 * backend, PEP 621 table) so that a build frontend could build it, but tests use it for its metadata.
 */
export function buildSdist(spec: SdistSpec): BuiltSdist {
  const distName = escapeDistName(spec.name);
  const top = `${distName}-${spec.version}`;
  const pkgInfo = renderCoreMetadata(spec, spec.metadataVersion ?? '2.2', spec.dynamic);
  const toml = (s: string) => JSON.stringify(s);
  const pyproject = [
    '[build-system]',
    'requires = ["setuptools>=61"]',
    'build-backend = "setuptools.build_meta"',
    '',
    '[project]',
    `name = ${toml(spec.name)}`,
    `version = ${toml(spec.version)}`,
    ...(spec.requiresPython !== undefined ? [`requires-python = ${toml(spec.requiresPython)}`] : []),
    `dependencies = [${(spec.requiresDist ?? []).map(toml).join(', ')}]`,
    '',
  ].join('\n');
  const files = Object.entries(spec.files ?? defaultModuleFiles(spec.name, spec.version));
  const entries = [
    { name: `${top}/` },
    { name: `${top}/PKG-INFO`, data: pkgInfo },
    ...(spec.files?.['pyproject.toml'] === undefined ? [{ name: `${top}/pyproject.toml`, data: pyproject }] : []),
    ...files.map(([path, data]) => ({ name: `${top}/${path}`, data })),
  ];
  const bytes = writeTarGz(entries);
  return { filename: `${top}.tar.gz`, bytes, pkgInfo, sha256: sha256Hex(bytes) };
}

/** The METADATA text inside a wheel (its `*.dist-info/METADATA`); throws if there is not exactly one. */
export function extractWheelMetadata(wheel: Uint8Array): string {
  const found = readZip(wheel).filter((e) => /^[^/]+\.dist-info\/METADATA$/.test(e.name));
  if (found.length !== 1) throw new Error(`wheel has ${found.length} .dist-info/METADATA files, want 1`);
  return found[0]!.data.toString('utf8');
}

/** The PKG-INFO text at the top of an sdist (`<name>-<version>/PKG-INFO`). */
export function extractSdistPkgInfo(sdist: Uint8Array): string {
  const found = readTar(sdist).filter((e) => /^[^/]+\/PKG-INFO$/.test(e.name));
  if (found.length !== 1) throw new Error(`sdist has ${found.length} top-level PKG-INFO files, want 1`);
  return found[0]!.data.toString('utf8');
}

/** Reads header fields of a core-metadata text (email-header style); repeated fields keep every value. */
export function parseCoreMetadata(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let last: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break; // headers end at the first blank line; the description follows
    if (/^[ \t]/.test(line) && last) {
      last[last.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const list = fields.get(key) ?? [];
    list.push(line.slice(colon + 1).trim());
    fields.set(key, list);
    last = list;
  }
  return fields;
}
