import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderDockerfile } from '../../src/dockerfile/render-dockerfile.js';
import { renderTemplate } from '../../src/dockerfile/template.js';
import { dockerfileQuote, shellQuote } from '../../src/core/dockerfile-quote.js';
import { finalizeLock } from '../../src/lock/lock-file.js';
import { sampleDraft, sampleLock } from '../fixtures/lock/sample-lock.js';
import { assertGolden } from '../lab/golden.js';

const template = readFileSync(new URL('../../templates/Dockerfile.tmpl', import.meta.url), 'utf8');
const seedHook = readFileSync(new URL('../../templates/envseal_seed.py', import.meta.url), 'utf8');
const opts = {
  template,
  seedHook,
  lockPath: 'envseal.lock',
  lockDigest: `sha256:${'7'.repeat(64)}`,
  toolVersion: '0.1.0',
  sbom: { path: 'envseal.sbom.cdx.json', digest: `sha256:${'5'.repeat(64)}` },
};

test('renders the sample lock exactly as the golden Dockerfile', () => {
  assertGolden('sample.Dockerfile', renderDockerfile(sampleLock(), opts));
});

test('a lock without apt, dev extras or deploy command renders the minimal golden Dockerfile', () => {
  const d = sampleDraft();
  d.apt = null;
  d.python!.packages = d.python!.packages.filter((p) => p.targets.includes('deploy'));
  d.python!.venv = null;
  d.python!.systemSitePackages = false;
  d.targets.deploy = { copy: [], user: 'runner', uid: 20000, env: { MODE: 'prod $HOME "q"' } };
  d.targets.dev.env = {};
  d.env = {};
  assertGolden('minimal.Dockerfile', renderDockerfile(finalizeLock(d), opts));
});

test('nothing unpinned: every FROM has a digest, every apt/pip install an exact version and hash', () => {
  const text = renderDockerfile(sampleLock(), opts);
  for (const line of text.split('\n').filter((l) => l.startsWith('FROM '))) {
    assert.match(line, /^FROM (\S+@sha256:[0-9a-f]{64}|deps) AS \w+$/);
  }
  const aptLines = text.split('\n').filter((l) => /^\s+'?[a-z0-9.+-]+(:[a-z0-9]+)?=/.test(l) && !l.includes('--hash'));
  assert.ok(aptLines.length >= 3, 'apt packages listed with versions');
  const pipLines = text.split('\n').filter((l) => l.includes('--hash=sha256:'));
  assert.equal(pipLines.length, 3);
  for (const l of pipLines) assert.match(l, /'[a-z0-9-]+==[^ ]+ --hash=sha256:[0-9a-f]{64}'/);
  assert.match(text, /--require-hashes/);
  assert.match(text, /--no-deps/);
  assert.doesNotMatch(text, /python3 '?=/, 'installed base packages are not reinstalled');
});

test('dependency layers come before any project source; no stage installs after copying source', () => {
  const text = renderDockerfile(sampleLock(), opts);
  const stages = text
    .split(/^FROM /m)
    .slice(1)
    .map((s) => `FROM ${s}`);
  assert.deepEqual(
    stages.map((s) => /^FROM \S+ AS (\w+)/.exec(s)![1]),
    ['deps', 'deploy', 'dev'],
  );
  const [deps, deploy, dev] = stages as [string, string, string];
  assert.match(deps, /apt-get install/);
  assert.match(deps, /pip install/);
  assert.doesNotMatch(deps, /^COPY /m, 'the dependency stage copies nothing from the project');
  assert.doesNotMatch(deploy, /apt-get install|pip install/, 'deploy adds no packages on top of deps');
  assert.match(deploy, /^COPY \["train\.py", "\/workspace\/train\.py"\]$/m);
  assert.doesNotMatch(dev, /^COPY \[/m, 'dev mounts the project instead of copying it');
});

test('labels and env carry the fingerprint and lock digest; the lock is copied into the image', () => {
  const lock = sampleLock();
  const text = renderDockerfile(lock, opts);
  assert.equal(text.split(`dev.envseal.fingerprint="${lock.fingerprint}"`).length - 1, 2);
  assert.equal(text.split(`dev.envseal.lock-digest="${opts.lockDigest}"`).length - 1, 2);
  assert.equal(text.split(`ENV ENVSEAL_FINGERPRINT=${lock.fingerprint}`).length - 1, 2);
  assert.equal(text.split('COPY envseal.lock /etc/envseal/lock.json').length - 1, 2);
  assert.equal(text.split('COPY envseal.sbom.cdx.json /etc/envseal/sbom.cdx.json').length - 1, 2, 'the SBOM next to the lock in both targets');
  assert.equal(text.split(`dev.envseal.sbom-digest="${opts.sbom.digest}"`).length - 1, 2);
  assert.match(text, /org\.opencontainers\.image\.created="2026-11-27T12:00:00Z"/);
  assert.match(text, /^# fingerprint: sha256:/m);
});

test('the lock must be inside the build context', () => {
  assert.throws(
    () => renderDockerfile(sampleLock(), { ...opts, lockPath: '../elsewhere.lock' }),
    (e: any) => e.code === 'generate.lock-outside' && e.exitCode === 2,
  );
});

test('quoting: shell words and Dockerfile values', () => {
  assert.equal(shellQuote('numpy==1.0'), 'numpy==1.0');
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(dockerfileQuote('a $B "c" \\d', 'x'), '"a \\$B \\"c\\" \\\\d"');
  assert.throws(
    () => dockerfileQuote('a\nb', 'env X'),
    (e: any) => e.code === 'dockerfile.newline' && /env X/.test(e.message),
  );
});

test('template: conditionals, indentation of blocks, unknown names are bugs', () => {
  const t = 'A\n{{#if x}}\n  {{block}}\n{{/if}}\nB{{#if y}} tail{{/if}}\n{{empty}}\nC\n';
  assert.equal(renderTemplate(t, { x: true, block: 'one\ntwo', y: '', empty: '' }), 'A\n  one\n  two\nB\nC\n');
  assert.equal(renderTemplate(t, { x: false, block: 'z', y: 'yes', empty: '' }), 'A\nB tail\nC\n');
  assert.throws(
    () => renderTemplate('{{missing}}', {}),
    (e: any) => e.code === 'template.unknown' && e.exitCode === 70,
  );
});

test('apt from a snapshot archive: sources rewritten before apt-get update, Valid-Until ignored', () => {
  const d = sampleDraft();
  d.apt!.snapshot = { timestamp: '20261127T120000Z', url: 'http://snapshot.debian.org/archive' };
  const text = renderDockerfile(finalizeLock(d), opts);
  assert.match(
    text,
    /rm -f \/etc\/apt\/sources\.list\.d\/\*\.list \/etc\/apt\/sources\.list\.d\/\*\.sources \\\n && printf '%s\\n' 'deb \[check-valid-until=no\] http:\/\/snapshot\.debian\.org\/archive\/debian\/20261127T120000Z bookworm main' 'deb \[check-valid-until=no\] http:\/\/snapshot\.debian\.org\/archive\/debian\/20261127T120000Z bookworm-updates main' 'deb \[check-valid-until=no\] http:\/\/snapshot\.debian\.org\/archive\/debian-security\/20261127T120000Z bookworm-security main' > \/etc\/apt\/sources\.list \\\n && apt-get update/,
  );
  assertGolden('snapshot.Dockerfile', text);
});
