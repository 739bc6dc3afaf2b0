/**
 * Image normalisation after a classic build (issue 5; research/mechanisms.md §3.5): the same files and the
 * same Dockerfile give the same image ID, whenever and wherever they are built.
 *
 * The classic builder puts the wall clock into the config (`created`, `history[].created`), build-host
 * details into it (`container`, `container_config`, `docker_version`, `config.Image`) and every file's
 * mtime into the layers, in readdir order. This module exports the built image, rewrites each layer and
 * the config into a canonical form, loads the result and tags it.
 *
 * Layer rules are in layer-rewrite.ts, config rules in config-rewrite.ts.
 * The config is serialised as canonical JSON (sorted keys, no whitespace): the bytes are the image ID.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ContainerEngine, Logger } from '../../core/ports.js';
import { silentLogger } from '../../core/ports.js';
import { describeError, externalError, inputError, internalError, isEnvsealError, type EnvsealError } from '../../core/errors.js';
import { readImageArchive, SkippedEntryMismatch, writeImageArchive, type ArchiveLayerInput, type ImageArchive, type SpooledLayer } from './image-archive.js';
import { checkEpoch, rewriteImageConfig } from './config-rewrite.js';
import { rewriteLayerFile } from './layer-rewrite.js';

export interface NormalizeImageOptions {
  /** Seconds since the Unix epoch (from the lock, never the clock). */
  sourceDateEpoch: number;
  /**
   * The mtime the rewritten layers' entries are clamped to, when not `sourceDateEpoch` (the config's times).
   * envseal build passes a fixed one (INSTALL_SOURCE_DATE_EPOCH): a layer taken from the build cache was built
   * before the lock it is now part of, so clamping to the lock's time would keep its build-time mtimes where a
   * clean build clamps them, and the two would differ (issue 11, layered installs).
   */
  layerEpoch?: number;
  /** Tags for the normalised image, applied only once it is loaded and checked. */
  tags: readonly string[];
  /** Directory for temporary files (about the image's size, twice its largest layer at peak). */
  workDir: string;
  signal?: AbortSignal;
  logger?: Logger;
  /**
   * diff_ids of layers to keep byte for byte instead of rewriting: pass the pinned base image's
   * `rootfs.diff_ids`. Base layers are immutable and content-addressed already, so rewriting them adds no
   * reproducibility; keeping them lets the image share them with the base on disk and saves the time
   * (BuildKit made the same choice for `rewrite-timestamp`, moby/buildkit#4663).
   */
  preserveLayers?: readonly string[];
  /** Layers normalised before with this epoch: raw diff_id → normalised diff_id (what `rewrittenLayers` reported). */
  knownLayers?: ReadonlyMap<string, string>;
  /**
   * How many leading layers of a list of normalised diff_ids the engine holds already, as the chain of an image
   * it has (e.g. the image normalised last time). Where the engine's load skips layers it holds (the classic
   * image store), those are neither rewritten nor sent; the raw image's own leading layers (the base) always
   * count as held, since the raw image is in the engine.
   */
  heldLayers?: (diffIds: readonly string[]) => Promise<number>;
  /**
   * Archive path → raw diff_id, from earlier exports (`archivePaths`): an entry at such a path whose layer
   * is preserved or in `knownLayers` is read past, unwritten and unhashed (a legacy export names each layer
   * directory after the layer's chain, so the same path holds the same layer). Classic image store only.
   */
  knownArchivePaths?: ReadonlyMap<string, string>;
}

export interface NormalizeImageResult {
  /** The image ID the engine shows (the config digest under the classic image store). */
  imageId: string;
  /** `sha256:` of the rewritten config bytes. */
  configDigest: string;
  /** The rewritten config bytes (their digest is the image ID under the classic store): what composeImage builds on. */
  config: Buffer;
  /** rootfs.diff_ids of the normalised image. */
  diffIds: string[];
  /** For every layer above the preserved ones: its raw diff_id and what it normalised to (for `knownLayers`). */
  rewrittenLayers: { raw: string; normalized: string }[];
  /** Where each layer was in the export: for `knownArchivePaths` next time. */
  archivePaths: { path: string; diffId: string }[];
  stats: {
    layers: number;
    /** Layers copied unchanged (`preserveLayers`). */
    preservedLayers: number;
    /** Leading layers the engine held already: neither rewritten nor loaded. */
    heldLayers: number;
    /** Tar entries in the rewritten layers. */
    entries: number;
    /** Bytes of all layers of the normalised image (uncompressed). */
    bytes: number;
    /** Wall time of the whole normalisation. */
    ms: number;
    /** Where the time went: export (engine + spooling), rewrite (layers + config), load (engine + checks). */
    stageMs: { export: number; rewrite: number; load: number };
    /** True when the engine already had the normalised image (nothing was loaded). */
    reused: boolean;
  };
}

/**
 * Exports `imageRef`, normalises it (see the module comment), loads the result and tags it with `tags`.
 * Fails with `normalize.export` (the image cannot be exported or the export breaks off),
 * `normalize.layer-unreadable` (exit 2: a layer holds an entry that cannot be rewritten), `normalize.disk-full`
 * (ENOSPC in the work directory or in the engine's storage), `normalize.work-dir`, `normalize.load` /
 * `normalize.load-mismatch` (the engine did not load what was written), `normalize.tag` or
 * `normalize.aborted`. Temporary files are always removed, and on failure no tag is moved: tags already
 * applied are put back where they were, and an image this call loaded is removed again.
 */
export async function normalizeImage(engine: ContainerEngine, imageRef: string, options: NormalizeImageOptions): Promise<NormalizeImageResult> {
  // Only the classic image store's load skips layers it holds (see `heldLayers`); unknown counts as not.
  const classic = (await engine.info().catch(() => undefined))?.imageStore === 'classic';
  try {
    return await normalizeOnce(engine, imageRef, options, { classic, skipKnown: classic });
  } catch (err) {
    if (!(err instanceof NeedsFullExport)) throw err;
    // A layer read past as known was needed after all (an image removed meanwhile?): read every layer.
    (options.logger ?? silentLogger).debug(`normalise: ${err.message}; exporting ${imageRef} again in full`);
    return await normalizeOnce(engine, imageRef, options, { classic, skipKnown: false });
  }
}

/** Exports the image and reads the archive, spooling the layers to `dir` (or reading past known ones, `skipKnown`). */
async function exportArchive(
  engine: ContainerEngine,
  imageRef: string,
  ctx: { options: NormalizeImageOptions; preserve: ReadonlySet<string>; dir: string; logger: Logger; skipKnown: boolean },
): Promise<ImageArchive> {
  const { options, preserve, logger } = ctx;
  logger.progress(`normalising ${imageRef}: exporting`);
  let exported;
  try {
    exported = await engine.exportImage(imageRef);
  } catch (err) {
    throw exportError(imageRef, err);
  }
  const knownPath = (path: string, metadata: (path: string) => Buffer | undefined) => {
    const diffId = options.knownArchivePaths?.get(path);
    if (diffId && (preserve.has(diffId) || options.knownLayers?.has(diffId))) return diffId;
    return isBottomLayer(path, metadata) ? options.preserveLayers?.[0] : undefined;
  };
  return readImageArchive(exported, {
    spoolDir: ctx.dir,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(ctx.skipKnown ? { skipEntry: knownPath } : {}),
    onSpool: (path, bytes) => logger.debug(`normalise: spooling ${path} (${bytes} bytes)`),
  }).catch((err: unknown) => {
    throw err instanceof SkippedEntryMismatch ? new NeedsFullExport(err.message) : err;
  });
}

/** A layer the export was read past (`knownArchivePaths`) turned out to be needed. */
class NeedsFullExport extends Error {}

/**
 * Docker's legacy save writes `<v1 id>/json` just before `<v1 id>/layer.tar`, and only the bottom layer's JSON
 * names no parent (moby image/tarexport/save.go): that layer is the base's first.
 */
function isBottomLayer(path: string, metadata: (path: string) => Buffer | undefined): boolean {
  if (!path.endsWith('/layer.tar')) return false;
  const json = metadata(`${path.slice(0, -'layer.tar'.length)}json`);
  if (!json) return false;
  try {
    const parsed = JSON.parse(json.toString('utf8')) as { parent?: unknown };
    return typeof parsed === 'object' && parsed !== null && !parsed.parent;
  } catch {
    return false;
  }
}

async function normalizeOnce(
  engine: ContainerEngine,
  imageRef: string,
  options: NormalizeImageOptions,
  mode: { classic: boolean; skipKnown: boolean },
): Promise<NormalizeImageResult> {
  const started = performance.now();
  const logger = options.logger ?? silentLogger;
  const { signal } = options;
  const epoch = checkEpoch(options.sourceDateEpoch);
  const preserve = new Set(options.preserveLayers ?? []);
  await mkdir(options.workDir, { recursive: true }).catch((err: unknown) => {
    throw workDirError(options.workDir, err);
  });
  const dir = join(options.workDir, `envseal-normalize-${randomBytes(6).toString('hex')}`);
  await mkdir(dir).catch((err: unknown) => {
    throw workDirError(options.workDir, err);
  });
  let stage: 'export' | 'rewrite' | 'load' | 'tag' = 'export';
  try {
    signal?.throwIfAborted();
    const archive = await exportArchive(engine, imageRef, { options, preserve, dir, logger, skipKnown: mode.skipKnown });

    const exportedAt = performance.now();
    stage = 'rewrite';
    const held = mode.classic ? await countHeldLayers(archive.layers, preserve, options) : { count: 0, diffIds: [] };
    const needed = archive.layers.findIndex((layer, i) => layer.skipped && i >= held.count);
    if (needed >= 0) throw new NeedsFullExport(`layer ${needed + 1} was read past as known, but the engine does not hold it`);
    const rewriteContext = { imageRef, dir, epoch: checkEpoch(options.layerEpoch ?? epoch), preserve, logger, ...(signal ? { signal } : {}) };
    const { output, entries, preserved } = await rewriteLayers(archive.layers, { ...rewriteContext, held });
    const diffIds = output.map((l) => l.diffId);
    const config = rewriteImageConfig(archive.config, { sourceDateEpoch: epoch, diffIds });
    const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;

    const rewrittenAt = performance.now();
    stage = 'load';
    signal?.throwIfAborted();
    const existing = await engine.inspectImage(configDigest);
    let loadedByUs = false;
    let loadedId = configDigest;
    if (existing) {
      logger.debug(`normalise: the engine already has ${configDigest}`);
    } else {
      logger.progress(`normalising ${imageRef}: loading ${configDigest.slice(0, 19)}`);
      try {
        loadedId = await loadArchive(engine, config, configDigest, output, signal);
      } catch (err) {
        if (!held.count || signal?.aborted) throw err;
        // A held layer went missing meanwhile (an image removed by someone else?): send every layer.
        logger.debug(`normalise: loading without the ${held.count} held layers failed (${describeError(err)}); loading them all`);
        loadedId = await loadArchive(engine, config, configDigest, await materializeLayers(output, rewriteContext), signal);
      }
      loadedByUs = true;
    }
    const loaded = await engine.inspectImage(loadedId);
    if (!loaded || !isSameList(loaded.layers, diffIds)) {
      if (loadedByUs) await removeQuietly(engine, loadedId);
      throw externalError(
        'normalize.load-mismatch',
        `after loading, the engine shows ${loaded ? `layers ${loaded.layers.join(', ')}` : 'no image'} for ${configDigest}`,
        {
          hint: 'the engine did not keep the layers as written; build with --no-reproducible and report this',
        },
      );
    }

    const loadedAt = performance.now();
    stage = 'tag';
    await applyTags(engine, loaded.id, options.tags, loadedByUs ? loadedId : undefined);
    const bytes = output.reduce((sum, l) => sum + l.size, 0);
    const rewrittenLayers = archive.layers.flatMap((layer, i) => (preserve.has(layer.diffId) ? [] : [{ raw: layer.diffId, normalized: diffIds[i]! }]));
    return {
      imageId: loaded.id,
      configDigest,
      config,
      diffIds,
      rewrittenLayers,
      archivePaths: archive.layers.map((l) => ({ path: l.archivePath, diffId: l.diffId })),
      stats: {
        layers: output.length,
        preservedLayers: preserved,
        heldLayers: held.count,
        entries,
        bytes,
        ms: Math.round(performance.now() - started),
        stageMs: { export: Math.round(exportedAt - started), rewrite: Math.round(rewrittenAt - exportedAt), load: Math.round(loadedAt - rewrittenAt) },
        reused: !!existing,
      },
    };
  } catch (err) {
    throw classifyError(err, { imageRef, workDir: options.workDir, stage, signal });
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

interface OutputLayer {
  diffId: string;
  /** The layer tar; undefined for a layer the engine holds (not sent). */
  file: string | undefined;
  size: number;
  /** The exported layer it came from. */
  raw: SpooledLayer;
}

interface RewriteContext {
  imageRef: string;
  dir: string;
  epoch: number;
  preserve: ReadonlySet<string>;
  logger: Logger;
  signal?: AbortSignal;
}

interface HeldLayers {
  /** Leading layers the engine holds, and whose load it skips. */
  count: number;
  /** Their normalised diff_ids (known without rewriting them). */
  diffIds: string[];
}

/**
 * How many leading layers need neither rewriting nor sending: each one's normalised diff_id is known (a
 * preserved layer's is its own, others from `knownLayers`) and the engine holds the chain up to it (the raw
 * image's own prefix, or what `heldLayers` says), and the engine's load skips held layers (classic store only).
 */
async function countHeldLayers(layers: readonly SpooledLayer[], preserve: ReadonlySet<string>, options: NormalizeImageOptions): Promise<HeldLayers> {
  const known: string[] = [];
  for (const layer of layers) {
    const normalized = preserve.has(layer.diffId) ? layer.diffId : options.knownLayers?.get(layer.diffId);
    if (!normalized) break;
    known.push(normalized);
  }
  if (!known.length) return { count: 0, diffIds: [] };
  let count = 0;
  while (count < known.length && known[count] === layers[count]!.diffId) count++;
  if (count < known.length && options.heldLayers) count = Math.max(count, Math.min(known.length, await options.heldLayers(known)));
  return { count, diffIds: known.slice(0, count) };
}

/** Rewrites every layer not in `preserve` into `dir` (a layer listed twice is rewritten once); the first `held` are not needed. */
async function rewriteLayers(
  layers: readonly SpooledLayer[],
  ctx: RewriteContext & { held: HeldLayers },
): Promise<{ output: OutputLayer[]; entries: number; preserved: number }> {
  const { imageRef, preserve, logger, signal } = ctx;
  const output: OutputLayer[] = [];
  const done = new Map<SpooledLayer, OutputLayer>();
  let entries = 0;
  let preserved = 0;
  for (const [index, layer] of layers.entries()) {
    signal?.throwIfAborted();
    if (preserve.has(layer.diffId)) preserved += 1;
    if (index < ctx.held.count) {
      output.push({ diffId: ctx.held.diffIds[index]!, file: undefined, size: 0, raw: layer });
      continue;
    }
    let result = done.get(layer);
    if (!result) {
      if (!layer.file) throw internalError('normalize.layer-missing', `layer ${index + 1} of ${imageRef} was not spooled`);
      if (preserve.has(layer.diffId)) {
        result = { diffId: layer.diffId, file: layer.file, size: layer.size, raw: layer };
      } else {
        logger.progress(`normalising ${imageRef}: layer ${index + 1}/${layers.length} (${formatBytes(layer.size)})`);
        const rewritten = await rewriteOne(layer, index, ctx);
        // A held layer keeps its spooled file, in case it must be sent after all (materializeLayers).
        if (!layers.slice(0, ctx.held.count).includes(layer)) {
          await rm(layer.file, { force: true });
          layer.file = undefined;
        }
        entries += rewritten.entries;
        result = { diffId: rewritten.diffId, file: rewritten.file, size: rewritten.size, raw: layer };
      }
      done.set(layer, result);
    }
    output.push(result);
  }
  return { output, entries, preserved };
}

async function rewriteOne(layer: SpooledLayer, index: number, ctx: RewriteContext): Promise<{ diffId: string; file: string; size: number; entries: number }> {
  const file = join(ctx.dir, `normalized-${String(index + 1).padStart(4, '0')}.tar`);
  const rewritten = await rewriteLayerFile(layer.file!, file, { sourceDateEpoch: ctx.epoch, ...(ctx.signal ? { signal: ctx.signal } : {}) }).catch(
    (err: unknown) => {
      throw isEnvsealError(err) && err.code.startsWith('tar.') ? unreadableLayer(ctx.imageRef, index, err) : err;
    },
  );
  return { ...rewritten, file };
}

/** Every layer as a file: the held ones (kept as spooled) are copied or rewritten now, and must give the diff_ids known for them. */
async function materializeLayers(output: readonly OutputLayer[], ctx: RewriteContext): Promise<OutputLayer[]> {
  const result: OutputLayer[] = [];
  for (const [index, layer] of output.entries()) {
    if (layer.file !== undefined) {
      result.push(layer);
      continue;
    }
    if (!layer.raw.file) throw new NeedsFullExport(`layer ${index + 1} was read past as known, but the engine no longer holds it`);
    if (ctx.preserve.has(layer.raw.diffId)) {
      result.push({ ...layer, file: layer.raw.file, size: layer.raw.size });
      continue;
    }
    const rewritten = await rewriteOne(layer.raw, index, ctx);
    if (rewritten.diffId !== layer.diffId) {
      throw internalError('normalize.memo-mismatch', `layer ${index + 1} of ${ctx.imageRef} normalises to ${rewritten.diffId}, remembered as ${layer.diffId}`, {
        hint: 'remove the normalised-image memo from the cache directory and build again',
      });
    }
    result.push({ ...layer, file: rewritten.file, size: rewritten.size });
  }
  return result;
}

/** Loads the normalised image into the engine; returns the ID the engine gives it (checked against our bytes). */
export async function loadArchive(
  engine: ContainerEngine,
  config: Buffer,
  configDigest: string,
  output: readonly ArchiveLayerInput[],
  signal: AbortSignal | undefined,
): Promise<string> {
  const written = await writeImageArchive(config, output);
  let reported: string[];
  try {
    reported = await Promise.all([engine.loadImage(written.stream, signal ? { signal } : {}), written.done]).then(([ids]) => ids);
  } catch (err) {
    written.stream.destroy();
    await written.done.catch(() => {});
    throw err;
  }
  // The classic store names the image by its config digest; the containerd image store (Engine ≥ 25
  // with containerd snapshotters) by the manifest digest (moby/moby#48401). Both are fixed by our bytes.
  const accepted = new Set([configDigest, ...(written.manifestDigest ? [written.manifestDigest] : [])]);
  const match = reported.find((id) => accepted.has(id));
  if (!match) {
    await removeQuietly(engine, configDigest);
    throw externalError('normalize.load-mismatch', `the engine loaded ${reported.join(', ')} instead of the normalised image ${configDigest}`, {
      hint: 'the engine rewrote the image on load (an image store envseal does not know?); build with --no-reproducible and report this',
      data: { expected: configDigest, reported },
    });
  }
  return match;
}

/** Tags the image; on a failure, puts the tags already moved back where they were (or removes them). */
export async function applyTags(engine: ContainerEngine, imageId: string, tags: readonly string[], removeOnFailure: string | undefined): Promise<void> {
  const applied: { tag: string; previous: string | undefined }[] = [];
  for (const tag of tags) {
    try {
      const previous = (await engine.inspectImage(tag))?.id;
      await engine.tagImage(imageId, tag);
      applied.push({ tag, previous });
    } catch (err) {
      const problems: string[] = [];
      for (const { tag: done, previous } of applied.reverse()) {
        try {
          if (previous && previous !== imageId) await engine.tagImage(previous, done);
          else if (!previous) await engine.removeImage(done);
        } catch (undoErr) {
          problems.push(`could not restore ${done}: ${describeError(undoErr)}`);
        }
      }
      if (removeOnFailure) await removeQuietly(engine, removeOnFailure);
      throw externalError('normalize.tag', `cannot tag the normalised image ${imageId} as ${tag}: ${describeError(err)}`, {
        hint: isEnvsealError(err) && err.hint ? err.hint : 'check the tag, then build again',
        details: problems,
        cause: err,
      });
    }
  }
}

export async function removeQuietly(engine: ContainerEngine, ref: string): Promise<void> {
  await engine.removeImage(ref, { force: false }).catch(() => {});
}

function isSameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

// ---------------------------------------------------------------------------------------------------------
// Errors

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

function findErrno(err: unknown): NodeJS.ErrnoException | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && (e as NodeJS.ErrnoException).syscall) return e as NodeJS.ErrnoException;
  }
  return undefined;
}

function workDirError(workDir: string, err: unknown): EnvsealError {
  const errno = findErrno(err);
  if (errno && DISK_FULL_CODES.has(errno.code!)) return diskFull(workDir, err);
  return externalError('normalize.work-dir', `cannot use the work directory ${workDir} for image normalisation: ${describeError(err)}`, {
    hint: 'make it writable, or point the work directory at another disk',
    data: { workDir },
    cause: err,
  });
}

function unreadableLayer(imageRef: string, index: number, err: EnvsealError): EnvsealError {
  return inputError('normalize.layer-unreadable', `layer ${index + 1} of ${imageRef} cannot be normalised: ${err.message}`, {
    hint: 'the layer holds an entry envseal cannot rewrite (it usually comes from the base image); build with --no-reproducible, or use another base image',
    cause: err,
  });
}

function diskFull(workDir: string, err: unknown): EnvsealError {
  return externalError('normalize.disk-full', `no space left on the device of ${workDir} while normalising the image`, {
    hint: `free space there, or point the work directory at a larger disk: normalisation needs about the image's size, plus its largest layer, in ${workDir}`,
    data: { workDir },
    cause: err,
  });
}

function exportError(imageRef: string, err: unknown): EnvsealError {
  return externalError('normalize.export', `cannot export image ${imageRef} from the Docker engine: ${describeError(err)}`, {
    hint: isEnvsealError(err) && err.hint ? err.hint : 'check that the image exists (`docker image inspect`) and that the engine is running',
    cause: err,
  });
}

function classifyError(
  err: unknown,
  context: { imageRef: string; workDir: string; stage: 'export' | 'rewrite' | 'load' | 'tag'; signal: AbortSignal | undefined },
): unknown {
  if (err instanceof NeedsFullExport && !context.signal?.aborted) return err;
  if (context.signal?.aborted) {
    return externalError('normalize.aborted', `normalising ${context.imageRef} was cancelled; nothing was tagged`, { cause: err });
  }
  const errno = findErrno(err);
  if (errno && DISK_FULL_CODES.has(errno.code!)) return diskFull(context.workDir, err);
  if (isEnvsealError(err)) {
    if (err.code.startsWith('normalize.')) return err;
    if (context.stage === 'load' && /no space left on device/i.test(err.message)) {
      return externalError('normalize.disk-full', `the Docker engine ran out of disk space while loading the normalised image: ${err.message}`, {
        hint: "free space in the engine's data root (`docker system df`, `docker image prune`), then build again",
        cause: err,
      });
    }
    if (context.stage === 'load') {
      return externalError('normalize.load', `loading the normalised image of ${context.imageRef} failed: ${err.message}`, {
        hint: err.hint ?? 'check the engine log, then build again',
        cause: err,
      });
    }
    if (context.stage === 'export' && !err.code.startsWith('tar.') && err.code !== 'image-archive.invalid') return exportError(context.imageRef, err);
    if (context.stage === 'export') {
      return externalError('normalize.export', `the export of ${context.imageRef} is not a usable image archive: ${err.message}`, {
        hint: err.hint ?? 'export the image again',
        cause: err,
      });
    }
    return err;
  }
  if (errno?.path !== undefined) return workDirError(context.workDir, err);
  if (context.stage === 'export') {
    return externalError('normalize.export', `the export of ${context.imageRef} from the Docker engine broke off: ${describeError(err)}`, {
      hint: 'check that the engine is still running, then build again',
      cause: err,
    });
  }
  return err;
}
