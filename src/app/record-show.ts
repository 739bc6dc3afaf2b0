/**
 * `envseal record show <id|path|latest>`: finds a run record (by run ID in the project's .envseal/runs/, by
 * path, or the latest run) and reads it strictly.
 */
import { join, resolve } from 'node:path';
import { inputError } from '../core/errors.js';
import { isRunId } from '../record/run-id.js';
import { listRunRecords, readRunRecord, runRecordPath } from '../record/store.js';
import type { RunRecord } from '../record/schema.js';
import { RUNS_DIR } from './run-command.js';

export async function findRunRecord(projectDir: string, cwd: string, which: string): Promise<{ path: string; record: RunRecord }> {
  const runs = join(projectDir, RUNS_DIR);
  let path: string;
  if (which === 'latest') {
    const all = await listRunRecords(runs);
    if (!all.length) throw inputError('record.none', `no run records in ${RUNS_DIR}/`, { hint: 'run something first: `envseal run -- CMD`' });
    path = all.at(-1)!.path;
  } else if (isRunId(which)) {
    path = runRecordPath(runs, which);
  } else if (which.endsWith('.json')) {
    path = resolve(cwd, which);
  } else {
    throw inputError('usage.record', `${which}: not a run ID, a record file (.json) or "latest"`, {
      hint: `run IDs look like 20261127T225501.123Z-7ZKQ3M9X2D4F8H1J; the records are in ${RUNS_DIR}/`,
    });
  }
  return { path, record: await readRunRecord(path) };
}
