/**
 * Image normalisation after a classic build (issue 5; research/mechanisms.md §3.5): the same files and the
 * same Dockerfile give the same image ID, whenever and wherever they are built.
 *
 * The classic builder puts the wall clock into the config (`created`, `history[].created`), build-host
 * details into it (`container`, `container_config`, `docker_version`, `config.Image`) and every file's
 * mtime into the layers, in readdir order. This module exports the built image, rewrites each layer and
 * the config into a canonical form, loads the result and tags it.
 *
 * Layer rules (each layer is spooled to disk; bodies are copied from the spool by offset, so memory grows
 * with the number of entries, never with their size):
 *  - entries sorted by path, byte-wise, compared without a leading "./" or "/" and without a trailing "/"
 *    (so a directory comes before its contents and "./etc" sorts with "etc"); names are kept as stored,
 *    byte for byte (non-UTF-8 names included);
 *  - mtime clamped: `min(mtime, SOURCE_DATE_EPOCH)`, the rule of reproducible-builds.org's SOURCE_DATE_EPOCH
 *    spec and BuildKit's `rewrite-timestamp`: whatever the build created or touched gets the epoch, older
 *    timestamps (packages' own, the base image's) stay, so tools that compare mtimes still see the order;
 *  - uname/gname cleared (they are looked up on the build host; uid/gid are what extraction uses); mode
 *    (as stored, type bits included), uid, gid, link targets, device numbers kept;
 *  - pax records kept (xattrs such as `SCHILY.xattr.security.capability`), except access/change/creation
 *    times and star's device/inode/link-count records (`atime`, `ctime`, `LIBARCHIVE.creationtime`,
 *    `SCHILY.dev`, `SCHILY.ino`, `SCHILY.nlink`), which describe the build host's file system;
 *  - hard links: within a group of names for one file, the first name in sort order carries the body and
 *    every other name is a link to it, so the target always precedes its links and the choice does not
 *    depend on the order the engine walked the directory in. Each name keeps its own header metadata;
 *    a link to a file outside the layer is kept as it is;
 *  - whiteouts (`.wh.<name>`, `.wh..wh..opq`, OCI image-spec layer.md) are ordinary entries here: kept;
 *  - an entry stored twice under one path keeps only its last copy (what extraction would leave).
 * The config is serialised as canonical JSON (sorted keys, no whitespace): the bytes are the image ID.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DockerEngine, Logger } from '../../core/ports.js';
import { silentLogger } from '../../core/ports.js';
import { describeError, externalError, inputError, internalError, isEnvsealError, type EnvsealError } from '../../core/errors.js';
import { canonicalJsonCompact } from '../../core/canonical-json.js';
import { readImageArchive, writeImageArchive, type SpooledLayer } from './image-archive.js';
import { describeRawName, TAR_END_OF_ARCHIVE, tarPaddingOf, type RawPaxRecord, type RawTarHeader } from '../../tar/header.js';
import { encodeRawTarHeader } from '../../tar/raw-encoder.js';
import { scanRawTarFile, type RawTarEntry } from '../../tar/raw-reader.js';

export interface NormalizeImageOptions {
  /** Seconds since the Unix epoch (from the lock, never the clock). */
  sourceDateEpoch: number;
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
}

export interface NormalizeImageResult {
  /** The image ID the engine shows (the config digest under the classic image store). */
  imageId: string;
  /** `sha256:` of the rewritten config bytes. */
  configDigest: string;
  /** rootfs.diff_ids of the normalised image. */
  diffIds: string[];
  stats: {
    layers: number;
    /** Layers copied unchanged (`preserveLayers`). */
    preservedLayers: number;
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
export async function normalizeImage(engine: DockerEngine, imageRef: string, options: NormalizeImageOptions): Promise<NormalizeImageResult> {
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
    logger.progress(`normalising ${imageRef}: exporting`);
    let exported;
    try {
      exported = await engine.exportImage(imageRef);
    } catch (err) {
      throw exportError(imageRef, err);
    }
    const archive = await readImageArchive(exported, {
      spoolDir: dir,
      ...(signal ? { signal } : {}),
      onSpool: (path, bytes) => logger.debug(`normalise: spooling ${path} (${bytes} bytes)`),
    });

    const exportedAt = performance.now();
    stage = 'rewrite';
    const output: { diffId: string; file: string; size: number }[] = [];
    const done = new Map<SpooledLayer, { diffId: string; file: string; size: number }>();
    let entries = 0;
    let preserved = 0;
    for (const [index, layer] of archive.layers.entries()) {
      signal?.throwIfAborted();
      let result = done.get(layer);
      if (!result) {
        if (!layer.file) throw internalError('normalize.layer-missing', `layer ${index + 1} of ${imageRef} was not spooled`);
        if (preserve.has(layer.diffId)) {
          result = { diffId: layer.diffId, file: layer.file, size: layer.size };
          preserved += 1;
        } else {
          logger.progress(`normalising ${imageRef}: layer ${index + 1}/${archive.layers.length} (${formatBytes(layer.size)})`);
          const file = join(dir, `normalized-${String(index + 1).padStart(4, '0')}.tar`);
          const rewritten = await rewriteLayerFile(layer.file, file, { sourceDateEpoch: epoch, ...(signal ? { signal } : {}) }).catch((err: unknown) => {
            throw isEnvsealError(err) && err.code.startsWith('tar.') ? unreadableLayer(imageRef, index, err) : err;
          });
          await rm(layer.file, { force: true });
          entries += rewritten.entries;
          result = { diffId: rewritten.diffId, file, size: rewritten.size };
        }
        done.set(layer, result);
      }
      output.push(result);
    }
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
      const written = await writeImageArchive(config, output);
      let reported: string[];
      try {
        reported = await Promise.all([engine.loadImage(written.stream, signal ? { signal } : {}), written.done]).then(([ids]) => ids);
      } catch (err) {
        written.stream.destroy();
        await written.done.catch(() => {});
        throw err;
      }
      loadedByUs = true;
      // The classic store names the image by its config digest; the containerd image store (Engine ≥ 25
      // with containerd snapshotters) by the manifest digest (moby/moby#48401). Both are fixed by our bytes.
      const accepted = new Set([configDigest, written.manifestDigest]);
      const match = reported.find((id) => accepted.has(id));
      if (!match) {
        await removeQuietly(engine, configDigest);
        throw externalError('normalize.load-mismatch', `the engine loaded ${reported.join(', ')} instead of the normalised image ${configDigest}`, {
          hint: 'the engine rewrote the image on load (an image store envseal does not know?); build with --no-reproducible and report this',
          data: { expected: configDigest, reported },
        });
      }
      loadedId = match;
    }
    const loaded = await engine.inspectImage(loadedId);
    if (!loaded || !isSameList(loaded.layers, diffIds)) {
      if (loadedByUs) await removeQuietly(engine, loadedId);
      throw externalError('normalize.load-mismatch', `after loading, the engine shows ${loaded ? `layers ${loaded.layers.join(', ')}` : 'no image'} for ${configDigest}`, {
        hint: 'the engine did not keep the layers as written; build with --no-reproducible and report this',
      });
    }

    const loadedAt = performance.now();
    stage = 'tag';
    await applyTags(engine, loaded.id, options.tags, loadedByUs ? loadedId : undefined);
    const bytes = output.reduce((sum, l) => sum + l.size, 0);
    return {
      imageId: loaded.id,
      configDigest,
      diffIds,
      stats: {
        layers: output.length,
        preservedLayers: preserved,
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

function checkEpoch(epoch: number): number {
  // Year 9999 is the last instant RFC 3339 timestamps (config `created`) can carry.
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > 253402300799) {
    throw inputError('normalize.epoch', `SOURCE_DATE_EPOCH must be whole seconds between 0 and 253402300799, got ${epoch}`, {
      hint: 'the epoch comes from the lock: run `envseal lock` again',
    });
  }
  return epoch;
}

/** Tags the image; on a failure, puts the tags already moved back where they were (or removes them). */
async function applyTags(engine: DockerEngine, imageId: string, tags: readonly string[], removeOnFailure: string | undefined): Promise<void> {
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

async function removeQuietly(engine: DockerEngine, ref: string): Promise<void> {
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

// ---------------------------------------------------------------------------------------------------------
// Layers

/** pax records that describe the build host's file system rather than the file (see the module comment). */
const VOLATILE_PAX_KEYS = new Set(['atime', 'ctime', 'LIBARCHIVE.creationtime', 'SCHILY.dev', 'SCHILY.ino', 'SCHILY.nlink']);

export interface PlannedEntry {
  header: RawTarHeader;
  /** Where the body is in the input layer (`header.size` bytes). */
  bodyOffset: number;
}

/** The sort key of a name: without leading "./" or "/" and trailing "/", as latin1 (one char per byte). */
function toEntryKey(name: Buffer): string {
  let start = 0;
  let end = name.length;
  for (;;) {
    if (name[start] === 0x2f) start += 1;
    else if (name[start] === 0x2e && name[start + 1] === 0x2f) start += 2;
    else break;
  }
  while (end > start && name[end - 1] === 0x2f) end -= 1;
  if (end - start === 1 && name[start] === 0x2e) return '';
  return name.toString('latin1', start, end);
}

/** Byte-wise order of two latin1 keys (latin1 maps bytes to code units 0-255 one to one). */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Decides the rewritten layer (pure): which entries, in which order, with which headers, and where each
 * body comes from. `entries` are in archive order, as the scan found them.
 */
export function planLayerRewrite(entries: readonly RawTarEntry[], sourceDateEpoch: number): PlannedEntry[] {
  // An entry stored twice under one path: the last copy is what extraction leaves.
  const lastIndex = new Map<string, number>();
  entries.forEach((entry, index) => lastIndex.set(toEntryKey(entry.header.name), index));
  const live = entries
    .map((entry, index) => ({ key: toEntryKey(entry.header.name), index, header: entry.header, bodyOffset: entry.offset }))
    .filter((entry) => lastIndex.get(entry.key) === entry.index);
  const byKey = new Map(live.map((entry) => [entry.key, entry]));

  // Hard-link groups: every link resolved to the one entry that carries the data (its root).
  const groups = new Map<(typeof live)[number], (typeof live)[number][]>();
  for (const entry of live) {
    if (entry.header.type !== 'link') continue;
    let target = byKey.get(toEntryKey(entry.header.linkname!));
    for (let hops = 0; target && target.header.type === 'link' && hops < live.length; hops++) {
      target = byKey.get(toEntryKey(target.header.linkname!));
    }
    if (!target || target.header.type === 'link') continue; // target outside this layer: keep the link as it is
    const members = groups.get(target) ?? [target];
    members.push(entry);
    groups.set(target, members);
  }
  const planned = new Map(live.map((entry) => [entry, { header: { ...entry.header }, bodyOffset: entry.bodyOffset }]));
  for (const [root, members] of groups) {
    members.sort((a, b) => compareKeys(a.key, b.key));
    const carrier = members[0]!;
    const carrierHeader = planned.get(carrier)!.header;
    if (carrier !== root) {
      Object.assign(carrierHeader, {
        type: root.header.type,
        size: root.header.size,
        devmajor: root.header.devmajor,
        devminor: root.header.devminor,
      });
      if (root.header.linkname) carrierHeader.linkname = root.header.linkname;
      else delete carrierHeader.linkname;
      planned.get(carrier)!.bodyOffset = root.bodyOffset;
    }
    for (const member of members.slice(1)) {
      Object.assign(planned.get(member)!.header, { type: 'link', size: 0, linkname: carrier.header.name, devmajor: 0, devminor: 0 });
    }
  }

  live.sort((a, b) => compareKeys(a.key, b.key));
  return live.map((entry) => {
    const plan = planned.get(entry)!;
    plan.header = normalizeHeader(plan.header, sourceDateEpoch);
    return plan;
  });
}

function normalizeHeader(header: RawTarHeader, sourceDateEpoch: number): RawTarHeader {
  const pax: RawPaxRecord[] = header.pax
    .filter((record) => !VOLATILE_PAX_KEYS.has(record.key))
    .sort((a, b) => compareKeys(a.key, b.key));
  const out: RawTarHeader = {
    name: header.name,
    type: header.type,
    size: header.size,
    mode: header.mode,
    mtime: Math.min(header.mtime, sourceDateEpoch),
    uid: header.uid,
    gid: header.gid,
    uname: '',
    gname: '',
    devmajor: header.type === 'character-device' || header.type === 'block-device' ? header.devmajor : 0,
    devminor: header.type === 'character-device' || header.type === 'block-device' ? header.devminor : 0,
    pax,
  };
  if ((header.type === 'link' || header.type === 'symlink') && header.linkname) out.linkname = header.linkname;
  return out;
}

export interface RewriteLayerResult {
  /** `sha256:` of the rewritten (uncompressed) layer: its diff_id. */
  diffId: string;
  size: number;
  entries: number;
}

/** Output is written in blocks of this size (also the largest single read from the input). */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Rewrites the layer tar at `input` into `output` (which must not exist) following the rules in the module
 * comment. Reads the headers first (bodies are skipped by offset), then writes the entries in their new
 * order, copying each body from `input`.
 */
export async function rewriteLayerFile(input: string, output: string, options: { sourceDateEpoch: number; signal?: AbortSignal }): Promise<RewriteLayerResult> {
  const scanned: RawTarEntry[] = [];
  await scanRawTarFile(input, (entry) => {
    scanned.push(entry);
  });
  options.signal?.throwIfAborted();
  const plan = planLayerRewrite(scanned, options.sourceDateEpoch);
  scanned.length = 0;

  const handle = await open(input, 'r');
  const source = new WindowReader(handle);
  let sink: LayerSink | undefined;
  try {
    sink = await LayerSink.create(output);
    for (const [index, entry] of plan.entries()) {
      if (index % 256 === 0) options.signal?.throwIfAborted();
      await sink.write(encodeRawTarHeader(entry.header));
      if (entry.header.size > 0) {
        await sink.copyFrom(source, entry.bodyOffset, entry.header.size, entry.header.name);
        await sink.write(Buffer.alloc(tarPaddingOf(entry.header.size)));
      }
    }
    await sink.write(TAR_END_OF_ARCHIVE);
    const { digest, size } = await sink.close();
    return { diffId: `sha256:${digest}`, size, entries: plan.length };
  } catch (err) {
    await sink?.abort();
    throw err;
  } finally {
    await handle.close();
  }
}

/** Bodies up to this size are read through a shared window. */
const SMALL_BODY_BYTES = 64 * 1024;

function layerEndsEarly(name: Buffer): Error {
  return inputError('tar.corrupt', `cannot read the body of ${describeRawName(name)}: the layer ends early`);
}

/** Reads a file through a 1 MiB window. */
class WindowReader {
  private readonly window = Buffer.allocUnsafe(1024 * 1024);
  private start = 0;
  private length = 0;

  constructor(readonly handle: FileHandle) {}

  /** `size` (≤ the window) bytes at `offset`; valid until the next call. */
  async slice(offset: number, size: number, name: Buffer): Promise<Buffer> {
    if (offset < this.start || offset + size > this.start + this.length) {
      this.start = offset;
      this.length = 0;
      while (this.length < size) {
        const { bytesRead } = await this.handle.read(this.window, this.length, this.window.length - this.length, offset + this.length);
        if (bytesRead === 0) throw layerEndsEarly(name);
        this.length += bytesRead;
      }
    }
    return this.window.subarray(offset - this.start, offset - this.start + size);
  }
}

/** A file written in large blocks, hashed on the way. */
class LayerSink {
  private readonly hash = createHash('sha256');
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private fill = 0;
  private written = 0;

  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
  ) {}

  static async create(path: string): Promise<LayerSink> {
    return new LayerSink(await open(path, 'wx'), path);
  }

  async write(bytes: Buffer): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      const part = Math.min(bytes.length - at, this.buffer.length - this.fill);
      bytes.copy(this.buffer, this.fill, at, at + part);
      this.fill += part;
      at += part;
      if (this.fill === this.buffer.length) await this.flush();
    }
  }

  /**
   * Copies `size` bytes at `offset` of `source` into the write buffer. Small bodies go through `window`
   * (neighbouring small files are read with one call); large ones are read straight into the buffer.
   */
  async copyFrom(source: WindowReader, offset: number, size: number, name: Buffer): Promise<void> {
    if (size <= SMALL_BODY_BYTES) {
      await this.write(await source.slice(offset, size, name));
      return;
    }
    let left = size;
    let position = offset;
    while (left > 0) {
      const want = Math.min(left, this.buffer.length - this.fill);
      const { bytesRead } = await source.handle.read(this.buffer, this.fill, want, position);
      if (bytesRead === 0) throw layerEndsEarly(name);
      this.fill += bytesRead;
      position += bytesRead;
      left -= bytesRead;
      if (this.fill === this.buffer.length) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    if (!this.fill) return;
    const chunk = this.buffer.subarray(0, this.fill);
    this.hash.update(chunk);
    let at = 0;
    while (at < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, at, chunk.length - at, this.written + at);
      at += bytesWritten;
    }
    this.written += chunk.length;
    this.fill = 0;
  }

  async close(): Promise<{ digest: string; size: number }> {
    await this.flush();
    await this.handle.close();
    return { digest: this.hash.digest('hex'), size: this.written };
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => {});
    await rm(this.path, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Config

/**
 * Top-level config fields dropped, and why. All are written by the classic builder and describe the build,
 * not the image; none is read when a container starts (image-spec config.md does not define them; Docker
 * ≥ 25 with BuildKit no longer writes them).
 */
export const DROPPED_CONFIG_FIELDS: Readonly<Record<string, string>> = {
  container: 'ID of the container that ran the last build step: random on every build',
  container_config: "that build container's settings (its Cmd is the last step, its Hostname the container ID)",
  docker_version: 'version of the engine that built the image: the same lock would give other IDs on other engines',
};

/** Fields of `config` (the runtime settings) dropped, and why. */
export const DROPPED_RUNTIME_CONFIG_FIELDS: Readonly<Record<string, string>> = {
  Image: 'ID of the intermediate image the last step started from; it contains earlier steps\' timestamps and is never used at run time',
};

/** RFC 3339 UTC without fractional seconds, e.g. 2023-11-14T22:13:20Z (what BuildKit writes for SOURCE_DATE_EPOCH). */
export function formatEpoch(sourceDateEpoch: number): string {
  return new Date(sourceDateEpoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Rewrites an image config (pure): `created` and every `history[].created` set to the epoch, the fields in
 * DROPPED_CONFIG_FIELDS / DROPPED_RUNTIME_CONFIG_FIELDS removed, `rootfs.diff_ids` replaced, and the result
 * serialised as canonical JSON (sorted keys, no whitespace). Everything else is kept as it is.
 */
export function rewriteImageConfig(config: Buffer | string, options: { sourceDateEpoch: number; diffIds: readonly string[] }): Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof config === 'string' ? config : config.toString('utf8'));
  } catch (err) {
    throw externalError('normalize.config', `the image config is not JSON: ${describeError(err)}`, { hint: 'export the image again' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw externalError('normalize.config', 'the image config is not a JSON object', { hint: 'export the image again' });
  }
  const out: Record<string, unknown> = { ...(parsed as Record<string, unknown>) };
  const created = formatEpoch(checkEpoch(options.sourceDateEpoch));
  for (const field of Object.keys(DROPPED_CONFIG_FIELDS)) delete out[field];
  out.created = created;
  if (typeof out.config === 'object' && out.config !== null && !Array.isArray(out.config)) {
    const runtime: Record<string, unknown> = { ...(out.config as Record<string, unknown>) };
    for (const field of Object.keys(DROPPED_RUNTIME_CONFIG_FIELDS)) delete runtime[field];
    out.config = runtime;
  }
  if (Array.isArray(out.history)) {
    out.history = out.history.map((entry: unknown) =>
      typeof entry === 'object' && entry !== null && !Array.isArray(entry) && 'created' in entry ? { ...entry, created } : entry,
    );
  }
  const rootfs = typeof out.rootfs === 'object' && out.rootfs !== null ? (out.rootfs as Record<string, unknown>) : {};
  out.rootfs = { ...rootfs, type: 'layers', diff_ids: [...options.diffIds] };
  return Buffer.from(canonicalJsonCompact(out), 'utf8');
}
