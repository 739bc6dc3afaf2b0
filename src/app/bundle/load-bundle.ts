/**
 * `envseal load FILE.tar [--rebuild]`: checks the whole bundle (every entry against manifest.json, the
 * manifest against the lock inside) before anything reaches the engine; then loads the image and checks that
 * the engine gives it the manifest's ID and that it carries the lock's fingerprint. `--rebuild` instead builds
 * the image again from the bundled files alone (the bundled wheels served by an offline index, no network) and
 * checks it gets the same ID. See docs/bundles.md.
 */
import { parseLockedGitUrl, vcsArchivePath } from '../../ecosystems/python/manifests/vcs-url.js';
import { createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { checkFailed, inputError } from '../../core/errors.js';
import { LABEL_FINGERPRINT, LABEL_LOCK_DIGEST } from '../../core/image-contract.js';
import type { Lock } from '../../lock/schema.js';
import { buildImage, type BuildDeps } from '../build-image.js';
import { aptPackagesFor } from '../../ecosystems/apt/offline.js';
import { DOCKERFILE_ENTRY, IMAGE_ENTRY, LOCK_ENTRY, type BundleManifest } from './manifest.js';
import { startOfflineIndex, type ServedFile } from './offline-index.js';
import { readBundleEntries, verifyBundle } from './read-bundle.js';

export interface LoadRequest {
  file: string;
  /** How the user named the file, for messages. */
  label: string;
  rebuild?: boolean;
  signal?: AbortSignal;
  tmpDir?: string;
  network?: string;
}

export interface LoadOutcome {
  imageId: string;
  tags: string[];
  fingerprint: string;
  target: string;
  entries: number;
  rebuilt: boolean;
  /** `--rebuild`: requests the build made that the bundle answered (index pages, wheels, apt files). */
  servedFromBundle?: number;
}

export async function loadBundle(request: LoadRequest, deps: BuildDeps): Promise<LoadOutcome> {
  const st = await stat(request.file).catch(() => null);
  if (!st?.isFile())
    throw inputError('bundle.missing', `${request.label} does not exist or is not a file`, { hint: 'name a bundle written by `envseal bundle`' });
  deps.logger.progress(`checking ${request.label}`);
  const bundle = await verifyBundle(request.file, request.label);
  const { manifest, lock } = bundle;
  let servedFromBundle: number | undefined;
  const imageId = request.rebuild
    ? await rebuildFromBundle(request, bundle, deps, (n) => (servedFromBundle = n))
    : await loadImageEntry(request, manifest, deps);
  const info = await deps.engine.inspectImage(imageId);
  if (!info) throw checkFailed('load.image-missing', `the engine does not show image ${imageId} after loading it`, { hint: 'load it again' });
  if (info.labels[LABEL_FINGERPRINT] !== lock.fingerprint || info.labels[LABEL_LOCK_DIGEST] !== manifest.lockDigest) {
    throw checkFailed('load.fingerprint-mismatch', `image ${imageId} does not carry the fingerprint of the bundled lock (${lock.fingerprint})`, {
      hint: 'the bundle was not made from this image: make it again with `envseal bundle`',
    });
  }
  for (const tag of manifest.image.tags) await deps.engine.tagImage(imageId, tag);
  return {
    imageId,
    tags: manifest.image.tags,
    fingerprint: lock.fingerprint,
    target: manifest.target,
    entries: manifest.entries.length,
    rebuilt: !!request.rebuild,
    ...(servedFromBundle !== undefined ? { servedFromBundle } : {}),
  };
}

/** Streams image.tar into the engine; the engine must report the manifest's image ID, else it is removed again. */
async function loadImageEntry(request: LoadRequest, manifest: BundleManifest, deps: BuildDeps): Promise<string> {
  const existed = !!(await deps.engine.inspectImage(manifest.image.id));
  let reported: string[] = [];
  deps.logger.progress(`loading image ${manifest.image.id}`);
  try {
    await readBundleEntries(
      request.file,
      request.label,
      manifest,
      (path) => path === IMAGE_ENTRY,
      async (_path, body) => {
        reported = await deps.engine.loadImage(body, request.signal ? { signal: request.signal } : {});
      },
    );
  } catch (err) {
    if (!existed) await deps.engine.removeImage(manifest.image.id, { force: true }).catch(() => {});
    throw err;
  }
  const wanted = manifest.image.id;
  if (!reported.some((r) => r === wanted || r === wanted.slice('sha256:'.length))) {
    const other = reported.find((r) => r.startsWith('sha256:'));
    if (other && other !== wanted) await deps.engine.removeImage(other, { force: true }).catch(() => {});
    throw checkFailed('load.image-id-mismatch', `${request.label}: the engine loaded ${reported.join(', ') || 'nothing'}, manifest.json says ${wanted}`, {
      hint: 'the image in the bundle is not the one it was made from: make the bundle again',
    });
  }
  return wanted;
}

/** Why `--rebuild` cannot work offline for this lock and bundle, or null. */
export function offlineRebuildBlocker(lock: Lock, manifest: BundleManifest): string | null {
  const apt = lock.apt ? aptPackagesFor(lock.apt, manifest.target) : [];
  if (apt.length && !manifest.entries.some((e) => e.kind === 'apt')) {
    return `the lock installs ${apt.length} apt package(s), and the bundle does not hold what apt fetched for them (made by an older envseal, or apt could not fetch them when it was made)`;
  }
  if (lock.npm) return 'the lock has npm packages, which `npm ci` fetches over HTTPS from the npm registry';
  if (lock.files?.length)
    return `the image fetches ${lock.files.length} remote file(s) with ADD, which the Docker daemon downloads itself, past the offline proxy`;
  // A git package's archive is in the bundle and goes back into the scratch project's .envseal/vcs/.
  const https = (lock.python?.packages ?? []).find((p) => !parseLockedGitUrl(p.file.url) && (!p.index.startsWith('http:') || !p.file.url.startsWith('http:')));
  if (https) return `${https.name} comes from ${https.file.url}: the offline index serves plain-HTTP index URLs only`;
  return null;
}

/** Rebuilds the image from the bundle in a scratch project; returns its ID after checking it is the manifest's. */
async function rebuildFromBundle(
  request: LoadRequest,
  bundle: Awaited<ReturnType<typeof verifyBundle>>,
  deps: BuildDeps,
  reportServed: (count: number) => void,
): Promise<string> {
  const { manifest, lock } = bundle;
  const blocker = offlineRebuildBlocker(lock, manifest);
  if (blocker)
    throw inputError('load.rebuild-unsupported', `${request.label}: cannot rebuild offline: ${blocker}`, { hint: 'load the bundled image without --rebuild' });
  if (!(await deps.engine.inspectImage(lock.base.pinned))) {
    throw inputError('load.base-missing', `the base image ${lock.base.pinned} is not in the Docker engine; a rebuild starts from it`, {
      hint: 'pull it from a registry the engine can reach (the bundle does not carry the base: docs/bundles.md)',
    });
  }
  const work = await mkdtemp(join(request.tmpDir ?? tmpdir(), 'envseal-load-'));
  try {
    const project = join(work, 'project');
    const served = await extractForRebuild(request, manifest, project, join(work, 'files'));
    const index = await startOfflineIndex(lock, served);
    try {
      const scratch = `envseal-load/${lock.name}:${manifest.target}-${process.pid}`;
      deps.logger.info(`rebuilding the ${manifest.target} image from ${request.label} (no network: packages from the bundle)`);
      const built = await buildImage(
        { dir: project, spec: join(project, 'envseal.yaml'), lock: join(project, manifest.lockPath) },
        {
          target: manifest.target,
          tags: [scratch],
          noCache: true,
          reproducible: true,
          writeRecord: false,
          network: request.network ?? 'host',
          extraBuildArgs: { HTTP_PROXY: index.proxyUrl, http_proxy: index.proxyUrl },
          ...(request.signal ? { signal: request.signal } : {}),
        },
        { ...deps, revision: manifest.image.revision },
      ).catch((err: unknown) => {
        if (index.misses.length) deps.logger.warn(`the build asked for what the bundle does not have: ${index.misses.slice(0, 5).join('; ')}`);
        throw err;
      });
      // The manifest's tags go on first: removing the scratch tag must not remove the image with it.
      if (built.imageId === manifest.image.id) for (const tag of manifest.image.tags) await deps.engine.tagImage(built.imageId, tag);
      await deps.engine.removeImage(scratch, { force: false }).catch(() => {});
      if (built.imageId !== manifest.image.id) {
        throw checkFailed('load.rebuild-differs', `a rebuild from ${request.label} gives image ${built.imageId}, the bundle's image is ${manifest.image.id}`, {
          hint: 'compare the two with `envseal diff`; the engine, the base image or envseal differ from where the bundle was made',
          data: { rebuilt: built.imageId, expected: manifest.image.id },
        });
      }
      return built.imageId;
    } finally {
      reportServed(index.served());
      await index.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function ensureDir(file: string): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  return file;
}

/** Writes the lock, the Dockerfile and the source files into `project`, and the package files into `filesDir`. */
async function extractForRebuild(request: LoadRequest, manifest: BundleManifest, project: string, filesDir: string): Promise<ServedFile[]> {
  const byPath = new Map(manifest.entries.map((e) => [e.path, e]));
  const served: ServedFile[] = [];
  const target = (path: string): string | null => {
    if (path === LOCK_ENTRY) return join(project, manifest.lockPath);
    if (path === DOCKERFILE_ENTRY) return join(project, DOCKERFILE_ENTRY);
    if (path.startsWith('source/')) return join(project, path.slice('source/'.length));
    const kind = byPath.get(path)?.kind;
    if (kind === 'python' || kind === 'apt') return join(filesDir, path);
    return null;
  };
  await mkdir(filesDir, { recursive: true });
  await readBundleEntries(
    request.file,
    request.label,
    manifest,
    (path) => target(path) !== null,
    async (path, body: Readable) => {
      const out = target(path)!;
      await mkdir(dirname(out), { recursive: true });
      await pipeline(body, createWriteStream(out));
      const entry = byPath.get(path)!;
      if (entry.executable) await chmod(out, 0o755);
      const git = entry.kind === 'python' && entry.url ? parseLockedGitUrl(entry.url) : null;
      // The builder stage COPYs a git package's archive from the build context (.envseal/vcs/<commit>/).
      if (git) await copyFile(out, await ensureDir(join(project, vcsArchivePath(git.commit, basename(path)))));
      else if ((entry.kind === 'python' || entry.kind === 'apt') && entry.url) served.push({ url: entry.url, path: out, size: entry.size });
    },
  );
  return served;
}
