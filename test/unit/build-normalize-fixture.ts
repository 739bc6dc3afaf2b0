/**
 * Shared helpers for the build-normalize unit tests: synthetic layer tars, a temp directory, and an
 * in-memory ContainerEngine that "loads" archives by reading them with the real archive reader.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ContainerEngine, ImageInfo } from '../../src/core/ports.js';
import { readImageArchive } from '../../src/image/normalize/image-archive.js';
import { createTarWriter, readTarEntries } from '../../src/tar/tar-stream-codec.js';
import { TAR_END_OF_ARCHIVE, tarPaddingOf, type RawPaxRecord, type RawTarHeader, type TarEntryType } from '../../src/tar/header.js';
import { encodeRawTarHeader } from '../../src/tar/raw-encoder.js';
import { readRawTarEntries } from '../../src/tar/raw-reader.js';
import { externalError, inputError } from '../../src/core/errors.js';

export interface EntrySpec {
  name: string | Buffer;
  type?: TarEntryType;
  body?: string | Buffer;
  mode?: number;
  mtime?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string | Buffer>;
}

const toBuffer = (value: string | Buffer) => (typeof value === 'string' ? Buffer.from(value, 'utf8') : value);

export function headerOf(spec: EntrySpec): RawTarHeader {
  const type = spec.type ?? 'file';
  const body = spec.body === undefined ? Buffer.alloc(0) : toBuffer(spec.body);
  const pax: RawPaxRecord[] = Object.entries(spec.pax ?? {}).map(([key, value]) => ({ key, value: toBuffer(value) }));
  const header: RawTarHeader = {
    name: toBuffer(spec.name),
    type,
    size: type === 'file' ? body.length : 0,
    mode: spec.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
    mtime: spec.mtime ?? 1_800_000_000,
    uid: spec.uid ?? 0,
    gid: spec.gid ?? 0,
    uname: spec.uname ?? 'root',
    gname: spec.gname ?? 'root',
    devmajor: spec.devmajor ?? 0,
    devminor: spec.devminor ?? 0,
    pax,
  };
  if (spec.linkname !== undefined) header.linkname = toBuffer(spec.linkname);
  return header;
}

/** A layer tar made with the byte-exact encoder (what a Go/Docker-like writer would produce). */
export function layerTar(entries: EntrySpec[]): Buffer {
  const parts: Buffer[] = [];
  for (const spec of entries) {
    const header = headerOf(spec);
    parts.push(encodeRawTarHeader(header));
    if (header.size) {
      const body = toBuffer(spec.body!);
      parts.push(body, Buffer.alloc(tarPaddingOf(body.length)));
    }
  }
  parts.push(TAR_END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

export interface ReadEntry {
  header: RawTarHeader;
  body: Buffer;
}

export async function readLayer(bytes: Buffer): Promise<ReadEntry[]> {
  const out: ReadEntry[] = [];
  await readRawTarEntries(Readable.from([bytes]), async ({ header, body }) => {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
    out.push({ header, body: Buffer.concat(chunks) });
  });
  return out;
}

export const sha256 = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export async function makeTempRoot(prefix: string): Promise<{ root: string; fresh: () => Promise<string>; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  let counter = 0;
  return {
    root,
    fresh: async () => {
      counter += 1;
      const dir = join(root, `t${counter}`);
      await mkdir(dir);
      return dir;
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

export async function streamToBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------------------------
// Docker save archives

export interface ImageSpec {
  config: Record<string, unknown>;
  layers: Buffer[];
  repoTags?: string[];
}

/** Builds the config's rootfs from the layers (diff_id = sha256 of each uncompressed layer). */
export function configWithLayers(config: Record<string, unknown>, layers: Buffer[]): Buffer {
  return Buffer.from(JSON.stringify({ ...config, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) } }));
}

/**
 * A legacy `docker save` archive as Engine 20.10 writes it: `<v1id>/{VERSION,json,layer.tar}`, the config
 * as `<id>.json`, `manifest.json` and `repositories` last; a repeated layer becomes a symlink.
 */
export async function legacySaveArchive(spec: ImageSpec): Promise<Buffer> {
  const config = configWithLayers(spec.config, spec.layers);
  const configHex = sha256(config).slice(7);
  const writer = createTarWriter();
  const entries: { name: string; body?: Buffer; link?: string }[] = [];
  const seen = new Map<string, string>();
  const layerPaths: string[] = [];
  let parent: string | undefined;
  spec.layers.forEach((layer, i) => {
    const v1 = createHash('sha256')
      .update(`v1-${i}-${sha256(layer)}`)
      .digest('hex');
    // Only the bottom layer's JSON names no parent (moby image/tarexport/save.go).
    const json = Buffer.from(JSON.stringify(parent ? { id: v1, parent } : { id: v1 }));
    parent = v1;
    entries.push({ name: `${v1}/` }, { name: `${v1}/VERSION`, body: Buffer.from('1.0') }, { name: `${v1}/json`, body: json });
    const digest = sha256(layer);
    if (seen.has(digest)) entries.push({ name: `${v1}/layer.tar`, link: `../${seen.get(digest)}/layer.tar` });
    else {
      entries.push({ name: `${v1}/layer.tar`, body: layer });
      seen.set(digest, v1);
    }
    layerPaths.push(`${v1}/layer.tar`);
  });
  entries.push({ name: `${configHex}.json`, body: config });
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  entries.push({
    name: 'manifest.json',
    body: Buffer.from(JSON.stringify([{ Config: `${configHex}.json`, RepoTags: spec.repoTags ?? null, Layers: layerPaths }])),
  });
  entries.push({ name: 'repositories', body: Buffer.from('{}') });
  const done = (async () => {
    for (const e of entries) {
      if (e.name.endsWith('/')) await writer.add({ name: e.name, type: 'directory' });
      else if (e.link) await writer.add({ name: e.name, type: 'symlink', linkname: e.link });
      else await writer.add({ name: e.name, type: 'file' }, e.body!);
    }
    writer.finish();
  })();
  const [bytes] = await Promise.all([streamToBuffer(writer.stream), done]);
  return bytes;
}

// ---------------------------------------------------------------------------------------------------------
// An in-memory engine

export interface FakeImage {
  info: ImageInfo;
  archive?: Buffer;
}

/**
 * A ContainerEngine holding images in memory. `exportImage` serves archives registered with `addExport`;
 * `loadImage` reads the archive with the real reader and registers the image under sha256(config), as the
 * classic image store does. Hooks let a test make a call fail.
 */
export class FakeEngine implements ContainerEngine {
  readonly images = new Map<string, FakeImage>();
  readonly tags = new Map<string, string>();
  readonly calls: string[] = [];
  loadedArchives: Buffer[] = [];
  failTag?: (tag: string) => Error | undefined;
  /** Replaces what loadImage reports. */
  reportLoaded?: (id: string) => string[];
  failLoad?: Error;

  constructor(private readonly spoolDir: string) {}

  /** What info() reports; 'classic' makes loadImage accept archives without the layers it holds (moby image/tarexport/load.go). */
  imageStore?: 'classic' | 'containerd';

  addExport(ref: string, archive: Buffer, layers: string[] = []): void {
    this.images.set(ref, { info: { id: ref, repoTags: [], repoDigests: [], labels: {}, env: [], layers }, archive });
  }

  /** True when an image the engine has starts with these layers (their chain is in its layer store). */
  holdsChain(diffIds: readonly string[]): boolean {
    return [...this.images.values()].some((image) => diffIds.every((d, i) => image.info.layers[i] === d));
  }

  private resolve(ref: string): FakeImage | undefined {
    const id = this.tags.get(ref) ?? ref;
    return this.images.get(id);
  }

  async info() {
    return { version: 'fake', apiVersion: '1.41', os: 'linux', architecture: 'amd64', ...(this.imageStore ? { imageStore: this.imageStore } : {}) };
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    this.calls.push(`inspect ${ref}`);
    const image = this.resolve(ref);
    if (!image) return null;
    return { ...image.info, repoTags: [...this.tags].filter(([, id]) => id === image.info.id).map(([tag]) => tag) };
  }

  async pullImage(): Promise<void> {
    throw new Error('not used');
  }

  async build(): Promise<never> {
    throw new Error('not used');
  }

  async tagImage(imageId: string, repoTag: string): Promise<void> {
    this.calls.push(`tag ${imageId} ${repoTag}`);
    const failure = this.failTag?.(repoTag);
    if (failure) throw failure;
    if (!this.images.has(imageId)) throw inputError('docker.image-missing', `no image ${imageId}`);
    this.tags.set(repoTag, imageId);
  }

  async removeImage(ref: string): Promise<void> {
    this.calls.push(`remove ${ref}`);
    if (this.tags.has(ref)) {
      this.tags.delete(ref);
      return;
    }
    if (!this.images.has(ref)) throw inputError('docker.image-missing', `no image ${ref}`);
    this.images.delete(ref);
  }

  async pushImage(): Promise<never> {
    throw new Error('not used');
  }

  async exportImage(ref: string): Promise<Readable> {
    this.calls.push(`export ${ref}`);
    const image = this.resolve(ref);
    if (!image?.archive) throw inputError('docker.image-missing', `image ${ref} does not exist in the Docker engine at fake`, { hint: 'build it first' });
    return Readable.from([image.archive]);
  }

  async loadImage(tar: Readable): Promise<string[]> {
    this.calls.push('load');
    const bytes = await streamToBuffer(tar);
    if (this.failLoad) throw this.failLoad;
    this.loadedArchives.push(bytes);
    const { id, layers } = this.imageStore === 'classic' ? await this.loadClassic(bytes) : await this.loadWhole(bytes);
    this.images.set(id, { info: { id, repoTags: [], repoDigests: [], labels: {}, env: [], layers }, archive: bytes });
    return this.reportLoaded ? this.reportLoaded(id) : [id];
  }

  private async loadWhole(bytes: Buffer): Promise<{ id: string; layers: string[] }> {
    const dir = join(this.spoolDir, `load-${this.loadedArchives.length}`);
    await mkdir(dir, { recursive: true });
    const archive = await readImageArchive(Readable.from([bytes]), { spoolDir: dir });
    await rm(dir, { recursive: true, force: true });
    return { id: archive.configDigest, layers: archive.layers.map((l) => l.diffId) };
  }

  /** Like the classic store: manifest.json only; a layer whose chain is held is not opened, any other must be there. */
  private async loadClassic(bytes: Buffer): Promise<{ id: string; layers: string[] }> {
    const files = new Map<string, Buffer>();
    await readTarEntries(Readable.from([bytes]), async ({ header, body }) => {
      const data = await streamToBuffer(body);
      if (header.type === 'file') files.set(header.name, data);
    });
    const [entry] = JSON.parse(files.get('manifest.json')!.toString()) as { Config: string; Layers: string[] }[];
    const config = files.get(entry!.Config)!;
    const diffIds = (JSON.parse(config.toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    for (const [i, path] of entry!.Layers.entries()) {
      if (this.holdsChain(diffIds.slice(0, i + 1))) continue;
      const layer = files.get(path);
      if (!layer) throw externalError('docker.load-failed', `loading the image failed: open /var/lib/docker/tmp/${path}: no such file or directory`);
      if (sha256(layer) !== diffIds[i]) throw externalError('docker.load-failed', `invalid diffID for layer ${i}`);
    }
    return { id: sha256(config), layers: diffIds };
  }

  async runContainer(): Promise<never> {
    throw externalError('fake', 'not used');
  }
}
