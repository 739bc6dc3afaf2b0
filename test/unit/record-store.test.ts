import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isEnvsealError } from '../../src/core/errors.js';
import { buildRunRecord } from '../../src/record/build-record.js';
import type { RunRecord } from '../../src/record/schema.js';
import { listRunRecords, readRunRecord, runRecordPath, writeRunRecord } from '../../src/record/store.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { sampleInput } from './record-fixture.js';

let root: string;
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'envseal-store-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function freshDir(): string {
  counter += 1;
  return join(root, `t${counter}`, '.envseal', 'runs');
}

function sampleRecord(runId = '20261127T225501.123Z-7ZKQ3M9X2D4F8H1J'): RunRecord {
  return buildRunRecord({ ...sampleInput(), runId });
}

/** Runs `fn` while this process may not grow any file beyond `bytes` (RLIMIT_FSIZE, via util-linux prlimit). */
async function withFileSizeLimit<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
  const pid = String(process.pid);
  const previous = execFileSync('prlimit', ['--pid', pid, '--fsize', '--raw', '--noheadings', '--output=SOFT,HARD'], { encoding: 'utf8' }).trim().split(/\s+/);
  // Past the limit the kernel sends SIGXFSZ (default: terminate); with a handler, write() fails with EFBIG.
  const ignore = () => {};
  process.on('SIGXFSZ', ignore);
  execFileSync('prlimit', ['--pid', pid, `--fsize=${bytes}:${previous[1]}`]);
  try {
    return await fn();
  } finally {
    execFileSync('prlimit', ['--pid', pid, `--fsize=${previous[0]}:${previous[1]}`]);
    process.off('SIGXFSZ', ignore);
  }
}

describe('writeRunRecord / readRunRecord', () => {
  it('writes canonical JSON to <dir>/<run-id>.json, creating the directory, and reads it back', async () => {
    const dir = freshDir();
    const record = sampleRecord();
    const path = await writeRunRecord(dir, record);
    assert.equal(path, join(dir, '20261127T225501.123Z-7ZKQ3M9X2D4F8H1J.json'));
    const text = await readFile(path, 'utf8');
    assert.equal(text, canonicalJson(record));
    assert.ok(text.endsWith('}\n'));
    assert.deepEqual(await readRunRecord(path), record);
  });

  it('replaces the record when the same run is written again', async () => {
    const dir = freshDir();
    const record = sampleRecord();
    await writeRunRecord(dir, record);
    const updated = { ...record, outcome: { ...record.outcome, exitCode: 1 } };
    await writeRunRecord(dir, updated);
    assert.equal((await readRunRecord(runRecordPath(dir, record.runId))).outcome.exitCode, 1);
    assert.deepEqual(await readdir(dir), [`${record.runId}.json`]);
  });

  it('reports a directory it cannot create as record.unwritable, naming the path, and writes nothing', async () => {
    const base = join(root, `blocked${++counter}`);
    await mkdir(base, { recursive: true });
    await writeFile(join(base, '.envseal'), 'a file where the directory should be');
    const dir = join(base, '.envseal', 'runs');
    await assert.rejects(writeRunRecord(dir, sampleRecord()), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'record.unwritable');
      assert.equal(err.exitCode, 2);
      assert.ok(err.message.includes(runRecordPath(dir, sampleRecord().runId)), err.message);
      assert.match(err.hint ?? '', /writable directory/);
      return true;
    });
    assert.deepEqual(await readdir(base), ['.envseal']);
  });

  it('keeps the old record and leaves no partial file when a write fails halfway', async () => {
    const dir = freshDir();
    const record = sampleRecord();
    const path = await writeRunRecord(dir, record);
    const before = await readFile(path, 'utf8');
    assert.ok(before.length > 1024, 'the record is larger than the limit below');
    const updated = { ...record, outcome: { ...record.outcome, exitCode: 2 } };

    await withFileSizeLimit(1024, () =>
      assert.rejects(writeRunRecord(dir, updated), (err: unknown) => {
        assert.ok(isEnvsealError(err));
        assert.equal(err.code, 'record.unwritable');
        assert.match(err.message, /EFBIG/);
        return true;
      }),
    );
    assert.equal(await readFile(path, 'utf8'), before);
    assert.deepEqual(await readdir(dir), [`${record.runId}.json`], 'no temp file is left behind');
  });

  it('refuses to write an invalid record (our bug) and writes nothing', async () => {
    const dir = freshDir();
    const bad = { ...sampleRecord(), durationMs: -5 } as RunRecord;
    await assert.rejects(writeRunRecord(dir, bad), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'record.invalid');
      assert.equal(err.exitCode, 70);
      assert.deepEqual(err.details, ['durationMs: Too small: expected number to be >=0']);
      return true;
    });
    assert.deepEqual(await listRunRecords(dir), []);
  });

  it('reports a missing record file and a malformed one', async () => {
    const dir = freshDir();
    await assert.rejects(readRunRecord(join(dir, 'nope.json')), (err: unknown) => isEnvsealError(err) && err.code === 'record.not-found');
    await mkdir(dir, { recursive: true });
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"recordVersion": 1,\n "runId": }');
    await assert.rejects(readRunRecord(broken), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'record.malformed');
      assert.ok(err.message.startsWith(`${broken}:2:11: `), err.message);
      return true;
    });
  });
});

describe('listRunRecords', () => {
  it('lists records oldest first and skips temp files and other names', async () => {
    const dir = freshDir();
    const ids = ['20261127T225501.123Z-7ZKQ3M9X2D4F8H1J', '20250101T000000.000Z-0000000000000000', '20261127T225501.123Z-0000000000000000'];
    for (const id of ids) await writeRunRecord(dir, sampleRecord(id));
    await writeFile(join(dir, `.${ids[0]}.json.123.abcd.tmp`), '{');
    await writeFile(join(dir, 'notes.json'), '{}');
    await writeFile(join(dir, 'README.md'), '');
    assert.deepEqual(await listRunRecords(dir), [
      { runId: ids[1], path: join(dir, `${ids[1]}.json`) },
      { runId: ids[2], path: join(dir, `${ids[2]}.json`) },
      { runId: ids[0], path: join(dir, `${ids[0]}.json`) },
    ]);
  });

  it('reports a runs path that is not a directory as record.unreadable', async () => {
    const file = join(root, `plain-file${++counter}`);
    await writeFile(file, '');
    await assert.rejects(listRunRecords(file), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'record.unreadable');
      assert.equal(err.exitCode, 2);
      assert.match(err.message, new RegExp(`cannot list run records in ${file}: .*ENOTDIR`));
      return true;
    });
  });

  it('returns an empty list when the directory does not exist yet', async () => {
    assert.deepEqual(await listRunRecords(join(root, 'never-created')), []);
  });
});
