import { open, stat } from 'node:fs/promises';
import { describeError, inputError } from './errors.js';

/** Larger than any spec, manifest, lock or run record envseal reads; a bound so `/dev/zero` cannot exhaust memory. */
export const MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Reads a user-named text file (spec, manifest, lock, record) with a size bound. Only regular files are read:
 * a directory, a device (`/dev/zero`), a FIFO (which would block) or a file over `maxBytes` is an input
 * error naming `label`. A missing file rethrows the ENOENT error unchanged, so callers keep their own
 * "does not exist" message and hint.
 */
export async function readTextFile(path: string, label: string, maxBytes = MAX_TEXT_FILE_BYTES): Promise<string> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw err;
    throw inputError('file.unreadable', `${label}: cannot read: ${describeError(err)}`, { cause: err, hint: 'check the path and its permissions' });
  });
  if (info.isDirectory()) throw inputError('file.directory', `${label} is a directory, not a file`, { hint: 'name the file itself' });
  if (!info.isFile()) throw inputError('file.not-regular', `${label} is not a regular file`, { hint: 'name a regular file (not a device, socket or pipe)' });
  if (info.size > maxBytes) throw tooLarge(label, maxBytes);
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw inputError('file.unreadable', `${label}: cannot read: ${describeError(err)}`, { cause: err, hint: 'check the path and its permissions' });
  });
  try {
    // Read at most maxBytes + 1 bytes: the file may have grown since stat().
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, info.size + 64 * 1024));
    let length = 0;
    for (;;) {
      if (length === buffer.length) break;
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) throw tooLarge(label, maxBytes);
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

function tooLarge(label: string, maxBytes: number) {
  return inputError('file.too-large', `${label} is larger than ${Math.round(maxBytes / 1024 / 1024)} MiB`, { hint: 'name the right file' });
}
