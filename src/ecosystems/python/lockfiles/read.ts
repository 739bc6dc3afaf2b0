/** Reading an imported lock whatever its kind: PEP 751 pylock.toml, uv.lock (version 1), poetry.lock (2.x) or Pipfile.lock. */
import { readPylock } from './pylock.js';
import { isTable, parseTomlLock } from './toml-values.js';
import { parsePipfileLock } from './pipfile-lock.js';
import { readPoetryLock } from './poetry-lock.js';
import type { ImportedLock } from './types.js';
import { readUvLock } from './uv.js';

/**
 * Parses an imported lock, its kind told by its content: `lock-version` (PEP 751) or `version` with
 * `[[package]]` (uv.lock). Throws `python.import-invalid` / `python.import-unsupported` (exit 2) naming the file.
 */
export function parseImportedLock(text: string, path: string): ImportedLock {
  if (/(^|\/)Pipfile\.lock$/.test(path) || /^\s*\{/.test(text)) return parsePipfileLock(text, path);
  const doc = parseTomlLock(text, path);
  if (doc['lock-version'] === undefined && isTable(doc.metadata) && doc.metadata['lock-version'] !== undefined) return readPoetryLock(doc, path);
  if (doc['lock-version'] === undefined && doc.version !== undefined && (doc.package !== undefined || /(^|\/)uv\.lock$/.test(path)))
    return readUvLock(doc, path);
  return readPylock(doc, path);
}
