import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRunRecord } from '../../src/record/build-record.js';
import { isEnvsealError } from '../../src/core/errors.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { FINGERPRINT, IMAGE_ID, sampleInput } from './record-fixture.js';

describe('buildRunRecord', () => {
  it('assembles every captured piece into a schema-valid record', () => {
    const record = buildRunRecord(sampleInput());
    assert.equal(record.recordVersion, 4);
    assert.deepEqual(record.cuda, { version: null, cudnn: null, wheels: {}, driver: null }, 'no CUDA declared, no driver asked');
    assert.equal(record.startedAt, '2026-11-27T22:55:01.123Z');
    assert.equal(record.endedAt, '2026-11-27T22:56:02.500Z');
    assert.equal(record.durationMs, 61_377);
    assert.equal(record.command, 'python');
    assert.deepEqual(record.args, ['train.py', '--epochs', '3']);
    assert.deepEqual(record.outcome, { exitCode: 0, signal: null, interrupted: false, interruptReason: null, error: null });
    assert.equal(record.image.id, IMAGE_ID);
    assert.equal(record.image.fingerprintLabel, FINGERPRINT);
    assert.equal(record.seed, 42);
    assert.equal(record.git?.branch, 'main');
    assert.equal(record.gitUnavailable, null);
  });

  it('redacts secret-looking env values and URL credentials, keeps the rest', () => {
    const record = buildRunRecord(sampleInput());
    assert.deepEqual(record.env.user, {
      KEYBOARD_LAYOUT: 'us',
      PIP_INDEX_URL: 'https://<redacted>@pypi.example/simple',
      WANDB_API_KEY: '<redacted>',
    });
    assert.equal(record.env.envseal.PYTHONHASHSEED, '42');
    assert.ok(!canonicalJson(record).includes('s3cret'));
    assert.ok(!canonicalJson(record).includes('abc123'));
  });

  it('orders inputs, outputs and repo digests so flag order does not matter', () => {
    const a = sampleInput();
    const b = sampleInput();
    b.inputs.reverse();
    b.image.info.repoDigests.reverse();
    assert.equal(canonicalJson(buildRunRecord(a)), canonicalJson(buildRunRecord(b)));
    assert.deepEqual(
      buildRunRecord(a).inputs.map((i) => i.path),
      ['config.yaml', 'data/train'],
    );
    assert.ok(buildRunRecord(a).image.repoDigests[0]!.startsWith('127.0.0.1:5000/a@'));
  });

  it('records an interrupted run, a signal and a run that never started', () => {
    const interrupted = buildRunRecord({ ...sampleInput(), outcome: { exitCode: 130, interrupted: 'signal' } });
    assert.equal(interrupted.outcome.interrupted, true);
    assert.equal(interrupted.outcome.interruptReason, 'signal');
    const killed = buildRunRecord({ ...sampleInput(), outcome: { exitCode: null, signal: 'SIGKILL', interrupted: 'timeout' } });
    assert.equal(killed.outcome.signal, 'SIGKILL');
    assert.equal(killed.outcome.interruptReason, 'timeout');
    const failed = buildRunRecord({
      ...sampleInput(),
      outcome: { exitCode: null, error: { code: 'engine.create-failed', message: 'no such image' } },
    });
    assert.deepEqual(failed.outcome.error, { code: 'engine.create-failed', message: 'no such image' });
  });

  it('records a missing git as null with the reason', () => {
    const record = buildRunRecord({
      ...sampleInput(),
      git: { state: null, unavailable: { reason: 'not-a-repository', message: '/p is not inside a git work tree' } },
    });
    assert.equal(record.git, null);
    assert.equal(record.gitUnavailable?.reason, 'not-a-repository');
  });

  it('records an image without the fingerprint label as null', () => {
    const input = sampleInput();
    input.image.info.labels = {};
    assert.equal(buildRunRecord(input).image.fingerprintLabel, null);
  });

  it('rejects captured facts that do not fit the schema as an internal error listing every problem', () => {
    const input = { ...sampleInput(), command: [], fingerprint: 'md5:x', endedAt: new Date('2026-11-27T22:00:00Z') };
    assert.throws(
      () => buildRunRecord(input),
      (err: unknown) => {
        assert.ok(isEnvsealError(err));
        assert.equal(err.code, 'record.invalid');
        assert.equal(err.exitCode, 70);
        assert.ok(
          err.details.some((d) => d.startsWith('command:')),
          err.details.join('\n'),
        );
        assert.ok(
          err.details.some((d) => d.startsWith('environment.fingerprint:')),
          err.details.join('\n'),
        );
        return true;
      },
    );
  });

  it('is pure: the same input gives the same bytes', () => {
    assert.equal(canonicalJson(buildRunRecord(sampleInput())), canonicalJson(buildRunRecord(sampleInput())));
  });
});
