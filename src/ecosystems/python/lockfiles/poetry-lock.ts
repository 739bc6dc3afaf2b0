/**
 * Poetry's `poetry.lock` (lock-version 2.x) read and followed. A Poetry lock is universal and records no
 * roots, so (as `poetry install` does) the walk starts from the project's dependencies in pyproject.toml and
 * follows each package's `[package.dependencies]` whose markers / `python` constraint hold for the target,
 * with the extras the edges ask for (`[package.extras]`); a name locked at several versions is told apart by
 * the edge's constraint. Files are `files = [{ file, hash = "sha256:…" }]`; `[package.source]` names the index.
 * Staleness: `[metadata] content-hash` is compared with the hash Poetry computes from pyproject.toml
 * (`poetryContentHash`). Pure.
 */
import { createHash } from 'node:crypto';
import { inputError } from '../../../core/errors.js';
import { PoetryConstraintError, poetryAlternatives, pythonConstraintToMarker } from '../manifests/poetry-constraint.js';
import { evaluateMarker, type MarkerEnvironment } from '../pep/marker.js';
import { normalizeName } from '../pep/names.js';
import type { Requirement } from '../pep/requirement.js';
import { containsVersion } from '../pep/specifier.js';
import { pythonJsonDumps } from './python-json.js';
import { invalid, isTable, type Table } from './toml-values.js';
import type { ImportedFile, ImportedPackage, PoetryDependency, PoetryLock, PoetryLockPackage, PoetryRoots } from './types.js';

const str = (t: Table, k: string) => (typeof t[k] === 'string' ? (t[k] as string) : undefined);

function translate<T>(text: string, what: string, path: string, fn: (t: string) => T): T {
  try {
    return fn(text);
  } catch (err) {
    if (err instanceof PoetryConstraintError) invalid(path, `${what}: ${err.message}`);
    throw err;
  }
}

function readDependency(name: string, value: unknown, where: string, path: string): PoetryDependency[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => readDependency(name, v, `${where}[${i}]`, path));
  const t: Table = typeof value === 'string' ? { version: value } : isTable(value) ? value : invalid(path, `${where} must be a string or a table`);
  const markers = [str(t, 'markers'), str(t, 'python') ? translate(str(t, 'python')!, `${where}.python`, path, pythonConstraintToMarker) : undefined]
    .filter((m): m is string => !!m)
    .map((m) => `(${m})`);
  const extras = Array.isArray(t.extras) ? t.extras.filter((e): e is string => typeof e === 'string').map(normalizeName) : [];
  return [
    {
      name: normalizeName(name),
      specifiers: translate(str(t, 'version') ?? '*', where, path, poetryAlternatives),
      ...(markers.length ? { marker: markers.join(' and ') } : {}),
      optional: t.optional === true,
      extras,
    },
  ];
}

function readFiles(value: unknown, where: string, path: string): ImportedFile[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) invalid(path, `${where}.files must be an array of tables`);
  return value.map((f, i) => {
    if (!isTable(f) || typeof f.file !== 'string') invalid(path, `${where}.files[${i}] has no file name`);
    const m = /^sha256:([0-9a-fA-F]{64})$/.exec(str(f, 'hash') ?? '');
    if (!m) invalid(path, `${where}: ${f.file} has no sha256 hash`);
    return { filename: f.file, sha256: m[1]!.toLowerCase() };
  });
}

function readPackage(t: unknown, i: number, path: string): PoetryLockPackage {
  if (!isTable(t) || !str(t, 'name') || !str(t, 'version')) invalid(path, `package[${i}] needs a name and a version`);
  const name = normalizeName(str(t, 'name')!);
  const where = `package ${name}`;
  const source = isTable(t.source) ? t.source : {};
  const sourceType = str(source, 'type') ?? 'pypi';
  const deps = isTable(t.dependencies) ? t.dependencies : {};
  const extras = isTable(t.extras) ? t.extras : {};
  return {
    name,
    version: str(t, 'version')!,
    sourceType,
    ...(sourceType === 'legacy' && str(source, 'url') ? { index: str(source, 'url')!.replace(/\/+$/, '') } : {}),
    pythonVersions: translate(str(t, 'python-versions') ?? '*', `${where} python-versions`, path, poetryAlternatives),
    files: readFiles(t.files, where, path),
    dependencies: Object.entries(deps).flatMap(([n, v]) => readDependency(n, v, `${where} dependencies.${n}`, path)),
    extras: Object.fromEntries(
      Object.entries(extras).map(([e, list]) => [
        normalizeName(e),
        Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string').map((x) => normalizeName(x.split(/[\s[(<>=!~^;]/)[0]!)) : [],
      ]),
    ),
  };
}

/** A parsed TOML document read as a poetry.lock. Throws `python.import-invalid` naming the file. */
export function readPoetryLock(doc: Table, path: string): PoetryLock {
  const metadata = isTable(doc.metadata) ? doc.metadata : invalid(path, 'has no [metadata] table: is it a poetry.lock?');
  const version = str(metadata, 'lock-version');
  if (!version || !/^2(\.\d+)*$/.test(version)) {
    throw inputError(
      'python.import-invalid',
      `${path}: lock-version ${JSON.stringify(version ?? null)} is not supported (envseal reads poetry.lock lock-version 2.x)`,
      {
        hint: 'regenerate it with Poetry 1.3 or later (`poetry lock`)',
      },
    );
  }
  if (!Array.isArray(doc.package ?? [])) invalid(path, 'package must be an array of tables ([[package]])');
  const requiresPython = str(metadata, 'python-versions');
  return {
    kind: 'poetry',
    path,
    lockVersion: version,
    contentHash: str(metadata, 'content-hash') ?? '',
    pythonVersions: translate(requiresPython ?? '*', 'metadata.python-versions', path, poetryAlternatives),
    packages: ((doc.package ?? []) as unknown[]).map((p, i) => readPackage(p, i, path)),
  };
}

/**
 * Poetry's `content-hash`: sha256 of `json.dumps(relevant, sort_keys=True)` where `relevant` is `[tool.poetry]`'s
 * `dependencies`, `source`, `extras`, `dev-dependencies` (null when absent) and `group` (when present); with
 * Poetry 2's `[project]` content (`requires-python`, `dependencies`, `optional-dependencies`) the `[tool.poetry]`
 * keys nest under `tool.poetry`, the project's under `project`, and `[dependency-groups]` is added.
 */
export function poetryContentHash(pyproject: Table): string {
  const tool = isTable(pyproject.tool) && isTable(pyproject.tool.poetry) ? pyproject.tool.poetry : {};
  const project = isTable(pyproject.project) ? pyproject.project : {};
  const relevantProject: Table = {};
  for (const k of ['requires-python', 'dependencies', 'optional-dependencies']) if (project[k] !== undefined) relevantProject[k] = project[k];
  const hasProject = Object.keys(relevantProject).length > 0;
  const relevantPoetry: Table = {};
  for (const k of ['dependencies', 'source', 'extras', 'dev-dependencies', 'group']) {
    const legacy = k !== 'group';
    if (tool[k] === undefined && (!legacy || hasProject)) continue;
    relevantPoetry[k] = tool[k] ?? null;
  }
  let relevant: Table = relevantPoetry;
  if (hasProject) {
    relevant = { project: relevantProject, tool: { poetry: relevantPoetry } };
    if (isTable(pyproject['dependency-groups']) && Object.keys(pyproject['dependency-groups']).length)
      relevant['dependency-groups'] = pyproject['dependency-groups'];
  }
  return createHash('sha256').update(pythonJsonDumps(relevant)).digest('hex');
}

/** Throws `python.import-stale` (exit 2) when the lock's content-hash is not pyproject.toml's. */
export function checkPoetryFresh(lock: PoetryLock, pyproject: Table, pyprojectPath: string): void {
  const now = poetryContentHash(pyproject);
  if (now === lock.contentHash) return;
  throw inputError(
    'python.import-stale',
    `${lock.path} is stale against ${pyprojectPath}: its content-hash is ${lock.contentHash || 'missing'}, the dependencies, sources, extras and groups of ${pyprojectPath} hash to ${now}`,
    { hint: `run \`poetry lock\` to bring ${lock.path} up to date with ${pyprojectPath}` },
  );
}

/** Whether a version satisfies one of the alternatives (`''`: any). */
export function inAlternatives(alternatives: readonly string[], version: string): boolean {
  return alternatives.some((a) => !a || containsVersion(a, version, { prereleases: true }));
}

function pick(lock: PoetryLock, name: string, specifiers: string[], from: string): PoetryLockPackage {
  const specifier = specifiers.filter((s) => s).join(' || ');
  let candidates = lock.packages.filter((p) => p.name === name);
  if (candidates.length > 1) candidates = candidates.filter((p) => inAlternatives(specifiers, p.version));
  if (candidates.length !== 1) {
    throw inputError(
      'python.import-stale',
      `${lock.path}: ${from} requires ${name}${specifier}, which the lock holds ${candidates.length ? `${candidates.length} times` : 'nowhere'}`,
      { hint: `run \`poetry lock\` to bring ${lock.path} up to date` },
    );
  }
  return candidates[0]!;
}

/**
 * The packages of the lock installed on the target for the roots (the project's dependencies and the selected
 * extras/groups). Throws `python.import-unknown-group`, `python.import-unsupported`, `python.import-stale`.
 */
export function poetryApplicable(
  lock: PoetryLock,
  roots: PoetryRoots,
  env: MarkerEnvironment,
  sel: { groups: readonly string[]; extras: readonly string[] },
): ImportedPackage[] {
  const python = env.python_full_version;
  if (!inAlternatives(lock.pythonVersions, python)) {
    throw inputError('python.import-wrong-target', `${lock.path} is for Python ${lock.pythonVersions.join(' || ')}, but the target has ${python}`, {
      hint: `regenerate ${lock.path} for this Python (tool.poetry.dependencies.python), or choose a base image whose Python it admits`,
    });
  }
  for (const [asked, known, what] of [
    [sel.groups, roots.groups, 'dependency group'],
    [sel.extras, roots.extras, 'extra'],
  ] as const) {
    const unknown = asked.map(normalizeName).filter((g) => !known[g]);
    if (unknown.length) {
      throw inputError(
        'python.import-unknown-group',
        `${roots.file} has no Poetry ${what} ${unknown.join(', ')} (it has: ${Object.keys(known).sort().join(', ') || 'none'})`,
        {
          hint: `choose among the project's ${what}s in python.lockfile, or add it to ${roots.file} and run \`poetry lock\``,
        },
      );
    }
  }
  const start: Requirement[] = [
    ...roots.main,
    ...sel.extras.flatMap((e) => roots.extras[normalizeName(e)]!),
    ...sel.groups.flatMap((g) => roots.groups[normalizeName(g)]!),
  ];
  const seen = new Map<PoetryLockPackage, Set<string>>();
  const queue: [PoetryLockPackage, string[]][] = [];
  for (const r of start) {
    if (r.marker && !evaluateMarker(r.marker, env)) continue;
    queue.push([pick(lock, r.normalizedName, [r.specifier], roots.file), r.extras]);
  }
  while (queue.length) {
    const [pkg, extras] = queue.shift()!;
    const done = seen.get(pkg);
    const fresh = done ? extras.filter((e) => !done.has(e)) : extras;
    if (done && !fresh.length) continue;
    seen.set(pkg, new Set([...(done ?? []), ...fresh]));
    const wanted = new Set(fresh.flatMap((e) => pkg.extras[e] ?? []));
    for (const d of pkg.dependencies) {
      if (d.optional ? !wanted.has(d.name) : done) continue;
      if (d.marker && !evaluateMarker(d.marker, env, { extras: [...(seen.get(pkg) ?? [])] })) continue;
      queue.push([pick(lock, d.name, d.specifiers, `package ${pkg.name}`), d.extras]);
    }
  }
  return [...seen.keys()].map((pkg) => {
    if (!['pypi', 'legacy'].includes(pkg.sourceType)) {
      throw inputError(
        'python.import-unsupported',
        `${lock.path}: package ${pkg.name} comes from a ${pkg.sourceType} source; envseal installs from indexes only`,
        {
          hint: 'publish the package to an index (a local one works), depend on it from there, and run `poetry lock`',
        },
      );
    }
    if (!inAlternatives(pkg.pythonVersions, python)) {
      throw inputError(
        'python.import-wrong-target',
        `${lock.path}: package ${pkg.name} ${pkg.version} requires Python ${pkg.pythonVersions.join(' || ')}, the target has ${python}`,
        {
          hint: `regenerate ${lock.path} with \`poetry lock\` for this Python`,
        },
      );
    }
    const wheels = pkg.files.filter((f) => f.filename.endsWith('.whl'));
    const sdist = pkg.files.find((f) => !f.filename.endsWith('.whl'));
    return {
      name: pkg.name,
      version: pkg.version,
      ...(pkg.index ? { index: pkg.index } : {}),
      wheels,
      ...(sdist ? { sdist } : {}),
    };
  });
}
