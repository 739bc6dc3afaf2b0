import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRunIdGenerator, isRunId, RUN_ID_PATTERN, runIdTime } from '../../src/record/run-id.js';

const fixedClock = (iso: string) => ({ now: () => new Date(iso) });

describe('run IDs', () => {
  it('encode the UTC start time and 80 bits of injected randomness', () => {
    const next = createRunIdGenerator({
      clock: fixedClock('2026-11-27T22:55:01.123Z'),
      randomBytes: (n) => new Uint8Array(n).fill(0xff),
    });
    const id = next();
    assert.equal(id, '20261127T225501.123Z-ZZZZZZZZZZZZZZZZ');
    assert.ok(isRunId(id));
    assert.equal(runIdTime(id)?.toISOString(), '2026-11-27T22:55:01.123Z');
  });

  it('are monotonic within a process when the clock stands still or steps back', () => {
    let now = Date.parse('2026-01-01T00:00:00.000Z');
    const next = createRunIdGenerator({ clock: { now: () => new Date(now) }, randomBytes: (n) => new Uint8Array(n) });
    const a = next();
    const b = next();
    now -= 5_000; // clock stepped back (NTP correction)
    const c = next();
    now += 10_000;
    const d = next();
    assert.equal(a, '20260101T000000.000Z-0000000000000000');
    assert.equal(b, '20260101T000000.000Z-0000000000000001');
    assert.equal(c, '20260101T000000.000Z-0000000000000002');
    assert.equal(d, '20260101T000005.000Z-0000000000000000');
    assert.deepEqual([d, c, b, a].sort(), [a, b, c, d]);
  });

  it('move to the next millisecond instead of wrapping the random part', () => {
    const next = createRunIdGenerator({
      clock: fixedClock('2026-01-01T00:00:00.000Z'),
      randomBytes: (n) => new Uint8Array(n).fill(0xff),
    });
    const first = next();
    const second = next();
    assert.equal(first, '20260101T000000.000Z-ZZZZZZZZZZZZZZZZ');
    assert.equal(second, '20260101T000000.001Z-ZZZZZZZZZZZZZZZZ');
    assert.ok(second > first);
  });

  it('are unique and strictly increasing for 10k IDs in a tight loop with the real clock', () => {
    const next = createRunIdGenerator({ clock: { now: () => new Date() } });
    const ids = Array.from({ length: 10_000 }, () => next());
    assert.equal(new Set(ids).size, ids.length);
    for (let i = 1; i < ids.length; i += 1) assert.ok(ids[i]! > ids[i - 1]!, `${ids[i]} after ${ids[i - 1]}`);
    assert.ok(ids.every((id) => RUN_ID_PATTERN.test(id)));
  });

  it('are unique across two processes generating at the same time', async () => {
    const moduleUrl = new URL('../../src/record/run-id.ts', import.meta.url).href;
    // Each child loads the module, says "ready" and waits; when both are ready the parent releases them at
    // once, so their IDs share milliseconds: the case the random part must keep apart.
    const script = `
      import { createRunIdGenerator } from ${JSON.stringify(moduleUrl)};
      const next = createRunIdGenerator({ clock: { now: () => new Date() } });
      process.stderr.write('ready\\n');
      process.stdin.once('data', () => {
        const ids = [];
        for (let i = 0; i < 10000; i += 1) ids.push(next());
        process.stdout.write(ids.join('\\n'), () => process.exit(0));
      });
    `;
    const startChild = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      const ready = new Promise<void>((resolve) => {
        child.stderr.on('data', (c: Buffer) => {
          err += c.toString();
          if (err.includes('ready')) resolve();
        });
      });
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const done = new Promise<string[]>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(out.split('\n')) : reject(new Error(`child exited ${code}: ${err}`))));
      });
      return { child, ready, done };
    };
    const first = startChild();
    const second = startChild();
    await Promise.all([first.ready, second.ready]);
    first.child.stdin.write('go\n');
    second.child.stdin.write('go\n');
    const [a, b] = await Promise.all([first.done, second.done]);
    assert.equal(a.length, 10_000);
    assert.equal(b.length, 10_000);
    assert.equal(new Set([...a, ...b]).size, 20_000);
    const millisOf = (ids: string[]) => new Set(ids.map((id) => id.slice(0, 20)));
    const shared = [...millisOf(a)].filter((ms) => millisOf(b).has(ms));
    assert.ok(shared.length > 0, 'the two processes generated IDs in the same milliseconds');
  });

  it('recognise only well-formed IDs', () => {
    assert.equal(isRunId('20261127T225501.123Z-7ZKQ3M9X2D4F8H1J'), true);
    assert.equal(isRunId('20261127T225501.123Z-7ZKQ3M9X2D4F8H1I'), false, 'I is not Crockford base32');
    assert.equal(isRunId('20261127T225501Z-7ZKQ3M9X2D4F8H1J'), false);
    assert.equal(isRunId('../20261127T225501.123Z-7ZKQ3M9X2D4F8H1J'), false);
    assert.equal(runIdTime('not-an-id'), null);
  });
});
