/**
 * The deploy image's source layers written straight from the build context (issue 11: a one-file edit
 * rebuilds in a fraction of a full build; a changed data directory streams like `docker build`'s).
 *
 * The generated Dockerfile ends the deploy stage with one `COPY` per `targets.deploy.copy` path. `envseal
 * build` has the engine build everything before them (the "prefix": dependencies, user, labels; nothing in it
 * depends on the project's files, so an edit leaves it cached and its normalised image is reused), then writes
 * each COPY's layer itself: the entries the context sends under the copied path, at the destination, with the
 * context's metadata (mode 0755/0644, uid/gid 0, mtime SOURCE_DATE_EPOCH; the builder's COPY keeps exactly
 * these), parent directories that WORKDIR did not create as 0755 root, and the workdir itself left out (its
 * metadata stays what WORKDIR gave it). Each layer then goes through the same canonical rewrite as a built
 * layer (layer-rewrite.ts), and the image is the prefix's normalised config with one history entry and one
 * diff_id per COPY, loaded with only the new layers (the classic store's load skips the held prefix).
 *
 * Nothing here is exported from the engine or spooled twice, so the cost is one read of the copied files.
 * A copy path that is, or passes through, a symlink is followed by the builder, not by a context walk:
 * `NotComposable` says so and the caller builds the whole Dockerfile instead (a function of the inputs, so
 * the same inputs still give the same image).
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, createWriteStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import type { ContainerEngine, Logger } from '../../core/ports.js';
import { silentLogger } from '../../core/ports.js';
import { externalError, inputError } from '../../core/errors.js';
import { walkBuildContext, type BuildContextOptions, type ContextEntry } from '../context/context.js';
import { createTarWriter, type TarWriter } from '../../tar/tar-stream-codec.js';
import { readImageArchive } from './image-archive.js';
import { checkEpoch, formatEpoch, rewriteImageConfig } from './config-rewrite.js';
import { rewriteLayerFile } from './layer-rewrite.js';
import { applyTags, loadArchive, removeQuietly } from './normalize-image.js';

/** One COPY of the deploy stage: context path (no trailing '/', '.' for the whole context) and absolute destination. */
export interface ContextCopy {
  source: string;
  dest: string;
  /** The Dockerfile line (kept in the image's history). */
  line: string;
}

export interface ComposeImageOptions {
  /** The normalised prefix image: its ID, its config bytes (their digest is the ID) and its diff_ids. */
  base: { imageId: string; config: Buffer; diffIds: readonly string[] };
  context: BuildContextOptions;
  copies: readonly ContextCopy[];
  /** The deploy stage's WORKDIR (absolute). */
  workdir: string;
  sourceDateEpoch: number;
  /** The mtime of the written layers' entries, when not `sourceDateEpoch` (see NormalizeImageOptions.layerEpoch). */
  layerEpoch?: number;
  tags: readonly string[];
  /** Directory for the layer files (removed by the caller). */
  workDir: string;
  /** True when the engine's load skips layers it holds (classic image store); else the prefix is exported and sent too. */
  classic: boolean;
  signal?: AbortSignal;
  logger?: Logger;
}

export interface ComposeImageResult {
  imageId: string;
  diffIds: string[];
  stats: { layers: number; files: number; bytes: number; ms: number; reused: boolean };
}

/** A copy path the builder resolves through a symlink (or that the context does not hold): build it with the engine. */
export class NotComposable extends Error {}

type Copied = Exclude<ContextEntry, { kind: 'skipped' }>;

const DIR_MODE = 0o755;
const EXEC_MODE = 0o755;
const FILE_MODE = 0o644;
const SYMLINK_MODE = 0o777;

/** Writes the COPY layers, then loads the prefix + those layers as one image and tags it. */
export async function composeImage(engine: ContainerEngine, options: ComposeImageOptions): Promise<ComposeImageResult> {
  const started = performance.now();
  const logger = options.logger ?? silentLogger;
  const epoch = checkEpoch(options.sourceDateEpoch);
  const layerEpoch = checkEpoch(options.layerEpoch ?? epoch);
  await mkdir(options.workDir, { recursive: true });
  const selected = await selectEntries(options.context, options.copies);
  const layers: { diffId: string; file: string; size: number }[] = [];
  let files = 0;
  for (const [index, copy] of options.copies.entries()) {
    options.signal?.throwIfAborted();
    const raw = join(options.workDir, `copy-${index + 1}.raw.tar`);
    const file = join(options.workDir, `copy-${index + 1}.tar`);
    files += await writeCopyLayer(selected[index]!, copy, { workdir: options.workdir, epoch: layerEpoch, file: raw });
    const rewritten = await rewriteLayerFile(raw, file, { sourceDateEpoch: layerEpoch, ...(options.signal ? { signal: options.signal } : {}) });
    await rm(raw, { force: true });
    layers.push({ diffId: rewritten.diffId, file, size: rewritten.size });
    logger.debug(`compose: ${copy.line} → ${rewritten.diffId} (${rewritten.entries} entries, ${rewritten.size} bytes)`);
  }
  logger.debug(`compose: layers written in ${Math.round(performance.now() - started)} ms`);
  const diffIds = [...options.base.diffIds, ...layers.map((l) => l.diffId)];
  const config = composeConfig(options.base.config, options.copies, { epoch, diffIds });
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;

  let loadedId = configDigest;
  let loadedByUs = false;
  const existing = await engine.inspectImage(configDigest);
  if (!existing) {
    const baseFiles = options.classic ? options.base.diffIds.map(() => undefined) : await exportLayers(engine, options);
    const output = [...options.base.diffIds.map((diffId, i) => ({ diffId, file: baseFiles[i] })), ...layers];
    loadedId = await loadArchive(engine, config, configDigest, output, options.signal);
    loadedByUs = true;
  }
  logger.debug(`compose: loaded at ${Math.round(performance.now() - started)} ms`);
  const loaded = await engine.inspectImage(loadedId);
  if (!loaded || loaded.layers.join() !== diffIds.join()) {
    if (loadedByUs) await removeQuietly(engine, loadedId);
    throw externalError(
      'compose.load-mismatch',
      `after loading, the engine shows ${loaded ? `layers ${loaded.layers.join(', ')}` : 'no image'} for ${configDigest}`,
      {
        hint: 'the engine did not keep the layers as written; build with --no-reproducible and report this',
      },
    );
  }
  await applyTags(engine, loaded.id, options.tags, loadedByUs ? loadedId : undefined);
  return {
    imageId: loaded.id,
    diffIds,
    stats: { layers: layers.length, files, bytes: layers.reduce((sum, l) => sum + l.size, 0), ms: Math.round(performance.now() - started), reused: !!existing },
  };
}

/** The prefix's config with one history entry per COPY and the new diff_ids, in canonical form. */
export function composeConfig(base: Buffer, copies: readonly ContextCopy[], options: { epoch: number; diffIds: readonly string[] }): Buffer {
  const parsed = JSON.parse(base.toString('utf8')) as Record<string, unknown>;
  const history = Array.isArray(parsed.history) ? [...(parsed.history as unknown[])] : [];
  for (const copy of copies) history.push({ created: formatEpoch(options.epoch), created_by: copy.line, comment: 'envseal: written from the build context' });
  return rewriteImageConfig(JSON.stringify({ ...parsed, history }), { sourceDateEpoch: options.epoch, diffIds: options.diffIds });
}

/** One walk of the context: for each copy, the entries under its source path (in context order). */
async function selectEntries(context: BuildContextOptions, copies: readonly ContextCopy[]): Promise<Copied[][]> {
  const roots = copies.map((c) => c.source.replace(/^(\.\/)+/, ''));
  const selected: Copied[][] = copies.map(() => []);
  for await (const entry of walkBuildContext(context)) {
    if (entry.kind === 'skipped') continue;
    roots.forEach((root, i) => {
      if (root === '.' || root === '' || entry.path === root || entry.path.startsWith(`${root}/`)) selected[i]!.push(entry);
    });
  }
  roots.forEach((root, i) => {
    if (root === '.' || root === '') return;
    const top = selected[i]!.find((e) => e.path === root);
    if (!top) throw new NotComposable(`${root} is not in the build context as a file or directory (a symlink on the way?)`);
    if (top.kind === 'symlink') throw new NotComposable(`${root} is a symlink, which COPY follows`);
  });
  return selected;
}

/** Writes one COPY's layer (raw: the canonical rewrite follows) to `file`; returns the number of files in it. */
async function writeCopyLayer(entries: readonly Copied[], copy: ContextCopy, options: { workdir: string; epoch: number; file: string }): Promise<number> {
  const root = copy.source.replace(/^(\.\/)+/, '');
  const whole = root === '.' || root === '';
  const workdir = posix.normalize(options.workdir).replace(/^\/+|\/+$/g, '');
  const dest = posix.normalize(copy.dest).replace(/^\/+|\/+$/g, '');
  const writer = createTarWriter();
  const sink = pipeline(writer.stream, createWriteStream(options.file, { flags: 'wx' }));
  sink.catch(() => {});
  const made = new Set<string>();
  const mtime = options.epoch;
  // Directories the COPY creates on the way (never the workdir or what is above it: those exist).
  const ensureParents = async (path: string) => {
    const parts = path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (made.has(dir) || dir === workdir || !dir.startsWith(workdir ? `${workdir}/` : '')) continue;
      made.add(dir);
      await writer.add({ name: `${dir}/`, type: 'directory', mode: DIR_MODE, mtime });
    }
  };
  let files = 0;
  try {
    for (const entry of entries) {
      const rel = whole ? `/${entry.path}` : entry.path.slice(root.length);
      const name = `${dest}${rel}`.replace(/^\/+/, '');
      if (!name || name === workdir) continue;
      await ensureParents(name);
      if (entry.kind === 'directory') {
        if (made.has(name)) continue;
        made.add(name);
        await writer.add({ name: `${name}/`, type: 'directory', mode: DIR_MODE, mtime });
      } else if (entry.kind === 'symlink') {
        await writer.add({ name, type: 'symlink', linkname: entry.target, mode: SYMLINK_MODE, mtime });
      } else if (entry.kind === 'generated') {
        await writer.add({ name, type: 'file', mode: entry.executable ? EXEC_MODE : FILE_MODE, mtime }, entry.content);
        files++;
      } else {
        await addDiskFile(writer, name, entry.absolutePath, mtime);
        files++;
      }
    }
    writer.finish();
    await sink;
    return files;
  } catch (err) {
    writer.fail(err instanceof Error ? err : new Error(String(err)));
    await sink.catch(() => {});
    throw err;
  }
}

async function addDiskFile(writer: TarWriter, name: string, absolutePath: string, mtime: number): Promise<void> {
  let handle;
  try {
    handle = await open(absolutePath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    throw unreadable(absolutePath, err);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw unreadable(absolutePath, new Error('it is no longer a regular file'));
    const mode = stat.mode & 0o111 ? EXEC_MODE : FILE_MODE;
    if (stat.size === 0) {
      await writer.add({ name, type: 'file', mode, mtime, size: 0 }, Buffer.alloc(0));
      return;
    }
    const body = handle.createReadStream({ start: 0, end: stat.size - 1, highWaterMark: 256 * 1024, autoClose: false });
    await writer.add({ name, type: 'file', mode, mtime, size: stat.size }, body);
  } finally {
    await handle.close().catch(() => {});
  }
}

function unreadable(path: string, err: unknown) {
  return inputError('build.copy-unreadable', `cannot read ${path} for the deploy image: ${(err as Error).message}`, {
    hint: 'check the file permissions, or exclude it in .dockerignore',
    cause: err,
  });
}

/** Containerd image store: the load needs every layer, so the prefix's are exported from the engine. */
async function exportLayers(engine: ContainerEngine, options: ComposeImageOptions): Promise<(string | undefined)[]> {
  const spoolDir = join(options.workDir, 'base');
  await mkdir(spoolDir, { recursive: true });
  const archive = await readImageArchive(await engine.exportImage(options.base.imageId), {
    spoolDir,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return archive.layers.map((l) => l.file);
}
