/**
 * Following an existing lock pin for pin (no resolution): the packages and files that apply to the target
 * (`select.ts`), each checked against its index (the file is listed there with the same sha256) and recorded
 * exactly like a resolved package, so generate, build and verify work unchanged.
 */
import { inputError, internalError, isEnvsealError } from '../../../core/errors.js';
import { maskUrlCredentials, splitUrlCredentials } from '../../../core/url-credentials.js';
import type { TargetProbe } from '../../../core/ground.js';
import type { FileFetcher, GitSources, Logger, PackageIndex } from '../../../core/ports.js';
import type { SdistBuilder } from '../sdist-build.js';
import type { ImportedLockRef, LockedPythonPackage } from '../schema.js';
import type { ImportedFile, ImportedLock, PipfileLock } from './types.js';
import { pipfileApplicable } from './pipfile-lock.js';
import type { MarkerEnvironment } from '../pep/marker.js';
import { tryParseSdistFilename, tryParseWheelFilename } from '../pep/wheel.js';
import { normalizeVersion } from '../pep/version.js';
import { checkAgainstPyproject, checkLock, chooseFile, rankerFor, selectImported, type SelectedPackage } from './select.js';

export interface ImportRequest {
  lock: ImportedLock;
  ref: ImportedLockRef;
  target: TargetProbe;
  /** Where packages whose lock entry names no index are looked up (the spec's first index). */
  defaultIndex: string;
}

async function checkOnIndex(lock: ImportedLock, s: SelectedPackage, indexUrl: string, index: PackageIndex): Promise<LockedPythonPackage> {
  const project = await index.getProject(indexUrl, s.name);
  const hint = `check that ${lock.path} was written against ${indexUrl}, or regenerate it`;
  if (!project) throw inputError('python.import-not-on-index', `${lock.path}: package ${s.name} is not on the index ${indexUrl}`, { hint });
  const listed = project.files.find((f) => f.filename === s.file.filename);
  if (!listed) {
    throw inputError('python.import-not-on-index', `${lock.path}: package ${s.name} ${s.version}: the index ${indexUrl} does not list ${s.file.filename}`, {
      hint,
    });
  }
  const served = listed.hashes.sha256;
  if (served !== s.file.sha256) {
    throw inputError(
      'python.import-hash-mismatch',
      `${lock.path}: package ${s.name} ${s.version}: the lock's sha256 of ${s.file.filename} is ${s.file.sha256}, the index ${indexUrl} gives ${served ?? 'none'}`,
      { hint: 'the lock file or the index was changed: find out which before regenerating the lock' },
    );
  }
  const size = s.file.size ?? listed.size;
  const uploadTime = s.file.uploadTime ?? listed.uploadTime;
  return {
    name: s.name,
    version: s.version,
    file: {
      filename: listed.filename,
      url: listed.url,
      sha256: served,
      ...(size !== undefined ? { size } : {}),
      ...(uploadTime !== undefined ? { uploadTime } : {}),
    },
    index: indexUrl,
    via: [lock.path],
    targets: s.targets,
  };
}

export interface ImportDeps {
  index: PackageIndex;
  logger: Logger;
  /** Fetches (and hashes) the files of packages pinned by URL. */
  files?: FileFetcher;
  /** The previous lock's section: a URL pin it holds with the same sha256 is not fetched again. */
  previous?: { packages: LockedPythonPackage[] } | null;
  /** Makes the archives of git pins (import-git.ts). */
  git?: GitSources;
  signal?: AbortSignal;
}

/**
 * A package the lock pins by URL (uv `source = { url }`, pylock `[packages.archive]` or files without an index):
 * installed from that URL like a `name @ URL` requirement, the lock's sha256 checked against the bytes the URL
 * serves. Throws `python.import-unsupported` (credentials or another scheme in the URL),
 * `python.import-url-not-found` (4xx) and `python.import-hash-mismatch` (exit 2).
 */
async function pinDirect(lock: ImportedLock, s: SelectedPackage, deps: ImportDeps): Promise<LockedPythonPackage> {
  const url = s.file.url ?? '';
  const what = `${lock.path}: package ${s.name} ${s.version}`;
  if (splitUrlCredentials(url).credentials) {
    throw inputError(
      'python.import-unsupported',
      `${what}: its URL ${maskUrlCredentials(url)} carries credentials, which would be written into envseal.lock and the Dockerfile`,
      {
        hint: 'remove the user:password from the URL in the lock and put them in netrc for that host instead (docs/credentials.md)',
      },
    );
  }
  if (!/^https?:\/\//i.test(url)) {
    throw inputError(
      'python.import-unsupported',
      `${what}: its file ${s.file.filename} is at ${JSON.stringify(url)}; envseal installs files from http(s) URLs or indexes only`,
      {
        hint: 'serve the file over http(s) (or publish it to an index), and regenerate the lock',
      },
    );
  }
  const old = deps.previous?.packages.find((p) => p.name === s.name && p.direct && p.file.url === url && p.file.sha256 === s.file.sha256);
  let size = s.file.size ?? old?.file.size;
  if (!old) {
    if (!deps.files) throw internalError('python.file-fetcher', 'packages pinned by URL need a file fetcher, and none was given');
    deps.logger.progress(`fetching ${url} to check the sha256 ${lock.path} pins`);
    let got;
    try {
      got = await deps.files.digest(url, deps.signal ? { signal: deps.signal } : {});
    } catch (err) {
      if (!isEnvsealError(err) || err.code !== 'files.not-found') throw err;
      throw inputError('python.import-url-not-found', `${what}: ${err.message}`, {
        hint: `the URL ${lock.path} pins names no file that host serves: regenerate the lock`,
        cause: err,
      });
    }
    if (got.sha256 !== s.file.sha256) {
      throw inputError('python.import-hash-mismatch', `${what}: the lock's sha256 of ${s.file.filename} is ${s.file.sha256}, ${url} gives ${got.sha256}`, {
        hint: 'the lock file or the file at that URL was changed: find out which before regenerating the lock',
      });
    }
    size = got.size;
  }
  return {
    name: s.name,
    version: s.version,
    file: {
      filename: s.file.filename,
      url,
      sha256: s.file.sha256,
      ...(size !== undefined ? { size } : {}),
      ...(s.file.uploadTime !== undefined ? { uploadTime: s.file.uploadTime } : {}),
    },
    index: url,
    direct: true,
    via: [lock.path],
    targets: s.targets,
  };
}

/**
 * The lock section's packages for an imported lock. Throws the `select.ts` errors, `python.import-stale`,
 * `python.import-not-on-index` and `python.import-hash-mismatch` (exit 2, naming the lock and the package).
 */
export async function importLockedPackages(req: ImportRequest, deps: ImportDeps, builder?: SdistBuilder): Promise<LockedPythonPackage[]> {
  const { lock, ref, target } = req;
  if (lock.kind === 'pipfile') return importPipfile({ ...req, lock }, deps);
  const selected = selectImported(lock, target, { groups: ref.groups, extras: ref.extras });
  // A uv.lock was checked against pyproject.toml when it was loaded (its record does not depend on the target).
  if (ref.pyproject && lock.kind === 'pylock') checkAgainstPyproject(lock, selected, ref.pyproject, target);
  deps.logger.progress(`following ${lock.path}: checking ${selected.length} pinned file(s) against the index`);
  const out: LockedPythonPackage[] = [];
  for (const s of selected) {
    if (s.git) {
      const { pinGit } = await import('./import-git.js');
      out.push(await pinGit(lock, s, deps, builder));
    } else out.push(s.direct ? await pinDirect(lock, s, deps) : await checkOnIndex(lock, s, s.index ?? req.defaultIndex, deps.index));
  }
  return out;
}

/**
 * A Pipfile.lock names hashes, not files: per package the files of its version on the index whose sha256 the
 * lock lists are the candidates, and the best for the target is chosen among them. No listed hash on the index
 * is `python.import-hash-mismatch`; none of them fitting the target is `python.import-no-file`.
 */
async function importPipfile(req: ImportRequest & { lock: PipfileLock }, deps: { index: PackageIndex; logger: Logger }): Promise<LockedPythonPackage[]> {
  const { lock, ref, target } = req;
  const env = target.python!.markers as unknown as MarkerEnvironment;
  checkLock(lock, env, target.python!.version, rankerFor(target).description);
  const sel = { groups: ref.groups, extras: ref.extras };
  const all = pipfileApplicable(lock, env, sel);
  const deploy = new Set(pipfileApplicable(lock, env, { groups: [], extras: [] }).map((p) => `${p.name}==${p.version}`));
  deps.logger.progress(`following ${lock.path}: finding ${all.length} pinned package(s) on the index`);
  const { rank, description } = rankerFor(target);
  const out: LockedPythonPackage[] = [];
  for (const p of all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const indexUrl = p.index ?? req.defaultIndex;
    const project = await deps.index.getProject(indexUrl, p.name);
    if (!project) {
      throw inputError('python.import-not-on-index', `${lock.path}: package ${p.name} is not on the index ${indexUrl}`, {
        hint: `check that ${lock.path} was written against ${indexUrl}, or regenerate it`,
      });
    }
    const ofVersion = project.files.filter((f) => fileVersion(f.filename, p.name) === normalizeVersion(p.version));
    const listed = ofVersion.filter((f) => f.hashes.sha256 && p.hashes.includes(f.hashes.sha256));
    if (!listed.length) {
      throw inputError(
        'python.import-hash-mismatch',
        `${lock.path}: package ${p.name} ${p.version}: none of the lock's sha256 (${p.hashes.join(', ')}) is a file the index ${indexUrl} gives for it (${ofVersion.map((f) => `${f.filename} ${f.hashes.sha256 ?? 'no sha256'}`).join(', ') || 'no files'})`,
        { hint: 'the lock file or the index was changed: find out which before regenerating the lock' },
      );
    }
    const files = listed.map((f) => ({ filename: f.filename, sha256: f.hashes.sha256!, url: f.url }));
    const chosen = chooseFile(
      lock,
      { name: p.name, version: p.version, wheels: files.filter((f) => f.filename.endsWith('.whl')), ...sdistOf(files) },
      rank,
      description,
    );
    const s: SelectedPackage = {
      name: p.name,
      version: p.version,
      file: chosen,
      index: indexUrl,
      targets: deploy.has(`${p.name}==${p.version}`) ? ['deploy', 'dev'] : ['dev'],
    };
    out.push(await checkOnIndex(lock, s, indexUrl, deps.index));
  }
  return out;
}

function sdistOf(files: ImportedFile[]): { sdist?: ImportedFile } {
  const sdist = files.find((f) => !f.filename.endsWith('.whl'));
  return sdist ? { sdist } : {};
}

function fileVersion(filename: string, project: string): string | undefined {
  const wheel = tryParseWheelFilename(filename);
  if (wheel.ok) return wheel.value.versionText;
  const sdist = tryParseSdistFilename(filename, project);
  return sdist.ok ? sdist.value.versionText : undefined;
}
