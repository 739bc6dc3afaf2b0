import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { isEnvsealError, type EnvsealError } from '../../src/core/errors.js';
import { buildRunRecord } from '../../src/record/build-record.js';
import { locateJsonSyntaxError } from '../../src/record/json-syntax.js';
import { parseRunRecord, runRecordSchema } from '../../src/record/schema.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { sampleInput } from './record-fixture.js';

function validText(): string {
  return canonicalJson(buildRunRecord(sampleInput()));
}

function catchError(fn: () => unknown): EnvsealError {
  try {
    fn();
  } catch (err) {
    assert.ok(isEnvsealError(err), `expected an EnvsealError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

describe('parseRunRecord', () => {
  it('round-trips a record written as canonical JSON', () => {
    const text = validText();
    assert.equal(canonicalJson(parseRunRecord(text, 'r.json')), text);
  });

  it('lists every schema problem at once as file: dotted.path: message', () => {
    const raw = JSON.parse(validText());
    raw.durationMs = -1;
    raw.target = 'prod';
    raw.inputs[0].content.digest = 'sha256:xyz';
    raw.host.gpus = [{ index: 0 }];
    raw.surprise = true;
    delete raw.seed;
    const err = catchError(() => parseRunRecord(JSON.stringify(raw), '.envseal/runs/x.json'));
    assert.equal(err.code, 'record.malformed');
    assert.equal(err.exitCode, 2);
    const paths = err.details.map((d) => d.split(': ')[1]);
    for (const expected of ['durationMs', 'target', 'inputs.0.content.digest', 'host.gpus.0.uuid', '(top level)', 'seed']) {
      assert.ok(paths.includes(expected), `missing ${expected} in\n${err.details.join('\n')}`);
    }
    assert.ok(err.details.every((d) => d.startsWith('.envseal/runs/x.json: ')));
    assert.ok(
      err.details.some((d) => d.includes('surprise')),
      'unknown keys are named',
    );
    assert.match(err.message, /not a valid envseal run record \(\d+ problems\)/);
  });

  it('checks the cross-field rules', () => {
    const raw = JSON.parse(validText());
    raw.endedAt = '2026-11-27T22:00:00.000Z';
    raw.outcome.interrupted = true;
    raw.gitUnavailable = { reason: 'not-a-repository', message: 'x' };
    raw.git.dirty = true;
    const err = catchError(() => parseRunRecord(JSON.stringify(raw), 'r.json'));
    assert.deepEqual(err.details.sort(), [
      'r.json: endedAt: is before startedAt',
      'r.json: git.diffDigest: must be set exactly when dirty is true',
      'r.json: git: exactly one of git and gitUnavailable must be null',
      'r.json: outcome.interruptReason: must be set exactly when interrupted is true',
    ]);
  });

  it('rejects times that are not ISO UTC', () => {
    const raw = JSON.parse(validText());
    raw.startedAt = '2026-11-27T23:55:01+01:00';
    const err = catchError(() => parseRunRecord(JSON.stringify(raw), 'r.json'));
    assert.ok(
      err.details.some((d) => d.startsWith('r.json: startedAt: ')),
      err.details.join('\n'),
    );
  });

  it('reports broken JSON with line and column', () => {
    const text = '{\n  "recordVersion": 1,\n  "runId": \n}\n';
    const err = catchError(() => parseRunRecord(text, 'runs/a.json'));
    assert.equal(err.code, 'record.malformed');
    assert.match(err.message, /^runs\/a\.json:4:1: not valid JSON: expected a value, found character "\}"/);
    assert.deepEqual(err.data, { file: 'runs/a.json', line: 4, column: 1 });
  });

  it('names a newer record version instead of listing schema noise', () => {
    const raw = JSON.parse(validText());
    raw.recordVersion = 5;
    raw.newField = {};
    const err = catchError(() => parseRunRecord(JSON.stringify(raw), 'r.json'));
    assert.equal(err.code, 'record.version');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /recordVersion 5 is not supported/);
    assert.match(err.hint ?? '', /upgrade envseal/);
  });

  it('reads a version 1 record (no reasons, no reproduces, no slurm, no cuda) as version 4', () => {
    const raw = JSON.parse(validText());
    raw.recordVersion = 1;
    delete raw.reasons;
    delete raw.reproduces;
    delete raw.slurm;
    delete raw.cuda;
    const record = parseRunRecord(JSON.stringify(raw), 'r.json');
    assert.equal(record.recordVersion, 4);
    assert.deepEqual(record.reasons, []);
    assert.equal(record.reproduces, null);
    assert.equal(record.slurm, null);
    assert.equal(record.cuda, null);
  });

  it('reads a version 2 record (no slurm) as version 4 with slurm and cuda null', () => {
    const raw = JSON.parse(validText());
    raw.recordVersion = 2;
    delete raw.slurm;
    delete raw.cuda;
    const record = parseRunRecord(JSON.stringify(raw), 'r.json');
    assert.equal(record.recordVersion, 4);
    assert.equal(record.slurm, null);
    assert.equal(record.cuda, null);
  });

  it('reads a version 3 record (no cuda) as version 4 with cuda null: not recorded, unlike a record that saw none', () => {
    const raw = JSON.parse(validText());
    assert.deepEqual(raw.cuda, { version: null, cudnn: null, wheels: {}, driver: null });
    raw.recordVersion = 3;
    delete raw.cuda;
    const record = parseRunRecord(JSON.stringify(raw), 'r.json');
    assert.equal(record.recordVersion, 4);
    assert.equal(record.cuda, null);
  });

  it('keeps the CUDA and cuDNN the container saw, and refuses an unknown key in it', () => {
    const raw = JSON.parse(validText());
    raw.cuda = { version: '11.8.0', cudnn: '8.9.0.131', wheels: { torch: '11.8' }, driver: '12.2' };
    assert.deepEqual(parseRunRecord(JSON.stringify(raw), 'r.json').cuda, raw.cuda);
    raw.cuda.extra = 1;
    const err = catchError(() => parseRunRecord(JSON.stringify(raw), 'r.json'));
    assert.equal(err.code, 'record.malformed');
    assert.match(err.details.join('\n'), /cuda/);
  });

  it('keeps the Slurm job, array task and node, and refuses a non-numeric job ID', () => {
    const raw = JSON.parse(validText());
    raw.slurm = { jobId: '42', arrayTaskId: 3, node: 'vm' };
    assert.deepEqual(parseRunRecord(JSON.stringify(raw), 'r.json').slurm, { jobId: '42', arrayTaskId: 3, node: 'vm' });
    raw.slurm = { jobId: 'x42', arrayTaskId: 3, node: 'vm' };
    const err = catchError(() => parseRunRecord(JSON.stringify(raw), 'r.json'));
    assert.equal(err.exitCode, 2);
    assert.ok(err.details.some((d) => /slurm\.jobId: expected a numeric Slurm job ID/.test(d)));
  });

  it('keeps the reasons and checks their codes', () => {
    const raw = JSON.parse(validText());
    raw.reasons = [{ code: 'git-dirty', message: '1 uncommitted change (train.py)', files: ['train.py'] }];
    assert.deepEqual(parseRunRecord(JSON.stringify(raw), 'r.json').reasons, raw.reasons);
    raw.reasons = [{ code: 'moon-phase', message: 'x', files: [] }];
    const err = catchError(() => parseRunRecord(JSON.stringify(raw), 'r.json'));
    assert.ok(
      err.details.some((d) => d.startsWith('r.json: reasons.0.code: ')),
      err.details.join('\n'),
    );
  });

  it('converts to a JSON Schema for publishing', () => {
    const schema = z.toJSONSchema(runRecordSchema) as { properties: Record<string, unknown>; additionalProperties: unknown };
    assert.equal(schema.additionalProperties, false);
    assert.ok('recordVersion' in schema.properties && 'host' in schema.properties);
  });
});

describe('locateJsonSyntaxError', () => {
  const cases: [string, number, number, RegExp][] = [
    ['{"a":}', 1, 6, /expected a value/],
    ['{"a":1', 1, 7, /expected ',' or '\}'/],
    ['{\n "a": tru\n}', 2, 7, /expected a value/],
    ['[1,2,]', 1, 6, /expected a value/],
    ['{"a":1}x', 1, 8, /after the end/],
    ['{"a":"x\ny"}', 1, 8, /control character/],
    ['{"a":"\\q"}', 1, 7, /invalid escape/],
    ['{a:1}', 1, 2, /property name in double quotes/],
    ['[01]', 1, 3, /invalid number/],
    ['"abc', 1, 1, /unterminated string/],
    ['', 1, 1, /expected a value, found end of input/],
  ];
  for (const [text, line, column, message] of cases) {
    it(`locates the error in ${JSON.stringify(text)}`, () => {
      assert.throws(() => JSON.parse(text));
      const at = locateJsonSyntaxError(text);
      assert.ok(at, 'an error is found');
      assert.equal(at.line, line);
      assert.equal(at.column, column);
      assert.match(at.message, message);
    });
  }

  it('accepts every valid JSON text', () => {
    for (const text of ['{}', '[]', '0', '-1.5e+10', '"\\u00e9\\n"', ' {"a": [true, false, null, {"b": ""}]} ', validText()]) {
      JSON.parse(text);
      assert.equal(locateJsonSyntaxError(text), null, text);
    }
  });
});
