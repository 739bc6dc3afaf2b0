import { createHash } from 'node:crypto';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { describeError, inputError } from '../core/errors.js';

/**
 * Content digests of run inputs and outputs (`--input` / `--output` paths).
 *
 * - file: `sha256:` of the bytes, so `sha256sum file` gives the same hex.
 * - symlink: `sha256:` of the link text. Links are never followed (not even at the top): following them
 *   could leave the tree, loop, or make the digest depend on the machine; the record says `symlink` so a
 *   reader sees that the target was not hashed.
 * - directory: a Merkle tree digest, like a git tree object but with sha256 and with symlinks and empty
 *   directories kept: `sha256:` of
 *       "envseal-tree-v1\n" + for each entry, sorted by the bytes of its name:
 *           <type> SP <x|-> SP <child digest> SP <name bytes> NUL
 *   where type is file|directory|symlink|other and `x` marks a file whose owner-executable bit is set (as
 *   git's 100755 vs 100644; other mode bits, owners and times are left out because checkouts and copies do
 *   not keep them). Names cannot contain NUL or '/', so the encoding is unambiguous. Renaming, adding,
 *   removing an (empty) entry, changing content or the executable bit all change the digest; creation
 *   order, timestamps and the path of the root do not.
 * - other (FIFO, socket, device): `sha256:` of "envseal-special:<kind>"; their "content" is not read, since
 *   reading a FIFO would block.
 *
 * Files are read in chunks of at most 1 MiB through the hash, so memory stays bounded whatever their size.
 * Several files are read at once (READ_CONCURRENCY; the reads run on libuv's threads while the main thread
 * hashes), which keeps the hash busy on trees of many small files; each directory's digest is still built in
 * name order, so the result does not depend on which read finished first. Names are read as raw bytes, so
 * file names that are not valid UTF-8 are digested exactly.
 */
export type DataEntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface DataDigest {
  type: DataEntryType;
  digest: string;
  /** Regular files in the tree (1 for a file). */
  files: number;
  /** Directories in the tree, the root included (0 for a file). */
  directories: number;
  symlinks: number;
  /** FIFOs, sockets and devices. */
  others: number;
  /** Sum of the sizes of the regular files, in bytes as read. */
  bytes: number;
}

export interface DigestPathOptions {
  /** What the path is, for error messages: "input", "output". Default "path". */
  role?: string;
  /**
   * 'error' (default): a missing path is an input error naming it. 'null': return null, for an `--output`
   * the command did not produce.
   */
  ifMissing?: 'error' | 'null';
}

const TREE_HEADER = Buffer.from('envseal-tree-v1\n');
const READ_CHUNK = 1024 * 1024;
/** Files read and entries stat'ed at the same time, per digestPath call. */
const READ_CONCURRENCY = 8;

/** At most `limit` holders at once; the rest wait in order. Never held across a directory's children. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export function digestPath(path: string, options?: DigestPathOptions & { ifMissing?: 'error' }): Promise<DataDigest>;
export function digestPath(path: string, options: DigestPathOptions & { ifMissing: 'null' }): Promise<DataDigest | null>;
export async function digestPath(path: string, options: DigestPathOptions = {}): Promise<DataDigest | null> {
  const role = options.role ?? 'path';
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENOTDIR') && options.ifMissing === 'null') return null;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw inputError('record.data-missing', `${role} ${path} does not exist`, {
        hint: `check the ${role} path (it is resolved against the project directory), or create it before the run`,
        data: { path },
      });
    }
    throw unreadable(role, path, path, err);
  }
  return digestEntry(Buffer.from(path), stats, { role, root: path, io: new Limiter(READ_CONCURRENCY) });
}

interface WalkContext {
  role: string;
  root: string;
  io: Limiter;
}

async function digestEntry(path: Buffer, stats: Stats, ctx: WalkContext): Promise<DataDigest> {
  if (stats.isSymbolicLink()) {
    const target = await readlink(path, { encoding: 'buffer' }).catch((err: unknown) => {
      throw unreadable(ctx.role, ctx.root, path.toString(), err);
    });
    return { ...emptyCounts(), type: 'symlink', digest: sha256Of(target), symlinks: 1 };
  }
  if (stats.isFile()) {
    const { digest, bytes } = await ctx.io.run(() => hashFile(path, stats.size, ctx));
    return { ...emptyCounts(), type: 'file', digest, files: 1, bytes };
  }
  if (stats.isDirectory()) return digestDirectory(path, ctx);
  return { ...emptyCounts(), type: 'other', digest: sha256Of(Buffer.from(`envseal-special:${specialKind(stats)}`)), others: 1 };
}

async function digestDirectory(path: Buffer, ctx: WalkContext): Promise<DataDigest> {
  const names = await readdir(path, { encoding: 'buffer' }).catch((err: unknown) => {
    throw unreadable(ctx.role, ctx.root, path.toString(), err);
  });
  names.sort(Buffer.compare);
  const hash = createHash('sha256').update(TREE_HEADER);
  const totals: DataDigest = { ...emptyCounts(), type: 'directory', digest: '', directories: 1 };
  const children = await Promise.all(
    names.map(async (name) => {
      const child = Buffer.concat([path, Buffer.from('/'), name]);
      const stats = await ctx.io
        .run(() => lstat(child))
        .catch((err: unknown) => {
          throw unreadable(ctx.role, ctx.root, child.toString(), err);
        });
      return { name, stats, sub: await digestEntry(child, stats, ctx) };
    }),
  );
  for (const { name, stats, sub } of children) {
    const executable = sub.type === 'file' && (stats.mode & 0o100) !== 0 ? 'x' : '-';
    hash.update(`${sub.type} ${executable} ${sub.digest} `).update(name).update('\0');
    totals.files += sub.files;
    totals.directories += sub.directories;
    totals.symlinks += sub.symlinks;
    totals.others += sub.others;
    totals.bytes += sub.bytes;
  }
  totals.digest = `sha256:${hash.digest('hex')}`;
  return totals;
}

async function hashFile(path: Buffer, size: number, ctx: WalkContext): Promise<{ digest: string; bytes: number }> {
  const hash = createHash('sha256');
  // One byte more than the size, so a file read whole needs no second read to see its end.
  const buffer = Buffer.allocUnsafe(Math.min(size + 1, READ_CHUNK));
  let bytes = 0;
  try {
    const handle = await open(path, 'r');
    try {
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        bytes += bytesRead;
      }
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw unreadable(ctx.role, ctx.root, path.toString(), err);
  }
  return { digest: `sha256:${hash.digest('hex')}`, bytes };
}

function unreadable(role: string, root: string, path: string, err: unknown) {
  const changed = (err as NodeJS.ErrnoException).code === 'ENOENT';
  return inputError('record.data-unreadable', `cannot read ${role} ${root}${path === root ? '' : ` (at ${path})`}: ${describeError(err)}`, {
    hint: changed
      ? 'a file disappeared while it was being hashed; make sure nothing else writes to this path during the run'
      : 'make the path readable by the user running envseal',
    cause: err,
    data: { path },
  });
}

function specialKind(stats: Stats): string {
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice()) return 'char-device';
  if (stats.isBlockDevice()) return 'block-device';
  return 'unknown';
}

function sha256Of(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function emptyCounts(): Omit<DataDigest, 'type' | 'digest'> {
  return { files: 0, directories: 0, symlinks: 0, others: 0, bytes: 0 };
}
