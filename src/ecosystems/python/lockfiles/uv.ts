/**
 * uv.lock (version 1) read and followed: a universal lock, so what applies to the target is found by walking
 * the dependency graph from the project (the `editable`/`virtual` packages) through the edges whose markers
 * hold for the target, with the selected extras and dev groups; a name locked at several versions is told
 * apart by the edge's version/source or the packages' `resolution-markers`. Staleness: the project's
 * `[package.metadata]` (`requires-dist`, `requires-dev`) must equal what pyproject.toml declares now. Pure.
 */
import { inputError } from '../../../core/errors.js';
import { evaluateMarker, type MarkerEnvironment } from '../pep/marker.js';
import { normalizeName } from '../pep/names.js';
import { formatSpecifierSet, tryParseSpecifierSet } from '../pep/specifier.js';
import { invalid, isTable, type Table } from './toml-values.js';
import type { ImportedFile, ImportedGit, ImportedPackage, UvDependency, UvLock, UvPackage, UvRequirement } from './types.js';

const LOCAL_SOURCES = ['editable', 'virtual', 'directory', 'path'];

function strOf(t: Table, key: string): string | undefined {
  return typeof t[key] === 'string' ? (t[key] as string) : undefined;
}

function listOf(value: unknown, what: string, path: string): Table[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every(isTable)) invalid(path, `${what} must be an array of tables`);
  return value as Table[];
}

function readUvFile(value: unknown, what: string, path: string, sourceUrl?: string): ImportedFile {
  if (!isTable(value)) invalid(path, `${what} must be a table`);
  // A package from `source = { url = "…/x.tar.gz" }` gives its sdist table a hash but no url: the source URL.
  const url = strOf(value, 'url') ?? strOf(value, 'path') ?? sourceUrl;
  const hash = strOf(value, 'hash');
  if (!url) invalid(path, `${what} has no url`);
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(hash ?? '');
  if (!m) invalid(path, `${what} (${url}) has no sha256 hash`);
  const size = value.size;
  const uploadTime = value['upload-time'];
  return {
    filename: decodeURIComponent(url.split(/[?#]/)[0]!.split('/').pop()!),
    url,
    sha256: m[1]!.toLowerCase(),
    ...(typeof size === 'number' && Number.isInteger(size) && size >= 0 ? { size } : {}),
    ...(uploadTime instanceof Date ? { uploadTime: uploadTime.toISOString().replace(/\.000Z$/, 'Z') } : {}),
  };
}

function readDependency(t: Table, what: string, path: string): UvDependency {
  const name = strOf(t, 'name');
  if (!name) invalid(path, `${what} has no name`);
  const source = isTable(t.source) ? t.source : {};
  const extra = t.extra;
  const version = strOf(t, 'version');
  const registry = strOf(source, 'registry');
  const marker = strOf(t, 'marker');
  return {
    name: normalizeName(name),
    ...(version ? { version } : {}),
    ...(registry ? { registry: registry.replace(/\/+$/, '') } : {}),
    ...(marker ? { marker } : {}),
    extras: Array.isArray(extra) ? extra.filter((e): e is string => typeof e === 'string').map(normalizeName) : [],
  };
}

function readGroups(value: unknown, what: string, path: string, read: (t: Table, w: string) => UvDependency | UvRequirement) {
  const out: Record<string, ReturnType<typeof read>[]> = {};
  if (value === undefined) return out;
  if (!isTable(value)) invalid(path, `${what} must be a table`);
  for (const [group, deps] of Object.entries(value))
    out[normalizeName(group)] = listOf(deps, `${what}.${group}`, path).map((d, i) => read(d, `${what}.${group}[${i}]`));
  return out;
}

function readRequirement(t: Table, what: string, path: string): UvRequirement {
  const name = strOf(t, 'name');
  if (!name) invalid(path, `${what} has no name`);
  const specifier = strOf(t, 'specifier');
  const marker = strOf(t, 'marker');
  const extras = Array.isArray(t.extras) ? t.extras.filter((e): e is string => typeof e === 'string').map(normalizeName) : [];
  return { name: normalizeName(name), ...(specifier ? { specifier } : {}), extras, ...(marker ? { marker } : {}) };
}

/** uv's `git = "https://host/repo?rev=main&subdirectory=sub#<commit>"`: the repository, the commit and the subdirectory. */
function readUvGit(value: string | undefined, name: string, path: string): ImportedGit {
  if (!value) invalid(path, `package ${name}: source.git is not a string`);
  const hash = value.indexOf('#');
  const query = value.indexOf('?');
  const end = [query, hash].filter((i) => i !== -1);
  const repo = end.length ? value.slice(0, Math.min(...end)) : value;
  const params = new URLSearchParams(query === -1 ? '' : value.slice(query + 1, hash === -1 || hash < query ? undefined : hash));
  const subdirectory = params.get('subdirectory') ?? undefined;
  return { repo, commit: hash === -1 ? '' : value.slice(hash + 1), ...(subdirectory ? { subdirectory } : {}) };
}

function readUvPackage(t: Table, i: number, path: string): UvPackage {
  const name = strOf(t, 'name');
  if (!name) invalid(path, `package[${i}] has no name`);
  const norm = normalizeName(name);
  const version = strOf(t, 'version') ?? '';
  const source = isTable(t.source) ? t.source : {};
  const sourceKind = Object.keys(source)[0] ?? 'none';
  const registry = strOf(source, 'registry');
  const sourcePath = LOCAL_SOURCES.includes(sourceKind) ? strOf(source, sourceKind) : undefined;
  const sourceUrl = sourceKind === 'url' ? strOf(source, 'url') : undefined;
  if (sourceUrl !== undefined && source.subdirectory !== undefined) {
    throw inputError('python.import-unsupported', `${path}: package ${norm} comes from a subdirectory of the archive ${sourceUrl}; envseal cannot build that`, {
      hint: 'publish the package to an index (a local one works), depend on it from there, and run `uv lock`',
    });
  }
  const sourceGit = sourceKind === 'git' ? readUvGit(strOf(source, 'git'), norm, path) : undefined;
  const where = `package ${norm}`;
  const metadata = isTable(t.metadata) ? t.metadata : {};
  const dep = (d: Table, w: string) => readDependency(d, w, path);
  const req = (d: Table, w: string) => readRequirement(d, w, path);
  return {
    name: norm,
    version,
    ...(registry ? { registry: registry.replace(/\/+$/, '') } : {}),
    sourceKind,
    ...(sourcePath !== undefined ? { sourcePath } : {}),
    ...(sourceUrl !== undefined ? { sourceUrl } : {}),
    ...(sourceGit !== undefined ? { sourceGit } : {}),
    resolutionMarkers: Array.isArray(t['resolution-markers']) ? t['resolution-markers'].filter((m): m is string => typeof m === 'string') : [],
    wheels: listOf(t.wheels, `${where} wheels`, path).map((w, j) => readUvFile(w, `${where} wheels[${j}]`, path)),
    ...(t.sdist !== undefined ? { sdist: readUvFile(t.sdist, `${where} sdist`, path, sourceUrl) } : {}),
    dependencies: listOf(t.dependencies, `${where} dependencies`, path).map((d, j) => dep(d, `${where} dependencies[${j}]`)),
    optional: readGroups(t['optional-dependencies'], `${where} optional-dependencies`, path, dep) as Record<string, UvDependency[]>,
    dev: readGroups(t['dev-dependencies'], `${where} dev-dependencies`, path, dep) as Record<string, UvDependency[]>,
    requiresDist: listOf(metadata['requires-dist'], `${where} metadata.requires-dist`, path).map((d, j) => req(d, `${where} requires-dist[${j}]`)),
    requiresDev: readGroups(metadata['requires-dev'], `${where} metadata.requires-dev`, path, req) as Record<string, UvRequirement[]>,
  };
}

/** A parsed TOML document read as a uv.lock. Throws `python.import-invalid` naming the file. */
export function readUvLock(doc: Table, path: string): UvLock {
  if (doc.version !== 1) {
    throw inputError('python.import-invalid', `${path}: uv.lock version ${JSON.stringify(doc.version)} is not supported (envseal reads version 1)`, {
      hint: 'regenerate it with a uv release that writes lock version 1, or export it with `uv export --format pylock.toml`',
    });
  }
  const packages = listOf(doc.package, 'package', path).map((p, i) => readUvPackage(p, i, path));
  const requiresPython = strOf(doc, 'requires-python');
  return { kind: 'uv', path, ...(requiresPython ? { requiresPython } : {}), packages };
}

/** The project packages of the lock (workspace members): the walk starts there. */
export function uvRoots(lock: UvLock): UvPackage[] {
  const roots = lock.packages.filter((p) => p.sourceKind === 'editable' || p.sourceKind === 'virtual');
  if (!roots.length) invalid(lock.path, 'has no project package (source = { editable = "." } or { virtual = "." }) to start from');
  return roots;
}

/** The package an edge points to: the only one of that name, else the one its version/source or resolution-markers pick. */
function target(lock: UvLock, from: UvPackage, dep: UvDependency, env: MarkerEnvironment): UvPackage {
  let candidates = lock.packages.filter((p) => p.name === dep.name);
  if (dep.version) candidates = candidates.filter((p) => p.version === dep.version);
  if (dep.registry) candidates = candidates.filter((p) => p.registry === dep.registry);
  if (candidates.length > 1) candidates = candidates.filter((p) => !p.resolutionMarkers.length || p.resolutionMarkers.some((m) => evaluateMarker(m, env)));
  if (candidates.length !== 1) {
    invalid(
      lock.path,
      `package ${from.name} depends on ${dep.name}, which the lock holds ${candidates.length ? `${candidates.length} times for this target` : 'nowhere'}`,
    );
  }
  return candidates[0]!;
}

/**
 * The packages of the lock installed on the target for the selected extras and dev groups (of the project
 * packages), as files to choose from. Throws `python.import-unknown-group` and `python.import-unsupported`.
 */
export function uvApplicable(lock: UvLock, env: MarkerEnvironment, sel: { groups: readonly string[]; extras: readonly string[] }): ImportedPackage[] {
  const roots = uvRoots(lock);
  for (const [asked, what, has] of [
    [sel.groups, 'dev group', (g: string) => roots.some((r) => r.dev[g])],
    [sel.extras, 'extra', (e: string) => roots.some((r) => r.optional[e])],
  ] as const) {
    const known = [...new Set(roots.flatMap((r) => Object.keys(what === 'extra' ? r.optional : r.dev)))].sort();
    const unknown = asked.map(normalizeName).filter((g) => !has(g));
    if (unknown.length) {
      throw inputError('python.import-unknown-group', `${lock.path} has no ${what} ${unknown.join(', ')} (it has: ${known.join(', ') || 'none'})`, {
        hint: `choose among the lock's ${what}s in python.lockfile, or add it to pyproject.toml and run \`uv lock\``,
      });
    }
  }
  const seen = new Map<UvPackage, Set<string>>();
  const queue: [UvPackage, string[]][] = [];
  const visit = (from: UvPackage, deps: UvDependency[]) => {
    for (const dep of deps) {
      if (dep.marker && !evaluateMarker(dep.marker, env)) continue;
      queue.push([target(lock, from, dep, env), dep.extras]);
    }
  };
  for (const root of roots) {
    seen.set(root, new Set(sel.extras.map(normalizeName)));
    visit(root, root.dependencies);
    for (const e of sel.extras) visit(root, root.optional[normalizeName(e)] ?? []);
    for (const g of sel.groups) visit(root, root.dev[normalizeName(g)] ?? []);
  }
  while (queue.length) {
    const [pkg, extras] = queue.shift()!;
    const done = seen.get(pkg);
    const fresh = done ? extras.filter((e) => !done.has(e)) : extras;
    if (done && !fresh.length) continue;
    seen.set(pkg, new Set([...(done ?? []), ...fresh]));
    if (!done) visit(pkg, pkg.dependencies);
    for (const e of fresh) visit(pkg, pkg.optional[e] ?? []);
  }
  const out: ImportedPackage[] = [];
  for (const pkg of seen.keys()) {
    if (roots.includes(pkg)) continue;
    if (pkg.sourceGit !== undefined) {
      // Pinned to a commit: import-lock.ts checks it and builds the commit's archive.
      out.push({ name: pkg.name, version: pkg.version, direct: true, git: pkg.sourceGit, wheels: [] });
      continue;
    }
    if (pkg.sourceUrl !== undefined) {
      // Pinned by URL: the lock's sha256 is checked when the file is fetched (import-lock.ts).
      out.push({ name: pkg.name, version: pkg.version, direct: true, wheels: pkg.wheels, ...(pkg.sdist ? { sdist: pkg.sdist } : {}) });
      continue;
    }
    if (!pkg.registry) {
      throw inputError(
        'python.import-unsupported',
        `${lock.path}: package ${pkg.name} comes from a ${pkg.sourceKind} source; envseal installs from indexes only`,
        {
          hint: 'publish the package to an index (a local one works), depend on it from there, and run `uv lock`',
        },
      );
    }
    out.push({ name: pkg.name, version: pkg.version, index: pkg.registry, wheels: pkg.wheels, ...(pkg.sdist ? { sdist: pkg.sdist } : {}) });
  }
  return out;
}

/** `name[extras]specifier` plus the extra/group it belongs to: what the staleness check compares (markers aside). */
function key(name: string, extras: readonly string[], specifier: string | undefined, group: string): string {
  const spec = specifier ? (tryParseSpecifierSet(specifier) ? formatSpecifierSet(tryParseSpecifierSet(specifier)!) : specifier) : '';
  return `${normalizeName(name)}${extras.length ? `[${[...extras].map(normalizeName).sort().join(',')}]` : ''}${spec}${group ? ` (${group})` : ''}`;
}

const extraOf = (marker: string | undefined) => /extra\s*==\s*['"]([^'"]+)['"]/.exec(marker ?? '')?.[1];

/** What the lock's project recorded in `[package.metadata]`, as comparable keys. */
export function uvRecordedInputs(lock: UvLock): string[] {
  const root = uvRoots(lock).find((r) => r.sourcePath === '.') ?? uvRoots(lock)[0]!;
  const dist = root.requiresDist.map((r) => {
    const extra = extraOf(r.marker);
    return key(r.name, r.extras, r.specifier, extra ? `extra ${normalizeName(extra)}` : '');
  });
  const dev = Object.entries(root.requiresDev).flatMap(([g, reqs]) => reqs.map((r) => key(r.name, r.extras, r.specifier, `group ${g}`)));
  return [...dist, ...dev].sort();
}

/** The same keys for what pyproject.toml declares now (dependencies, optional-dependencies, dependency groups). */
export function pyprojectInputs(
  deps: { name: string; extras: readonly string[]; specifier: string }[],
  optional: Record<string, { name: string; extras: readonly string[]; specifier: string }[]>,
  groups: Record<string, { name: string; extras: readonly string[]; specifier: string }[]>,
): string[] {
  return [
    ...deps.map((r) => key(r.name, r.extras, r.specifier, '')),
    ...Object.entries(optional).flatMap(([g, rs]) => rs.map((r) => key(r.name, r.extras, r.specifier, `extra ${normalizeName(g)}`))),
    ...Object.entries(groups).flatMap(([g, rs]) => rs.map((r) => key(r.name, r.extras, r.specifier, `group ${normalizeName(g)}`))),
  ].sort();
}

/** Throws `python.import-stale` (exit 2) naming the first difference between the lock's record and pyproject.toml. */
export function checkUvFresh(lock: UvLock, recorded: string[], current: string[], pyprojectPath: string): void {
  const missing = current.filter((k) => !recorded.includes(k));
  const extra = recorded.filter((k) => !current.includes(k));
  if (!missing.length && !extra.length) return;
  const parts = [
    ...(missing.length ? [`${pyprojectPath} declares ${missing.join(', ')}, which the lock was not made for`] : []),
    ...(extra.length ? [`the lock was made for ${extra.join(', ')}, which ${pyprojectPath} no longer declares`] : []),
  ];
  throw inputError('python.import-stale', `${lock.path} is stale against ${pyprojectPath}: ${parts.join('; ')}`, {
    hint: `run \`uv lock\` to bring ${lock.path} up to date with ${pyprojectPath}`,
  });
}
