/**
 * `envseal bundle -o FILE.tar`: one tar archive holding everything an air-gapped machine needs to load, check
 * and rebuild an image: the image exactly as built (the engine's `docker save` archive, so its ID is
 * unchanged), the lock, the generated Dockerfile, every locked wheel/sdist (checked against the lock's
 * sha256), npm tarballs (checked against package-lock.json's integrity), the SBOM when there is one, the files
 * the deploy image copies in, and manifest.json last. Written to a temp file renamed into place: a failure or
 * Ctrl-C leaves nothing. See docs/bundles.md.
 */
import { parseLockedGitUrl, vcsArchivePath } from '../../ecosystems/python/manifests/vcs-url.js';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContainerEngine, Logger } from '../../core/ports.js';
import { checkFailed, describeError, externalError, inputError } from '../../core/errors.js';
import { sha256Hex } from '../../core/canonical-json.js';
import { LABEL_TARGET, type TargetName } from '../../core/image-contract.js';
import { TOOL_VERSION } from '../../core/version.js';
import { lockDigest } from '../../lock/lock-file.js';
import type { Lock } from '../../lock/schema.js';
import { lockedPythonFiles } from '../../ecosystems/python/schema.js';
import { createTarWriter, type TarWriter } from '../../tar/tar-stream-codec.js';
import { assertImageMatchesLock, computeSourceDigest, defaultImageTag } from '../build-image.js';
import { renderFromLock, type GenerateDeps } from '../generate-dockerfile.js';
import { toRel, type ProjectPaths } from '../load-inputs.js';
import {
  aptEntryPath,
  BUNDLE_FORMAT_VERSION,
  DOCKERFILE_ENTRY,
  IMAGE_ENTRY,
  LOCK_ENTRY,
  MANIFEST_ENTRY,
  pythonEntryPath,
  serializeManifest,
  type BundleEntry,
} from './manifest.js';
import { recordAptDownloads } from './apt-recorder.js';
import { listNpmTarballs, matchesIntegrity } from './npm-tarballs.js';

export interface BundleDeps extends GenerateDeps {
  engine: ContainerEngine;
  logger: Logger;
  /** Fetches a package file (wheel, sdist, npm tarball); outside failures are exit 3. */
  download(url: string, signal?: AbortSignal): Promise<Buffer>;
}

export interface BundleRequest {
  output: string;
  target: TargetName;
  /** The image to bundle (default: the lock's image for the target). */
  image?: string;
  signal?: AbortSignal;
}

export interface BundleOutcome {
  output: string;
  imageId: string;
  fingerprint: string;
  entries: number;
  bytes: number;
  /** Files apt fetched for the lock's packages (so `load --rebuild` works offline); 0 without apt. */
  aptFiles: number;
  /** Why the bundle cannot be rebuilt offline (e.g. apt could not fetch the locked versions), or null. */
  rebuildBlocker: string | null;
}

const REVISION_LABEL = 'org.opencontainers.image.revision';

/** SBOM files looked for next to the lock (what `envseal sbom` writes; docs/bundles.md). */
const SBOM_FILE = /(^|\.)(sbom|cdx|spdx)(\.[a-z]+)?\.json$/;

export async function writeBundle(paths: ProjectPaths, request: BundleRequest, deps: BundleDeps): Promise<BundleOutcome> {
  const rendered = await renderFromLock(paths, deps);
  const { lock } = rendered;
  const digest = lockDigest(rendered.lockText);
  const lockPath = toRel(paths.dir, paths.lock);
  const sourceDigest = await computeSourceDigest(paths.dir, lock.targets.deploy.copy);
  const ref = request.image ?? defaultImageTag(lock, request.target, sourceDigest);
  const info = await deps.engine.inspectImage(ref);
  if (!info) {
    throw inputError('bundle.image-missing', `there is no image ${ref} in the Docker engine to bundle`, {
      hint: request.image ? 'build or pull it first' : `build it first: \`envseal build --target ${request.target}\`, or name one with --image`,
    });
  }
  assertImageMatchesLock(info, lock, digest, request.target);
  const labelTarget = info.labels[LABEL_TARGET];
  if (labelTarget && labelTarget !== request.target) {
    throw inputError('bundle.target-mismatch', `image ${ref} is the ${labelTarget} image, not ${request.target}`, { hint: `pass --target ${labelTarget}` });
  }

  const tmp = join(dirname(request.output), `.${basename(request.output)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const writer = createTarWriter();
  const sink = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
  const written = pipeline(writer.stream, sink);
  written.catch(() => {});
  const onAbort = () => writer.fail(externalError('bundle.interrupted', 'the bundle was interrupted; nothing was written'));
  request.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const entries: BundleEntry[] = [];
    const add = async (entry: Omit<BundleEntry, 'size' | 'sha256'>, bytes: Uint8Array) => {
      await writer.add({ name: entry.path, type: 'file', mode: 0o644 }, bytes);
      entries.push({ ...entry, size: bytes.byteLength, sha256: sha256Hex(bytes) });
    };
    await add({ path: LOCK_ENTRY, kind: 'lock' }, Buffer.from(rendered.lockText, 'utf8'));
    await add({ path: DOCKERFILE_ENTRY, kind: 'dockerfile' }, Buffer.from(rendered.text, 'utf8'));
    await addPythonFiles(paths.dir, lock, add, deps, request.signal);
    await addNpmTarballs(paths, lock, add, deps, request.signal);
    const apt = await addAptFiles(lock, request.target, dirname(request.output), writer, entries, deps, request.signal);
    await addSboms(paths, add);
    await addSources(paths, lock.targets.deploy.copy, add);
    entries.push(await addImage(writer, info.id, tmp, deps, request.signal));
    const manifest = serializeManifest({
      bundleVersion: BUNDLE_FORMAT_VERSION,
      envseal: TOOL_VERSION,
      name: lock.name,
      target: request.target,
      fingerprint: lock.fingerprint,
      lockDigest: digest,
      lockPath,
      image: { id: info.id, tags: [defaultImageTag(lock, request.target, sourceDigest)], revision: info.labels[REVISION_LABEL] || null },
      entries,
    });
    await writer.add({ name: MANIFEST_ENTRY, type: 'file', mode: 0o644 }, manifest);
    writer.finish();
    await written;
    const handle = await open(tmp, 'r+');
    await handle.sync().finally(() => handle.close());
    await rename(tmp, request.output);
    return {
      output: request.output,
      imageId: info.id,
      fingerprint: lock.fingerprint,
      entries: entries.length + 1,
      bytes: writer.bytesWritten,
      aptFiles: apt.files,
      rebuildBlocker: apt.blocker,
    };
  } catch (err) {
    writer.fail(err instanceof Error ? err : new Error(String(err)));
    await written.catch(() => {});
    await unlink(tmp).catch(() => {});
    if (request.signal?.aborted) throw externalError('bundle.interrupted', 'the bundle was interrupted; nothing was written', { cause: err });
    throw err;
  } finally {
    request.signal?.removeEventListener('abort', onAbort);
  }
}

type AddEntry = (entry: Omit<BundleEntry, 'size' | 'sha256'>, bytes: Uint8Array) => Promise<void>;

/** Every locked wheel and sdist (and an sdist's build requirements), fetched from the lock's URL and checked against the lock's sha256. */
async function readVcsArchive(dir: string, commit: string, filename: string): Promise<Buffer> {
  const rel = vcsArchivePath(commit, filename);
  return readFile(join(dir, rel)).catch((err: unknown) => {
    throw inputError('bundle.vcs-archive', `${rel} cannot be read: ${(err as Error).message}`, {
      hint: 'run `envseal lock` (it makes the archives of git packages), then bundle again',
    });
  });
}

async function addPythonFiles(dir: string, lock: Lock, add: AddEntry, deps: BundleDeps, signal?: AbortSignal): Promise<void> {
  for (const p of lockedPythonFiles(lock.python)) {
    // A git package's archive is made from its repository into the project (`envseal lock`/`build`), not downloaded.
    const git = parseLockedGitUrl(p.file.url);
    deps.logger.progress(`fetching ${p.file.filename}`);
    const bytes = git ? await readVcsArchive(dir, git.commit, p.file.filename) : await deps.download(p.file.url, signal);
    const got = sha256Hex(bytes);
    if (got !== p.file.sha256) {
      throw checkFailed('bundle.hash-mismatch', `${p.file.filename} from ${p.file.url} has sha256 ${got}, the lock says ${p.file.sha256}`, {
        hint: 'the index serves different bytes than when the project was locked: run `envseal lock --upgrade-package ' + p.name + '` or fix the index',
      });
    }
    await add({ path: pythonEntryPath(p.file.filename), kind: 'python', url: p.file.url }, bytes);
  }
}

/** npm tarballs from package-lock.json's `resolved`, checked against its `integrity`. */
async function addNpmTarballs(paths: ProjectPaths, lock: Lock, add: AddEntry, deps: BundleDeps, signal?: AbortSignal): Promise<void> {
  const npm = lock.npm;
  if (!npm) return;
  const file = join(paths.dir, npm.lockfile);
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    throw inputError('bundle.npm-lockfile', `cannot read ${npm.lockfile}: ${describeError(err)}`, { hint: 'the npm section of the lock names it' });
  });
  if (sha256Hex(text) !== npm.sha256) {
    throw checkFailed('lock.stale', `${npm.lockfile} changed since the lock was made`, { hint: 'run `envseal lock`, build, then bundle' });
  }
  for (const t of listNpmTarballs(text, npm.lockfile)) {
    deps.logger.progress(`fetching ${t.url}`);
    const bytes = await deps.download(t.url, signal);
    if (!matchesIntegrity(bytes, t.integrity)) {
      throw checkFailed('bundle.hash-mismatch', `${t.url} (${t.key}) does not match its integrity ${t.integrity} in ${npm.lockfile}`, {
        hint: 'the registry serves different bytes than the lockfile records: run `npm install --package-lock-only` and lock again',
      });
    }
    await add({ path: t.path, kind: 'npm', url: t.url, integrity: t.integrity }, bytes);
  }
}

/**
 * What apt fetches for the target's locked packages, recorded through a proxy (apt-recorder.ts) and streamed
 * into the bundle. When apt cannot fetch them (the archive moved on and the lock has no snapshot), the bundle
 * is still written, with a warning: the image loads, but `load --rebuild` will refuse.
 */
async function addAptFiles(
  lock: Lock,
  target: TargetName,
  tmpRoot: string,
  writer: TarWriter,
  entries: BundleEntry[],
  deps: BundleDeps,
  signal?: AbortSignal,
): Promise<{ files: number; blocker: string | null }> {
  const recording = await recordAptDownloads(lock, target, tmpRoot, deps, signal);
  if (recording === null) return { files: 0, blocker: null };
  if (typeof recording === 'string') {
    deps.logger.warn(`the bundle will load, but cannot be rebuilt offline: ${recording}`);
    return { files: 0, blocker: recording };
  }
  try {
    for (const f of recording.files) {
      const path = aptEntryPath(f.url);
      if (entries.some((e) => e.path === path)) continue;
      await writer.add({ name: path, type: 'file', mode: 0o644, size: f.size }, createReadStream(f.path));
      entries.push({ path, kind: 'apt', url: f.url, size: f.size, sha256: f.sha256 });
    }
    return { files: recording.files.length, blocker: null };
  } finally {
    await recording.dispose();
  }
}

/** SBOM files next to the lock (`envseal sbom` output), when there are any. */
async function addSboms(paths: ProjectPaths, add: AddEntry): Promise<void> {
  const dir = dirname(paths.lock);
  const names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && SBOM_FILE.test(e.name)).map((e) => e.name);
  for (const name of names.sort()) await add({ path: `sbom/${name}`, kind: 'sbom' }, await readFile(join(dir, name)));
}

/** The files the deploy stage copies in (and .dockerignore, which decides what the context sends of them). */
async function addSources(paths: ProjectPaths, copy: string[], add: AddEntry): Promise<void> {
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const abs = join(paths.dir, rel);
    const st = await lstat(abs);
    if (st.isDirectory()) {
      const children = (await readdir(abs)).sort();
      if (!children.length) throw unsupportedSource(rel, 'an empty directory');
      for (const child of children) await walk(rel === '.' ? child : `${rel}/${child}`);
    } else if (st.isFile()) files.push(rel);
    else throw unsupportedSource(rel, st.isSymbolicLink() ? 'a symlink' : 'a special file');
  };
  for (const entry of copy) await walk(posix.normalize(entry.replace(/\/+$/, '')) || '.');
  if (await lstat(join(paths.dir, '.dockerignore')).catch(() => null)) files.push('.dockerignore');
  for (const rel of [...new Set(files)].sort()) {
    const st = await lstat(join(paths.dir, rel));
    await add({ path: `source/${rel}`, kind: 'source', ...(st.mode & 0o111 ? { executable: true as const } : {}) }, await readFile(join(paths.dir, rel)));
  }
}

function unsupportedSource(rel: string, what: string) {
  return inputError('bundle.source-unsupported', `${rel} (under targets.deploy.copy) is ${what}, which a bundle does not carry`, {
    hint: 'bundles carry regular files only (docs/bundles.md): replace it with a regular file, or bundle the dev target',
  });
}

/**
 * The engine's `docker save` archive of the image, staged in a temp file next to the bundle (a tar entry
 * needs its size first), hashed as it streams, then streamed into the bundle.
 */
async function addImage(writer: TarWriter, imageId: string, tmp: string, deps: BundleDeps, signal?: AbortSignal): Promise<BundleEntry> {
  const staged = `${tmp}.image`;
  try {
    deps.logger.progress(`exporting image ${imageId}`);
    const hash = createHash('sha256');
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(await deps.engine.exportImage(imageId), count, createWriteStream(staged, { flags: 'wx' }), ...(signal ? [{ signal }] : []));
    await writer.add({ name: IMAGE_ENTRY, type: 'file', mode: 0o644, size }, createReadStream(staged));
    return { path: IMAGE_ENTRY, kind: 'image', size, sha256: hash.digest('hex') };
  } finally {
    await unlink(staged).catch(() => {});
  }
}
