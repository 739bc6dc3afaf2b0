/** The deadlines the CLI reads from --timeout and the environment (src/cli/deadlines.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { DEFAULT_DEADLINES, readDeadlines } from '../../src/cli/deadlines.js';

describe('readDeadlines', () => {
  it('defaults: 60 s per index, registry or engine call, 10 minutes of build silence', () => {
    assert.deepEqual(readDeadlines(undefined, {}), DEFAULT_DEADLINES);
    assert.deepEqual(DEFAULT_DEADLINES, { httpMs: 60_000, engineMs: 60_000, streamIdleMs: 600_000 });
  });

  it('each environment variable sets its own deadline, in seconds', () => {
    assert.deepEqual(readDeadlines(undefined, { ENVSEAL_HTTP_TIMEOUT: '1.5', ENVSEAL_ENGINE_TIMEOUT: '20', ENVSEAL_BUILD_IDLE_TIMEOUT: '' }), {
      httpMs: 1500,
      engineMs: 20_000,
      streamIdleMs: 600_000,
    });
  });

  it('--timeout sets all three and wins over the environment', () => {
    assert.deepEqual(readDeadlines('5', { ENVSEAL_HTTP_TIMEOUT: '100' }), { httpMs: 5000, engineMs: 5000, streamIdleMs: 5000 });
  });

  for (const bad of ['0', '-1', 'abc', '', 'Infinity', '1e9']) {
    it(`refuses ${JSON.stringify(bad)} with exit 2, naming where it came from`, () => {
      assert.throws(
        () => readDeadlines(bad, {}),
        (err: unknown) => err instanceof EnvsealError && err.exitCode === 2 && err.message.startsWith(`--timeout ${bad}:`),
      );
      assert.throws(
        () => readDeadlines(undefined, { ENVSEAL_ENGINE_TIMEOUT: bad === '' ? ' ' : bad }),
        (err: unknown) => err instanceof EnvsealError && err.exitCode === 2 && /^ENVSEAL_ENGINE_TIMEOUT=/.test(err.message),
      );
    });
  }
});
