import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRow, status, type Row } from '../../bench/lib/report.js';

const row = (value: number, goal: Row['goal'], loose?: number, unit: Row['unit'] = 'x'): Row => ({
  name: 'r',
  value,
  unit,
  ...(goal ? { goal } : {}),
  ...(loose !== undefined ? { loose } : {}),
  detail: '',
  command: '',
});

test('a bench row meets its goal, misses it within the loose limit, or is a gross regression beyond it', () => {
  assert.equal(status(row(6, { op: '>=', value: 5 }, 2.5)), 'met');
  assert.equal(status(row(3, { op: '>=', value: 5 }, 2.5)), 'not met');
  assert.equal(status(row(2, { op: '>=', value: 5 }, 2.5)), 'REGRESSION');
  assert.equal(status(row(150, { op: '<=', value: 200 }, 1000, 'ms')), 'met');
  assert.equal(status(row(600, { op: '<=', value: 200 }, 1000, 'ms')), 'not met');
  assert.equal(status(row(1200, { op: '<=', value: 200 }, 1000, 'ms')), 'REGRESSION');
  assert.equal(status(row(Number.NaN, { op: '<=', value: 200 }, 1000, 'ms')), 'REGRESSION');
  assert.equal(status(row(3, { op: '>=', value: 5 })), 'not met');
  assert.equal(status(row(3, undefined)), 'info');
});

test('a bench row prints its value and goal in its unit', () => {
  assert.match(formatRow(row(0.231, { op: '<=', value: 0.1 }, 1.5, 'share')), /23\.1%\s+<= 10%\s+not met/);
  assert.match(formatRow(row(1.98, { op: '<=', value: 1.15 }, 3)), /1\.98x\s+<= 1\.15x\s+not met/);
  assert.match(formatRow(row(182.4, { op: '<=', value: 200 }, 1000, 'ms')), /182 ms\s+<= 200 ms\s+met/);
});
