import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareDigests, diffTrees, summarizeContent, summarizeCsv, summarizeJson } from '../../src/app/reproduce/compare.js';
import {
  assertUsable,
  changedInputs,
  formatReport,
  planImageSources,
  planUserEnv,
  refuseChangedInputs,
  reportExitCode,
  type ReproduceReport,
} from '../../src/app/reproduce/plan.js';
import { isEnvsealError, type EnvsealError } from '../../src/core/errors.js';
import { buildRunRecord } from '../../src/record/build-record.js';
import type { DataDigest } from '../../src/record/data-digest.js';
import { IMAGE_ID, sampleInput } from './record-fixture.js';

const digest = (c: string): DataDigest => ({ type: 'file', digest: `sha256:${c.repeat(64)}`, files: 1, directories: 0, symlinks: 0, others: 0, bytes: 1 });

function catchError(fn: () => unknown): EnvsealError {
  try {
    fn();
  } catch (err) {
    if (isEnvsealError(err)) return err;
    throw err;
  }
  assert.fail('expected an EnvsealError');
}

describe('reproduce plan', () => {
  it('tries the local image, then each recorded repo digest, then a rebuild at the recorded commit', () => {
    const record = buildRunRecord(sampleInput());
    const sources = planImageSources(record);
    assert.deepEqual(
      sources.map((s) => s.kind),
      ['local', 'pull', 'pull', 'rebuild'],
    );
    assert.deepEqual(sources[0], { kind: 'local', imageId: IMAGE_ID });
    assert.equal(sources[3]!.kind === 'rebuild' && sources[3]!.commit, record.git!.commit);
    const noGit = { ...record, git: null, image: { ...record.image, repoDigests: [] } };
    assert.deepEqual(
      planImageSources(noGit).map((s) => s.kind),
      ['local'],
    );
  });

  it('takes the recorded environment, secrets by name from the caller; a missing one is exit 2 naming it', () => {
    const record = buildRunRecord(sampleInput());
    const given: Record<string, string> = { WANDB_API_KEY: 'k', PIP_INDEX_URL: 'https://me:pw@pypi.example/simple' };
    assert.deepEqual(
      planUserEnv(record, (n) => given[n]),
      { KEYBOARD_LAYOUT: 'us', PIP_INDEX_URL: 'https://me:pw@pypi.example/simple', WANDB_API_KEY: 'k' },
    );
    const err = catchError(() => planUserEnv(record, () => undefined));
    assert.equal(err.exitCode, 2);
    assert.equal(err.code, 'reproduce.secret-missing');
    assert.match(err.message, /keeps PIP_INDEX_URL, WANDB_API_KEY by name only/);
  });

  it('refuses records of runs that never started or were interrupted (exit 2)', () => {
    const started = buildRunRecord(sampleInput());
    assertUsable(started, 'r.json');
    const never = buildRunRecord({ ...sampleInput(), outcome: { exitCode: null, error: { code: 'run.failed', message: 'no engine' } } });
    assert.match(catchError(() => assertUsable(never, 'r.json')).message, /never started \(run\.failed: no engine\)/);
    const stopped = buildRunRecord({ ...sampleInput(), outcome: { exitCode: null, interrupted: 'timeout', signal: 'SIGKILL' } });
    assert.equal(catchError(() => assertUsable(stopped, 'r.json')).exitCode, 2);
  });

  it('names each input that changed or went missing; exit 1', () => {
    const recorded = [
      { path: 'data/a.csv', content: digest('1') },
      { path: 'data/b.csv', content: digest('2') },
      { path: 'params.cfg', content: digest('3') },
    ];
    const now = new Map([
      ['data/a.csv', digest('1')],
      ['data/b.csv', digest('4')],
      ['params.cfg', null],
    ]);
    const changed = changedInputs(recorded, now);
    assert.deepEqual(changed, [`data/b.csv: content differs (recorded sha256:222222222222, now sha256:444444444444)`, 'params.cfg: missing']);
    refuseChangedInputs([]);
    const err = catchError(() => refuseChangedInputs(changed));
    assert.equal(err.exitCode, 1);
    assert.equal(err.message, '2 recorded inputs have changed: data/b.csv, params.cfg');
  });

  it('is 0 only when the exit code and every output are the same, and says so', () => {
    const report: ReproduceReport = {
      ok: true,
      original: 'A',
      runId: 'B',
      record: '.envseal/runs/B.json',
      image: { id: IMAGE_ID, source: 'rebuild' },
      originalDirty: false,
      exitCode: { original: 0, rerun: 0 },
      outputs: [{ path: 'out', status: 'identical', files: [] }],
      notes: [],
    };
    assert.equal(reportExitCode(report), 0);
    assert.match(formatReport(report).join('\n'), /rebuilt from the lock at the recorded commit[\s\S]*reproduced: 1 output byte-identical/);
    assert.equal(reportExitCode({ ...report, exitCode: { original: 0, rerun: 3 } }), 1);
    const changed = {
      ...report,
      ok: false,
      outputs: [{ path: 'out', status: 'changed' as const, files: [{ path: 'out/m.json', change: 'content' as const, summary: ['a: 1 → 2'] }] }],
    };
    assert.equal(reportExitCode(changed), 1);
    assert.deepEqual(formatReport(changed).slice(1), [
      'DIFF out: content differs',
      '       out/m.json: content',
      '         a: 1 → 2',
      'not reproduced: 1 of 1 outputs differ',
    ]);
  });
});

describe('reproduce comparison', () => {
  it('decides from the digests: identical, added, removed, changed', () => {
    assert.equal(compareDigests('o', digest('1'), digest('1')).status, 'identical');
    assert.equal(compareDigests('o', null, null).status, 'identical');
    assert.equal(compareDigests('o', null, digest('1')).status, 'added');
    assert.equal(compareDigests('o', digest('1'), null).status, 'removed');
    assert.equal(compareDigests('o', digest('1'), digest('2')).status, 'changed');
  });

  it('summarises JSON by the first differing keys', () => {
    assert.deepEqual(summarizeJson('{"a":1,"b":{"c":[1,2,3]},"d":"x"}', '{"a":1,"b":{"c":[1,5,3,4]},"e":true}'), [
      'b.c[1]: 2 → 5',
      'b.c[3]: (absent) → 4',
      'd: "x" → (absent)',
      'and 1 more value',
    ]);
    assert.deepEqual(summarizeJson('{"a": 1, "b": 2}', '{"b":2,"a":1}'), ['same values, different bytes (formatting or key order)']);
    assert.deepEqual(summarizeJson('[1]', '{"a":1}'), ['(top level): [1] → {"a":1}']);
    assert.equal(summarizeJson('{', '{}'), null);
  });

  it('summarises CSV by the first differing cells, named by the header', () => {
    assert.deepEqual(summarizeCsv('step,loss\n0,0.5\n1,0.4\n', 'step,loss\n0,0.5\n1,0.41\n2,0.3\n'), ['3 → 4 rows', 'row 3, column loss: 0.4 → 0.41']);
    assert.deepEqual(summarizeCsv('a,b\r\n1,2\r\n', 'a,b\n1,2\n'), ['same cells, different bytes (line endings or quoting)']);
  });

  it('falls back to sizes for other files and for JSON that does not parse', () => {
    assert.deepEqual(summarizeContent('model.pkl', Buffer.from('ab'), Buffer.from('abc')), ['2 → 3 bytes']);
    assert.deepEqual(summarizeContent('x.json', Buffer.from('{'), Buffer.from('{}')), ['1 → 2 bytes']);
  });

  it('compares two trees file by file: added, removed, content (with summaries), symlinks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repro12-unit-'));
    try {
      for (const side of ['a', 'b']) await mkdir(join(dir, side, 'sub'), { recursive: true });
      await writeFile(join(dir, 'a', 'same.txt'), 'x');
      await writeFile(join(dir, 'b', 'same.txt'), 'x');
      await writeFile(join(dir, 'a', 'gone.txt'), 'x');
      await writeFile(join(dir, 'b', 'sub', 'new.txt'), 'x');
      await writeFile(join(dir, 'a', 'm.json'), '{"acc":0.5}');
      await writeFile(join(dir, 'b', 'm.json'), '{"acc":0.6}');
      await symlink('same.txt', join(dir, 'a', 'link'));
      await symlink('m.json', join(dir, 'b', 'link'));
      assert.deepEqual(await diffTrees(join(dir, 'a'), join(dir, 'b'), 'out'), [
        { path: 'out/gone.txt', change: 'removed' },
        { path: 'out/link', change: 'content', summary: ['symlink same.txt → m.json'] },
        { path: 'out/m.json', change: 'content', summary: ['acc: 0.5 → 0.6'] },
        { path: 'out/sub/new.txt', change: 'added' },
      ]);
      assert.deepEqual(await diffTrees(join(dir, 'a', 'm.json'), join(dir, 'b', 'm.json'), 'm.json'), [
        { path: 'm.json', change: 'content', summary: ['acc: 0.5 → 0.6'] },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
