import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffDeclared } from '../../src/lock/drift.js';
import { formatDrift } from '../../src/core/drift.js';
import { computeInputHash } from '../../src/app/load-inputs.js';
import { sampleDraft } from '../fixtures/lock/sample-lock.js';

test('identical declared inputs: no drift, same input hash even when reordered', () => {
  const a = sampleDraft().declared;
  const b = sampleDraft().declared;
  b.python!.requirements.reverse();
  b.apt!.packages.reverse();
  assert.deepEqual(diffDeclared(a, b), []);
  assert.equal(computeInputHash(a), computeInputHash(b));
});

test('drift names the file and the requirement', () => {
  const a = sampleDraft().declared;
  const b = sampleDraft().declared;
  b.python!.requirements[0]!.requirement = 'seal-metrics==1.3.0';
  b.python!.requirements.push({ requirement: 'numpy>=1.24', hashes: [], source: 'requirements.txt', kind: 'requirement', targets: ['deploy', 'dev'] });
  b.python!.requirements = b.python!.requirements.filter((r) => !r.requirement.startsWith('seal-devtools'));
  b.apt!.packages.push({ name: 'curl', source: 'apt.txt', targets: ['deploy', 'dev'] });
  b.env.OMP_NUM_THREADS = '4';
  b.base = '127.0.0.1:5000/python:trixie';
  const lines = diffDeclared(a, b).map(formatDrift);
  assert.ok(lines.includes('requirements.txt: changed requirement seal-metrics: seal-metrics==1.2.0 → seal-metrics==1.3.0'), lines.join('\n'));
  assert.ok(lines.includes('requirements.txt: added requirement numpy: numpy>=1.24'), lines.join('\n'));
  assert.ok(lines.includes('requirements-dev.txt: removed requirement seal-devtools (dev only): seal-devtools==2.0.0'), lines.join('\n'));
  assert.ok(lines.includes('apt.txt: added apt package curl: deploy,dev'), lines.join('\n'));
  assert.ok(lines.includes('envseal.yaml: changed env.OMP_NUM_THREADS: 1 → 4'), lines.join('\n'));
  assert.ok(lines.includes('envseal.yaml: changed base: 127.0.0.1:5000/python:bookworm → 127.0.0.1:5000/python:trixie'), lines.join('\n'));
  assert.notEqual(computeInputHash(a), computeInputHash(b));
});

test('a hash added to a pinned requirement is drift', () => {
  const a = sampleDraft().declared;
  const b = sampleDraft().declared;
  b.python!.requirements[1]!.hashes = [`sha256:${'0'.repeat(64)}`];
  const lines = diffDeclared(a, b).map(formatDrift);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^requirements.txt: changed requirement tinyconfig: tinyconfig==0.3.1 → tinyconfig==0.3.1 \[1 hash\]$/);
});

test('seed added and npm changes are reported with the right file', () => {
  const a = sampleDraft().declared;
  const b = sampleDraft().declared;
  b.seed = 7;
  a.npm = { dir: 'web', target: '/opt/envseal/npm', packageJsonSha256: '1'.repeat(64), lockfileSha256: '2'.repeat(64) };
  b.npm = { ...a.npm, lockfileSha256: '3'.repeat(64) };
  const lines = diffDeclared(a, b).map(formatDrift);
  assert.ok(lines.includes('envseal.yaml: added seed: 7'), lines.join('\n'));
  assert.ok(
    lines.some((l) => l.startsWith('web/package-lock.json: changed content:')),
    lines.join('\n'),
  );
});
