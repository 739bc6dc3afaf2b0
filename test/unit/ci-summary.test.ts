import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeWorkflowData, markdownCell, outcomeFromJson, renderAnnotations, renderSummary } from '../../src/cli/ci-summary.js';

test("verify's --json report becomes one row per check, keeping summary, details and fix", () => {
  const json = JSON.stringify({
    ok: false,
    fingerprint: 'sha256:abc',
    checks: [
      { name: 'lock-fresh', ok: false, summary: 'envseal.lock is stale', details: ['requirements.txt: + numpy'], fix: 'run `envseal lock`' },
      { name: 'dockerfile', ok: true, summary: 'envseal.Dockerfile is what the lock renders', details: [] },
    ],
  });
  const outcome = outcomeFromJson('verify', 1, json);
  assert.equal(outcome.fingerprint, 'sha256:abc');
  assert.deepEqual(outcome.rows[0], {
    name: 'lock-fresh',
    status: 'failed',
    summary: 'envseal.lock is stale',
    details: ['requirements.txt: + numpy'],
    fix: 'run `envseal lock`',
  });
  const md = renderSummary(outcome);
  assert.match(md, /^### envseal verify: 1 of 2 failed\n/);
  assert.match(md, /\| lock-fresh \| ❌ failed \| envseal\.lock is stale<br>requirements\.txt: \+ numpy \| run `envseal lock` \|/);
  assert.match(md, /\| dockerfile \| ✅ passed \| envseal\.Dockerfile is what the lock renders \| {2}\|/);
  assert.match(md, /Fingerprint: `sha256:abc`\n\nExit code: 1\n/);
});

test('a --check result and a --check failure name the check; other errors are error rows; no JSON is an error row', () => {
  const ok = outcomeFromJson('lock --check', 0, JSON.stringify({ ok: true, lock: 'envseal.lock', fingerprint: 'sha256:1' }));
  assert.deepEqual(ok.rows, [{ name: 'lock-fresh', status: 'passed', summary: 'envseal.lock is up to date', details: [] }]);
  const stale = outcomeFromJson(
    'lock --check',
    1,
    JSON.stringify({ ok: false, error: { kind: 'check', message: 'stale', hint: 'run `envseal lock`', details: ['a'], data: { fingerprint: 'sha256:2' } } }),
  );
  assert.deepEqual(stale.rows, [{ name: 'lock-fresh', status: 'failed', summary: 'stale', details: ['a'], fix: 'run `envseal lock`' }]);
  assert.equal(stale.fingerprint, 'sha256:2');
  const gen = outcomeFromJson('generate --check', 1, JSON.stringify({ ok: false, error: { kind: 'check', message: 'differs' } }));
  assert.equal(gen.rows[0]!.name, 'dockerfile');
  const spec = outcomeFromJson('verify', 2, JSON.stringify({ ok: false, error: { kind: 'input', message: 'envseal.yaml has 2 problems' } }));
  assert.deepEqual([spec.rows[0]!.name, spec.rows[0]!.status], ['verify', 'error']);
  const garbage = outcomeFromJson('verify', 70, 'Segmentation fault');
  assert.deepEqual([garbage.rows[0]!.status, garbage.rows[0]!.summary], ['error', 'envseal printed no JSON result (exit 70)']);
});

test('table cells cannot break the table; workflow commands escape %, CR, LF (and : , in properties)', () => {
  assert.equal(markdownCell('a | b\nc <script> & d\r\ne'), 'a \\| b<br>c &lt;script&gt; &amp; d<br>e');
  assert.equal(escapeWorkflowData('50% done\r\nnext'), '50%25 done%0D%0Anext');
  const [line] = renderAnnotations({ command: 'verify', exitCode: 1, rows: [{ name: 'a:b,c', status: 'failed', summary: 's', details: ['d'], fix: 'f' }] });
  assert.equal(line, '::error title=envseal a%3Ab%2Cc::s%0Ad%0Afix: f');
});
