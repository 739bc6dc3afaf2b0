/**
 * pyproject.toml dependencies as PEP 621 declares them (`[project]` `dependencies` and
 * `optional-dependencies`), https://packaging.python.org/en/latest/specifications/pyproject-toml/.
 *
 * Only the static metadata is read: a project that computes its dependencies at build time
 * (`dynamic = ["dependencies"]`) has nothing to lock without running its build backend, which envseal does
 * not do on the host. Direct URL requirements are rejected for the same reason as in requirements files
 * (see requirements.ts): every pin must come from an index with a version and a sha256.
 */
import { parse as parseToml, TomlError } from 'smol-toml';
import { type EnvsealError, inputError } from '../../../core/errors.js';
import { andMarkers, formatMarker } from '../pep/marker.js';
import { isValidName, normalizeName } from '../pep/names.js';
import { findRequirementProblem, type Requirement, tryParseRequirement } from '../pep/requirement.js';
import { formatSpecifierSet, tryParseSpecifierSet } from '../pep/specifier.js';
import { maskUrlCredentials } from '../../../core/url-credentials.js';
import { checkDirectUrl } from './direct-url.js';
import { isPoetryProject, type PoetryProject, readPoetryProject } from './poetry.js';
import type { PythonRequirement } from './requirements.js';

export interface PyprojectManifest {
  file: string;
  /** `project.name` as written. */
  name?: string;
  /** `project.requires-python`, as a canonical specifier set. */
  requiresPython?: string;
  dependencies: PythonRequirement[];
  /** `project.optional-dependencies` by group (extra) name, normalised (PEP 685). */
  optionalDependencies: Record<string, PythonRequirement[]>;
  /** `project.dynamic` as written. */
  dynamic: string[];
  /** Group names of PEP 735 `[dependency-groups]` (selected with python.pyproject.groups), to point there from an unknown extra. */
  dependencyGroups: string[];
  /** Set for a Poetry project without `[project]`: its groups and sources (dependencies and extras are above). */
  poetry?: PoetryProject;
}

/** A Poetry project as a pyproject manifest: `[tool.poetry.extras]` stand for the optional dependency groups. */
function fromPoetry(poetry: PoetryProject): PyprojectManifest {
  return {
    file: poetry.file,
    ...(poetry.name !== undefined ? { name: poetry.name } : {}),
    ...(poetry.python ? { requiresPython: poetry.python } : {}),
    dependencies: poetry.dependencies,
    optionalDependencies: poetry.extras,
    dynamic: [],
    dependencyGroups: [],
    poetry,
  };
}

const PEP621_HINT = 'see https://packaging.python.org/en/latest/specifications/pyproject-toml/';

function invalid(file: string, line: number | null, what: string, hint = PEP621_HINT): EnvsealError {
  return inputError('manifest.pyproject.invalid', `${file}${line === null ? '' : `:${line}`}: ${what}`, { hint });
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (isTable(value)) return 'a table';
  if (value instanceof Date) return 'a date';
  return `a ${typeof value}`;
}

/** 1-based line of a character offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Finds where things are written, for line numbers in messages and in `source`. The TOML parser returns
 * values without positions, so this searches the text: first the array's key (after its table header when
 * there is one), then each string of the array in order from there. When the text is written in a way the
 * search does not recognise, the key's line (or, failing that, line 1) is used.
 */
class SourceLocator {
  constructor(private readonly text: string) {}

  private search(re: RegExp, from: number): number | null {
    re.lastIndex = from;
    const m = re.exec(this.text);
    return m ? m.index + (m[1]?.length ?? 0) : null;
  }

  /** Offset of the `project.<key>` array or table. */
  findProjectKey(key: string): number | null {
    const k = escapeRegExp(key);
    const header = this.search(/^[ \t]*\[[ \t]*project[ \t]*\][ \t]*(?:#.*)?$/gm, 0);
    if (header !== null) {
      const found = this.search(new RegExp(`^([ \\t]*)["']?${k}["']?[ \\t]*=`, 'gm'), header);
      if (found !== null) return found;
    }
    const table = this.search(new RegExp(`^[ \\t]*\\[[ \\t]*project[ \\t]*\\.[ \\t]*["']?${k}["']?[ \\t]*\\]`, 'gm'), 0);
    if (table !== null) return table;
    return this.search(new RegExp(`(^|[\\s{,.])["']?${k}["']?[ \\t]*=`, 'gm'), 0);
  }

  /** Offset of `<group> =` at or after `from`. */
  findGroupKey(group: string, from: number): number | null {
    const g = escapeRegExp(group);
    return this.search(new RegExp(`(^[ \\t]*|[{,][ \\t]*)(?:"${g}"|'${g}'|${g})[ \\t]*=`, 'gm'), from);
  }

  /** Offset of the next quoted occurrence of `value` at or after `from`. */
  findString(value: string, from: number): number | null {
    const candidates = [JSON.stringify(value), `'${value}'`];
    let best: number | null = null;
    for (const c of candidates) {
      const i = this.text.indexOf(c, from);
      if (i !== -1 && (best === null || i < best)) best = i;
    }
    return best;
  }

  line(offset: number | null): number {
    return offset === null ? 1 : lineOf(this.text, offset);
  }
}

function readRequirementArray(value: unknown, where: string, file: string, locator: SourceLocator, keyOffset: number | null): PythonRequirement[] {
  const keyLine = locator.line(keyOffset);
  if (!Array.isArray(value)) {
    throw invalid(file, keyLine, `${where} must be an array of requirement strings, not ${describeType(value)}`);
  }
  const out: PythonRequirement[] = [];
  let cursor = keyOffset ?? 0;
  value.forEach((item, i) => {
    if (typeof item !== 'string') {
      throw invalid(file, keyLine, `${where}[${i}] must be a requirement string, not ${describeType(item)}`);
    }
    const at = locator.findString(item, cursor);
    if (at !== null) cursor = at + item.length;
    const line = at === null ? keyLine : locator.line(at);
    const parsed = tryParseRequirement(item);
    if (!parsed.ok) {
      throw invalid(
        file,
        line,
        `${where}[${i}]: invalid requirement ${JSON.stringify(item)}: ${parsed.reason} at column ${parsed.column}`,
        'requirements look like requests>=2.31, uvicorn[standard]==0.30.1 or numpy<2; python_version < "3.12" (PEP 508)',
      );
    }
    const problem = findRequirementProblem(parsed.requirement);
    if (problem)
      throw invalid(
        file,
        line,
        `${where}[${i}]: invalid requirement ${JSON.stringify(item)}: ${problem}`,
        'requirements look like requests>=2.31 or numpy==1.26.4 (PEP 508)',
      );
    const direct = parsed.requirement.url !== undefined ? checkDirectUrl(parsed.requirement.name, parsed.requirement.url) : null;
    if (direct && !direct.ok) {
      throw inputError(
        'manifest.direct-url',
        maskUrlCredentials(`${file}:${line}: ${where}[${i}]: direct URL requirement ${JSON.stringify(item)}: ${direct.problem}`),
        {
          hint: direct.hint,
        },
      );
    }
    out.push({ requirement: parsed.requirement, hashes: [], source: { file, line } });
  });
  return out;
}

/**
 * Parses pyproject.toml text. Throws `manifest.pyproject.syntax` for TOML errors (`file:line:column`),
 * `manifest.pyproject.invalid` for wrong types and invalid requirements, `manifest.pyproject.dynamic` when
 * the dependencies are computed at build time, and `manifest.direct-url` for URL requirements other than wheels.
 */
export function parsePyproject(text: string, file: string): PyprojectManifest {
  const doc = parseTomlDocument(text, file);
  const locator = new SourceLocator(text);

  const project = doc.project;
  if (project === undefined) {
    if (isPoetryProject(doc)) return fromPoetry(readPoetryProject(doc, file));
    throw invalid(
      file,
      null,
      'has no [project] table, so it declares no dependencies in the standard (PEP 621) form',
      `declare dependencies under [project] or use a requirements file instead; ${PEP621_HINT}`,
    );
  }
  if (!isTable(project)) throw invalid(file, null, `"project" must be a table, not ${describeType(project)}`);

  const dynamic = readDynamic(project, file, locator);

  const manifest: PyprojectManifest = {
    file,
    dependencies: [],
    optionalDependencies: {},
    dynamic,
    dependencyGroups: isTable(doc['dependency-groups']) ? Object.keys(doc['dependency-groups']).sort() : [],
    // Poetry 2: [project] holds the dependencies, [tool.poetry] the groups and sources.
    ...(isTable(doc.tool) && isTable(doc.tool.poetry) ? { poetry: readPoetryProject(doc, file) } : {}),
  };

  if (project.name !== undefined) {
    const at = locator.line(locator.findProjectKey('name'));
    if (typeof project.name !== 'string') {
      throw invalid(file, at, `project.name must be a string, not ${describeType(project.name)}`);
    }
    if (!isValidName(project.name)) {
      throw invalid(file, at, `project.name ${JSON.stringify(project.name)} is not a valid project name (PEP 508: letters, digits, and . _ - inside)`);
    }
    manifest.name = project.name;
  }

  if (project['requires-python'] !== undefined) {
    const value = project['requires-python'];
    const at = locator.line(locator.findProjectKey('requires-python'));
    if (typeof value !== 'string') {
      throw invalid(file, at, `project.requires-python must be a string, not ${describeType(value)}`);
    }
    const set = tryParseSpecifierSet(value);
    if (!set) {
      throw invalid(file, at, `project.requires-python ${JSON.stringify(value)} is not a valid version specifier`, 'write it like ">=3.9" or ">=3.9,<3.13"');
    }
    manifest.requiresPython = formatSpecifierSet(set);
  }

  if (project.dependencies !== undefined) {
    manifest.dependencies = readRequirementArray(project.dependencies, 'project.dependencies', file, locator, locator.findProjectKey('dependencies'));
  }

  const optional = project['optional-dependencies'];
  if (optional !== undefined) {
    manifest.optionalDependencies = readOptionalDependencies(optional, dynamic, file, locator);
  }
  return manifest;
}

function parseTomlDocument(text: string, file: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw inputError('manifest.pyproject.syntax', `${file}:${err.line}:${err.column}: invalid TOML: ${reason}`, {
        hint: 'fix the TOML syntax (https://toml.io/en/v1.0.0)',
        details: err.codeblock.split('\n').filter((l) => l !== ''),
      });
    }
    throw err;
  }
}

/** project.dynamic: the fields the build backend computes (an error when that includes the dependencies). */
function readDynamic(project: Record<string, unknown>, file: string, locator: SourceLocator): string[] {
  const dynamic: string[] = [];
  if (project.dynamic !== undefined) {
    const at = locator.findProjectKey('dynamic');
    if (!Array.isArray(project.dynamic) || project.dynamic.some((d) => typeof d !== 'string')) {
      throw invalid(file, locator.line(at), 'project.dynamic must be an array of field names');
    }
    dynamic.push(...(project.dynamic as string[]));
    if (dynamic.includes('dependencies')) {
      throw inputError(
        'manifest.pyproject.dynamic',
        `${file}:${locator.line(at)}: project.dynamic lists "dependencies": they are computed by the build backend, so there is nothing static to lock`,
        {
          hint:
            'list the dependencies under [project] dependencies, or write them to a requirements file ' +
            '(e.g. from `pip-compile` or your build tool) and list that under python.requirements',
        },
      );
    }
  }
  return dynamic;
}

/** project.optional-dependencies: extras by normalised name (PEP 685), each a list of requirements. */
function readOptionalDependencies(optional: unknown, dynamic: string[], file: string, locator: SourceLocator): Record<string, PythonRequirement[]> {
  const tableAt = locator.findProjectKey('optional-dependencies');
  if (!isTable(optional)) {
    throw invalid(file, locator.line(tableAt), `project.optional-dependencies must be a table of arrays, not ${describeType(optional)}`);
  }
  if (dynamic.includes('optional-dependencies')) {
    throw invalid(file, locator.line(tableAt), 'project.optional-dependencies is both listed in project.dynamic and given statically');
  }
  const groups: Record<string, PythonRequirement[]> = {};
  const written = new Map<string, string>();
  for (const [group, value] of Object.entries(optional)) {
    const groupAt = locator.findGroupKey(group, tableAt ?? 0);
    if (!isValidName(group)) {
      throw invalid(file, locator.line(groupAt), `optional dependency group ${JSON.stringify(group)} is not a valid extra name`);
    }
    const key = normalizeName(group);
    const earlier = written.get(key);
    if (earlier !== undefined) {
      throw invalid(
        file,
        locator.line(groupAt),
        `optional dependency groups ${JSON.stringify(earlier)} and ${JSON.stringify(group)} are the same group: both normalise to "${key}" (PEP 685)`,
        'merge them into one group',
      );
    }
    written.set(key, group);
    groups[key] = readRequirementArray(value, `project.optional-dependencies.${group}`, file, locator, groupAt ?? tableAt);
  }
  return groups;
}

function withMarker(req: PythonRequirement, outer: Requirement): PythonRequirement {
  const marker = andMarkers(outer.marker, req.requirement.marker);
  if (!marker || marker === req.requirement.marker) return req;
  return {
    ...req,
    requirement: { ...req.requirement, marker, markerText: formatMarker(marker) },
  };
}

/**
 * The requirements to lock for a pyproject: `dependencies` plus the named optional groups, in that order.
 * A group that requires the project itself with extras (`all = ["myproject[gpu,dev]"]`, a common idiom)
 * is expanded into those groups, with the requirement's marker applied to what it brings in; a bare
 * self-reference adds nothing (the project's own code is copied into the image, not installed from an
 * index). Throws `manifest.pyproject.unknown-group` naming the groups that exist.
 */
export function selectPyprojectGroups(pyproject: PyprojectManifest, groups: readonly string[]): PythonRequirement[] {
  const self = pyproject.name === undefined ? null : normalizeName(pyproject.name);
  const known = Object.keys(pyproject.optionalDependencies).sort();
  const fail = (group: string, via: string | null): never => {
    if (pyproject.dynamic.includes('optional-dependencies')) {
      throw inputError(
        'manifest.pyproject.dynamic',
        `${pyproject.file}: optional dependency group "${group}" cannot be read: project.dynamic lists "optional-dependencies", so the build backend computes them`,
        { hint: 'declare the groups statically under [project.optional-dependencies], or use a requirements file' },
      );
    }
    const inGroups = pyproject.dependencyGroups.some((g) => normalizeName(g) === normalizeName(group));
    throw inputError(
      'manifest.pyproject.unknown-group',
      `${pyproject.file}: no optional dependency group "${group}"${via ? ` (requested by ${via})` : ''}; ` +
        (known.length > 0 ? `the groups are: ${known.join(', ')}` : 'the project declares no optional dependency groups'),
      {
        hint: inGroups
          ? `"${group}" is a PEP 735 [dependency-groups] group, not an extra: select it with python.pyproject.groups (it goes to the dev image)`
          : known.length > 0
            ? 'use one of those groups, or add the group under [project.optional-dependencies]'
            : 'add the group under [project.optional-dependencies], or stop asking for it in the spec',
      },
    );
  };

  const out: PythonRequirement[] = [];
  const seen = new Set<string>();
  const add = (req: PythonRequirement): void => {
    const key = `${req.source.file}:${req.source.line}:${JSON.stringify(req.requirement)}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(req);
    }
  };
  const expanding = new Set<string>();
  const addList = (reqs: readonly PythonRequirement[]): void => {
    for (const req of reqs) {
      if (self !== null && req.requirement.normalizedName === self) {
        const via = `${req.source.file}:${req.source.line}`;
        for (const extra of req.requirement.extras) {
          const group = pyproject.optionalDependencies[extra];
          if (!group) return fail(extra, via);
          if (expanding.has(extra)) continue; // groups that include each other: each is taken once
          expanding.add(extra);
          addList(group.map((r) => withMarker(r, req.requirement)));
          expanding.delete(extra);
        }
        continue;
      }
      add(req);
    }
  };

  addList(pyproject.dependencies);
  for (const group of groups) {
    const key = normalizeName(group);
    const reqs = pyproject.optionalDependencies[key];
    if (!reqs) return fail(group, null);
    expanding.add(key);
    addList(reqs);
    expanding.delete(key);
  }
  return out;
}
