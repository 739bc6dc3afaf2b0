/**
 * pipenv's `Pipfile.lock` (JSON, pipfile-spec 6) read and followed: per section (`default`, `develop`, other
 * categories) packages with `version: "==x"`, `hashes` (the sha256 of every file pipenv allows), `markers` and
 * `index` (a `_meta.sources` name). A Pipfile.lock names no files, so the file is chosen on the index among
 * those of that version whose sha256 the lock lists (`import-lock.ts`). Staleness: `_meta.hash.sha256` must
 * equal pipenv's hash of the Pipfile (`pipfileHash`). Pure.
 */
import { createHash } from 'node:crypto';
import { inputError } from '../../../core/errors.js';
import { evaluateMarker, type MarkerEnvironment } from '../pep/marker.js';
import { normalizeName } from '../pep/names.js';
import { pythonJsonDumps } from './python-json.js';
import { invalid, isTable, type Table } from './toml-values.js';
import type { PipfileLock, PipfilePackage } from './types.js';

const PIPFILE_SECTIONS = ['source', 'packages', 'dev-packages', 'requires', 'scripts', 'pipfile', 'pipenv'];

function readSection(value: unknown, section: string, sources: PipfileLock['sources'], path: string): PipfilePackage[] {
  if (!isTable(value)) invalid(path, `${section} must be an object`);
  return Object.entries(value).map(([rawName, v]) => {
    const name = normalizeName(rawName);
    if (!isTable(v)) invalid(path, `${section}.${rawName} must be an object`);
    for (const kind of ['git', 'path', 'file', 'editable']) {
      if (v[kind] !== undefined) {
        throw inputError('python.import-unsupported', `${path}: package ${name} is a ${kind} requirement; envseal installs from indexes only`, {
          hint: 'publish the package to an index (a local one works), require it from there, and run `pipenv lock`',
        });
      }
    }
    const m = typeof v.version === 'string' ? /^==\s*(\S+)$/.exec(v.version) : null;
    if (!m) invalid(path, `package ${name} has no "==x" version`);
    const hashes = Array.isArray(v.hashes) ? v.hashes.filter((h): h is string => typeof h === 'string') : [];
    const sha = hashes.flatMap((h) => (/^sha256:[0-9a-fA-F]{64}$/.test(h) ? [h.slice(7).toLowerCase()] : []));
    if (!sha.length) invalid(path, `package ${name} ${m[1]} has no sha256 hashes`);
    const source = typeof v.index === 'string' ? sources.find((s) => s.name === v.index) : sources[0];
    if (typeof v.index === 'string' && !source) invalid(path, `package ${name} names index ${JSON.stringify(v.index)}, which _meta.sources does not define`);
    return {
      name,
      version: m[1]!,
      hashes: sha,
      ...(typeof v.markers === 'string' && v.markers ? { marker: v.markers } : {}),
      ...(source ? { index: source.url } : {}),
    };
  });
}

/** Parses a Pipfile.lock. Throws `python.import-invalid` / `python.import-unsupported` (exit 2) naming the file. */
export function parsePipfileLock(text: string, path: string): PipfileLock {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    invalid(path, `not JSON: ${(err as Error).message}`);
  }
  if (!isTable(doc) || !isTable(doc._meta)) invalid(path, 'has no _meta object: is it a Pipfile.lock?');
  const meta = doc._meta;
  const spec = meta['pipfile-spec'];
  if (spec !== 6) {
    throw inputError('python.import-invalid', `${path}: pipfile-spec ${JSON.stringify(spec ?? null)} is not supported (envseal reads pipfile-spec 6)`, {
      hint: 'regenerate it with a current pipenv (`pipenv lock`)',
    });
  }
  const hash = isTable(meta.hash) && typeof meta.hash.sha256 === 'string' ? meta.hash.sha256 : invalid(path, 'has no _meta.hash.sha256');
  const sources = (Array.isArray(meta.sources) ? meta.sources : []).map((s, i) => {
    if (!isTable(s) || typeof s.name !== 'string' || typeof s.url !== 'string') invalid(path, `_meta.sources[${i}] needs a name and a url`);
    return { name: s.name, url: s.url.replace(/\/+$/, '') };
  });
  const requires = isTable(meta.requires) ? meta.requires : {};
  const pyVersion = requires.python_full_version ?? requires.python_version;
  const sections: Record<string, PipfilePackage[]> = {};
  for (const [k, v] of Object.entries(doc)) if (k !== '_meta') sections[k] = readSection(v, k, sources, path);
  return {
    kind: 'pipfile',
    path,
    pipfileHash: hash.toLowerCase(),
    ...(typeof pyVersion === 'string' ? { requiresPython: `==${pyVersion}.*` } : {}),
    sources,
    sections,
  };
}

/**
 * pipenv's (plette's) Pipfile hash: sha256 of `json.dumps(data, sort_keys=True, separators=(",", ":"))` with
 * `data = { _meta: { sources, requires }, default: packages, develop: dev-packages, <other categories> }`;
 * a Pipfile without `[[source]]` gets pipenv's default PyPI source.
 */
export function pipfileHash(pipfile: Table): string {
  const sources = pipfile.source ?? [{ name: 'pypi', url: 'https://pypi.org/simple', verify_ssl: true }];
  const data: Table = {
    _meta: { sources, requires: pipfile.requires ?? {} },
    default: pipfile.packages ?? {},
    develop: pipfile['dev-packages'] ?? {},
  };
  for (const [k, v] of Object.entries(pipfile)) if (!PIPFILE_SECTIONS.includes(k) && !['default', 'develop'].includes(k)) data[k] = v;
  return createHash('sha256').update(pythonJsonDumps(data, true)).digest('hex');
}

/** Throws `python.import-stale` (exit 2) when `_meta.hash.sha256` is not the Pipfile's hash. */
export function checkPipfileFresh(lock: PipfileLock, pipfile: Table, pipfilePath: string): void {
  const now = pipfileHash(pipfile);
  if (now === lock.pipfileHash) return;
  throw inputError(
    'python.import-stale',
    `${lock.path} is stale against ${pipfilePath}: its _meta.hash is ${lock.pipfileHash}, ${pipfilePath} hashes to ${now}`,
    {
      hint: `run \`pipenv lock\` to bring ${lock.path} up to date with ${pipfilePath}`,
    },
  );
}

/** The section names to install: `default`, plus the selected groups (`dev` stands for `develop`). */
function sectionsOf(lock: PipfileLock, groups: readonly string[]): string[] {
  const names = groups.map((g) => (g === 'dev' ? 'develop' : g));
  const unknown = names.filter((g) => !lock.sections[g]);
  if (unknown.length) {
    throw inputError(
      'python.import-unknown-group',
      `${lock.path} has no section ${unknown.join(', ')} (it has: ${Object.keys(lock.sections).sort().join(', ')})`,
      {
        hint: 'choose among the lock sections in python.lockfile groups (develop, or another package category)',
      },
    );
  }
  return ['default', ...names];
}

/** The packages of the selected sections whose markers hold for the target (a package in several sections must agree). */
export function pipfileApplicable(lock: PipfileLock, env: MarkerEnvironment, sel: { groups: readonly string[]; extras: readonly string[] }): PipfilePackage[] {
  if (sel.extras.length) {
    throw inputError('python.import-unknown-group', `${lock.path} has no extras (it records the resolved packages only)`, {
      hint: 'drop extras from python.lockfile; add the extras to the Pipfile requirement and run `pipenv lock`',
    });
  }
  const out = new Map<string, PipfilePackage>();
  for (const section of sectionsOf(lock, sel.groups)) {
    for (const p of lock.sections[section] ?? []) {
      if (p.marker && !evaluateMarker(p.marker, env)) continue;
      const seen = out.get(p.name);
      if (seen && seen.version !== p.version) invalid(lock.path, `package ${p.name} is locked at ${seen.version} and ${p.version} in different sections`);
      out.set(p.name, p);
    }
  }
  return [...out.values()];
}
