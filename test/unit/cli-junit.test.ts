import { test } from 'node:test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { escapeXmlAttribute, escapeXmlText, renderJunit, type JunitSuite } from '../../src/cli/junit.js';
import { errorCase, verifyCases } from '../../src/cli/junit-report.js';
import { checkFailed, externalError } from '../../src/core/errors.js';
import { junitProblems, parseXml, readJunit } from '../lab/junit-shape.js';
import { runCliInProcess } from './cli-harness.js';

const NASTY = 'a & b < c > d "quoted" \'single\' ]]> \u001b[31mred\u001b[0m \u0000nul \u0007bell tab\there\nline2\r\nline3 é 🙂 \uD800lone';

test('escaping: markup characters become entities, invalid XML characters become visible escapes', () => {
  assert.equal(escapeXmlText('a & b < c > d "q"'), 'a &amp; b &lt; c &gt; d "q"');
  assert.equal(escapeXmlAttribute('a & b < c > d "q"'), 'a &amp; b &lt; c &gt; d &quot;q&quot;');
  assert.equal(escapeXmlText('\u001b[0m\u0000\u000b\uFFFE'), '\\u001b[0m\\u0000\\u000b\\ufffe');
  assert.equal(escapeXmlAttribute('x\ty\nz\r'), 'x&#9;y&#10;z&#13;');
  assert.equal(escapeXmlText('x\ty\nz'), 'x\ty\nz', 'text keeps tabs and newlines');
  assert.equal(escapeXmlText('é 🙂'), 'é 🙂', 'non-ASCII and astral characters are kept');
  assert.equal(escapeXmlText('\uD800'), '\\ud800', 'a lone surrogate is made visible');
});

test('a report with every status and hostile text parses with a real XML parser and keeps the text', () => {
  const suite: JunitSuite = {
    name: `envseal verify ${NASTY}`,
    timestamp: '2026-12-02T10:00:00',
    time: 1.5,
    cases: [
      { name: 'lock-fresh', classname: 'envseal.verify', status: 'passed', time: 0.25 },
      { name: NASTY, classname: 'envseal.verify', status: 'failed', time: 0.001, message: NASTY, text: `${NASTY}\nfix: run it` },
      { name: 'engine', classname: 'envseal.verify', status: 'error', time: 0, message: 'engine down' },
      { name: 'rebuild', classname: 'envseal.verify', status: 'skipped', time: 0, message: 'not run' },
    ],
  };
  const xml = renderJunit(suite);
  const view = readJunit(xml);
  const visible = NASTY.replace('\u001b[31m', '\\u001b[31m').replace('\u001b[0m', '\\u001b[0m').replace('\u0000', '\\u0000').replace('\u0007', '\\u0007');
  const expectedText = visible.replace('\uD800', '\\ud800');
  const [s] = view.suites;
  assert.equal(s!.name, `envseal verify ${expectedText}`);
  assert.deepEqual(
    s!.cases.map((c) => c.status),
    ['passed', 'failed', 'error', 'skipped'],
  );
  // Attributes keep tabs and line breaks (as character references), text keeps them as they are, except that
  // XML parsers turn \r\n into \n in text.
  assert.equal(s!.cases[1]!.message, expectedText);
  assert.equal(s!.cases[1]!.name, expectedText);
  assert.equal(s!.cases[1]!.text, `${expectedText.replace('\r\n', '\n')}\nfix: run it`);
  assert.deepEqual([s!.attrs.tests, s!.attrs.failures, s!.attrs.errors, s!.attrs.skipped, s!.attrs.time], ['4', '1', '1', '1', '1.500']);
  assert.equal(s!.cases[1]!.time, 0.001);
  assert.ok(xml.endsWith('</testsuites>\n'));
  assert.ok(!xml.includes(']]>'), 'no CDATA terminator in the output');
});

test('the shape check finds what GitLab or the XSD would reject (so it can fail)', () => {
  const bad = parseXml('<testsuite><testcase name="a" time="x"><failure/><skipped/></testcase></testsuite>');
  assert.ok(junitProblems(bad).length >= 4, junitProblems(bad).join('\n'));
  const counts = parseXml(
    '<testsuites><testsuite name="s" tests="2" failures="0" errors="0" skipped="0" time="0" timestamp="2026-01-01T00:00:00"><testcase name="a" classname="c" time="0"><failure message="m"/></testcase></testsuite></testsuites>',
  );
  assert.deepEqual(junitProblems(counts), ['testsuite tests=2 but 1 found', 'testsuite failures=0 but 1 found']);
  assert.throws(() => parseXml('<a>\u0001</a>'), /not well-formed/);
});

test("verify's checks: ran ones pass or fail with summary, details and fix; ones not asked for are skipped", () => {
  const cases = verifyCases(
    {
      ok: false,
      fingerprint: 'sha256:1',
      checks: [
        { name: 'lock-fresh', ok: false, summary: 'envseal.lock is stale', details: ['requirements.txt: + numpy'], fix: 'run `envseal lock`' },
        { name: 'dockerfile', ok: true, summary: 'ok', details: [] },
        { name: 'record', ok: true, summary: 'ok', details: [] },
      ],
    },
    [1500, 20, 3],
  );
  assert.deepEqual(
    cases.map((c) => [c.name, c.status, c.time]),
    [
      ['lock-fresh', 'failed', 1.5],
      ['dockerfile', 'passed', 0.02],
      ['record', 'passed', 0.003],
      ['image-label', 'skipped', 0],
      ['image-contents', 'skipped', 0],
      ['rebuild', 'skipped', 0],
    ],
  );
  assert.equal(cases[0]!.message, 'envseal.lock is stale');
  assert.equal(cases[0]!.text, 'requirements.txt: + numpy\nfix: run `envseal lock`');
  assert.equal(cases[3]!.message, 'not run: pass --image REF to run it');
  const xml = renderJunit({ name: 'envseal verify', timestamp: '2026-12-02T10:00:00', time: 2, cases });
  assert.equal(readJunit(xml).suites[0]!.cases.length, 6);
});

test('an error that stopped the command is an error case; a check failure is a failure', () => {
  const ext = errorCase(
    externalError('engine.down', 'cannot reach the engine', { hint: 'start dockerd', details: ['ECONNREFUSED'] }),
    'verify',
    'envseal.verify',
    0.5,
  );
  assert.deepEqual(ext, {
    name: 'verify',
    classname: 'envseal.verify',
    status: 'error',
    time: 0.5,
    message: 'cannot reach the engine',
    text: 'ECONNREFUSED\nhint: start dockerd',
  });
  const check = errorCase(checkFailed('lock.stale', 'envseal.lock is stale'), 'lock-fresh', 'envseal.lock', 0);
  assert.equal(check.status, 'failed');
  assert.equal(errorCase(new Error('boom'), 'x', 'y', 0).message, 'boom');
});

test('--junit: without --check it is a usage error (exit 2); an input error is written as an error case', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'envseal-junit-'));
  try {
    for (const cmd of ['lock', 'generate']) {
      const res = await runCliInProcess([cmd, '--junit', 'r.xml'], { cwd: dir });
      assert.equal(res.code, 2);
      assert.match(res.stderr, new RegExp(`--junit needs --check: only \`envseal ${cmd} --check\` is a check`));
    }
    const res = await runCliInProcess(['lock', '--check', '--junit', 'reports/lock.xml'], { cwd: dir });
    assert.equal(res.code, 2, res.stderr);
    const c = readJunit(await readFile(join(dir, 'reports/lock.xml'))).suites[0]!.cases[0]!;
    assert.deepEqual([c.name, c.classname, c.status], ['lock-fresh', 'envseal.lock', 'error']);
    assert.match(c.message!, /envseal\.yaml/);
    // The report cannot be written (a directory is in the way): the command's own error stays the exit code.
    const blocked = await runCliInProcess(['verify', '--junit', 'reports'], { cwd: dir });
    assert.equal(blocked.code, 2);
    assert.match(blocked.stderr, /warning: cannot write the JUnit report reports/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
