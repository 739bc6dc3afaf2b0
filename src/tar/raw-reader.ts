/**
 * The raw tar reader: entries with names, link targets and pax values as bytes, exactly as stored.
 *
 * Why it exists (and why image layers do not go through tar-stream, which tar-stream-codec.ts wraps for the
 * build context and for reading image archives): image normalisation rewrites the layers of a built image
 * and must keep every entry exactly, because a layer is content-addressed (its diff_id is the sha256 of its
 * bytes) and the point is a reproducible image ID. tar-stream decodes pax records and names as UTF-8 (a
 * non-UTF-8 name such as Latin-1 `caf\xe9` comes back as U+FFFD and cannot be written back) and always
 * encodes names as UTF-8, so it cannot round-trip such names, link targets or binary xattr values byte for
 * byte. This reader, with raw-encoder.ts for writing headers back, is small and independent of it. Its users
 * are in image/normalize/: normalize-image.ts rewrites layers, image-diff.ts compares them.
 *
 * Format: POSIX.1-2001 pax(1) ("ustar Interchange Format" and "pax Interchange Format"), plus the GNU
 * extensions found in real base images (GNU tar's `ustar  ` magic, 'L'/'K' long names, base-256 numbers)
 * and what Go's archive/tar (Docker) writes. Reading follows Go's archive/tar where formats are lax,
 * because Docker extracts layers with it: header-only types (links, symlinks, devices, directories, FIFOs)
 * have no body whatever the size field says, and a typeflag NUL with a trailing '/' is a directory. Entry
 * types Docker cannot extract either (GNU sparse, multi-volume) are refused.
 */
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { internalError, inputError } from '../core/errors.js';
import { FileByteSource, StreamByteSource, truncatedError, type ByteSource } from './byte-source.js';
import { describeRawName, HEADER_ONLY_TYPES, tarPaddingOf, wrapTarReadError, type RawTarHeader, type TarEntryType } from './header.js';

export interface RawTarEntry {
  header: RawTarHeader;
  /** Offset of the body (or where it would be) from the start of the archive. */
  offset: number;
}

export interface RawTarEntryWithBody extends RawTarEntry {
  /** The body as a stream of exactly `header.size` bytes; skipped when the visitor does not read it. */
  body: Readable;
}

/** A single pax header larger than this is refused rather than buffered (real ones are a few KB). */
const MAX_PAX_BYTES = 16 * 1024 * 1024;

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

/** What extension entries ('x', 'g', 'L', 'K') said about the entries that follow them. */
interface PendingExtensions {
  /** Global pax records ('g'): they apply to every later entry. */
  globalPax: Map<string, Buffer>;
  /** pax records ('x') for the next entry only. */
  localPax?: Map<string, Buffer>;
  /** GNU long name ('L') and long link target ('K') of the next entry. */
  longName?: Buffer;
  longLink?: Buffer;
}

async function parseRawTar(bytes: ByteSource, onEntry: (header: RawTarHeader, offset: number) => Promise<void>): Promise<void> {
  const pending: PendingExtensions = { globalPax: new Map() };
  for (;;) {
    const block = await bytes.read(512, true);
    if (!block) {
      // A stream that stops at a block boundary without the end marker: Go's reader accepts it too.
      if (pending.localPax || pending.longName || pending.longLink) throw truncatedError('an entry (an extended header has no entry)');
      return;
    }
    if (isZeroBlock(block)) return;
    verifyChecksum(block, bytes.position - 512);
    const size = readNumber(block, 124, 12, 'size');
    if (await readExtension(bytes, block, size, pending)) continue;

    const header = decodeEntryHeader(block, size, pending);
    const offset = bytes.position;
    await onEntry(header, offset);
    // The visitor may have read the body (stream source); skip whatever it left, then the padding.
    const bodyEnd = offset + header.size;
    if (bytes.position < bodyEnd) await bytes.skip(bodyEnd - bytes.position);
    const pad = tarPaddingOf(header.size);
    if (pad) await bytes.skip(pad);
  }
}

/**
 * Reads the body of a pax ('x', 'g') or GNU long name ('L', 'K') entry into `pending`. False when `block`
 * heads an ordinary entry instead.
 */
async function readExtension(bytes: ByteSource, block: Buffer, size: number, pending: PendingExtensions): Promise<boolean> {
  const typeChar = String.fromCharCode(block[156]!);
  if (typeChar === 'x' || typeChar === 'g') {
    if (size > MAX_PAX_BYTES) throw inputError('tar.corrupt', `cannot read the tar archive: a pax header of ${size} bytes is too large`);
    const body = (await bytes.read(size + tarPaddingOf(size), false))!.subarray(0, size);
    const records = parsePaxRecords(body);
    if (typeChar === 'g') for (const [k, v] of records) pending.globalPax.set(k, v);
    else {
      pending.localPax ??= new Map();
      for (const [k, v] of records) pending.localPax.set(k, v);
    }
    return true;
  }
  if (typeChar === 'L' || typeChar === 'K') {
    if (size > MAX_PAX_BYTES) throw inputError('tar.corrupt', `cannot read the tar archive: a GNU long name of ${size} bytes is too large`);
    const body = (await bytes.read(size + tarPaddingOf(size), false))!.subarray(0, size);
    const value = trimNul(body);
    if (typeChar === 'L') pending.longName = value;
    else pending.longLink = value;
    return true;
  }
  return false;
}

/** The header of the ordinary entry in `block`, with the pending extensions folded in (and then cleared). */
function decodeEntryHeader(block: Buffer, size: number, pending: PendingExtensions): RawTarHeader {
  const flag = block[156]!;
  const type = parseTypeFlag(flag, block);
  const records = new Map(pending.globalPax);
  for (const [k, v] of pending.localPax ?? []) records.set(k, v);
  pending.localPax = undefined;
  for (const key of records.keys()) {
    if (key.startsWith('GNU.sparse.')) {
      throw inputError('tar.unsupported', `cannot read the tar archive: entry ${describeRawName(readName(block))} is a GNU sparse file`, {
        hint: 'sparse entries are not supported (Docker does not write them); rebuild the layer without --sparse',
      });
    }
  }

  const name = pending.longName ?? readName(block);
  pending.longName = undefined;
  const blockLink: Buffer | undefined = pending.longLink ?? (block[157] ? readField(block, 157, 100) : undefined);
  pending.longLink = undefined;
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
  const linkname = applyPaxRecords(header, records) ?? blockLink;
  if ((type === 'link' || type === 'symlink') && linkname?.length) header.linkname = linkname;
  if (flag === 0 && header.name.length && header.name[header.name.length - 1] === 0x2f) header.type = 'directory';
  if (HEADER_ONLY_TYPES.has(header.type)) header.size = 0;
  return header;
}

/**
 * Folds the pax records that stand for header fields into `header` and keeps the others in `header.pax`.
 * Returns the `linkpath` record, which applies only to link types.
 */
function applyPaxRecords(header: RawTarHeader, records: Map<string, Buffer>): Buffer | undefined {
  let linkpath: Buffer | undefined;
  for (const [key, value] of records) {
    switch (key) {
      case 'path':
        header.name = value;
        break;
      case 'linkpath':
        linkpath = value;
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
  return linkpath;
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
      throw inputError(
        'tar.unsupported',
        `cannot read the tar archive: entry ${describeRawName(readName(block))} has type '${String.fromCharCode(flag)}' (0x${flag.toString(16)}), which Docker cannot extract either`,
        {
          hint: 'rebuild the layer with a POSIX (pax) or GNU tar without sparse or multi-volume entries',
        },
      );
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
  const text = slice
    .toString('latin1')
    .replace(/[\0 ]+$/g, '')
    .replace(/^[ \0]+/, '')
    .replace(/\0.*$/s, '');
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
