import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeError, externalError, inputError, type EnvsealError } from './errors.js';

/**
 * Writes a file atomically: the content goes to a temp file in the same directory, is fsynced, and is then
 * renamed over the target. A crash or Ctrl-C at any point leaves either the old file or the new one, never a
 * half-written file. Returns false (and writes nothing) when the file already holds exactly these bytes.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array, options: { mode?: number; mkdir?: boolean } = {}): Promise<boolean> {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  // Only a regular file of the same size can hold the same bytes; never read a device such as /dev/zero.
  const info = await stat(path).catch(() => undefined);
  if (info && !info.isFile()) throw Object.assign(new Error(`${path} exists and is not a regular file`), { code: info.isDirectory() ? 'EISDIR' : 'ENOTFILE' });
  if (info?.size === bytes.length) {
    const existing = await readFile(path).catch(() => undefined);
    if (existing && existing.equals(bytes)) return false;
  }
  const dir = dirname(path);
  if (options.mkdir) await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  return true;
}

const inputErrnos = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR', 'EISDIR', 'ENOTFILE', 'ENAMETOOLONG', 'ELOOP', 'EEXIST']);
const externalErrnos = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EFBIG']);

/**
 * Turns a failed write of a user-named file into the error a user should see: a place that cannot be written
 * (missing directory, no permission, read-only, a directory or device in the way) is an input error (exit 2),
 * a full or failing disk an outside failure (exit 3). Anything else is returned unchanged.
 */
export function describeWriteFailure(err: unknown, label: string): EnvsealError | unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code && inputErrnos.has(code)) {
    return inputError('file.unwritable', `cannot write ${label}: ${describeError(err)}`, {
      hint: 'choose a path in an existing directory you can write to (and not a directory or device)',
      cause: err,
    });
  }
  if (code && externalErrnos.has(code)) {
    return externalError('file.write-failed', `cannot write ${label}: ${describeError(err)}`, { hint: 'free disk space or check the disk', cause: err });
  }
  return err;
}
