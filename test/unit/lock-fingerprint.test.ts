import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeFingerprint } from '../../src/lock/fingerprint.js';
import { finalizeLock, parseLock, serializeLock } from '../../src/lock/lock-file.js';
import { sampleDraft } from '../fixtures/lock/sample-lock.js';

test('fingerprint is stable under reordering of every list', () => {
  const a = sampleDraft();
  const b = sampleDraft();
  b.python!.packages.reverse();
  b.apt!.packages.reverse();
  b.declared.python!.requirements.reverse();
  b.inputFiles.reverse();
  assert.equal(computeFingerprint(a), computeFingerprint(b));
  assert.equal(serializeLock(finalizeLock(a)), serializeLock(finalizeLock(b)));
});

test('fingerprint ignores provenance that does not change the environment', () => {
  const a = sampleDraft();
  const b = sampleDraft();
  b.resolvedAt = '2030-01-01T00:00:00Z';
  b.tool.version = '9.9.9';
  b.inputHash = `sha256:${'9'.repeat(64)}`;
  b.base.reference = `127.0.0.1:5000/python@${b.base.digest}`;
  b.python!.packages[0]!.via = ['somewhere else'];
  b.python!.packages[0]!.file.url = 'http://mirror.example/x.whl';
  b.python!.packages[0]!.index = 'http://mirror.example/simple';
  b.declared.python!.requirements[0]!.source = 'renamed.txt';
  assert.equal(computeFingerprint(a), computeFingerprint(b));
});

test('fingerprint changes with any pin, digest or env var', () => {
  const base = computeFingerprint(sampleDraft());
  const mutations: [string, (d: ReturnType<typeof sampleDraft>) => void][] = [
    ['python version', (d) => (d.python!.packages[0]!.version = '0.3.2')],
    ['python file hash', (d) => (d.python!.packages[1]!.file.sha256 = '0'.repeat(64))],
    ['python package added', (d) => d.python!.packages.push({ ...d.python!.packages[0]!, name: 'extra' })],
    ['python package target', (d) => (d.python!.packages[0]!.targets = ['dev'])],
    ['apt version', (d) => (d.apt!.packages[0]!.version = '1.2.2')],
    ['apt arch', (d) => (d.apt!.packages[1]!.architecture = 'arm64')],
    ['apt removed', (d) => d.apt!.packages.pop()],
    ['base platform digest', (d) => (d.base.platformDigest = `sha256:${'1'.repeat(64)}`)],
    ['env value', (d) => (d.env.OMP_NUM_THREADS = '2')],
    ['env added', (d) => (d.env.NEW = 'x')],
    ['dev env', (d) => (d.targets.dev.env.DEV_MODE = '0')],
    ['deploy user', (d) => (d.targets.deploy.uid = 10002)],
    ['workdir', (d) => (d.workdir = '/app')],
    ['python version of target', (d) => (d.target.python!.version = '3.11.9')],
    ['venv', (d) => (d.python!.venv = null)],
  ];
  const seen = new Set([base]);
  for (const [what, mutate] of mutations) {
    const d = sampleDraft();
    mutate(d);
    const fp = computeFingerprint(d);
    assert.notEqual(fp, base, `${what} must change the fingerprint`);
    seen.add(fp);
  }
  assert.equal(seen.size, mutations.length + 1, 'every mutation gives a distinct fingerprint');
});

test('serialisation is canonical: sorted keys, 2-space indent, trailing newline, round-trips', () => {
  const lock = finalizeLock(sampleDraft());
  const text = serializeLock(lock);
  assert.ok(text.endsWith('}\n'));
  assert.match(text, /^\{\n {2}"apt": \{/);
  const parsed = parseLock(text);
  assert.equal(serializeLock(parsed), text);
  assert.deepEqual(
    parsed.python!.packages.map((p) => p.name),
    ['seal-devtools', 'seal-metrics', 'tinyconfig'],
  );
});

test('parseLock rejects tampering, wrong versions, bad JSON and unknown keys', () => {
  const lock = finalizeLock(sampleDraft());
  const tampered = serializeLock(lock).replace('"0.3.1"', '"0.3.2"');
  assert.throws(
    () => parseLock(tampered),
    (e: any) => e.code === 'lock.tampered' && e.exitCode === 2,
  );
  assert.throws(
    () => parseLock('{"lockVersion": 7}'),
    (e: any) => e.code === 'lock.version' && /upgrade envseal/.test(e.hint),
  );
  assert.throws(
    () => parseLock('{nope'),
    (e: any) => e.code === 'lock.syntax' && /not valid JSON/.test(e.message),
  );
  const extra = JSON.parse(serializeLock(lock));
  extra.surprise = 1;
  delete extra.name;
  assert.throws(
    () => parseLock(JSON.stringify(extra), 'x.lock'),
    (e: any) => e.code === 'lock.invalid' && e.details.some((d: string) => d.startsWith('x.lock: name:')) && e.details.some((d: string) => /surprise/.test(d)),
  );
});
