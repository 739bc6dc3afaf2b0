/**
 * The raw encoder: writes one entry's header from a `RawTarHeader` (names, link targets and pax values as
 * bytes), the counterpart of raw-reader.ts, which explains why image layers need these instead of tar-stream.
 * The caller writes the body, its padding (`tarPaddingOf`) and the end marker (`TAR_END_OF_ARCHIVE`).
 *
 * Format: POSIX.1-2001 pax(1) ("ustar Interchange Format" and "pax Interchange Format").
 */
import { internalError } from '../core/errors.js';
import { describeRawName, HEADER_ONLY_TYPES, isValidUtf8, RAW_DERIVED_PAX_KEYS, tarPaddingOf, type RawTarHeader, type TarEntryType } from './header.js';

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
  const records = collectExtraPaxRecords(header);
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
  for (const [what, value] of [
    ['devmajor', header.devmajor],
    ['devminor', header.devminor],
  ] as const) {
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
  return Buffer.concat([encodePaxHeader(records), block]);
}

/** The caller's pax records (e.g. xattrs), checked: keys derived from header fields are set through the fields. */
function collectExtraPaxRecords(header: RawTarHeader): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  for (const { key, value } of header.pax) {
    if (RAW_DERIVED_PAX_KEYS.has(key)) {
      throw internalError('tar.pax-key', `pax record "${key}" of ${describeRawName(header.name)} is derived from the header; set the field instead`);
    }
    if (!key || key.includes('=') || /[\0\n]|[^\0-\xff]/.test(key))
      throw internalError('tar.pax-key', `invalid pax key "${key}" (keys are latin1 byte strings)`);
    records.set(key, value);
  }
  return records;
}

/** A pax extended header entry ('x'): its ustar block, the records and their padding. */
function encodePaxHeader(records: Map<string, Buffer>): Buffer {
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
  return Buffer.concat([paxBlock, body, Buffer.alloc(tarPaddingOf(body.length))]);
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

function isAsciiWithoutNul(buf: Buffer): boolean {
  for (const b of buf) if (b === 0 || b >= 0x80) return false;
  return true;
}
