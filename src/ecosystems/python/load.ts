/**
 * The python wing's declared inputs: requirement and constraint files, inline requirements, pyproject.toml
 * groups and index settings from envseal.yaml, normalised into one list with where each came from.
 */
import { describeError, inputError } from '../../core/errors.js';
import { compareText, sortedUnique } from '../../core/order.js';
import type { LoadContext } from '../types.js';
import { posix } from 'node:path';
import { loadRequirementsFile, type PythonRequirement, type ReadFile } from './manifests/requirements.js';
import { checkDirectUrl } from './manifests/direct-url.js';
import { maskUrlCredentials } from '../../core/url-credentials.js';
import { normalizeName } from './pep/names.js';
import { findRequirementProblem, formatRequirement, parseRequirement } from './pep/requirement.js';
import type { ImportedLock } from './lockfiles/types.js';
import { ALL, DEFAULT_INDEX, DEV, dedupeUrls, type Targets } from './load-common.js';
import type { DeclaredRequirement, PythonDeclared, PythonDevSpec, PythonSpec } from './schema.js';

// pyproject.toml, environment.yml and imported locks (python.lockfile) are parsed by modules loaded only for
// projects that use them: their parsers (smol-toml, yaml) are a good share of a plain `verify`'s start-up.

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
  if (py?.lockfile) return (await import('./load-imported.js')).loadImported(py, dev, ctx);
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
    const { parsePyproject, selectPyprojectGroups } = await import('./manifests/pyproject.js');
    const { poetryIndexes, selectPoetryGroups } = await import('./manifests/poetry.js');
    const manifest = parsePyproject(text, ref.path);
    addAll(acc, selectPyprojectGroups(manifest, ref.extras), 'requirement', ALL);
    if (manifest.poetry) {
      addAll(acc, selectPoetryGroups(manifest.poetry, ref.groups), 'requirement', DEV);
      const sources = poetryIndexes(manifest.poetry);
      acc.fileIndexes.push(...sources.indexes);
      Object.assign(pinned, sources.pinned);
      if (manifest.poetry.python) requiresPython ??= { specifier: manifest.poetry.python, source: `${ref.path} (tool.poetry.dependencies.python)` };
    } else if (ref.groups.length) {
      // PEP 735 [dependency-groups] (uv's `--group`), like Poetry groups: the dev image only.
      const { selectDependencyGroups } = await import('./manifests/dependency-groups.js');
      addAll(acc, selectDependencyGroups(text, ref.path, ref.groups), 'requirement', DEV);
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
  const { parseCondaEnvironment } = await import('./manifests/conda-env.js');
  const env = parseCondaEnvironment(text, rel);
  if (env.pipText) {
    const self = posix.normalize(rel);
    await loadRequirementFile(acc, ctx, rel, 'python.environment', ALL, false, async (p) =>
      p === self ? env.pipText : ctx.readManifest(p, 'python.environment'),
    );
  }
  return env.python?.specifier ? { specifier: env.python.specifier, source: rel } : null;
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
