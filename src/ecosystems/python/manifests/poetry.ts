/**
 * A Poetry project's `[tool.poetry]` dependencies (https://python-poetry.org/docs/dependency-specification/)
 * read as PEP 508 requirements: `dependencies` (with `python` as the project's Python constraint), optional
 * ones reachable through `[tool.poetry.extras]`, groups `[tool.poetry.group.<g>.dependencies]` (and the legacy
 * `dev-dependencies` as group `dev`), and `[[tool.poetry.source]]`. A dependency is a constraint string, a
 * table `{ version, extras, markers, python, platform, optional, source, allow-prereleases }` or a list of such
 * tables (one requirement each). git/path/url dependencies are refused (envseal installs from indexes only).
 * Pure: a parsed TOML document in, requirements out.
 */
import { inputError } from '../../../core/errors.js';
import { normalizeName } from '../pep/names.js';
import { tryParseRequirement } from '../pep/requirement.js';
import { PoetryConstraintError, poetryConstraintToPep440, pythonConstraintToMarker } from './poetry-constraint.js';
import type { PythonRequirement } from './requirements.js';

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

export interface PoetrySource {
  name: string;
  url: string;
  /** Poetry's `priority` (or the legacy `default`/`secondary` flags): primary, supplemental, explicit, ... */
  priority: string;
}

export interface PoetryProject {
  file: string;
  name?: string;
  /** `dependencies.python` as a PEP 440 specifier set. */
  python?: string;
  /** The non-optional `dependencies`. */
  dependencies: PythonRequirement[];
  /** `[tool.poetry.extras]`: extra name (normalised) → the optional dependencies it installs. */
  extras: Record<string, PythonRequirement[]>;
  /** Dependency groups by normalised name (`dev-dependencies` is `dev`). */
  groups: Record<string, PythonRequirement[]>;
  sources: PoetrySource[];
  /** Normalised project name → the source name its dependency entry pins (`source = "..."`). */
  pinnedSources: Record<string, string>;
}

const HINT = 'see https://python-poetry.org/docs/dependency-specification/';

function invalid(file: string, what: string, hint = HINT): never {
  throw inputError('manifest.poetry.invalid', `${file}: ${what}`, { hint });
}

function markerOf(entry: Table, where: string, file: string): string | undefined {
  const parts: string[] = [];
  const wrap = (m: string) => (/ or /.test(m) ? `(${m})` : m);
  if (entry.markers !== undefined) {
    if (typeof entry.markers !== 'string') invalid(file, `${where}.markers must be a string`);
    parts.push(wrap(entry.markers));
  }
  if (entry.python !== undefined) {
    if (typeof entry.python !== 'string') invalid(file, `${where}.python must be a string`);
    const m = constraint(entry.python, `${where}.python`, file, pythonConstraintToMarker);
    if (m) parts.push(wrap(m));
  }
  if (entry.platform !== undefined) {
    if (typeof entry.platform !== 'string') invalid(file, `${where}.platform must be a string`);
    parts.push(`sys_platform == "${entry.platform}"`);
  }
  return parts.length ? parts.join(' and ') : undefined;
}

function constraint(text: string, where: string, file: string, translate: (t: string) => string = poetryConstraintToPep440): string {
  try {
    return translate(text);
  } catch (err) {
    if (err instanceof PoetryConstraintError) invalid(file, `${where}: ${err.message}`, `write it as a single range (^, ~, >=,<, ==, x.*); ${HINT}`);
    throw err;
  }
}

interface Entry {
  req: PythonRequirement;
  optional: boolean;
  source?: string;
}

/** One dependency entry (string, table or list of tables) as requirements. */
function readEntry(name: string, value: unknown, where: string, file: string): Entry[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => readEntry(name, v, `${where}[${i}]`, file));
  const entry: Table = typeof value === 'string' ? { version: value } : isTable(value) ? value : invalid(file, `${where} must be a string or a table`);
  for (const kind of ['git', 'path', 'url', 'file']) {
    if (entry[kind] !== undefined) {
      throw inputError('manifest.direct-url', `${file}: ${where} is a ${kind} dependency; envseal installs from indexes only`, {
        hint: 'publish the package to an index (a local one works) and depend on it by version',
      });
    }
  }
  const version = entry.version ?? '*';
  if (typeof version !== 'string') invalid(file, `${where}.version must be a string`);
  const extras = entry.extras ?? [];
  if (!Array.isArray(extras) || !extras.every((e) => typeof e === 'string')) invalid(file, `${where}.extras must be an array of strings`);
  const spec = constraint(version, where, file);
  const marker = markerOf(entry, where, file);
  const text = `${name}${extras.length ? `[${extras.join(',')}]` : ''}${spec}${marker ? ` ; ${marker}` : ''}`;
  const parsed = tryParseRequirement(text);
  if (!parsed.ok) invalid(file, `${where}: ${JSON.stringify(text)} is not a valid requirement: ${parsed.reason}`);
  if (entry.source !== undefined && typeof entry.source !== 'string') invalid(file, `${where}.source must be a string`);
  return [
    {
      req: { requirement: parsed.requirement, hashes: [], source: { file, line: 1 } },
      optional: entry.optional === true,
      ...(typeof entry.source === 'string' ? { source: entry.source } : {}),
    },
  ];
}

function readDeps(value: unknown, where: string, file: string): { entries: Entry[]; python?: string } {
  if (value === undefined) return { entries: [] };
  if (!isTable(value)) invalid(file, `${where} must be a table`);
  const entries: Entry[] = [];
  let python: string | undefined;
  for (const [name, v] of Object.entries(value)) {
    if (name === 'python') {
      if (typeof v !== 'string') invalid(file, `${where}.python must be a string`);
      python = constraint(v, `${where}.python`, file);
      continue;
    }
    entries.push(...readEntry(name, v, `${where}.${name}`, file));
  }
  return { entries, ...(python !== undefined ? { python } : {}) };
}

function readSources(value: unknown, file: string): PoetrySource[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) invalid(file, 'tool.poetry.source must be an array of tables ([[tool.poetry.source]])');
  return value.map((s, i) => {
    if (!isTable(s) || typeof s.name !== 'string') invalid(file, `tool.poetry.source[${i}] needs a name`);
    if (typeof s.url !== 'string') {
      invalid(file, `tool.poetry.source[${i}] (${s.name}) has no url`, 'envseal reads sources with a url (PyPI itself is the default index)');
    }
    const priority = typeof s.priority === 'string' ? s.priority : s.default === true ? 'default' : s.secondary === true ? 'secondary' : 'primary';
    return { name: s.name, url: s.url.replace(/\/+$/, ''), priority };
  });
}

/** True when the document declares Poetry dependencies (`[tool.poetry.dependencies]`). */
export function isPoetryProject(doc: Table): boolean {
  const tool = isTable(doc.tool) ? doc.tool : {};
  return isTable(tool.poetry) && isTable(tool.poetry.dependencies);
}

/** Reads `[tool.poetry]` of a parsed pyproject.toml. Throws `manifest.poetry.invalid`, `manifest.direct-url` (exit 2). */
export function readPoetryProject(doc: Table, file: string): PoetryProject {
  const tool = isTable(doc.tool) ? doc.tool : {};
  const poetry = isTable(tool.poetry) ? tool.poetry : invalid(file, 'has no [tool.poetry] table');
  const main = readDeps(poetry.dependencies, 'tool.poetry.dependencies', file);
  const pinnedSources: Record<string, string> = {};
  const groups: Record<string, PythonRequirement[]> = {};
  const addGroup = (g: string, entries: Entry[]) => {
    groups[normalizeName(g)] = [...(groups[normalizeName(g)] ?? []), ...entries.map((e) => e.req)];
  };
  if (poetry['dev-dependencies'] !== undefined) addGroup('dev', readDeps(poetry['dev-dependencies'], 'tool.poetry.dev-dependencies', file).entries);
  const groupTable = poetry.group ?? {};
  if (!isTable(groupTable)) invalid(file, 'tool.poetry.group must be a table');
  const all = [...main.entries];
  for (const [g, t] of Object.entries(groupTable)) {
    if (!isTable(t)) invalid(file, `tool.poetry.group.${g} must be a table`);
    const entries = readDeps(t.dependencies, `tool.poetry.group.${g}.dependencies`, file).entries;
    all.push(...entries);
    addGroup(g, entries);
  }
  for (const e of all) if (e.source) pinnedSources[e.req.requirement.normalizedName] = e.source;
  const optional = new Map(main.entries.filter((e) => e.optional).map((e) => [e.req.requirement.normalizedName, e.req]));
  const extras: Record<string, PythonRequirement[]> = {};
  const extrasTable = poetry.extras ?? {};
  if (!isTable(extrasTable)) invalid(file, 'tool.poetry.extras must be a table of arrays');
  for (const [extra, names] of Object.entries(extrasTable)) {
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) invalid(file, `tool.poetry.extras.${extra} must be an array of names`);
    extras[normalizeName(extra)] = names.map((n) => {
      const req = optional.get(normalizeName(n.split(/[\s[(<>=!~^]/)[0]!));
      if (!req) invalid(file, `tool.poetry.extras.${extra} names ${n}, which is not an optional dependency in tool.poetry.dependencies`);
      return req;
    });
  }
  const sources = readSources(poetry.source, file);
  for (const [pkg, src] of Object.entries(pinnedSources)) {
    if (!sources.some((s) => s.name === src)) invalid(file, `dependency ${pkg} names source ${JSON.stringify(src)}, which no [[tool.poetry.source]] defines`);
  }
  return {
    file,
    ...(typeof poetry.name === 'string' ? { name: poetry.name } : {}),
    ...(main.python !== undefined ? { python: main.python } : {}),
    dependencies: main.entries.filter((e) => !e.optional).map((e) => e.req),
    extras,
    groups,
    sources,
    pinnedSources,
  };
}

/** The requirements of the selected groups. Throws `manifest.pyproject.unknown-group` naming the groups there are. */
export function selectPoetryGroups(poetry: PoetryProject, groups: readonly string[]): PythonRequirement[] {
  return groups.flatMap((g) => {
    const reqs = poetry.groups[normalizeName(g)];
    if (reqs) return reqs;
    const known = Object.keys(poetry.groups).sort();
    throw inputError('manifest.pyproject.unknown-group', `${poetry.file}: no Poetry dependency group "${g}" (it has: ${known.join(', ') || 'none'})`, {
      hint: 'use one of those groups in python.pyproject.groups, or add [tool.poetry.group.<name>.dependencies]',
    });
  });
}

/**
 * The sources as indexes: primary/default ones first (in order), then supplemental/secondary; an `explicit`
 * source serves only the dependencies that name it (`pinned`: project → URL).
 */
export function poetryIndexes(poetry: PoetryProject): { indexes: string[]; pinned: Record<string, string> } {
  const first = poetry.sources.filter((s) => ['primary', 'default'].includes(s.priority));
  const later = poetry.sources.filter((s) => ['supplemental', 'secondary'].includes(s.priority));
  const url = new Map(poetry.sources.map((s) => [s.name, s.url]));
  return {
    indexes: [...first, ...later].map((s) => s.url),
    pinned: Object.fromEntries(Object.entries(poetry.pinnedSources).map(([pkg, src]) => [pkg, url.get(src)!])),
  };
}
