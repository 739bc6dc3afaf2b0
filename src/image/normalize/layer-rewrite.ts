/**
 * Rewriting one layer of a built image into its canonical form (normalize-image.ts runs it on each layer).
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
 */
import { createHash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { inputError } from '../../core/errors.js';
import { describeRawName, TAR_END_OF_ARCHIVE, tarPaddingOf, type RawPaxRecord, type RawTarHeader } from '../../tar/header.js';
import { encodeRawTarHeader } from '../../tar/raw-encoder.js';
import { scanRawTarFile, type RawTarEntry } from '../../tar/raw-reader.js';

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
  const pax: RawPaxRecord[] = header.pax.filter((record) => !VOLATILE_PAX_KEYS.has(record.key)).sort((a, b) => compareKeys(a.key, b.key));
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
