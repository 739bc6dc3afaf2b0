/**
 * PEP 751 `pylock.toml` (lock-version 1.x) read into the form envseal follows pin for pin: per package its
 * version, marker, index and files with their sha256. Pure: text in, an `ImportedLock` out. Packages envseal
 * cannot install from an index (vcs, directory, archive) are input errors naming the package, never skipped.
 */
import { inputError } from '../../../core/errors.js';
import { normalizeName } from '../pep/names.js';
import { HINT, invalid, isTable, parseTomlLock, type Table } from './toml-values.js';
import type { ImportedFile, ImportedPackage, PylockLock } from './types.js';

function str(t: Table, key: string, where: string, path: string): string | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') invalid(path, `${where}.${key} must be a string`);
  return v;
}

function strList(t: Table, key: string, path: string): string[] {
  const v = t[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) invalid(path, `${key} must be an array of strings`);
  return v as string[];
}

function readFile(value: unknown, where: string, path: string): ImportedFile {
  if (!isTable(value)) invalid(path, `${where} must be a table`);
  const url = str(value, 'url', where, path);
  const filePath = str(value, 'path', where, path);
  const filename = str(value, 'name', where, path) ?? (url ?? filePath)?.split(/[?#]/)[0]!.split('/').pop();
  if (!filename) invalid(path, `${where} has neither name nor url`);
  const hashes = value.hashes;
  if (!isTable(hashes) || typeof hashes.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hashes.sha256)) {
    invalid(path, `${where} (${filename}) has no sha256 in its hashes`);
  }
  const size = value.size;
  if (size !== undefined && (typeof size !== 'number' || !Number.isInteger(size) || size < 0)) invalid(path, `${where}.size must be a non-negative integer`);
  const uploadTime = value['upload-time'];
  return {
    filename,
    ...(url !== undefined ? { url } : {}),
    sha256: hashes.sha256.toLowerCase(),
    ...(size !== undefined ? { size } : {}),
    ...(uploadTime instanceof Date ? { uploadTime: uploadTime.toISOString().replace(/\.000Z$/, 'Z') } : {}),
  };
}

function readPackage(value: unknown, i: number, path: string): ImportedPackage {
  const where = `packages[${i}]`;
  if (!isTable(value)) invalid(path, `${where} must be a table`);
  const rawName = str(value, 'name', where, path);
  if (!rawName) invalid(path, `${where} has no name`);
  const name = normalizeName(rawName);
  const version = str(value, 'version', where, path);
  if (value.vcs !== undefined) return readVcs(value.vcs, name, version, str(value, 'marker', where, path), path);
  for (const kind of ['directory'] as const) {
    if (value[kind] !== undefined) {
      throw inputError('python.import-unsupported', `${path}: package ${name} is a ${kind} source; envseal installs from indexes and URLs only`, {
        hint: 'publish the package to an index (a local one works), lock it from there, and regenerate the lock',
      });
    }
  }
  if (!version) invalid(path, `package ${name} has no version`);
  if (value.archive !== undefined) return readArchive(value.archive, name, version, str(value, 'marker', where, path), path);
  const wheelsValue = value.wheels ?? [];
  if (!Array.isArray(wheelsValue)) invalid(path, `package ${name}: wheels must be an array of tables`);
  const wheels = wheelsValue.map((w, j) => readFile(w, `package ${name} wheels[${j}]`, path));
  const sdist = value.sdist === undefined ? undefined : readFile(value.sdist, `package ${name} sdist`, path);
  if (!wheels.length && !sdist) invalid(path, `package ${name} ${version} names no wheel and no sdist`);
  const marker = str(value, 'marker', where, path);
  const requiresPython = str(value, 'requires-python', where, path);
  const index = str(value, 'index', where, path);
  // PEP 751: `index` names where the files came from; files with a url and no index came from that url.
  const direct = !index && [...wheels, ...(sdist ? [sdist] : [])].every((f) => f.url !== undefined);
  return {
    name,
    version,
    ...(marker ? { marker } : {}),
    ...(requiresPython ? { requiresPython } : {}),
    ...(index ? { index: index.replace(/\/+$/, '') } : {}),
    ...(direct ? { direct: true as const } : {}),
    wheels,
    ...(sdist ? { sdist } : {}),
  };
}

/** `[packages.vcs]` (PEP 751): a git commit (`type`, `url`, `commit-id`, `subdirectory`), checked and built in import-lock.ts. */
function readVcs(table: unknown, name: string, version: string | undefined, marker: string | undefined, path: string): ImportedPackage {
  const where = `package ${name} vcs`;
  if (!isTable(table)) invalid(path, `${where} must be a table`);
  const type = str(table, 'type', where, path);
  const url = str(table, 'url', where, path);
  const subdirectory = str(table, 'subdirectory', where, path);
  if (type !== 'git' || url === undefined) {
    throw inputError(
      'python.import-unsupported',
      `${path}: package ${name} is a ${type ?? 'vcs'} source${url === undefined ? ' without a url (a local path)' : ''}; envseal locks git repositories by URL only`,
      { hint: 'pin the package to a commit of a git repository reachable by URL, or publish it to an index, and regenerate the lock' },
    );
  }
  if (!version) invalid(path, `package ${name} has no version`);
  const commit = str(table, 'commit-id', where, path) ?? '';
  return { name, version, ...(marker ? { marker } : {}), direct: true, git: { repo: url, commit, ...(subdirectory ? { subdirectory } : {}) }, wheels: [] };
}

/**
 * `[packages.archive]` (PEP 751): one file by URL with its hashes, a wheel or an sdist, installed from that URL.
 * A local `path` or a `subdirectory` is `python.import-unsupported`.
 */
function readArchive(value: unknown, name: string, version: string, marker: string | undefined, path: string): ImportedPackage {
  const file = readFile(value, `package ${name} archive`, path);
  const table = value as Table;
  const unsupported = (why: string) =>
    inputError('python.import-unsupported', `${path}: package ${name} ${version}: its archive ${why}; envseal installs archives from http(s) URLs only`, {
      hint: 'serve the archive over http(s) (or publish it to an index), and regenerate the lock',
    });
  if (file.url === undefined || !/^https?:\/\//i.test(file.url)) throw unsupported(`is ${file.url ?? `the local path ${String(table.path)}`}`);
  if (table.subdirectory !== undefined) throw unsupported(`names a subdirectory (${String(table.subdirectory)}) to build from`);
  const isWheel = file.filename.endsWith('.whl');
  return { name, version, ...(marker ? { marker } : {}), direct: true, wheels: isWheel ? [file] : [], ...(isWheel ? {} : { sdist: file }) };
}

/** Parses a pylock.toml. */
export function parsePylock(text: string, path: string): PylockLock {
  return readPylock(parseTomlLock(text, path), path);
}

export function readPylock(doc: Record<string, unknown>, path: string): PylockLock {
  const version = doc['lock-version'];
  if (typeof version !== 'string') invalid(path, 'has no lock-version: is it a PEP 751 pylock.toml (or a uv.lock)?');
  if (!/^1(\.\d+)*$/.test(version)) {
    throw inputError('python.import-invalid', `${path}: lock-version ${JSON.stringify(version)} is not supported (envseal reads lock-version 1.x)`, {
      hint: HINT,
    });
  }
  const packagesValue = doc.packages ?? [];
  if (!Array.isArray(packagesValue)) invalid(path, 'packages must be an array of tables ([[packages]])');
  const requiresPython = str(doc, 'requires-python', 'lock', path);
  return {
    kind: 'pylock',
    path,
    environments: strList(doc, 'environments', path),
    ...(requiresPython ? { requiresPython } : {}),
    extras: strList(doc, 'extras', path).map(normalizeName),
    dependencyGroups: strList(doc, 'dependency-groups', path).map(normalizeName),
    defaultGroups: strList(doc, 'default-groups', path).map(normalizeName),
    packages: packagesValue.map((p, i) => readPackage(p, i, path)),
  };
}
