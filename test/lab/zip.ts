/**
 * A minimal, deterministic ZIP writer and reader for the test lab (wheels are ZIP files).
 *
 * Format: PKWARE APPNOTE.TXT 6.3.x, sections 4.3.7 (local file header), 4.3.12 (central directory header)
 * and 4.3.16 (end of central directory). Only what wheels need: no ZIP64, no encryption, no data
 * descriptors, methods 0 (stored) and 8 (deflate, raw RFC 1951 via node:zlib).
 *
 * Determinism: every entry gets the same DOS timestamp (1980-01-01 00:00, the earliest a DOS date can
 * express) and the same Unix mode, and entries are written in the order given. Stored entries are
 * byte-identical on every machine; deflated entries depend on the zlib build inside Node.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export type ZipMethod = 'stored' | 'deflate';

export interface ZipEntryInput {
  /** Path inside the archive, '/'-separated, no leading slash. */
  name: string;
  data: Uint8Array | string;
  /** Defaults to the method given to writeZip (itself 'stored' by default). */
  method?: ZipMethod;
}

export interface ZipEntry {
  name: string;
  data: Buffer;
  method: ZipMethod;
  crc32: number;
  compressedSize: number;
  /** Unix mode from the external attributes (0 when the archive was not written on Unix). */
  unixMode: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
/** 1980-01-01 00:00:00 in MS-DOS date/time format (APPNOTE 4.4.6): day 1, month 1, year offset 0. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;
/** Version needed to extract 2.0 (deflate) and "made by" Unix (3) << 8 | 2.0, so external attrs are modes. */
const VERSION_NEEDED = 20;
const VERSION_MADE_BY = (3 << 8) | 20;
/** General purpose flag bit 11: file names are UTF-8 (APPNOTE 4.4.4, appendix D). */
const FLAG_UTF8 = 1 << 11;
const FILE_MODE = 0o100644;

const crcTable = buildCrcTable();

function buildCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** CRC-32 (IEEE 802.3 polynomial, reflected), as ZIP stores it. Node < 20.15 has no zlib.crc32. */
export function computeCrc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function toBuffer(data: Uint8Array | string): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Writes a ZIP archive in memory. Duplicate or absolute names are rejected: wheels must not contain them. */
export function writeZip(entries: ZipEntryInput[], options: { method?: ZipMethod } = {}): Buffer {
  const seen = new Set<string>();
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    if (!entry.name || entry.name.startsWith('/') || entry.name.includes('\\') || entry.name.split('/').includes('..')) {
      throw new Error(`zip: invalid entry name ${JSON.stringify(entry.name)}`);
    }
    if (seen.has(entry.name)) throw new Error(`zip: duplicate entry ${entry.name}`);
    seen.add(entry.name);
    const method = entry.method ?? options.method ?? 'stored';
    const raw = toBuffer(entry.data);
    const body = method === 'deflate' ? deflateRawSync(raw, { level: 9 }) : raw;
    const crc = computeCrc32(raw);
    const name = Buffer.from(entry.name, 'utf8');
    if (raw.length > 0xfffffffe || offset > 0xfffffffe) throw new Error('zip: ZIP64 is not supported');

    const local = Buffer.alloc(30);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(FLAG_UTF8, 6);
    local.writeUInt16LE(method === 'deflate' ? 8 : 0, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(SIG_CENTRAL, 0);
    central.writeUInt16LE(VERSION_MADE_BY, 4);
    central.writeUInt16LE(VERSION_NEEDED, 6);
    central.writeUInt16LE(FLAG_UTF8, 8);
    central.writeUInt16LE(method === 'deflate' ? 8 : 0, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra field length
    central.writeUInt16LE(0, 32); // comment length
    central.writeUInt16LE(0, 34); // disk number start
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE((FILE_MODE << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + body.length;
  }
  const centralDir = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(SIG_EOCD, 0);
  eocd.writeUInt16LE(0, 4);
  eocd.writeUInt16LE(0, 6);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(centralDir.length, 12);
  eocd.writeUInt32LE(offset, 16);
  eocd.writeUInt16LE(0, 20);
  return Buffer.concat([...locals, centralDir, eocd]);
}

/**
 * Reads every entry of a ZIP archive through its central directory, checking each local header and CRC.
 * Throws on anything it does not understand, so a test that reads back a broken archive fails loudly.
 */
export function readZip(archive: Uint8Array): ZipEntry[] {
  const buf = toBuffer(archive);
  const eocdAt = findEndOfCentralDirectory(buf);
  const count = buf.readUInt16LE(eocdAt + 10);
  const cdSize = buf.readUInt32LE(eocdAt + 12);
  const cdOffset = buf.readUInt32LE(eocdAt + 16);
  if (cdOffset + cdSize > eocdAt) throw new Error('zip: central directory overlaps its end record');
  const entries: ZipEntry[] = [];
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== SIG_CENTRAL) throw new Error(`zip: bad central directory signature at ${at}`);
    const madeBy = buf.readUInt16LE(at + 4);
    const flags = buf.readUInt16LE(at + 8);
    const methodCode = buf.readUInt16LE(at + 10);
    const crc = buf.readUInt32LE(at + 16);
    const compressedSize = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const external = buf.readUInt32LE(at + 38);
    const localOffset = buf.readUInt32LE(at + 42);
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString(flags & FLAG_UTF8 ? 'utf8' : 'latin1');
    at += 46 + nameLen + extraLen + commentLen;
    if (flags & 1) throw new Error(`zip: ${name} is encrypted`);
    if (methodCode !== 0 && methodCode !== 8) throw new Error(`zip: ${name} uses unsupported method ${methodCode}`);

    if (buf.readUInt32LE(localOffset) !== SIG_LOCAL) throw new Error(`zip: bad local header for ${name}`);
    const localNameLen = buf.readUInt16LE(localOffset + 26);
    const localExtraLen = buf.readUInt16LE(localOffset + 28);
    const localName = buf.subarray(localOffset + 30, localOffset + 30 + localNameLen).toString(flags & FLAG_UTF8 ? 'utf8' : 'latin1');
    if (localName !== name) throw new Error(`zip: local header name ${localName} differs from central ${name}`);
    const dataAt = localOffset + 30 + localNameLen + localExtraLen;
    const body = buf.subarray(dataAt, dataAt + compressedSize);
    const data = methodCode === 8 ? inflateRawSync(body) : Buffer.from(body);
    if (data.length !== size) throw new Error(`zip: ${name} is ${data.length} bytes, header says ${size}`);
    if (computeCrc32(data) !== crc) throw new Error(`zip: CRC mismatch for ${name}`);
    entries.push({
      name,
      data,
      method: methodCode === 8 ? 'deflate' : 'stored',
      crc32: crc,
      compressedSize,
      unixMode: madeBy >> 8 === 3 ? external >>> 16 : 0,
    });
  }
  return entries;
}

function findEndOfCentralDirectory(buf: Buffer): number {
  // The end record is 22 bytes plus a comment of at most 65535 bytes, so search backwards from the end.
  const stop = Math.max(0, buf.length - 22 - 0xffff);
  for (let i = buf.length - 22; i >= stop; i--) {
    if (buf.readUInt32LE(i) === SIG_EOCD) return i;
  }
  throw new Error('zip: no end of central directory record (not a ZIP file)');
}
