/**
 * Reading and writing image archives: what `GET /images/{name}/get` (`docker save`) produces and
 * `POST /images/load` (`docker load`) consumes.
 *
 * Two layouts exist and both are read:
 *  - Docker's legacy save format (Engine < 25, e.g. 20.10 here): `manifest.json` =
 *    `[{Config, RepoTags, Layers}]`, the config as `<image id hex>.json`, each layer as an uncompressed
 *    `<v1 id>/layer.tar` (a layer that occurs twice is a symlink to the first copy), plus legacy v1 files
 *    (`<v1 id>/json`, `VERSION`, `repositories`) that are ignored;
 *  - the OCI image layout (image-spec `image-layout.md`, written by Engine ≥ 25 next to a `manifest.json`,
 *    moby/moby#44598): `oci-layout`, `index.json` → manifest (possibly through a nested index) → config and
 *    layers under `blobs/sha256/<hex>`, layers possibly gzip-compressed (containerd image store).
 * `manifest.json` is preferred when both are there. Layers are spooled, uncompressed, to files (never held in
 * memory, so multi-GB layers are fine) and their diff_id (sha256 of the uncompressed tar, image-spec
 * `config.md` `rootfs.diff_ids`) is computed on the way and checked against the config.
 *
 * The archive order is not known in advance (legacy archives list `manifest.json` last, OCI ones list
 * `blobs/` first), so every entry that could be a layer is spooled as it streams by; small entries (configs,
 * manifests, tiny layers) are kept in memory until the index says what they are.
 *
 * Written archives carry both layouts (an OCI layout whose blobs `manifest.json` also points at), so Engine
 * 20.10 and later engines load them; every byte is a function of the config and the layers (sorted entries,
 * mtime 0, uid/gid 0, canonical JSON), so the same image always gives the same archive.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { externalError, inputError } from '../../core/errors.js';
import { canonicalJsonCompact } from '../../core/canonical-json.js';
import { createTarWriter, readTarEntries } from '../../tar/tar-stream-codec.js';

/** A layer spooled to disk, uncompressed. */
export interface SpooledLayer {
  /** Where the layer was in the archive (symlinks resolved). */
  archivePath: string;
  /** The uncompressed layer tar on disk; undefined when `keepLayer` said it was not needed (then deleted) or it was skipped. */
  file: string | undefined;
  /** True when the entry was skipped unread (`skipEntry`): `diffId` is the one expected, checked against the config only. */
  skipped?: boolean;
  /** `sha256:<hex>` of the uncompressed tar. */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
}

export interface ImageArchive {
  format: 'docker-save' | 'oci-layout';
  /** The config bytes exactly as in the archive (their sha256 is the image ID under the classic store). */
  config: Buffer;
  configDigest: string;
  repoTags: string[];
  /** In image order (bottom first); the same object twice when a layer occurs twice. */
  layers: SpooledLayer[];
}

export interface ReadImageArchiveOptions {
  /** Existing directory for the spooled layers. */
  spoolDir: string;
  signal?: AbortSignal;
  /** Called once per distinct layer after it has been spooled: false deletes the file right away. */
  keepLayer?: (diffId: string) => boolean;
  /**
   * For a large entry, the diff_id it is known to hold when its bytes are not needed: it is then read past
   * without being written or hashed, and only checked against the config's diff_id for its place. `metadata`
   * gives the small entries read so far (a legacy archive has `<v1 id>/json` just before `<v1 id>/layer.tar`).
   */
  skipEntry?: (archivePath: string, metadata: (path: string) => Buffer | undefined) => string | undefined;
  /** Progress: called when a large entry starts streaming to disk. */
  onSpool?: (archivePath: string, bytes: number) => void;
}

/** Entries up to this size are kept in memory until the index says what they are. */
const SMALL_ENTRY_BYTES = 1024 * 1024;
/** JSON metadata larger than this is refused (a config is a few KB; a manifest list a few hundred). */
const MAX_METADATA_BYTES = 64 * 1024 * 1024;

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

const MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const MEDIA_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MEDIA_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const MEDIA_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const MEDIA_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/**
 * Reads an image archive stream, spooling its layers into `spoolDir`. Rejects with `image-archive.invalid`
 * (exit 3: the engine produced it) when the archive is not a single-image save, and passes file-system
 * errors (ENOSPC...) through unchanged so the caller can say which disk is full.
 */
export async function readImageArchive(source: Readable, options: ReadImageArchiveOptions): Promise<ImageArchive> {
  const small = new Map<string, Buffer>();
  const spooled = new Map<string, SpooledLayer>();
  const links = new Map<string, string>();
  let counter = 0;
  const nextFile = () => join(options.spoolDir, `layer-${String(++counter).padStart(4, '0')}.tar`);
  const onAbort = () => source.destroy(toAbortError(options.signal));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    options.signal?.throwIfAborted();
    await readTarEntries(source, async ({ header, body }) => {
      options.signal?.throwIfAborted();
      const path = cleanArchivePath(header.name);
      if (header.type === 'symlink' || header.type === 'link') {
        const target = header.type === 'symlink' ? posix.join(posix.dirname(path), header.linkname ?? '') : cleanArchivePath(header.linkname ?? '');
        links.set(path, cleanArchivePath(target));
        return;
      }
      if (header.type !== 'file') return;
      if (isMetadataName(path) || header.size <= SMALL_ENTRY_BYTES) {
        if (header.size > MAX_METADATA_BYTES) throw invalidArchive(`${path} is ${header.size} bytes, too large for image metadata`);
        small.set(path, await readAll(body));
        return;
      }
      const expected = options.skipEntry?.(path, (p) => small.get(cleanArchivePath(p)));
      if (expected) {
        // readTarEntries drains the body.
        spooled.set(path, { archivePath: path, file: undefined, diffId: expected, size: header.size, skipped: true });
        return;
      }
      options.onSpool?.(path, header.size);
      const layer = await spoolLayer(body, path, nextFile(), options.signal);
      spooled.set(path, layer);
    });
    options.signal?.throwIfAborted();

    const resolve = (path: string): string => {
      let current = cleanArchivePath(path);
      for (let hops = 0; links.has(current); hops++) {
        if (hops > 16) throw invalidArchive(`${path} is a symlink loop`);
        current = links.get(current)!;
      }
      return current;
    };
    const located = locateImage(small, resolve);
    const config = small.get(located.configPath) ?? throwConfigUnavailable(located.configPath, spooled);
    const diffIds = readDiffIds(config, located.configPath);
    if (diffIds.length !== located.layerPaths.length) {
      throw invalidArchive(`the config lists ${diffIds.length} layers but the manifest ${located.layerPaths.length}`);
    }

    const layers: SpooledLayer[] = [];
    const kept = new Set<SpooledLayer>();
    for (const [index, layerPath] of located.layerPaths.entries()) {
      let layer = spooled.get(layerPath);
      if (!layer) {
        const bytes = small.get(layerPath);
        if (!bytes) throw invalidArchive(`layer ${index + 1} (${layerPath}) is missing from the archive`);
        layer = await spoolLayer(Readable.from([bytes]), layerPath, nextFile(), options.signal);
        small.delete(layerPath);
        spooled.set(layerPath, layer);
      }
      if (layer.diffId !== diffIds[index]) {
        if (layer.skipped) throw new SkippedEntryMismatch(layerPath);
        throw invalidArchive(`layer ${index + 1} (${layerPath}) has diff_id ${layer.diffId}, the config says ${diffIds[index]}`);
      }
      kept.add(layer);
      layers.push(layer);
    }
    // Entries that turned out not to be layers of this image (e.g. a large config), or not needed.
    for (const layer of spooled.values()) {
      if (layer.file && (!kept.has(layer) || options.keepLayer?.(layer.diffId) === false)) {
        await rm(layer.file, { force: true });
        layer.file = undefined;
      }
    }
    return {
      format: located.format,
      config,
      configDigest: `sha256:${createHash('sha256').update(config).digest('hex')}`,
      repoTags: located.repoTags,
      layers,
    };
  } catch (err) {
    for (const layer of spooled.values()) if (layer.file) await rm(layer.file, { force: true });
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** A skipped entry (`skipEntry`) was not the layer expected there: read the archive again without skipping. */
export class SkippedEntryMismatch extends Error {
  constructor(readonly archivePath: string) {
    super(`the skipped entry ${archivePath} is not the layer expected`);
  }
}

function toAbortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error('aborted');
}

function invalidArchive(problem: string): Error {
  return externalError('image-archive.invalid', `the image archive is not usable: ${problem}`, {
    hint: 'export the image again; if it keeps happening, the engine writes a format envseal does not know',
  });
}

function cleanArchivePath(path: string): string {
  const normal = posix.normalize(path.replace(/^\/+/, ''));
  return normal === '.' ? '' : normal.replace(/\/+$/, '');
}

function isMetadataName(path: string): boolean {
  return (
    path === 'manifest.json' ||
    path === 'index.json' ||
    path === 'oci-layout' ||
    path === 'repositories' ||
    path.endsWith('.json') ||
    path.endsWith('/json') ||
    path.endsWith('/VERSION')
  );
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function throwConfigUnavailable(path: string, spooled: Map<string, SpooledLayer>): never {
  throw invalidArchive(spooled.has(path) ? `the config ${path} is larger than ${SMALL_ENTRY_BYTES} bytes` : `the config ${path} is missing`);
}

/** Layers are written to disk in blocks of this size (few, large writes keep spooling at disk speed). */
const SPOOL_BLOCK_BYTES = 1024 * 1024;

/**
 * Writes one layer to `file`, uncompressed (gzip is recognised by its magic bytes, RFC 1952 §2.3.1),
 * hashing it on the way.
 */
async function spoolLayer(body: Readable, archivePath: string, file: string, signal: AbortSignal | undefined): Promise<SpooledLayer> {
  const { head, rest } = await peek(body, 4);
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) {
    rest.destroy();
    throw inputError('image-archive.zstd', `layer ${archivePath} is zstd-compressed, which envseal cannot read`, {
      hint: 'export the image from an engine that stores gzip or uncompressed layers',
    });
  }
  // pipeline() destroys the gunzip stream with the source's error, so the loop below sees it.
  const source: Readable = head.subarray(0, 2).equals(GZIP_MAGIC) ? pipeline(rest, createGunzip(), () => {}) : rest;
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(SPOOL_BLOCK_BYTES);
  let fill = 0;
  let size = 0;
  const handle = await open(file, 'wx');
  const flush = async () => {
    let at = 0;
    while (at < fill) at += (await handle.write(block, at, fill - at)).bytesWritten;
    fill = 0;
  };
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      signal?.throwIfAborted();
      hash.update(chunk);
      size += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        const part = Math.min(chunk.length - at, block.length - fill);
        chunk.copy(block, fill, at, at + part);
        fill += part;
        at += part;
        if (fill === block.length) await flush();
      }
    }
    await flush();
    await handle.close();
  } catch (err) {
    source.destroy();
    await handle.close().catch(() => {});
    await rm(file, { force: true });
    throw err;
  }
  return { archivePath, file, diffId: `sha256:${hash.digest('hex')}`, size };
}

/** Reads at least `n` bytes (fewer at the end of the stream) and gives back a stream that replays them. */
async function peek(body: Readable, n: number): Promise<{ head: Buffer; rest: Readable }> {
  const iterator = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const first: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < n) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    first.push(next.value);
    length += next.value.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* first;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head: Buffer.concat(first), rest: Readable.from(replay(), { objectMode: false }) };
}

interface LocatedImage {
  format: 'docker-save' | 'oci-layout';
  configPath: string;
  layerPaths: string[];
  repoTags: string[];
}

function parseJson(bytes: Buffer | undefined, what: string): unknown {
  if (!bytes) throw invalidArchive(`${what} is missing`);
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw invalidArchive(`${what} is not JSON (${(err as Error).message})`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Finds the one image of the archive: manifest.json first (Docker), else index.json (OCI image layout). */
function locateImage(small: Map<string, Buffer>, resolve: (path: string) => string): LocatedImage {
  if (small.has('manifest.json')) {
    const manifest = parseJson(small.get('manifest.json'), 'manifest.json');
    if (!Array.isArray(manifest) || manifest.length !== 1 || !isRecord(manifest[0])) {
      throw invalidArchive(`manifest.json must describe exactly one image, it has ${Array.isArray(manifest) ? manifest.length : 'no list of'} images`);
    }
    const entry = manifest[0];
    if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers) || !entry.Layers.every((l) => typeof l === 'string')) {
      throw invalidArchive('manifest.json has no Config or Layers');
    }
    return {
      format: 'docker-save',
      configPath: resolve(entry.Config),
      layerPaths: (entry.Layers as string[]).map(resolve),
      repoTags: Array.isArray(entry.RepoTags) ? entry.RepoTags.filter((t): t is string => typeof t === 'string') : [],
    };
  }
  if (!small.has('index.json')) throw invalidArchive('it has neither manifest.json nor index.json');
  const blobPath = (digest: unknown): string => {
    if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw invalidArchive(`unsupported blob digest ${String(digest)}`);
    return `blobs/sha256/${digest.slice('sha256:'.length)}`;
  };
  let node = parseJson(small.get('index.json'), 'index.json');
  const repoTags: string[] = [];
  for (let depth = 0; ; depth++) {
    if (depth > 4 || !isRecord(node)) throw invalidArchive('index.json does not lead to an image manifest');
    const mediaType = node.mediaType;
    if (Array.isArray(node.manifests)) {
      // An index: follow the one manifest whose blob is in the archive (a save holds one image).
      const present = node.manifests.filter((m): m is Record<string, unknown> => isRecord(m) && small.has(resolve(blobPath(m.digest))));
      if (present.length !== 1) throw invalidArchive(`the index lists ${present.length} manifests present in the archive, expected 1`);
      const ref = present[0]!.annotations;
      if (isRecord(ref) && typeof ref['io.containerd.image.name'] === 'string') repoTags.push(ref['io.containerd.image.name']);
      node = parseJson(small.get(resolve(blobPath(present[0]!.digest))), `manifest ${String(present[0]!.digest)}`);
      continue;
    }
    if (mediaType === MEDIA_OCI_INDEX || mediaType === MEDIA_DOCKER_LIST) throw invalidArchive('an index without manifests');
    if (!isRecord(node.config) || !Array.isArray(node.layers)) throw invalidArchive('the image manifest has no config or layers');
    return {
      format: 'oci-layout',
      configPath: resolve(blobPath(node.config.digest)),
      layerPaths: node.layers.map((l) => resolve(blobPath(isRecord(l) ? l.digest : undefined))),
      repoTags,
    };
  }
}

function readDiffIds(config: Buffer, path: string): string[] {
  const parsed = parseJson(config, `the config ${path}`);
  const rootfs = isRecord(parsed) ? parsed.rootfs : undefined;
  const diffIds = isRecord(rootfs) ? rootfs.diff_ids : undefined;
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string')) throw invalidArchive(`the config ${path} has no rootfs.diff_ids`);
  return diffIds as string[];
}

// ---------------------------------------------------------------------------------------------------------
// Writing

export interface ArchiveLayerInput {
  /** `sha256:<hex>` of the file's bytes (the caller computed it while writing the file). */
  diffId: string;
  /**
   * The layer tar; undefined for a layer the engine holds already (as part of an image's chain) and does not
   * need: then only Docker's `manifest.json` is written, naming a blob that is not there. The classic image
   * store's load looks a layer up by its chain ID before it opens the file (moby image/tarexport/load.go), so
   * it never misses it; an OCI layout must be complete, so none is written.
   */
  file: string | undefined;
}

export interface ImageArchiveOutput {
  /** The archive; it streams the layer files from disk as it is read. */
  stream: Readable;
  /** Resolves when every entry has been handed to `stream`; rejects when a layer file cannot be read. */
  done: Promise<void>;
  configDigest: string;
  /** Digest of the OCI image manifest in the archive (the image ID under the containerd image store); none without an OCI layout. */
  manifestDigest: string | undefined;
}

const sha256Of = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * Writes a loadable archive for one image: `config` as given (its bytes are the image ID), the layers
 * uncompressed (`application/vnd.oci.image.layer.v1.tar`, so the layer digests equal the diff_ids), no tags
 * (the caller tags after checking what was loaded). The layer files must not change while it streams.
 */
export async function writeImageArchive(config: Buffer, layers: readonly ArchiveLayerInput[]): Promise<ImageArchiveOutput> {
  const sizes = new Map<string, { file: string; size: number }>();
  for (const layer of layers) {
    if (!/^sha256:[0-9a-f]{64}$/.test(layer.diffId)) throw inputError('image-archive.digest', `invalid layer digest ${layer.diffId}`);
    if (layer.file !== undefined && !sizes.has(layer.diffId)) sizes.set(layer.diffId, { file: layer.file, size: (await stat(layer.file)).size });
  }
  const complete = layers.every((l) => sizes.has(l.diffId));
  const configDigest = sha256Of(config);
  const blob = (digest: string) => `blobs/sha256/${digest.slice('sha256:'.length)}`;
  const dockerManifest = Buffer.from(canonicalJsonCompact([{ Config: blob(configDigest), Layers: layers.map((l) => blob(l.diffId)), RepoTags: [] }]));
  const blobs = new Map<string, Buffer | { file: string; size: number }>([[configDigest, config], ...sizes]);
  const oci = complete ? ociLayout(config, configDigest, layers, sizes) : undefined;
  if (oci) blobs.set(oci.manifestDigest, oci.manifest);

  const writer = createTarWriter();
  const done = (async () => {
    await writer.add({ name: 'blobs/', type: 'directory' });
    await writer.add({ name: 'blobs/sha256/', type: 'directory' });
    for (const digest of [...blobs.keys()].sort()) {
      const content = blobs.get(digest)!;
      if (Buffer.isBuffer(content)) await writer.add({ name: blob(digest), type: 'file' }, content);
      else await writer.add({ name: blob(digest), type: 'file', size: content.size }, createReadStream(content.file));
    }
    if (oci) await writer.add({ name: 'index.json', type: 'file' }, oci.index);
    await writer.add({ name: 'manifest.json', type: 'file' }, dockerManifest);
    if (oci) await writer.add({ name: 'oci-layout', type: 'file' }, oci.layout);
    writer.finish();
  })();
  done.catch((err: unknown) => writer.fail(err instanceof Error ? err : new Error(String(err))));
  return { stream: writer.stream, done, configDigest, manifestDigest: oci?.manifestDigest };
}

/** OCI image-spec manifest.md / image-index.md / image-layout.md for one image whose layers are all present. */
function ociLayout(
  config: Buffer,
  configDigest: string,
  layers: readonly ArchiveLayerInput[],
  sizes: ReadonlyMap<string, { size: number }>,
): { manifest: Buffer; manifestDigest: string; index: Buffer; layout: Buffer } {
  const manifest = Buffer.from(
    canonicalJsonCompact({
      schemaVersion: 2,
      mediaType: MEDIA_OCI_MANIFEST,
      config: { mediaType: MEDIA_OCI_CONFIG, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: MEDIA_OCI_LAYER, digest: l.diffId, size: sizes.get(l.diffId)!.size })),
    }),
  );
  const manifestDigest = sha256Of(manifest);
  const index = Buffer.from(
    canonicalJsonCompact({
      schemaVersion: 2,
      mediaType: MEDIA_OCI_INDEX,
      manifests: [{ mediaType: MEDIA_OCI_MANIFEST, digest: manifestDigest, size: manifest.length }],
    }),
  );
  const layout = Buffer.from(canonicalJsonCompact({ imageLayoutVersion: '1.0.0' }));
  return { manifest, manifestDigest, index, layout };
}
