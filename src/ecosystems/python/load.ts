/**
 * The python wing's declared inputs: requirement and constraint files, inline requirements, pyproject.toml
 * groups and index settings from envseal.yaml, normalised into one list with where each came from.
 */
import { createHash } from 'node:crypto';
import { describeError, inputError } from '../../core/errors.js';
import { compareText, sortedUnique } from '../../core/order.js';
import type { LoadContext } from '../types.js';
import { posix } from 'node:path';
import { loadRequirementsFile, type PythonRequirement, type ReadFile } from './manifests/requirements.js';
import { parseCondaEnvironment } from './manifests/conda-env.js';
import { checkDirectUrl } from './manifests/direct-url.js';
import { maskUrlCredentials } from '../../core/url-credentials.js';
import { parsePyproject, type PyprojectManifest, selectPyprojectGroups } from './manifests/pyproject.js';
import { poetryIndexes, selectPoetryGroups } from './manifests/poetry.js';
import { normalizeName } from './pep/names.js';
import { findRequirementProblem, formatRequirement, parseRequirement } from './pep/requirement.js';
import { parseImportedLock } from './lockfiles/read.js';
import type { ImportedLock, PipfileLock, PoetryLock } from './lockfiles/types.js';
import { lockPins, useCredentials } from './lockfiles/pins.js';
import { checkPoetryFresh } from './lockfiles/poetry-lock.js';
import { checkPipfileFresh } from './lockfiles/pipfile-lock.js';
import { parseTomlLock } from './lockfiles/toml-values.js';
import { checkUvFresh, pyprojectInputs, uvRecordedInputs } from './lockfiles/uv.js';
import { readDependencyGroups } from './manifests/dependency-groups.js';
import type { DeclaredRequirement, ImportedLockRef, PythonDeclared, PythonDevSpec, PythonSpec } from './schema.js';

export const DEFAULT_INDEX = 'https://pypi.org/simple';

type Targets = DeclaredRequirement['targets'];
const ALL: Targets = ['deploy', 'dev'];
const DEV: Targets = ['dev'];

interface Collected {
  requirements: DeclaredRequirement[];
  fileIndexes: string[];
  options: Record<string, string | boolean | string[]>;
}

export interface LoadedPython {
  declared: PythonDeclared;
  /** The parsed lock `python.lockfile` names, when it does. */
  imported?: ImportedLock;
}

export async function loadPython(py: PythonSpec | undefined, dev: PythonDevSpec | undefined, ctx: LoadContext): Promise<LoadedPython | null> {
  if (!py && !dev) return null;
  if (py?.lockfile) return loadImported(py, dev, ctx);
  const declared = await loadDeclared(py, dev, ctx);
  return { declared };
}

async function loadDeclared(py: PythonSpec | undefined, dev: PythonDevSpec | undefined, ctx: LoadContext): Promise<PythonDeclared> {
  const acc: Collected = { requirements: [], fileIndexes: [], options: {} };
  for (const [i, rel] of (py?.requirements ?? []).entries()) await loadRequirementFile(acc, ctx, rel, `python.requirements.${i}`, ALL, false);
  for (const [i, rel] of (py?.constraints ?? []).entries()) await loadRequirementFile(acc, ctx, rel, `python.constraints.${i}`, ALL, true);
  addInline(acc, ctx.specFile, py?.packages ?? [], 'python.packages', ALL);
  let requiresPython = py?.environment ? await loadCondaEnvironment(acc, ctx, py.environment) : null;
  const pinned: Record<string, string> = {};
  if (py?.pyproject) {
    const ref = typeof py.pyproject === 'string' ? { path: py.pyproject, extras: [] as string[], groups: [] as string[] } : py.pyproject;
    const text = await ctx.readManifest(ref.path, 'python.pyproject');
    const manifest = parsePyproject(text, ref.path);
    addAll(acc, selectPyprojectGroups(manifest, ref.extras), 'requirement', ALL);
    if (manifest.poetry) {
      addAll(acc, selectPoetryGroups(manifest.poetry, ref.groups), 'requirement', DEV);
      const sources = poetryIndexes(manifest.poetry);
      acc.fileIndexes.push(...sources.indexes);
      Object.assign(pinned, sources.pinned);
      if (manifest.poetry.python) requiresPython ??= { specifier: manifest.poetry.python, source: `${ref.path} (tool.poetry.dependencies.python)` };
    } else if (ref.groups.length) {
      throw inputError('python.pyproject-groups', `${ctx.specFile}: python.pyproject.groups applies to Poetry projects; ${ref.path} has no [tool.poetry]`, {
        hint: 'select [project.optional-dependencies] with python.pyproject.extras',
      });
    }
  }
  for (const [i, rel] of (dev?.requirements ?? []).entries()) await loadRequirementFile(acc, ctx, rel, `targets.dev.python.requirements.${i}`, DEV, false);
  addInline(acc, ctx.specFile, dev?.packages ?? [], 'targets.dev.python.packages', DEV);

  const packageIndexes: Record<string, string> = {};
  for (const [name, url] of Object.entries({ ...pinned, ...py?.packageIndexes }))
    packageIndexes[normalizeName(name)] = ctx.credentials.addFromUrl(url).replace(/\/+$/, '');
  const primary = dedupeUrls([...(py?.index ? [py.index] : []), ...acc.fileIndexes, ...(py?.extraIndexes ?? [])].map((u) => ctx.credentials.addFromUrl(u)));
  // Pinned indexes go last: they serve only their own projects, but pip in the image must be able to reach them.
  const indexes = dedupeUrls([...(primary.length ? primary : [DEFAULT_INDEX]), ...Object.values(packageIndexes)]);
  return {
    interpreter: py?.interpreter ?? 'python3',
    indexes,
    venv: py?.venv ?? 'auto',
    systemSitePackages: py?.systemSitePackages ?? false,
    packageIndexes,
    ...(py?.excludeNewer ? { excludeNewer: new Date(py.excludeNewer).toISOString().replace(/\.000Z$/, 'Z') } : {}),
    requirements: acc.requirements,
    options: acc.options,
    ...(requiresPython ? { requiresPython } : {}),
  };
}

/** environment.yml: its `pip:` lines as a requirements file (includes relative to it); its `python` version. */
async function loadCondaEnvironment(acc: Collected, ctx: LoadContext, rel: string): Promise<PythonDeclared['requiresPython'] | null> {
  const text = await ctx.readManifest(rel, 'python.environment');
  const env = parseCondaEnvironment(text, rel);
  if (env.pipText) {
    const self = posix.normalize(rel);
    await loadRequirementFile(acc, ctx, rel, 'python.environment', ALL, false, async (p) =>
      p === self ? env.pipText : ctx.readManifest(p, 'python.environment'),
    );
  }
  return env.python?.specifier ? { specifier: env.python.specifier, source: rel } : null;
}

/** `python.lockfile`: the lock is the only source of packages; a pyproject.toml next to it is checked against it. */
async function loadImported(py: PythonSpec, dev: PythonDevSpec | undefined, ctx: LoadContext): Promise<LoadedPython> {
  const ref = typeof py.lockfile === 'string' ? { path: py.lockfile, groups: [] as string[], extras: [] as string[] } : py.lockfile!;
  const mixed = [
    ...(py.requirements.length ? ['python.requirements'] : []),
    ...(py.constraints.length ? ['python.constraints'] : []),
    ...(py.packages.length ? ['python.packages'] : []),
    ...(py.environment ? ['python.environment'] : []),
    ...(py.excludeNewer ? ['python.excludeNewer'] : []),
    ...(Object.keys(py.packageIndexes).length ? ['python.packageIndexes'] : []),
    ...(dev?.requirements.length || dev?.packages.length ? ['targets.dev.python'] : []),
  ];
  if (mixed.length) {
    throw inputError(
      'python.import-conflict',
      `${ctx.specFile}: python.lockfile (${ref.path}) is followed pin for pin, so ${mixed.join(', ')} would be ignored`,
      {
        hint: `add those packages to the project and regenerate ${ref.path}, or drop python.lockfile to let envseal resolve`,
      },
    );
  }
  const text = await ctx.readManifest(ref.path, 'python.lockfile');
  const lock = parseImportedLock(text, ref.path);
  useCredentials(lock, (u) => ctx.credentials.addFromUrl(u).replace(/\/+$/, ''));
  const pyproject = await loadLockPyproject(py, lock, ctx);
  const imported: ImportedLockRef = {
    path: ref.path,
    kind: lock.kind,
    sha256: createHash('sha256').update(text).digest('hex'),
    groups: ref.groups,
    extras: ref.extras,
    ...(pyproject ? { pyproject } : {}),
  };
  const fromSpec = [...(py.index ? [py.index] : []), ...py.extraIndexes].map((u) => ctx.credentials.addFromUrl(u));
  const pins = lockPins(lock);
  const lockIndexes = pins.flatMap((p) => (p.index ? [p.index] : []));
  // A poetry.lock package without [package.source] came from PyPI (unless the spec names the index to use).
  const pypi = lock.kind === 'poetry' && !fromSpec.length && pins.some((p) => !p.index) ? [DEFAULT_INDEX] : [];
  const indexes = dedupeUrls([...fromSpec, ...pypi, ...lockIndexes]);
  const declared: PythonDeclared = {
    interpreter: py.interpreter,
    indexes: indexes.length ? indexes : [DEFAULT_INDEX],
    venv: py.venv,
    systemSitePackages: py.systemSitePackages,
    packageIndexes: {},
    // One pin per package of the lock (all files' hashes), so drift names the packages that changed.
    requirements: pins.map((p) => ({
      requirement: `${p.name}==${p.version}`,
      hashes: p.hashes.map((h) => `sha256:${h}`),
      source: ref.path,
      kind: 'requirement' as const,
      targets: ALL,
    })),
    options: {},
    imported,
  };
  return { declared, imported: lock };
}

/**
 * The pyproject.toml an imported lock is checked against: the one the spec names, else (uv.lock, which always
 * sits next to its project) `pyproject.toml` when present. A uv.lock is checked here: its `[package.metadata]`
 * must equal what pyproject.toml declares now.
 */
async function loadLockPyproject(py: PythonSpec, lock: ImportedLock, ctx: LoadContext): Promise<ImportedLockRef['pyproject']> {
  const pref = typeof py.pyproject === 'string' ? { path: py.pyproject, extras: [] as string[] } : py.pyproject;
  if (lock.kind === 'pipfile') return loadPipfile(lock, ctx);
  const text = pref
    ? await ctx.readManifest(pref.path, 'python.pyproject')
    : lock.kind === 'poetry'
      ? await ctx.readManifest(posix.join(posix.dirname(lock.path), 'pyproject.toml'), 'python.lockfile')
      : lock.kind === 'uv'
        ? await ctx.readOptional('pyproject.toml')
        : null;
  if (text === null) return undefined;
  const path = pref?.path ?? (lock.kind === 'poetry' ? posix.join(posix.dirname(lock.path), 'pyproject.toml') : 'pyproject.toml');
  const parsed = parsePyproject(text, path);
  if (lock.kind === 'poetry') return followPoetry(lock, parsed, parseTomlLock(text, path), path);
  if (lock.kind === 'pylock') return { path, requirements: selectPyprojectGroups(parsed, pref?.extras ?? []).map((r) => formatRequirement(r.requirement)) };
  const plain = (rs: PythonRequirement[]) => rs.map((r) => r.requirement);
  const optional = Object.fromEntries(Object.entries(parsed.optionalDependencies).map(([g, rs]) => [g, plain(rs)]));
  const current = pyprojectInputs(plain(parsed.dependencies), optional, readDependencyGroups(text, path));
  checkUvFresh(lock, uvRecordedInputs(lock), current, path);
  return { path, requirements: current };
}

/** A poetry.lock starts from its project's requirements and must carry the content-hash of pyproject.toml. */
function followPoetry(lock: PoetryLock, parsed: PyprojectManifest, doc: Record<string, unknown>, path: string): ImportedLockRef['pyproject'] {
  checkPoetryFresh(lock, doc, path);
  const plain = (rs: PythonRequirement[]) => rs.map((r) => r.requirement);
  const mapped = (groups: Record<string, PythonRequirement[]>) => Object.fromEntries(Object.entries(groups).map(([g, rs]) => [g, plain(rs)]));
  lock.roots = { file: path, main: plain(parsed.dependencies), extras: mapped(parsed.optionalDependencies), groups: mapped(parsed.poetry?.groups ?? {}) };
  return { path, requirements: [`content-hash ${lock.contentHash}`] };
}

/** A Pipfile.lock is checked against the Pipfile next to it (`_meta.hash`). */
async function loadPipfile(lock: PipfileLock, ctx: LoadContext): Promise<ImportedLockRef['pyproject']> {
  const path = lock.path.replace(/\.lock$/, '');
  const text = await ctx.readManifest(path, 'python.lockfile');
  checkPipfileFresh(lock, parseTomlLock(text, path), path);
  return { path, requirements: [`sha256 ${lock.pipfileHash}`] };
}

function addAll(acc: Collected, reqs: PythonRequirement[], kind: DeclaredRequirement['kind'], targets: Targets): void {
  for (const r of reqs) acc.requirements.push({ requirement: formatRequirement(r.requirement), hashes: r.hashes, source: r.source.file, kind, targets });
}

async function loadRequirementFile(
  acc: Collected,
  ctx: LoadContext,
  rel: string,
  listedAt: string,
  targets: Targets,
  asConstraints: boolean,
  read: ReadFile = async (p) => ctx.readManifest(p, listedAt),
): Promise<void> {
  const loaded = await loadRequirementsFile(rel, read);
  addAll(acc, loaded.requirements, asConstraints ? 'constraint' : 'requirement', targets);
  addAll(acc, loaded.constraints, 'constraint', targets);
  if (loaded.indexUrl) acc.fileIndexes.push(loaded.indexUrl);
  acc.fileIndexes.push(...loaded.extraIndexUrls);
  for (const [k, v] of Object.entries(loaded.options)) if (v !== undefined) acc.options[k] = v as string | boolean | string[];
}

function addInline(acc: Collected, specFile: string, texts: string[], listedAt: string, targets: Targets): void {
  texts.forEach((text, i) => {
    let req;
    try {
      req = parseRequirement(text);
      const problem = findRequirementProblem(req);
      if (problem) throw new Error(problem);
    } catch (err) {
      throw inputError('spec.invalid', `${specFile}: ${listedAt}.${i}: invalid requirement "${text}": ${describeError(err)}`);
    }
    const direct = req.url !== undefined ? checkDirectUrl(req.name, req.url) : null;
    if (direct && !direct.ok) {
      throw inputError('manifest.direct-url', maskUrlCredentials(`${specFile}: ${listedAt}.${i}: direct URL requirement "${text}": ${direct.problem}`), {
        hint: direct.hint,
      });
    }
    acc.requirements.push({ requirement: formatRequirement(req), hashes: [], source: specFile, kind: 'requirement', targets });
  });
}

/** Requirements in the order the input hash is taken in (hashes sorted, not deduplicated: as in lock version 1). */
export function normalizePythonDeclared(declared: PythonDeclared): PythonDeclared {
  const key = (r: DeclaredRequirement) => [r.kind, r.requirement, r.source, r.targets.join()].join('\u0000');
  return {
    ...declared,
    requirements: declared.requirements
      .map((r) => ({ ...r, hashes: [...r.hashes].sort(), targets: [...r.targets].sort() }))
      .sort((a, b) => compareText(key(a), key(b))),
  };
}

/** Requirements in the order the lock file stores them. */
export function canonicalPythonDeclared(declared: PythonDeclared): PythonDeclared {
  return {
    ...declared,
    requirements: [...declared.requirements]
      .map((r) => ({ ...r, hashes: [...r.hashes].sort(compareText), targets: sortedUnique(r.targets) }))
      .sort(
        (a, b) =>
          compareText(a.kind, b.kind) ||
          compareText(a.requirement, b.requirement) ||
          compareText(a.source, b.source) ||
          compareText(a.targets.join(), b.targets.join()),
      ),
  };
}

function dedupeUrls(items: string[]): string[] {
  return [...new Set(items.map((u) => u.replace(/\/+$/, '')))];
}
