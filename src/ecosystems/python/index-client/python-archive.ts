/**
 * Reading core metadata out of Python distribution files without unpacking them:
 *   - wheels are ZIP archives (PEP 427); their `{name}-{version}.dist-info/METADATA` is found through the
 *     central directory at the end of the file (APPNOTE.TXT §4.3.16 end of central directory, §4.3.12
 *     central directory headers, §4.3.7 local file headers, §4.5.3 ZIP64 extra field), so over HTTP only
 *     the tail and the one entry need to be fetched (RFC 9110 §14 range requests);
 *   - sdists are `.tar.gz` (PEP 625) or legacy `.zip` with `{name}-{version}/PKG-INFO` at the top.
 *
 * The byte source is injected (`ByteSource`): a whole file in memory, or a function that fetches ranges.
 */
import { Readable } from 'node:stream';
import { gunzipSync, inflateRawSync } from 'node:zlib';

/** Random access to a file of known size. `read(start, end)` returns bytes [start, end). */
export interface ByteSource {
  size: number;
  read(start: number, end: number): Promise<Buffer>;
}

export function bufferSource(data: Buffer): ByteSource {
  return { size: data.length, read: async (start, end) => data.subarray(start, end) };
}

/** Malformed archive: the message says what is wrong; callers wrap it with the file's name. */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
/** EOCD (22 bytes) plus the longest comment (65535). */
const MAX_EOCD_SEARCH = 22 + 0xffff;
const U32_MAX = 0xffffffff;

function readUint64(buf: Buffer, offset: number): number {
  const value = buf.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ArchiveError('ZIP64 size or offset too large');
  return Number(value);
}

/**
 * The central directory of a ZIP file: reads the tail (`tail` bytes, default 64 KiB, more only when the
 * comment or the directory is larger) and then whatever part of the directory the tail did not cover.
 */
export async function readZipDirectory(source: ByteSource, tail = 64 * 1024): Promise<ZipEntry[]> {
  if (source.size < 22) throw new ArchiveError('file too small to be a ZIP archive');
  let tailStart = Math.max(0, source.size - Math.min(source.size, Math.max(tail, 22)));
  let tailBytes = await source.read(tailStart, source.size);
  let eocd = findEocd(tailBytes);
  if (eocd < 0 && tailStart > 0) {
    tailStart = Math.max(0, source.size - MAX_EOCD_SEARCH);
    tailBytes = await source.read(tailStart, source.size);
    eocd = findEocd(tailBytes);
  }
  if (eocd < 0) throw new ArchiveError('no end-of-central-directory record: not a ZIP archive');

  let entries = tailBytes.readUInt16LE(eocd + 10);
  let cdSize = tailBytes.readUInt32LE(eocd + 12);
  let cdOffset = tailBytes.readUInt32LE(eocd + 16);
  if (entries === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) {
    // ZIP64: a locator right before the EOCD points at the ZIP64 end-of-central-directory record.
    const locatorAt = eocd - 20;
    let locator: Buffer;
    if (locatorAt >= 0) locator = tailBytes.subarray(locatorAt, eocd);
    else locator = await source.read(tailStart + locatorAt, tailStart + eocd);
    if (locator.length !== 20 || locator.readUInt32LE(0) !== ZIP64_LOCATOR_SIGNATURE) {
      throw new ArchiveError('ZIP64 archive without a ZIP64 end-of-central-directory locator');
    }
    const recordOffset = readUint64(locator, 8);
    const record = await readRange(source, tailStart, tailBytes, recordOffset, recordOffset + 56);
    if (record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) throw new ArchiveError('bad ZIP64 end-of-central-directory record');
    entries = readUint64(record, 32);
    cdSize = readUint64(record, 40);
    cdOffset = readUint64(record, 48);
  }
  if (cdOffset + cdSize > source.size) throw new ArchiveError('central directory lies outside the file');
  const cd = await readRange(source, tailStart, tailBytes, cdOffset, cdOffset + cdSize);
  return parseCentralDirectory(cd, entries);
}

function findEocd(buf: Buffer): number {
  for (let i = buf.length - 22; i >= 0; i -= 1) {
    if (buf.readUInt32LE(i) === EOCD_SIGNATURE && i + 22 + buf.readUInt16LE(i + 20) <= buf.length) return i;
  }
  return -1;
}

/** Bytes [start, end) of the file, from the tail we already hold when it covers them. */
async function readRange(source: ByteSource, tailStart: number, tail: Buffer, start: number, end: number): Promise<Buffer> {
  if (start >= tailStart) return tail.subarray(start - tailStart, end - tailStart);
  return source.read(start, end);
}

function parseCentralDirectory(cd: Buffer, expected: number): ZipEntry[] {
  const out: ZipEntry[] = [];
  let p = 0;
  while (p + 46 <= cd.length && cd.readUInt32LE(p) === CENTRAL_SIGNATURE) {
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    let compressedSize = cd.readUInt32LE(p + 20);
    let uncompressedSize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let localHeaderOffset = cd.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen > cd.length) throw new ArchiveError('truncated central directory entry');
    // Bit 11: UTF-8 names; otherwise CP437, which for the ASCII names wheels use is the same.
    const name = cd.subarray(p + 46, p + 46 + nameLen).toString(flags & 0x800 ? 'utf8' : 'latin1');
    const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    // ZIP64 extended information (header 0x0001): the 64-bit values for fields that hold 0xFFFFFFFF.
    for (let e = 0; e + 4 <= extra.length;) {
      const id = extra.readUInt16LE(e);
      const size = extra.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (uncompressedSize === U32_MAX && q + 8 <= e + 4 + size) {
          uncompressedSize = readUint64(extra, q);
          q += 8;
        }
        if (compressedSize === U32_MAX && q + 8 <= e + 4 + size) {
          compressedSize = readUint64(extra, q);
          q += 8;
        }
        if (localHeaderOffset === U32_MAX && q + 8 <= e + 4 + size) localHeaderOffset = readUint64(extra, q);
      }
      e += 4 + size;
    }
    out.push({ name, method, compressedSize, uncompressedSize, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  if (out.length !== expected && expected !== 0xffff) {
    throw new ArchiveError(`central directory lists ${out.length} entries, the end record says ${expected}`);
  }
  return out;
}

/** The uncompressed bytes of one entry (stored or deflated, the two methods wheels use). */
export async function readZipEntry(source: ByteSource, entry: ZipEntry): Promise<Buffer> {
  // The local header's name and extra lengths may differ from the central directory's: read the fixed part
  // plus a generous guess, and a second range only when the guess was short.
  const guess = 30 + entry.name.length + 1024 + entry.compressedSize;
  let chunk = await source.read(entry.localHeaderOffset, Math.min(source.size, entry.localHeaderOffset + guess));
  if (chunk.length < 30 || chunk.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new ArchiveError(`bad local header for ${entry.name}`);
  const dataStart = 30 + chunk.readUInt16LE(26) + chunk.readUInt16LE(28);
  const dataEnd = dataStart + entry.compressedSize;
  if (dataEnd > chunk.length) {
    if (entry.localHeaderOffset + dataEnd > source.size) throw new ArchiveError(`entry ${entry.name} runs past the end of the file`);
    chunk = await source.read(entry.localHeaderOffset, entry.localHeaderOffset + dataEnd);
  }
  const data = chunk.subarray(dataStart, dataEnd);
  let out: Buffer;
  if (entry.method === 0) out = Buffer.from(data);
  else if (entry.method === 8) {
    try {
      out = inflateRawSync(data);
    } catch (err) {
      throw new ArchiveError(`cannot inflate ${entry.name}: ${(err as Error).message}`);
    }
  } else throw new ArchiveError(`entry ${entry.name} uses compression method ${entry.method}; only stored (0) and deflate (8) are read`);
  if (out.length !== entry.uncompressedSize)
    throw new ArchiveError(`entry ${entry.name} has ${out.length} bytes, the directory says ${entry.uncompressedSize}`);
  return out;
}

/** The wheel's dist-info directory escaping (PEP 427 / binary distribution format): runs of `-_.` → `_`. */
function escapeForDistInfo(text: string): string {
  return text.replace(/[-_.]+/g, '_').toLowerCase();
}

/**
 * The `.dist-info/METADATA` of a wheel. Exactly one top-level `*.dist-info` directory is expected (pip
 * refuses wheels with several); when there are several, the one matching the wheel's name and version wins.
 */
export async function readWheelMetadata(source: ByteSource, filename: string): Promise<string> {
  const entries = await readZipDirectory(source);
  const candidates = entries.filter((e) => /^[^/]+\.dist-info\/METADATA$/.test(e.name));
  let entry = candidates.length === 1 ? candidates[0] : undefined;
  if (candidates.length > 1) {
    const [name = '', version = ''] = filename.replace(/\.whl$/, '').split('-');
    const want = `${escapeForDistInfo(name)}-${escapeForDistInfo(version)}`;
    entry = candidates.find((e) => {
      const dir = e.name.slice(0, -'.dist-info/METADATA'.length);
      const dash = dir.lastIndexOf('-');
      return dash > 0 && `${escapeForDistInfo(dir.slice(0, dash))}-${escapeForDistInfo(dir.slice(dash + 1))}` === want;
    });
    if (!entry) throw new ArchiveError(`wheel has ${candidates.length} .dist-info directories and none matches ${filename}`);
  }
  if (!entry) throw new ArchiveError('wheel has no *.dist-info/METADATA');
  return (await readZipEntry(source, entry)).toString('utf8');
}

/** The top-level `PKG-INFO` of an sdist (`.tar.gz` or `.zip`), read from the whole file. */
export async function readSdistPkgInfo(data: Buffer, filename: string): Promise<string> {
  const found = await readSdistTopFile(data, filename, 'PKG-INFO');
  if (found === undefined) throw new ArchiveError('sdist has no top-level PKG-INFO');
  return found;
}

/** A file in the top directory of an sdist (`{name}-{version}/<name>`; `<name>` may be a path below it), as UTF-8; undefined when absent. */
export async function readSdistTopFile(data: Buffer, filename: string, name: string): Promise<string | undefined> {
  const isTop = (path: string) => {
    const parts = path.replace(/^\.\//, '').split('/');
    return parts.length >= 2 && parts.slice(1).join('/') === name;
  };
  if (filename.endsWith('.zip')) {
    const source = bufferSource(data);
    const entry = (await readZipDirectory(source)).find((e) => isTop(e.name));
    return entry ? (await readZipEntry(source, entry)).toString('utf8') : undefined;
  }
  if (!filename.endsWith('.tar.gz') && !filename.endsWith('.tgz')) throw new ArchiveError(`unsupported sdist format: ${filename}`);
  let tar: Buffer;
  try {
    tar = gunzipSync(data);
  } catch (err) {
    throw new ArchiveError(`not a gzip file: ${(err as Error).message}`);
  }
  let found: string | undefined;
  // Loaded on first use: most resolutions never read an sdist, and the tar library costs start-up time.
  const { readTarEntries } = await import('../../../tar/tar-stream-codec.js');
  try {
    await readTarEntries(Readable.from([tar]), async (entry) => {
      if (found !== undefined || entry.header.type !== 'file' || !isTop(entry.header.name)) return;
      const chunks: Buffer[] = [];
      for await (const chunk of entry.body) chunks.push(Buffer.from(chunk as Uint8Array));
      found = Buffer.concat(chunks).toString('utf8');
    });
  } catch (err) {
    throw new ArchiveError(`unreadable tar archive: ${(err as Error).message}`);
  }
  return found;
}
