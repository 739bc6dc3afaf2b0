/**
 * A small typed API over tar-stream (the only file that imports it): a deterministic writer that builds a tar
 * entry by entry with bounded memory, and a reader that walks one entry by entry. The build context
 * (image/context/) is written with it, and image normalisation reads `docker save` archives and writes the
 * archive it loads back with it; the python wing reads sdists with it. Writers need exact control over
 * every header field, because the bytes of the archive are part of what makes a build reproducible.
 * Image layers themselves need their names as bytes: see raw-reader.ts for why they do not come through here.
 *
 * Format: POSIX ustar with pax extended headers (POSIX.1-2001 pax(1), "pax Interchange Format") for names
 * longer than ustar's 100+155 bytes, non-ASCII names, and any extra pax records the caller passes through
 * (e.g. `SCHILY.xattr.*`). tar-stream writes numeric fields as octal and sizes over 8 GiB
 * in the base-256 form GNU tar and Go's archive/tar read.
 */
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { internalError, inputError } from '../core/errors.js';
import { wrapTarReadError, type TarEntryType } from './header.js';

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
      await writeFileFromMemory(pack, input, header, body);
      return;
    }
    await writeStreamBody(pack, header, body, { failure: () => failure, fail });
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

/** Adds a file entry whose body is already in memory. */
async function writeFileFromMemory(pack: tarStream.Pack, input: TarHeaderInput, header: PackHeader, body: string | Uint8Array | undefined): Promise<void> {
  const bytes = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (input.size !== undefined && input.size !== bytes.byteLength) {
    throw internalError('tar.size', `tar entry ${input.name}: header size ${input.size} but body has ${bytes.byteLength} bytes`);
  }
  await new Promise<void>((resolve, reject) => {
    pack.entry({ ...header, size: bytes.byteLength }, bytes, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Streams a file body into the archive with backpressure, checking that it yields exactly `header.size`
 * bytes. Any failure aborts the whole archive through `writer.fail`.
 */
async function writeStreamBody(
  pack: tarStream.Pack,
  header: PackHeader,
  body: Readable,
  writer: { failure(): Error | undefined; fail(error: Error): void },
): Promise<void> {
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
      if (sink.destroying || pack.destroying) throw writer.failure() ?? new Error('the tar stream was closed before it was fully read');
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
    writer.fail(error);
    throw error;
  }
  await entryDone;
}

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

function waitForDrain(sink: ReturnType<tarStream.Pack['entry']>): Promise<void> {
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
