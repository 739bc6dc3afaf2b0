/** Reading an imported lock whatever its kind: PEP 751 pylock.toml or uv.lock (version 1). */
import { readPylock } from './pylock.js';
import { parseTomlLock } from './toml-values.js';
import type { ImportedLock } from './types.js';
import { readUvLock } from './uv.js';

/**
 * Parses an imported lock, its kind told by its content: `lock-version` (PEP 751) or `version` with
 * `[[package]]` (uv.lock). Throws `python.import-invalid` / `python.import-unsupported` (exit 2) naming the file.
 */
export function parseImportedLock(text: string, path: string): ImportedLock {
  const doc = parseTomlLock(text, path);
  if (doc['lock-version'] === undefined && doc.version !== undefined && (doc.package !== undefined || /(^|\/)uv\.lock$/.test(path)))
    return readUvLock(doc, path);
  return readPylock(doc, path);
}
