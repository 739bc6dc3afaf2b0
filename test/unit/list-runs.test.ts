import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isEnvsealError } from '../../src/core/errors.js';
import { listRuns, parseRunFilter, runStatus, summariseSweep, type ListedRun } from '../../src/app/list-runs.js';
import { buildRunRecord } from '../../src/record/build-record.js';
import type { RunRecord } from '../../src/record/schema.js';
import { writeRunRecord } from '../../src/record/store.js';
import { FINGERPRINT, sampleInput } from './record-fixture.js';

const digest = (c: string) => ({ type: 'file' as const, digest: `sha256:${c.repeat(64)}`, files: 1, directories: 0, symlinks: 0, others: 0, bytes: 5 });

function record(n: number, seed: number, opts: { exit?: number | null; out?: string | null; job?: string; task?: number } = {}): RunRecord {
  return buildRunRecord({
    ...sampleInput(),
    runId: `20261202T1800${String(n).padStart(2, '0')}.000Z-7ZKQ3M9X2D4F8H1J`,
    outcome: { exitCode: opts.exit === undefined ? 0 : opts.exit },
    seed,
    outputs: [{ path: `out/seed-${seed}`, content: opts.out === null ? null : digest(opts.out ?? String(seed)) }],
    slurm: opts.job ? { jobId: opts.job, arrayTaskId: opts.task ?? n, node: 'vm' } : null,
  });
}
const listed = (r: RunRecord): ListedRun => ({ path: `${r.runId}.json`, record: r, status: runStatus(r) });

describe('envseal runs: status, filters, sweep summary', () => {
  it('a run is ok only when it exited 0 on its own', () => {
    assert.equal(runStatus(record(1, 1)), 'ok');
    assert.equal(runStatus(record(1, 1, { exit: 1 })), 'failed');
    assert.equal(runStatus(record(1, 1, { exit: null })), 'failed');
  });

  it('filters by job, fingerprint prefix and status; a bad record is an error, not skipped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-runs-'));
    try {
      await writeRunRecord(dir, record(1, 1, { job: '7', task: 0 }));
      await writeRunRecord(dir, record(2, 2, { job: '7', task: 1, exit: 1 }));
      await writeRunRecord(dir, record(3, 3));
      const seeds = async (f: Parameters<typeof parseRunFilter>[0]) => (await listRuns(dir, parseRunFilter(f))).map((r) => r.record.seed);
      assert.deepEqual(await seeds({}), [1, 2, 3]);
      assert.deepEqual(await seeds({ job: '7' }), [1, 2]);
      assert.deepEqual(await seeds({ job: '7', status: 'ok' }), [1]);
      assert.deepEqual(await seeds({ status: 'failed' }), [2]);
      assert.deepEqual(await seeds({ fingerprint: FINGERPRINT.slice(0, 12) }), [1, 2, 3]);
      assert.deepEqual(await seeds({ fingerprint: 'sha256:0' }), []);
      await writeFile(join(dir, '20261202T180009.000Z-7ZKQ3M9X2D4F8H1J.json'), '{"recordVersion": 3,');
      await assert.rejects(listRuns(dir, {}), (err) => isEnvsealError(err) && err.exitCode === 2 && /not valid JSON/.test(err.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad filter values (exit 2)', () => {
    for (const [raw, re] of [
      [{ job: 'abc' }, /--job "abc": expected a Slurm job ID/],
      [{ fingerprint: 'f00' }, /--fingerprint "f00": expected sha256:/],
      [{ status: 'done' }, /--status "done": expected ok or failed/],
    ] as const) {
      assert.throws(
        () => parseRunFilter(raw),
        (err) => isEnvsealError(err) && err.exitCode === 2 && re.test(err.message),
      );
    }
  });

  it('groups by seed and says whether the successful runs of each seed produced the same outputs', () => {
    const s = summariseSweep('7', [
      listed(record(1, 4, { job: '7', task: 1, out: 'a' })),
      listed(record(2, 4, { job: '7', task: 0, out: 'a' })),
      listed(record(3, 5, { job: '7', task: 2, out: 'b' })),
      listed(record(4, 5, { job: '7', task: 3, out: 'c' })),
      listed(record(5, 6, { job: '7', task: 4, exit: 1, out: null })),
      listed(record(6, 6, { job: '7', task: 5 })),
    ]);
    assert.equal(s.runs, 6);
    assert.equal(s.failed, 1);
    assert.deepEqual(s.fingerprints, [FINGERPRINT]);
    assert.deepEqual(
      s.seeds.map((x) => [x.seed, x.runs.map((r) => r.arrayTaskId), x.agree]),
      [
        [4, [0, 1], true],
        [5, [2, 3], false],
        [6, [4, 5], null],
      ],
    );
    assert.equal(s.seeds[2]!.runs[0]!.outputs['out/seed-6'], null);
    assert.equal(s.equalSeedsAgree, false);
    assert.equal(summariseSweep('7', [listed(record(1, 1, { job: '7' }))]).equalSeedsAgree, null);
    // Per-task output paths: the digests are compared, not the paths.
    const perTask = (n: number, out: string) => {
      const r = record(n, 9, { job: '8', task: n, out });
      return listed({ ...r, outputs: [{ path: `out/task-${n}`, content: r.outputs[0]!.content }] });
    };
    assert.equal(summariseSweep('8', [perTask(0, 'e'), perTask(1, 'e')]).equalSeedsAgree, true);
    assert.equal(summariseSweep('8', [perTask(0, 'e'), perTask(1, 'd')]).equalSeedsAgree, false);
  });
});
