/**
 * `python.lockfile`: an imported lock (uv.lock, poetry.lock, Pipfile.lock, pylock.toml) as the python wing's
 * declared inputs, checked against the project file next to it. Loaded only for projects that name one.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { inputError } from '../../core/errors.js';
import type { LoadContext } from '../types.js';
import type { PythonRequirement } from './manifests/requirements.js';
import { parsePyproject, type PyprojectManifest, selectPyprojectGroups } from './manifests/pyproject.js';
import { formatRequirement } from './pep/requirement.js';
import { parseImportedLock } from './lockfiles/read.js';
import type { ImportedLock, PipfileLock, PoetryLock } from './lockfiles/types.js';
import { lockPins, useCredentials } from './lockfiles/pins.js';
import { checkPoetryFresh } from './lockfiles/poetry-lock.js';
import { checkPipfileFresh } from './lockfiles/pipfile-lock.js';
import { parseTomlLock } from './lockfiles/toml-values.js';
import { checkUvFresh, pyprojectInputs, uvRecordedInputs } from './lockfiles/uv.js';
import { readDependencyGroups } from './manifests/dependency-groups.js';
import { ALL, DEFAULT_INDEX, dedupeUrls } from './load-common.js';
import type { ImportedLockRef, PythonDeclared, PythonDevSpec, PythonSpec } from './schema.js';

/** `python.lockfile`: the lock is the only source of packages; a pyproject.toml next to it is checked against it. */
export async function loadImported(
  py: PythonSpec,
  dev: PythonDevSpec | undefined,
  ctx: LoadContext,
): Promise<{ declared: PythonDeclared; imported: ImportedLock }> {
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
