/**
 * What both tar codecs share: the entry types, the raw header model the byte-exact reader produces and the
 * raw encoder consumes, the block arithmetic of the format, and how read failures are reported.
 *
 * Format: POSIX.1-2001 pax(1) ("ustar Interchange Format" and "pax Interchange Format"): 512-byte blocks,
 * bodies padded to a block boundary, two zero blocks at the end.
 */
import { describeError, inputError } from '../core/errors.js';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

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

/** Two zero blocks: the end-of-archive marker. */
export const TAR_END_OF_ARCHIVE: Buffer = Buffer.alloc(1024);

/** Zero bytes that follow a body of `size` bytes up to the next 512-byte block. */
export function tarPaddingOf(size: number): number {
  return (512 - (size % 512)) % 512;
}

/** pax keys the raw reader folds into header fields and the raw encoder derives from them. */
export const RAW_DERIVED_PAX_KEYS: ReadonlySet<string> = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime', 'hdrcharset']);

/**
 * Types that never have a body, whatever the size field says (Go's archive/tar, which Docker extracts
 * layers with, reads them so).
 */
export const HEADER_ONLY_TYPES: ReadonlySet<TarEntryType> = new Set<TarEntryType>(['link', 'symlink', 'character-device', 'block-device', 'directory', 'fifo']);

/** A failure while reading an archive, as the user sees it: our own errors pass through, others become `tar.corrupt`. */
export function wrapTarReadError(err: unknown): Error {
  if (err instanceof Error && err.name === 'EnvsealError') return err;
  return inputError('tar.corrupt', `cannot read the tar archive: ${describeError(err)}`, { cause: err });
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

export function isValidUtf8(buf: Buffer): boolean {
  for (let at = 0; at < buf.length;) {
    const length = measureUtf8Sequence(buf, at);
    if (!length) return false;
    at += length;
  }
  return true;
}
