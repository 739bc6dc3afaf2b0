/**
 * A small typed API over tar-stream (the only file that imports it): writing tars entry by entry with
 * bounded memory, and reading them entry by entry. The build context (build/context.ts) and the image
 * normaliser use it; both need exact control over every header field, because the bytes of the archive
 * are part of what makes a build reproducible.
 *
 * Format: POSIX ustar with pax extended headers (POSIX.1-2001 pax(1), "pax Interchange Format") for names
 * longer than ustar's 100+155 bytes, non-ASCII names, and any extra pax records the caller passes through
 * (e.g. `SCHILY.xattr.*` in image layers). tar-stream writes numeric fields as octal and sizes over 8 GiB
 * in the base-256 form GNU tar and Go's archive/tar read.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { describeError, internalError, inputError } from '../core/errors.js';

export type TarEntryType =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'link'
  | 'character-device'
  | 'block-device'
  | 'fifo';

export interface TarHeader {
  /** '/'-separated path inside the archive. Directory names are written with a trailing '/'. */
  name: string;
  type: TarEntryType;
  /** Body size in bytes; only 'file' entries have a body. */
  size: number;
  /** Permission bits (and setuid/setgid/sticky), without the file-type bits. */
  mode: number;
  /** Seconds since the Unix epoch (ustar stores whole seconds). */
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Target of a symlink or hard link. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /**
   * Extra pax records (keys other than path/linkpath/size, which are derived from the fields above), e.g.
   * `SCHILY.xattr.security.capability`. Written sorted by key so the bytes never depend on insertion order.
   */
  pax?: Record<string, string>;
}

/** Header fields a writer may leave out: everything defaults to the "anonymous, epoch 0" value. */
export type TarHeaderInput = Pick<TarHeader, 'name' | 'type'> & Partial<Omit<TarHeader, 'name' | 'type'>>;

export type TarBody = string | Uint8Array | Readable;

export interface TarWriter {
  /** The archive bytes. Destroying it stops the writer (pending `add` calls reject). */
  readonly stream: Readable;
  /**
   * Appends one entry and resolves when its body has been handed to the archive (backpressure: a slow
   * reader of `stream` slows this down; nothing is buffered beyond a few chunks). A stream body must yield
   * exactly `header.size` bytes.
   */
  add(header: TarHeaderInput, body?: TarBody): Promise<void>;
  /** Writes the end-of-archive marker; `stream` ends once it has been read. */
  finish(): void;
  /** Aborts the archive: `stream` emits `error` with this error. */
  fail(error: Error): void;
  /** Bytes of archive handed to the reader of `stream` so far. */
  readonly bytesWritten: number;
}

const DEFAULT_DIR_MODE = 0o755;
const DEFAULT_FILE_MODE = 0o644;
const DEFAULT_SYMLINK_MODE = 0o777;
/** pax keys tar-stream derives from the header itself; passing them again would duplicate records. */
const DERIVED_PAX_KEYS = new Set(['path', 'linkpath', 'size']);

/** Creates a tar writer whose output is a Node Readable of bytes. */
export function createTarWriter(): TarWriter {
  const pack = tarStream.pack();
  // Pack errors surface through `stream` (its iterator rethrows them); this keeps them from being uncaught
  // when nobody has started reading yet.
  pack.on('error', () => {});
  let bytesWritten = 0;
  let finished = false;
  let failure: Error | undefined;

  async function* countBytes(): AsyncGenerator<Buffer> {
    for await (const chunk of pack as AsyncIterable<Uint8Array>) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      bytesWritten += buf.length;
      yield buf;
    }
  }
  const stream = Readable.from(countBytes(), { objectMode: false, highWaterMark: 64 * 1024 });
  stream.on('close', () => {
    if (!pack.destroyed) pack.destroy(failure ?? new Error('the tar stream was closed before it was fully read'));
  });

  function ensureOpen(name: string): void {
    if (failure) throw failure;
    if (finished) throw internalError('tar.finished', `cannot add ${name}: the archive is already finished`);
    if (pack.destroyed || stream.destroyed) {
      throw internalError('tar.closed', `cannot add ${name}: the tar stream was closed by its reader`);
    }
  }

  async function add(input: TarHeaderInput, body?: TarBody): Promise<void> {
    ensureOpen(input.name);
    const header = toPackHeader(input, body);
    if (input.type !== 'file') {
      if (body !== undefined) throw internalError('tar.body', `tar entry ${input.name} (${input.type}) cannot have a body`);
      await new Promise<void>((resolve, reject) => {
        pack.entry(header, (err) => (err ? reject(err) : resolve()));
      });
      return;
    }
    if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) {
      const bytes = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      if (input.size !== undefined && input.size !== bytes.byteLength) {
        throw internalError('tar.size', `tar entry ${input.name}: header size ${input.size} but body has ${bytes.byteLength} bytes`);
      }
      await new Promise<void>((resolve, reject) => {
        pack.entry({ ...header, size: bytes.byteLength }, bytes, (err) => (err ? reject(err) : resolve()));
      });
      return;
    }
    await addStreamBody(header, body);
  }

  async function addStreamBody(header: PackHeader, body: Readable): Promise<void> {
    const size = header.size ?? 0;
    let settle!: { resolve: () => void; reject: (err: Error) => void };
    const entryDone = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    entryDone.catch(() => {}); // observed below; avoid an unhandled rejection if we throw first
    const sink = pack.entry(header, (err) => (err ? settle.reject(err) : settle.resolve()));
    // Its errors reach us through the entry callback and our own checks; without a listener streamx would
    // raise them as uncaught exceptions.
    sink.on('error', () => {});
    let written = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer | string>) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        written += buf.length;
        if (written > size) {
          throw inputError('tar.size-changed', `${header.name} grew while it was being archived (expected ${size} bytes)`, {
            hint: 'do not modify files while the build context is being sent',
          });
        }
        if (sink.destroying || pack.destroying) throw failure ?? new Error('the tar stream was closed before it was fully read');
        if (!sink.write(buf)) await waitForDrain(sink);
      }
      if (written !== size) {
        throw inputError('tar.size-changed', `${header.name} shrank while it was being archived (expected ${size} bytes, read ${written})`, {
          hint: 'do not modify files while the build context is being sent',
        });
      }
      sink.end(undefined);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      sink.destroy(error);
      fail(error);
      throw error;
    }
    await entryDone;
  }

  function finish(): void {
    if (failure || finished) return;
    finished = true;
    pack.finalize();
  }

  function fail(error: Error): void {
    if (failure) return;
    failure = error;
    stream.destroy(error);
    pack.destroy(error);
  }

  return {
    stream,
    add,
    finish,
    fail,
    get bytesWritten() {
      return bytesWritten;
    },
  };
}

type PackHeader = Parameters<tarStream.Pack['entry']>[0];

function toPackHeader(input: TarHeaderInput, body: TarBody | undefined): PackHeader {
  const type = input.type;
  let name = input.name;
  if (!name || name.startsWith('/')) throw internalError('tar.name', `tar entry name must be relative, got "${name}"`);
  if (type === 'directory' && !name.endsWith('/')) name += '/';
  if ((type === 'symlink' || type === 'link') && !input.linkname) {
    throw internalError('tar.linkname', `tar entry ${name} (${type}) needs a link target`);
  }
  const size = type === 'file' ? (input.size ?? bodySize(body)) : 0;
  const header: PackHeader = {
    name,
    type,
    size,
    mode: (input.mode ?? (type === 'directory' ? DEFAULT_DIR_MODE : type === 'symlink' ? DEFAULT_SYMLINK_MODE : DEFAULT_FILE_MODE)) & 0o7777,
    mtime: new Date(Math.floor(input.mtime ?? 0) * 1000),
    uid: input.uid ?? 0,
    gid: input.gid ?? 0,
    uname: input.uname ?? '',
    gname: input.gname ?? '',
    devmajor: input.devmajor ?? 0,
    devminor: input.devminor ?? 0,
  };
  if (input.linkname) header.linkname = input.linkname;
  const pax = Object.entries(input.pax ?? {}).filter(([key]) => !DERIVED_PAX_KEYS.has(key));
  if (pax.length) {
    pax.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    header.pax = Object.fromEntries(pax);
  }
  return header;
}

function bodySize(body: TarBody | undefined): number {
  if (body === undefined) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body, 'utf8');
  if (body instanceof Uint8Array) return body.byteLength;
  throw internalError('tar.size', 'a stream body needs an explicit header size');
}

function waitForDrain(sink: ReturnType<tarStream.Pack["entry"]>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // A sink destroyed meanwhile has already emitted 'close': do not wait for events that will not come.
    if (sink.destroying) return reject(new Error('the tar stream was closed before the entry was written'));
    const cleanup = () => {
      sink.removeListener('drain', onDrain);
      sink.removeListener('close', onClose);
      sink.removeListener('error', onError);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new Error('the tar stream was closed before the entry was written'));
    };
    const onError = (err: unknown) => {
      cleanup();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    sink.once('drain', onDrain);
    sink.once('close', onClose);
    sink.once('error', onError);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Reading

export interface TarEntry {
  header: TarHeader;
  /** The entry's body; drained automatically when the visitor returns without reading it. */
  body: Readable;
}

/**
 * Reads a tar stream entry by entry, calling `visit` for each one in archive order and waiting for it.
 * Bodies are streamed (a multi-GB layer never sits in memory). A visitor reads a body completely or not at
 * all (an unread body is skipped); destroying a half-read body aborts the whole read. Rejects on a corrupt
 * or truncated archive.
 */
export async function readTarEntries(source: Readable, visit: (entry: TarEntry) => Promise<void> | void): Promise<void> {
  const extract = tarStream.extract();
  let sourceError: Error | undefined;
  source.on('error', (err) => {
    sourceError ??= err;
    extract.destroy(err);
  });
  source.pipe(extract as unknown as NodeJS.WritableStream);
  const entries = extract[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof entries.next>>;
      try {
        next = await entries.next();
      } catch (err) {
        throw sourceError ?? wrapTarReadError(err);
      }
      if (next.done) break;
      const entry = next.value;
      // A truncated or corrupt archive shows up while a body is read: the body then fails with tar.corrupt.
      const body = Readable.from(readBody(entry as AsyncIterable<Uint8Array>), { objectMode: false });
      let bodyError: Error | undefined;
      body.on('error', (err) => {
        bodyError ??= err;
      });
      // Errors thrown by the visitor are the caller's and pass through unchanged.
      await visit({ header: fromPackHeader(entry.header), body });
      if (!body.readableEnded && !body.destroyed) {
        body.resume();
        await new Promise<void>((resolve) => {
          body.once('end', resolve);
          body.once('close', resolve);
        });
      }
      if (bodyError) throw sourceError ?? wrapTarReadError(bodyError);
    }
  } catch (err) {
    source.unpipe(extract as unknown as NodeJS.WritableStream);
    source.destroy();
    extract.destroy();
    throw err;
  }
  if (sourceError) throw sourceError;
}

async function* readBody(entry: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* entry;
  } catch (err) {
    throw wrapTarReadError(err);
  }
}

function wrapTarReadError(err: unknown): Error {
  if (err instanceof Error && err.name === 'EnvsealError') return err;
  return inputError('tar.corrupt', `cannot read the tar archive: ${describeError(err)}`, { cause: err });
}

function fromPackHeader(h: tarStream.Header): TarHeader {
  const pax: Record<string, string> = {};
  for (const [key, value] of Object.entries((h.pax ?? {}) as Record<string, string>)) {
    if (!DERIVED_PAX_KEYS.has(key)) pax[key] = value;
  }
  const type = h.type === 'contiguous-file' ? 'file' : h.type;
  if (!type) throw inputError('tar.corrupt', `cannot read the tar archive: entry ${h.name} has an unknown type`);
  const header: TarHeader = {
    name: h.name,
    type,
    size: h.size ?? 0,
    mode: h.mode ?? 0,
    mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000),
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    uname: h.uname ?? '',
    gname: h.gname ?? '',
  };
  if (h.linkname) header.linkname = h.linkname;
  if (h.devmajor) header.devmajor = h.devmajor;
  if (h.devminor) header.devminor = h.devminor;
  if (Object.keys(pax).length) header.pax = pax;
  return header;
}

// ---------------------------------------------------------------------------------------------------------
// Byte-exact entries (image layers)
//
// Image layers need what tar-stream cannot give: tar-stream decodes pax records and names as UTF-8 (a
// non-UTF-8 name such as Latin-1 `caf\xe9` comes back as U+FFFD and cannot be written back) and always
// encodes names as UTF-8. A layer is content-addressed (its diff_id is the sha256 of its bytes), so a
// normaliser must carry names, link targets and xattr values as raw bytes. This section is a small,
// independent reader and header encoder for that, following POSIX.1-2001 pax(1) ("ustar Interchange
// Format" and "pax Interchange Format"), plus the GNU extensions found in real base images (GNU tar's
// `ustar  ` magic, 'L'/'K' long names, base-256 numbers) and what Go's archive/tar (Docker) writes.
// Reading follows Go's archive/tar where formats are lax, because Docker extracts layers with it:
// header-only types (links, symlinks, devices, directories, FIFOs) have no body whatever the size field
// says, and a typeflag NUL with a trailing '/' is a directory.

/** A pax record kept as raw bytes (xattr values are binary). */
export interface RawPaxRecord {
  /** The key's bytes as latin1 (one character per byte), so any key round-trips; ASCII keys read as themselves. */
  key: string;
  value: Buffer;
}

export interface RawTarHeader {
  /** Path bytes exactly as stored: ustar prefix/name, GNU long name ('L') or pax `path`. uname/gname below are decoded as UTF-8. */
  name: Buffer;
  type: TarEntryType;
  /** Body size; 0 for header-only types. */
  size: number;
  /**
   * The mode field as stored. Go's archive/tar (Docker) adds the file-type bits (e.g. 0o100644), other
   * writers do not; both are kept as they are.
   */
  mode: number;
  /** Whole seconds since the Unix epoch (a pax `mtime` with a fraction is rounded down). */
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Link target bytes (symlinks and hard links). */
  linkname?: Buffer;
  devmajor: number;
  devminor: number;
  /**
   * pax records other than those folded into the fields above (path, linkpath, size, uid, gid, uname,
   * gname, mtime, hdrcharset), one per key (a later record for the same key wins, as POSIX says), e.g.
   * `SCHILY.xattr.security.capability`, `atime`, `ctime`. Global ('g') records are folded into every later
   * entry, so nothing they say is lost when entries are reordered.
   */
  pax: RawPaxRecord[];
}

export interface RawTarEntry {
  header: RawTarHeader;
  /** Offset of the body (or where it would be) from the start of the archive. */
  offset: number;
}

export interface RawTarEntryWithBody extends RawTarEntry {
  /** The body as a stream of exactly `header.size` bytes; skipped when the visitor does not read it. */
  body: Readable;
}

/** Two zero blocks: the end-of-archive marker. */
export const TAR_END_OF_ARCHIVE: Buffer = Buffer.alloc(1024);

/** Zero bytes that follow a body of `size` bytes up to the next 512-byte block. */
export function tarPaddingOf(size: number): number {
  return (512 - (size % 512)) % 512;
}

/** Keys the reader folds into header fields and the encoder derives from them. */
const RAW_DERIVED_PAX_KEYS = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime', 'hdrcharset']);
/** A single pax header larger than this is refused rather than buffered (real ones are a few KB). */
const MAX_PAX_BYTES = 16 * 1024 * 1024;
const HEADER_ONLY_TYPES = new Set<TarEntryType>(['link', 'symlink', 'character-device', 'block-device', 'directory', 'fifo']);

/** Where the reader takes bytes from: a stream (consumed in order) or a file (bodies skipped by seeking). */
interface ByteSource {
  readonly position: number;
  /** Exactly n bytes; null at a clean end (no byte left) when `allowEnd`. */
  read(n: number, allowEnd: boolean): Promise<Buffer | null>;
  skip(n: number): Promise<void>;
  chunks(n: number): AsyncGenerator<Buffer>;
  /** Consumes whatever is left (trailing zero records). */
  drain(): Promise<void>;
}

function truncatedError(what: string): Error {
  return inputError('tar.corrupt', `cannot read the tar archive: it ends in the middle of ${what}`, {
    hint: 'the archive is truncated; export it again',
  });
}

class StreamByteSource implements ByteSource {
  private readonly iterator: AsyncIterator<Buffer | Uint8Array | string>;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private consumed = 0;
  private ended = false;

  constructor(source: Readable) {
    this.iterator = (source as AsyncIterable<Buffer | Uint8Array | string>)[Symbol.asyncIterator]();
  }

  get position(): number {
    return this.consumed;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const value = next.value;
    const buf = typeof value === 'string' ? Buffer.from(value) : Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (buf.length) {
      this.pending.push(buf);
      this.pendingLength += buf.length;
    }
    return true;
  }

  private take(n: number): Buffer {
    const first = this.pending[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const head = this.pending[0]!;
        const part = Math.min(head.length, n - filled);
        head.copy(out, filled, 0, part);
        filled += part;
        if (part === head.length) this.pending.shift();
        else this.pending[0] = head.subarray(part);
      }
    }
    this.pendingLength -= n;
    this.consumed += n;
    return out;
  }

  async read(n: number, allowEnd: boolean): Promise<Buffer | null> {
    while (this.pendingLength < n) {
      if (!(await this.pull())) {
        if (allowEnd && this.pendingLength === 0) return null;
        throw truncatedError('a header');
      }
    }
    return this.take(n);
  }

  async skip(n: number): Promise<void> {
    for await (const _chunk of this.chunks(n)) {
      // discarded
    }
  }

  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.pendingLength === 0 && !(await this.pull())) throw truncatedError('an entry body');
      if (this.pendingLength === 0) continue;
      const part = Math.min(left, this.pending[0]!.length);
      left -= part;
      yield this.take(part);
    }
  }

  async drain(): Promise<void> {
    this.consumed += this.pendingLength;
    this.pending = [];
    this.pendingLength = 0;
    while (await this.pull()) {
      this.consumed += this.pendingLength;
      this.pending = [];
      this.pendingLength = 0;
    }
  }
}

class FileByteSource implements ByteSource {
  private offset = 0;
  /** Read-ahead window: headers of small files sit close together, so one read serves many of them. */
  private readonly window = Buffer.allocUnsafe(256 * 1024);
  private windowStart = 0;
  private windowLength = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
  ) {}

  get position(): number {
    return this.offset;
  }

  async read(n: number, allowEnd: boolean): Promise<Buffer | null> {
    if (allowEnd && this.offset >= this.size) return null;
    if (this.offset + n > this.size) throw truncatedError('a header');
    const inWindow = this.offset >= this.windowStart && this.offset + n <= this.windowStart + this.windowLength;
    if (!inWindow && n <= this.window.length) {
      this.windowStart = this.offset;
      this.windowLength = 0;
      const want = Math.min(this.window.length, this.size - this.offset);
      while (this.windowLength < want) {
        const { bytesRead } = await this.handle.read(this.window, this.windowLength, want - this.windowLength, this.offset + this.windowLength);
        if (bytesRead === 0) throw truncatedError('a header');
        this.windowLength += bytesRead;
      }
    }
    if (this.offset >= this.windowStart && this.offset + n <= this.windowStart + this.windowLength) {
      const at = this.offset - this.windowStart;
      this.offset += n;
      return Buffer.from(this.window.subarray(at, at + n));
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const { bytesRead } = await this.handle.read(out, filled, n - filled, this.offset + filled);
      if (bytesRead === 0) throw truncatedError('a header');
      filled += bytesRead;
    }
    this.offset += n;
    return out;
  }

  async skip(n: number): Promise<void> {
    if (this.offset + n > this.size) throw truncatedError('an entry body');
    this.offset += n;
  }

  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      const part = Math.min(left, this.window.length);
      left -= part;
      yield (await this.read(part, false))!;
    }
  }

  async drain(): Promise<void> {
    this.offset = this.size;
  }
}

/**
 * Reads a tar stream entry by entry with byte-exact names, calling `visit` in archive order and waiting for
 * it. Bodies are streamed; an unread body is skipped. Rejects with `tar.corrupt` on a bad checksum, a
 * truncated archive or an entry type Docker cannot extract either (GNU sparse, multi-volume).
 * Resolves with the number of bytes consumed (the whole stream, trailing zero records included).
 */
export async function readRawTarEntries(source: Readable, visit: (entry: RawTarEntryWithBody) => Promise<void> | void): Promise<number> {
  const bytes = new StreamByteSource(source);
  let sourceError: Error | undefined;
  const onError = (err: Error) => {
    sourceError = err;
  };
  source.on('error', onError);
  try {
    await parseRawTar(bytes, async (header, offset) => {
      if (header.size === 0) {
        await visit({ header, offset, body: Readable.from([], { objectMode: false }) });
        return;
      }
      const body = Readable.from(bytes.chunks(header.size), { objectMode: false, highWaterMark: 64 * 1024 });
      let bodyError: Error | undefined;
      body.on('error', (err) => {
        bodyError = err;
      });
      await visit({ header, offset, body });
      if (!body.readableEnded) {
        if (body.destroyed) throw bodyError ?? internalError('tar.body-destroyed', `the body of ${header.name.toString('latin1')} was abandoned half-read`);
        body.resume();
        await new Promise<void>((resolve) => {
          body.once('end', resolve);
          body.once('close', resolve);
        });
      }
      if (bodyError) throw bodyError;
    });
    await bytes.drain();
    return bytes.position;
  } catch (err) {
    source.destroy();
    throw sourceError ?? wrapTarReadError(err);
  } finally {
    source.off('error', onError);
  }
}

/**
 * Reads the headers of a tar file without reading the bodies (they are skipped by offset; headers that sit
 * close together come from one read-ahead window), so scanning a multi-GB layer reads little more than its
 * headers. `visit` gets each entry with the offset of its body in the file.
 */
export async function scanRawTarFile(path: string, visit: (entry: RawTarEntry) => Promise<void> | void): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    await parseRawTar(new FileByteSource(handle, size), async (header, offset) => {
      await visit({ header, offset });
    });
  } catch (err) {
    throw wrapTarReadError(err);
  } finally {
    await handle.close();
  }
}

async function parseRawTar(bytes: ByteSource, onEntry: (header: RawTarHeader, offset: number) => Promise<void>): Promise<void> {
  const globalPax = new Map<string, Buffer>();
  let localPax: Map<string, Buffer> | undefined;
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;
  for (;;) {
    const block = await bytes.read(512, true);
    if (!block) {
      // A stream that stops at a block boundary without the end marker: Go's reader accepts it too.
      if (localPax || longName || longLink) throw truncatedError('an entry (an extended header has no entry)');
      return;
    }
    if (isZeroBlock(block)) return;
    verifyChecksum(block, bytes.position - 512);
    const flag = block[156]!;
    const size = readNumber(block, 124, 12, 'size');
    const typeChar = String.fromCharCode(flag);

    if (typeChar === 'x' || typeChar === 'g') {
      if (size > MAX_PAX_BYTES) throw inputError('tar.corrupt', `cannot read the tar archive: a pax header of ${size} bytes is too large`);
      const body = (await bytes.read(size + tarPaddingOf(size), false))!.subarray(0, size);
      const records = parsePaxRecords(body);
      if (typeChar === 'g') for (const [k, v] of records) globalPax.set(k, v);
      else {
        localPax ??= new Map();
        for (const [k, v] of records) localPax.set(k, v);
      }
      continue;
    }
    if (typeChar === 'L' || typeChar === 'K') {
      if (size > MAX_PAX_BYTES) throw inputError('tar.corrupt', `cannot read the tar archive: a GNU long name of ${size} bytes is too large`);
      const body = (await bytes.read(size + tarPaddingOf(size), false))!.subarray(0, size);
      const value = trimNul(body);
      if (typeChar === 'L') longName = value;
      else longLink = value;
      continue;
    }

    const type = parseTypeFlag(flag, block);
    const records = new Map(globalPax);
    for (const [k, v] of localPax ?? []) records.set(k, v);
    localPax = undefined;
    for (const key of records.keys()) {
      if (key.startsWith('GNU.sparse.')) {
        throw inputError('tar.unsupported', `cannot read the tar archive: entry ${describeRawName(readName(block))} is a GNU sparse file`, {
          hint: 'sparse entries are not supported (Docker does not write them); rebuild the layer without --sparse',
        });
      }
    }

    let name = longName ?? readName(block);
    longName = undefined;
    let linkname: Buffer | undefined = longLink ?? (block[157] ? readField(block, 157, 100) : undefined);
    longLink = undefined;
    const header: RawTarHeader = {
      name,
      type,
      size,
      mode: readNumber(block, 100, 8, 'mode'),
      mtime: readNumber(block, 136, 12, 'mtime'),
      uid: readNumber(block, 108, 8, 'uid'),
      gid: readNumber(block, 116, 8, 'gid'),
      uname: readField(block, 265, 32).toString('utf8'),
      gname: readField(block, 297, 32).toString('utf8'),
      devmajor: type === 'character-device' || type === 'block-device' ? readNumber(block, 329, 8, 'devmajor') : 0,
      devminor: type === 'character-device' || type === 'block-device' ? readNumber(block, 337, 8, 'devminor') : 0,
      pax: [],
    };
    for (const [key, value] of records) {
      switch (key) {
        case 'path':
          name = value;
          header.name = value;
          break;
        case 'linkpath':
          linkname = value;
          break;
        case 'size':
          header.size = parsePaxInteger(key, value);
          break;
        case 'uid':
          header.uid = parsePaxInteger(key, value);
          break;
        case 'gid':
          header.gid = parsePaxInteger(key, value);
          break;
        case 'uname':
          header.uname = value.toString('utf8');
          break;
        case 'gname':
          header.gname = value.toString('utf8');
          break;
        case 'mtime':
          header.mtime = parsePaxSeconds(key, value);
          break;
        case 'hdrcharset':
          break;
        default:
          header.pax.push({ key, value });
      }
    }
    if ((type === 'link' || type === 'symlink') && linkname?.length) header.linkname = linkname;
    if (flag === 0 && name.length && name[name.length - 1] === 0x2f) header.type = 'directory';
    if (HEADER_ONLY_TYPES.has(header.type)) header.size = 0;
    const offset = bytes.position;
    await onEntry(header, offset);
    // The visitor may have read the body (stream source); skip whatever it left, then the padding.
    const bodyEnd = offset + header.size;
    if (bytes.position < bodyEnd) await bytes.skip(bodyEnd - bytes.position);
    const pad = tarPaddingOf(header.size);
    if (pad) await bytes.skip(pad);
  }
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < 512; i++) if (block[i] !== 0) return false;
  return true;
}

function verifyChecksum(block: Buffer, at: number): void {
  const stored = readNumber(block, 148, 8, 'checksum');
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < 512; i++) {
    if (i >= 148 && i < 156) continue;
    unsigned += block[i]!;
    signed += (block[i]! << 24) >> 24;
  }
  if (stored !== unsigned && stored !== signed) {
    throw inputError('tar.corrupt', `cannot read the tar archive: bad header checksum at byte ${at}`, {
      hint: 'the archive is damaged (or compressed: decompress it first)',
    });
  }
}

function readField(block: Buffer, offset: number, length: number): Buffer {
  const slice = block.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return Buffer.from(end === -1 ? slice : slice.subarray(0, end));
}

function trimNul(buf: Buffer): Buffer {
  const end = buf.indexOf(0);
  return Buffer.from(end === -1 ? buf : buf.subarray(0, end));
}

function readName(block: Buffer): Buffer {
  const name = readField(block, 0, 100);
  const magic = block.subarray(257, 263).toString('latin1');
  const version = block.subarray(263, 265).toString('latin1');
  if (magic !== 'ustar\0' || version !== '00') return name; // GNU ('ustar  ') and v7 have no prefix field
  // star puts "tar\0" in the last 4 bytes and has a 131-byte prefix (Go's archive/tar reads it the same way).
  const isStar = block.subarray(508, 512).toString('latin1') === 'tar\0';
  const prefix = readField(block, 345, isStar ? 131 : 155);
  return prefix.length ? Buffer.concat([prefix, Buffer.from('/'), name]) : name;
}

function parseTypeFlag(flag: number, block: Buffer): TarEntryType {
  switch (String.fromCharCode(flag)) {
    case '\0':
    case '0':
    case '7':
      return 'file';
    case '1':
      return 'link';
    case '2':
      return 'symlink';
    case '3':
      return 'character-device';
    case '4':
      return 'block-device';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    default:
      throw inputError('tar.unsupported', `cannot read the tar archive: entry ${describeRawName(readName(block))} has type '${String.fromCharCode(flag)}' (0x${flag.toString(16)}), which Docker cannot extract either`, {
        hint: 'rebuild the layer with a POSIX (pax) or GNU tar without sparse or multi-volume entries',
      });
  }
}

/** Octal (NUL/space padded) or GNU base-256 (high bit set; 0xff = negative two's complement). */
function readNumber(block: Buffer, offset: number, length: number, what: string): number {
  const slice = block.subarray(offset, offset + length);
  if (slice[0]! & 0x80) {
    const negative = slice[0] === 0xff;
    let value = BigInt(slice[0]! & (negative ? 0xff : 0x7f));
    for (let i = 1; i < slice.length; i++) value = (value << 8n) | BigInt(slice[i]!);
    if (negative) value -= 1n << BigInt(8 * slice.length);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw inputError('tar.corrupt', `cannot read the tar archive: the ${what} field is out of range`);
    }
    return Number(value);
  }
  const text = slice.toString('latin1').replace(/[\0 ]+$/g, '').replace(/^[ \0]+/, '').replace(/\0.*$/s, '');
  if (!text) return 0;
  if (!/^[0-7]+$/.test(text)) throw inputError('tar.corrupt', `cannot read the tar archive: the ${what} field "${text}" is not an octal number`);
  return parseInt(text, 8);
}

/** pax records: "<length> <key>=<value>\n", length counting the whole record in bytes (POSIX pax). */
function parsePaxRecords(body: Buffer): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  let at = 0;
  while (at < body.length) {
    if (body[at] === 0) break; // some writers pad the header body with NULs
    const space = body.indexOf(0x20, at);
    const length = space === -1 ? NaN : Number(body.subarray(at, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= 0 || at + length > body.length || body[at + length - 1] !== 0x0a) {
      throw inputError('tar.corrupt', 'cannot read the tar archive: a pax extended header record is malformed');
    }
    const record = body.subarray(space + 1, at + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw inputError('tar.corrupt', 'cannot read the tar archive: a pax extended header record has no key');
    out.push([record.subarray(0, eq).toString('latin1'), Buffer.from(record.subarray(eq + 1))]);
    at += length;
  }
  return out;
}

function parsePaxInteger(key: string, value: Buffer): number {
  const text = value.toString('latin1');
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw inputError('tar.corrupt', `cannot read the tar archive: pax ${key}="${text}" is not an integer`);
  }
  return Number(text);
}

function parsePaxSeconds(key: string, value: Buffer): number {
  const text = value.toString('latin1');
  if (!/^-?\d+(\.\d*)?$/.test(text)) throw inputError('tar.corrupt', `cannot read the tar archive: pax ${key}="${text}" is not a time`);
  return Math.floor(Number(text));
}

/** A raw name for messages: UTF-8 where it is valid, \xNN escapes for the other bytes. */
export function describeRawName(name: Buffer): string {
  let out = '';
  let at = 0;
  while (at < name.length) {
    const length = measureUtf8Sequence(name, at);
    if (length === 0) {
      out += `\\x${name[at]!.toString(16).padStart(2, '0')}`;
      at += 1;
    } else {
      const text = name.subarray(at, at + length).toString('utf8');
      out += text === '\\' ? '\\\\' : text;
      at += length;
    }
  }
  return out;
}

/** Length of the valid UTF-8 sequence at `at` (RFC 3629: no overlongs, surrogates or > U+10FFFF), or 0. */
function measureUtf8Sequence(buf: Buffer, at: number): number {
  const b0 = buf[at]!;
  if (b0 < 0x80) return 1;
  let length: number;
  let min: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) [length, min] = [2, 0x80];
  else if (b0 >= 0xe0 && b0 <= 0xef) [length, min] = [3, 0x800];
  else if (b0 >= 0xf0 && b0 <= 0xf4) [length, min] = [4, 0x10000];
  else return 0;
  if (at + length > buf.length) return 0;
  let cp = b0 & (0xff >> (length + 1));
  for (let i = 1; i < length; i++) {
    const b = buf[at + i]!;
    if ((b & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return length;
}

function isValidUtf8(buf: Buffer): boolean {
  for (let at = 0; at < buf.length; ) {
    const length = measureUtf8Sequence(buf, at);
    if (!length) return false;
    at += length;
  }
  return true;
}

function isAsciiWithoutNul(buf: Buffer): boolean {
  for (const b of buf) if (b === 0 || b >= 0x80) return false;
  return true;
}

const OCTAL_8_MAX = 0o7777777;
const OCTAL_12_MAX = 0o77777777777;
/** Name of the pax extended header entries this encoder writes (what Python's tarfile writes, too). */
const PAX_HEADER_NAME = Buffer.from('../build/@PaxHeader');

/**
 * Encodes one entry's header: a pax extended header ('x') when something does not fit ustar, then the
 * ustar header. The body and its padding are the caller's. Deterministic by construction: a name, link
 * target, uname or gname goes to pax when it is not ASCII or longer than its ustar field (no prefix
 * splitting), numbers go to pax when they do not fit their octal field, records are sorted by key, and
 * `hdrcharset=BINARY` is added when a path is not valid UTF-8 (POSIX pax: values are UTF-8 otherwise).
 * Every field of the ustar header is a pure function of `header`.
 */
export function encodeRawTarHeader(header: RawTarHeader): Buffer {
  const records = new Map<string, Buffer>();
  for (const { key, value } of header.pax) {
    if (RAW_DERIVED_PAX_KEYS.has(key)) {
      throw internalError('tar.pax-key', `pax record "${key}" of ${describeRawName(header.name)} is derived from the header; set the field instead`);
    }
    if (!key || key.includes('=') || /[\0\n]|[^\0-\xff]/.test(key)) throw internalError('tar.pax-key', `invalid pax key "${key}" (keys are latin1 byte strings)`);
    records.set(key, value);
  }
  const headerOnly = HEADER_ONLY_TYPES.has(header.type);
  const size = headerOnly ? 0 : header.size;
  if (!header.name.length) throw internalError('tar.name', 'a tar entry needs a name');
  if (header.name.includes(0)) throw internalError('tar.name', `tar entry name ${describeRawName(header.name)} contains NUL`);

  let ustarName = header.name;
  if (header.name.length > 100 || !isAsciiWithoutNul(header.name)) {
    records.set('path', header.name);
    ustarName = toAsciiFallback(header.name, 100);
  }
  let ustarLink = header.linkname ?? Buffer.alloc(0);
  if (header.type === 'link' || header.type === 'symlink') {
    if (!header.linkname?.length) throw internalError('tar.linkname', `tar entry ${describeRawName(header.name)} (${header.type}) needs a link target`);
    if (header.linkname.includes(0)) throw internalError('tar.linkname', `link target of ${describeRawName(header.name)} contains NUL`);
    if (header.linkname.length > 100 || !isAsciiWithoutNul(header.linkname)) {
      records.set('linkpath', header.linkname);
      ustarLink = toAsciiFallback(header.linkname, 100);
    }
  } else ustarLink = Buffer.alloc(0);
  if ((records.has('path') && !isValidUtf8(header.name)) || (records.has('linkpath') && !isValidUtf8(header.linkname!))) {
    records.set('hdrcharset', Buffer.from('BINARY'));
  }
  const numberField = (value: number, max: number, key: string): number => {
    if (!Number.isSafeInteger(value)) throw internalError('tar.number', `${key} of ${describeRawName(header.name)} is not an integer: ${value}`);
    if (value < 0 || value > max) {
      records.set(key, Buffer.from(String(value)));
      return 0;
    }
    return value;
  };
  const sizeField = numberField(size, OCTAL_12_MAX, 'size');
  const uidField = numberField(header.uid, OCTAL_8_MAX, 'uid');
  const gidField = numberField(header.gid, OCTAL_8_MAX, 'gid');
  const mtimeField = numberField(header.mtime, OCTAL_12_MAX, 'mtime');
  if (!Number.isSafeInteger(header.mode) || header.mode < 0 || header.mode > OCTAL_8_MAX) {
    throw internalError('tar.number', `mode of ${describeRawName(header.name)} does not fit a tar header: ${header.mode}`);
  }
  for (const [what, value] of [['devmajor', header.devmajor], ['devminor', header.devminor]] as const) {
    if (!Number.isSafeInteger(value) || value < 0 || value > OCTAL_8_MAX) {
      throw internalError('tar.number', `${what} of ${describeRawName(header.name)} does not fit a tar header: ${value}`);
    }
  }
  const textField = (value: string, key: string): Buffer => {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > 32 || !isAsciiWithoutNul(bytes)) {
      records.set(key, bytes);
      return toAsciiFallback(bytes, 32);
    }
    return bytes;
  };
  const uname = header.uname ? textField(header.uname, 'uname') : Buffer.alloc(0);
  const gname = header.gname ? textField(header.gname, 'gname') : Buffer.alloc(0);

  const block = encodeUstarBlock({
    name: ustarName,
    mode: header.mode,
    uid: uidField,
    gid: gidField,
    size: sizeField,
    mtime: mtimeField,
    flag: toTypeFlag(header.type),
    linkname: ustarLink,
    uname,
    gname,
    devmajor: header.devmajor,
    devminor: header.devminor,
  });
  if (!records.size) return block;

  const body = encodePaxRecords(records);
  const paxBlock = encodeUstarBlock({
    name: PAX_HEADER_NAME,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    flag: 'x',
    linkname: Buffer.alloc(0),
    uname: Buffer.alloc(0),
    gname: Buffer.alloc(0),
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxBlock, body, Buffer.alloc(tarPaddingOf(body.length)), block]);
}

function encodePaxRecords(records: Map<string, Buffer>): Buffer {
  // Keys are latin1 strings, so comparing them compares their bytes.
  const keys = [...records.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: Buffer[] = [];
  for (const key of keys) {
    const value = records.get(key)!;
    const rest = Buffer.byteLength(key, 'latin1') + value.length + 3; // ' ' + '=' + '\n'
    let length = rest + String(rest).length;
    if (String(length).length !== String(rest).length) length = rest + String(length).length;
    parts.push(Buffer.from(`${length} ${key}=`, 'latin1'), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** What goes into a ustar field when the real value lives in a pax record: its ASCII bytes, truncated. */
function toAsciiFallback(bytes: Buffer, width: number): Buffer {
  const out: number[] = [];
  for (const b of bytes) {
    if (out.length === width) break;
    out.push(b > 0 && b < 0x80 ? b : 0x5f);
  }
  return Buffer.from(out);
}

function toTypeFlag(type: TarEntryType): string {
  switch (type) {
    case 'file':
      return '0';
    case 'link':
      return '1';
    case 'symlink':
      return '2';
    case 'character-device':
      return '3';
    case 'block-device':
      return '4';
    case 'directory':
      return '5';
    case 'fifo':
      return '6';
  }
}

interface UstarFields {
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  flag: string;
  linkname: Buffer;
  uname: Buffer;
  gname: Buffer;
  devmajor: number;
  devminor: number;
}

/** One POSIX ustar header block: octal numbers zero-padded and NUL-terminated, magic "ustar\0", version "00". */
function encodeUstarBlock(f: UstarFields): Buffer {
  const block = Buffer.alloc(512);
  f.name.copy(block, 0, 0, 100);
  writeOctalField(block, 100, 8, f.mode);
  writeOctalField(block, 108, 8, f.uid);
  writeOctalField(block, 116, 8, f.gid);
  writeOctalField(block, 124, 12, f.size);
  writeOctalField(block, 136, 12, f.mtime);
  block.fill(0x20, 148, 156);
  block.write(f.flag, 156, 1, 'latin1');
  f.linkname.copy(block, 157, 0, 100);
  block.write('ustar\0', 257, 6, 'latin1');
  block.write('00', 263, 2, 'latin1');
  f.uname.copy(block, 265, 0, 32);
  f.gname.copy(block, 297, 0, 32);
  writeOctalField(block, 329, 8, f.devmajor);
  writeOctalField(block, 337, 8, f.devminor);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

function writeOctalField(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, width, 'latin1');
}
