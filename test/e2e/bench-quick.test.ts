/**
 * `npm run bench -- --quick` (bench/all.ts) in CI: every ratio of issue 11 is measured in one run and printed
 * against its goal, and the run fails on a gross regression (a row beyond its loose limit). A goal not met yet
 * is reported, not failed: timings move with the machine's load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../lab/cli.js';
import { requireLab, requireLabIndex } from '../lab/lab.js';
import type { Row, RowStatus } from '../../bench/lib/report.js';

const EXPECTED = [
  'lock cold vs pip (pip / envseal)',
  'lock warm vs pip (pip / envseal)',
  'lock time, 50 packages (cold cache)',
  'lock time, 200 packages (cold cache)',
  'lock time, 500 packages (cold cache)',
  'verify without an engine, 500-package lock',
  'lock --check, 500-package lock',
  'data hashing throughput vs sha256sum',
  'reproducible build vs docker build --no-cache',
  'repeat build of an unchanged lock / full',
  'one-file edit rebuild / full',
  'context streaming vs docker build',
  'normalisation, base + 8 MiB layer',
  'normalisation, base + 64 MiB layer',
  'normalisation growth per MiB above the base',
];

function runBench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'all.ts'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

test('bench --quick prints every ratio against its goal in one run, without a gross regression', { timeout: 15 * 60_000 }, async (t) => {
  await requireLab();
  await requireLabIndex();
  const dir = await mkdtemp(join(tmpdir(), 'envseal-bench-quick-'));
  try {
    const out = join(dir, 'rows.json');
    const res = await runBench(['--quick', '--json', out]);
    // The table in the test log, so CI shows the figures of every run.
    for (const line of res.stdout.split('\n').filter((l) => l.trim())) t.diagnostic(line);
    const rows = JSON.parse(await readFile(out, 'utf8')) as (Row & { status: RowStatus })[];
    assert.deepEqual(
      rows.map((r) => r.name),
      EXPECTED,
    );
    for (const row of rows) {
      assert.ok(Number.isFinite(row.value) && row.value > 0, `${row.name}: ${row.value}`);
      assert.ok(res.stdout.includes(row.name), `${row.name} is printed`);
      assert.notEqual(row.status, 'REGRESSION', `${row.name}: ${row.value} is beyond its loose limit ${row.loose} (goal ${row.goal?.op} ${row.goal?.value})`);
    }
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    assert.match(res.stdout, /^measure\s+value\s+goal\s+status/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
