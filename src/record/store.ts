import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, inputError, internalError, isEnvsealError } from '../core/errors.js';
import { readTextFile } from '../core/read-text-file.js';
import { writeFileAtomic } from '../core/atomic-write.js';
import { canonicalJson } from '../core/canonical-json.js';
import { isRunId } from './run-id.js';
import { formatIssuePath, parseRunRecord, runRecordSchema, type RunRecord } from './schema.js';

/**
 * The run-record store: one canonical JSON file per run, `<dir>/<run-id>.json`. Run IDs sort by start time,
 * so the directory listing is the run history in order.
 */
export interface RunRecordEntry {
  runId: string;
  path: string;
}

export function runRecordPath(dir: string, runId: string): string {
  return join(dir, `${runId}.json`);
}

/**
 * Writes a record atomically (temp file + fsync + rename, `util/atomic-write.ts`), creating `dir`. An
 * interrupted or failed write leaves the previous file, if any, and no partial file. Rewriting the same
 * run ID replaces the record, so a caller may write early and update it when the run ends.
 * Returns the path written.
 */
export async function writeRunRecord(dir: string, record: RunRecord): Promise<string> {
  const checked = runRecordSchema.safeParse(record);
  if (!checked.success) {
    // Records are built by buildRunRecord from captured facts; an invalid one is our bug, not the user's.
    throw internalError('record.invalid', `refusing to write an invalid run record ${record.runId}`, {
      details: checked.error.issues.map((i) => `${formatIssuePath(i.path)}: ${i.message}`),
    });
  }
  const path = runRecordPath(dir, checked.data.runId);
  try {
    await writeFileAtomic(path, canonicalJson(checked.data), { mkdir: true });
  } catch (err) {
    if (isEnvsealError(err)) throw err;
    throw inputError('record.unwritable', `cannot write run record ${path}: ${describeError(err)}`, {
      hint: `make ${dir} a writable directory (check permissions, free space, and that no file is in the way)`,
      cause: err,
      data: { path },
    });
  }
  return path;
}

/** Reads and strictly parses one record file. */
export async function readRunRecord(path: string): Promise<RunRecord> {
  let text: string;
  try {
    text = await readTextFile(path, `run record ${path}`);
  } catch (err) {
    if (isEnvsealError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw inputError(code === 'ENOENT' ? 'record.not-found' : 'record.unreadable', `cannot read run record ${path}: ${describeError(err)}`, {
      hint: code === 'ENOENT' ? 'list the recorded runs in .envseal/runs/' : 'make the file readable by the user running envseal',
      cause: err,
      data: { path },
    });
  }
  return parseRunRecord(text, path);
}

/**
 * The records in `dir`, oldest first (run-ID order). Only names of the form `<run-id>.json` count, so the
 * atomic writer's `.<name>.tmp` files and anything else a user puts there are left out. A missing
 * directory means no runs yet.
 */
export async function listRunRecords(dir: string): Promise<RunRecordEntry[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw inputError('record.unreadable', `cannot list run records in ${dir}: ${describeError(err)}`, {
      hint: `make ${dir} a readable directory`,
      cause: err,
      data: { path: dir },
    });
  }
  return names
    .filter((name) => name.endsWith('.json') && isRunId(name.slice(0, -'.json'.length)))
    .sort()
    .map((name) => ({ runId: name.slice(0, -'.json'.length), path: join(dir, name) }));
}
