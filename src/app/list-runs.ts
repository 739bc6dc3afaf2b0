/**
 * `envseal runs [--job ID] [--fingerprint F] [--status ok|failed]`: the run records of a project, filtered,
 * and for one Slurm job the sweep summary: per seed the exit codes and output digests, and whether runs of
 * the same seed produced the same outputs. The summary is pure (`summariseSweep`).
 */
import { inputError } from '../core/errors.js';
import type { RunRecord } from '../record/schema.js';
import { listRunRecords, readRunRecord } from '../record/store.js';

export type RunStatus = 'ok' | 'failed';

export interface RunFilter {
  jobId?: string;
  fingerprint?: string;
  status?: RunStatus;
}

export interface ListedRun {
  path: string;
  record: RunRecord;
  status: RunStatus;
}

/** ok: the command ran to its end with exit 0; anything else (non-zero, signal, interrupted, not started) failed. */
export function runStatus(record: RunRecord): RunStatus {
  const o = record.outcome;
  return o.exitCode === 0 && !o.interrupted && o.error === null ? 'ok' : 'failed';
}

export function parseRunFilter(raw: { job?: string; fingerprint?: string; status?: string }): RunFilter {
  const filter: RunFilter = {};
  if (raw.job !== undefined) {
    if (!/^\d+$/.test(raw.job)) throw inputError('usage.job', `--job ${JSON.stringify(raw.job)}: expected a Slurm job ID (digits)`, { hint: 'e.g. --job 42' });
    filter.jobId = raw.job;
  }
  if (raw.fingerprint !== undefined) {
    if (!/^sha256:[0-9a-f]{1,64}$/.test(raw.fingerprint)) {
      throw inputError('usage.fingerprint', `--fingerprint ${JSON.stringify(raw.fingerprint)}: expected sha256: and hex digits (a prefix is enough)`, {
        hint: '`envseal fingerprint` prints the lock’s',
      });
    }
    filter.fingerprint = raw.fingerprint;
  }
  if (raw.status !== undefined) {
    if (raw.status !== 'ok' && raw.status !== 'failed') throw inputError('usage.status', `--status ${JSON.stringify(raw.status)}: expected ok or failed`);
    filter.status = raw.status;
  }
  return filter;
}

/** The records in `dir` that pass the filter, oldest first. An unreadable record is an error (exit 2), never skipped. */
export async function listRuns(dir: string, filter: RunFilter): Promise<ListedRun[]> {
  const runs: ListedRun[] = [];
  for (const entry of await listRunRecords(dir)) {
    const record = await readRunRecord(entry.path);
    const status = runStatus(record);
    if (filter.jobId !== undefined && record.slurm?.jobId !== filter.jobId) continue;
    if (filter.fingerprint !== undefined && !record.environment.fingerprint.startsWith(filter.fingerprint)) continue;
    if (filter.status !== undefined && status !== filter.status) continue;
    runs.push({ path: entry.path, record, status });
  }
  return runs;
}

export interface SweepRunSummary {
  runId: string;
  arrayTaskId: number | null;
  node: string | null;
  status: RunStatus;
  exitCode: number | null;
  /** Output path → content digest (null: the run did not produce it). */
  outputs: Record<string, string | null>;
}

export interface SweepSeedSummary {
  seed: number | null;
  runs: SweepRunSummary[];
  /** Runs of this seed that succeeded all produced the same output digests (null: fewer than two succeeded). */
  agree: boolean | null;
}

export interface SweepSummary {
  jobId: string;
  runs: number;
  failed: number;
  fingerprints: string[];
  seeds: SweepSeedSummary[];
  /** False when some seed's runs disagree; null when no seed ran twice. */
  equalSeedsAgree: boolean | null;
}

/** Groups a job's runs by seed (in seed order, then array task) and compares the outputs of equal seeds. */
export function summariseSweep(jobId: string, runs: ListedRun[]): SweepSummary {
  const bySeed = new Map<number | null, SweepRunSummary[]>();
  const ordered = [...runs].sort((a, b) => (a.record.slurm?.arrayTaskId ?? -1) - (b.record.slurm?.arrayTaskId ?? -1));
  for (const { record, status } of ordered) {
    const list = bySeed.get(record.seed) ?? [];
    list.push({
      runId: record.runId,
      arrayTaskId: record.slurm?.arrayTaskId ?? null,
      node: record.slurm?.node ?? null,
      status,
      exitCode: record.outcome.exitCode,
      outputs: Object.fromEntries(record.outputs.map((o) => [o.path, o.content?.digest ?? null])),
    });
    bySeed.set(record.seed, list);
  }
  const seeds = [...bySeed.entries()]
    .sort(([a], [b]) => (a ?? -1) - (b ?? -1))
    .map(([seed, list]): SweepSeedSummary => {
      const good = list.filter((r) => r.status === 'ok');
      const agree = good.length < 2 ? null : good.every((r) => sameOutputs(r.outputs, good[0]!.outputs));
      return { seed, runs: list, agree };
    });
  const verdicts = seeds.map((s) => s.agree).filter((a): a is boolean => a !== null);
  return {
    jobId,
    runs: runs.length,
    failed: runs.filter((r) => r.status === 'failed').length,
    fingerprints: [...new Set(runs.map((r) => r.record.environment.fingerprint))].sort(),
    seeds,
    equalSeedsAgree: verdicts.length ? verdicts.every(Boolean) : null,
  };
}

/**
 * Same outputs: the same digests in the same order. Paths are not compared, so runs that wrote to per-task
 * paths (`--output out/task-{task}`, what runs of one seed at the same time need) still compare.
 */
function sameOutputs(a: Record<string, string | null>, b: Record<string, string | null>): boolean {
  const x = Object.values(a);
  const y = Object.values(b);
  return x.length === y.length && x.every((d, i) => d !== null && d === y[i]);
}
