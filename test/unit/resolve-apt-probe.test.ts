import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAptLock, parseDpkgQuery, parseSimulation, aptScript } from '../../src/ecosystems/apt/resolve-apt.js';
import { parseProbeOutput, probeScript } from '../../src/ecosystems/base/probe-target.js';
import { parseAptList } from '../../src/ecosystems/apt/parse-apt-list.js';
import { parseNpmManifests } from '../../src/ecosystems/npm/parse-npm.js';

test('apt simulation lines are parsed (new installs and upgrades, multiarch names)', () => {
  const text = [
    'NOTE: This is only a simulation!',
    'Inst libproc2-0 (2:4.0.2-3 Debian:12.15/oldstable [amd64])',
    'Inst libssl3 [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/oldstable-security [amd64])',
    'Inst libc6:i386 (2.36-9+deb12u14 Debian:12.15/oldstable [i386])',
    'Inst python3-sklearn-lib (1.2.1+dfsg-1 Debian:12.15/oldstable [amd64]) []',
    'Conf libproc2-0 (2:4.0.2-3 Debian:12.15/oldstable [amd64])',
  ].join('\n');
  assert.deepEqual(parseSimulation(text), [
    { name: 'libproc2-0', version: '2:4.0.2-3', architecture: 'amd64' },
    { name: 'libssl3', version: '3.0.15-1~deb12u1', architecture: 'amd64' },
    { name: 'libc6', version: '2.36-9+deb12u14', architecture: 'i386' },
    { name: 'python3-sklearn-lib', version: '1.2.1+dfsg-1', architecture: 'amd64' },
  ]);
});

test('apt lock: main closure for both targets, dev-only extras, listed packages already in the base', () => {
  const out = [
    '__ENVSEAL_SIM_MAIN__',
    'Inst a (1 s [amd64])',
    'Inst b (2 s [all])',
    '__ENVSEAL_SIM_ALL__',
    'Inst a (1 s [amd64])',
    'Inst b (2 s [all])',
    'Inst git (1:2.39 s [amd64])',
    '__ENVSEAL_DPKG__',
    'python3\t3.11.2-1+b1\tamd64\tii ',
    'a\t0.9\tamd64\tun ',
    '',
  ].join('\n');
  const lock = buildAptLock({ main: ['a', 'python3'], dev: ['git'], installRecommends: false }, out, 'img');
  assert.deepEqual(lock, [
    { name: 'a', version: '1', architecture: 'amd64', installed: false, targets: ['deploy', 'dev'] },
    { name: 'b', version: '2', architecture: 'all', installed: false, targets: ['deploy', 'dev'] },
    { name: 'git', version: '1:2.39', architecture: 'amd64', installed: false, targets: ['dev'] },
    { name: 'python3', version: '3.11.2-1+b1', architecture: 'amd64', installed: true, targets: ['deploy', 'dev'] },
  ]);
  assert.throws(
    () => buildAptLock({ main: ['a'], dev: [], installRecommends: false }, 'garbage', 'img'),
    (e: any) => e.code === 'apt.resolve-failed' && e.exitCode === 3,
  );
  assert.deepEqual(parseDpkgQuery('x\t1\tamd64\tii \ny\t2\tall\trc \n'), [{ name: 'x', version: '1', architecture: 'amd64' }]);
  assert.match(aptScript({ main: ['a'], dev: [], installRecommends: true }), /--install-recommends/);
});

test('probe output is parsed into the target description', () => {
  const py = {
    executable: '/usr/bin/python3',
    version: '3.11.2',
    implementation: 'cpython',
    abiflags: '',
    soabi: 'cpython-311-x86_64-linux-gnu',
    externallyManaged: true,
    markers: { python_version: '3.11' },
  };
  const out = [
    'ENVSEAL_OS=debian|12|bookworm',
    'ENVSEAL_PATH=/usr/bin:/bin',
    'ENVSEAL_MACHINE=x86_64',
    'ENVSEAL_ARCH=amd64',
    'ENVSEAL_APT=1',
    'ENVSEAL_LIBC=glibc|2.36',
    `ENVSEAL_PY=${JSON.stringify(py)}`,
  ].join('\n');
  assert.deepEqual(parseProbeOutput(out, 'python3', 'img'), {
    os: { id: 'debian', versionId: '12', codename: 'bookworm' },
    architecture: 'amd64',
    machine: 'x86_64',
    path: '/usr/bin:/bin',
    libc: { kind: 'glibc', version: '2.36' },
    hasApt: true,
    python: py,
  });
  assert.throws(
    () => parseProbeOutput('ENVSEAL_MACHINE=x86_64\nENVSEAL_PY_MISSING=1\n', 'python3', 'alpine'),
    (e: any) => e.code === 'probe.no-python' && e.exitCode === 2 && /alpine/.test(e.message),
  );
  assert.equal(parseProbeOutput('ENVSEAL_MACHINE=aarch64\nENVSEAL_LIBC=musl|1.2.4\n', null, 'x').libc?.kind, 'musl');
  assert.match(probeScript('python3'), /EXTERNALLY-MANAGED/);
});

test('apt lists: comments, one package per line, errors with file:line', () => {
  assert.deepEqual(
    parseAptList('# tools\ngit # fetch\n\npython3-sklearn=1.2.1+dfsg-1\nlibc6:i386\n', 'apt.txt').map((e) => [e.name, e.line]),
    [
      ['git', 2],
      ['python3-sklearn=1.2.1+dfsg-1', 4],
      ['libc6:i386', 5],
    ],
  );
  // issue 14 item 8: "foo bar" was read as two packages; a package name holds no space (Debian Policy 5.6.1).
  assert.throws(
    () => parseAptList('git\nfoo bar\n', 'apt.txt'),
    (e: any) =>
      e.code === 'manifest.apt.syntax' &&
      e.exitCode === 2 &&
      e.details[0] === 'apt.txt:2: "foo bar" holds more than one word: list one Debian package per line',
  );
  assert.throws(
    () => parseAptList('x\n', 'apt.txt'),
    (e: any) => e.details[0].startsWith('apt.txt:1: "x" is not a Debian package name'),
  );
  assert.throws(
    () => parseAptList('ok\nBad_Name\n', 'apt.txt'),
    (e: any) => e.code === 'manifest.apt.syntax' && e.details[0].startsWith('apt.txt:2: "Bad_Name"'),
  );
});

test('npm: lockfile hash, out-of-sync and old lockfiles are errors that say how to fix them', () => {
  const pkg = { path: 'package.json', text: JSON.stringify({ name: 'w', dependencies: { a: '^1.0.0' } }) };
  const lock = {
    path: 'package-lock.json',
    text: JSON.stringify({ lockfileVersion: 3, packages: { '': { dependencies: { a: '^1.0.0' } }, 'node_modules/a': { version: '1.0.1' } } }),
  };
  const m = parseNpmManifests(pkg, lock);
  assert.equal(m.packages, 1);
  assert.equal(m.lockfileVersion, 3);
  assert.match(m.lockfileSha256, /^[0-9a-f]{64}$/);
  const drifted = { ...pkg, text: JSON.stringify({ dependencies: { a: '^2.0.0' } }) };
  assert.throws(
    () => parseNpmManifests(drifted, lock),
    (e: any) => e.code === 'manifest.npm.out-of-sync' && /npm install --package-lock-only/.test(e.hint) && /\^2\.0\.0/.test(e.details[0]),
  );
  assert.throws(
    () => parseNpmManifests(pkg, { ...lock, text: '{"lockfileVersion":1}' }),
    (e: any) => e.code === 'manifest.npm.lockfile-version',
  );
  const stale = {
    ...lock,
    text: JSON.stringify({ lockfileVersion: 3, packages: { '': { dependencies: { a: '^1.0.0' } }, 'node_modules/a': { version: '2.0.0' } } }),
  };
  assert.throws(
    () => parseNpmManifests(pkg, stale),
    (e: any) => e.code === 'manifest.npm.out-of-sync' && /installs 2\.0\.0, which does not satisfy \^1\.0\.0/.test(e.details[0]),
  );
  const missing = { ...lock, text: JSON.stringify({ lockfileVersion: 3, packages: { '': { dependencies: { a: '^1.0.0' } } } }) };
  assert.throws(
    () => parseNpmManifests(pkg, missing),
    (e: any) => /a: in package\.json dependencies but not installed/.test(e.details[0]),
  );
  assert.throws(
    () => parseNpmManifests(pkg, { ...lock, text: '{' }),
    (e: any) => e.code === 'manifest.npm.syntax' && e.message.startsWith('package-lock.json:'),
  );
});
