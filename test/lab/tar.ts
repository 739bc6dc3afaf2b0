/**
 * A minimal, deterministic ustar writer (and reader) for the test lab's sdists (`.tar.gz`).
 *
 * Format: POSIX.1-1988 ustar as specified in POSIX pax(1) "ustar Interchange Format": 512-byte headers,
 * octal numeric fields, `ustar\0` magic + `00` version, names split into prefix (155) + name (100), and two
 * zero blocks at the end. Fixed owner (0/0, no names), fixed mtime and modes, entries in the given order,
 * and gzip (RFC 1952) with mtime 0 from node:zlib, so the same input gives the same bytes.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

export interface TarEntryInput {
  /** '/'-separated path; directories end with '/'. */
  name: string;
  /** File content; omit for a directory. */
  data?: Uint8Array | string;
  mode?: number;
}

export interface TarEntry {
  name: string;
  type: 'file' | 'directory';
  data: Buffer;
  mode: number;
  mtime: number;
}

/** 1980-01-01T00:00:00Z, the same fixed instant the ZIP writer uses. */
export const FIXED_MTIME = 315532800;

function writeOctal(header: Buffer, value: number, offset: number, width: number): void {
  // width - 1 octal digits followed by a NUL, as POSIX requires for numeric fields.
  const text = value.toString(8).padStart(width - 1, '0');
  if (text.length > width - 1) throw new Error(`tar: value ${value} does not fit in ${width} bytes`);
  header.write(text, offset, width - 1, 'ascii');
  header[offset + width - 1] = 0;
}

function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  // Split at a '/' so that the prefix fits in 155 bytes and the rest in 100.
  for (let i = name.lastIndexOf('/', name.length - 2); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  throw new Error(`tar: path too long for ustar: ${name}`);
}

function buildHeader(entry: TarEntryInput, size: number): Buffer {
  const header = Buffer.alloc(512);
  const isDir = entry.name.endsWith('/');
  const { prefix, base } = splitName(entry.name);
  header.write(base, 0, 100, 'utf8');
  writeOctal(header, entry.mode ?? (isDir ? 0o755 : 0o644), 100, 8);
  writeOctal(header, 0, 108, 8);
  writeOctal(header, 0, 116, 8);
  writeOctal(header, size, 124, 12);
  writeOctal(header, FIXED_MTIME, 136, 12);
  header.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  header.write(isDir ? '5' : '0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return header;
}

/** Writes an uncompressed ustar archive. */
export function writeTar(entries: TarEntryInput[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const isDir = entry.name.endsWith('/');
    if (isDir && entry.data !== undefined) throw new Error(`tar: directory ${entry.name} cannot have content`);
    const data = isDir ? Buffer.alloc(0) : Buffer.from(entry.data ?? '');
    parts.push(buildHeader(entry, data.length), data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Writes a gzip-compressed ustar archive (an sdist's `.tar.gz`). */
export function writeTarGz(entries: TarEntryInput[]): Buffer {
  return gzipSync(writeTar(entries), { level: 9 });
}

function readString(buf: Buffer, offset: number, width: number): string {
  const field = buf.subarray(offset, offset + width);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? width : nul).toString('utf8');
}

function readOctal(buf: Buffer, offset: number, width: number): number {
  const text = readString(buf, offset, width).trim();
  return text ? parseInt(text, 8) : 0;
}

/** Reads a ustar archive (gzip-compressed or not); checks header checksums. Regular files and directories only. */
export function readTar(archive: Uint8Array): TarEntry[] {
  let buf = Buffer.from(archive);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const entries: TarEntry[] = [];
  for (let at = 0; at + 512 <= buf.length;) {
    const header = buf.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const stored = readOctal(header, 148, 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
    if (sum !== stored) throw new Error(`tar: bad header checksum at offset ${at}`);
    const prefix = readString(header, 345, 155);
    const base = readString(header, 0, 100);
    const name = prefix ? `${prefix}/${base}` : base;
    const size = readOctal(header, 124, 12);
    const typeflag = String.fromCharCode(header[156] || 0x30);
    if (typeflag !== '0' && typeflag !== '5') throw new Error(`tar: ${name} has unsupported type ${typeflag}`);
    entries.push({
      name,
      type: typeflag === '5' ? 'directory' : 'file',
      data: Buffer.from(buf.subarray(at + 512, at + 512 + size)),
      mode: readOctal(header, 100, 8),
      mtime: readOctal(header, 136, 12),
    });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}
