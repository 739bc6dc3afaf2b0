/**
 * Following an existing pylock.toml (PEP 751): parsing, file selection for the target's tags, markers with the
 * selected groups/extras, the stale-against-pyproject check, the index check, and every error with its code,
 * exit code and message naming the lock file and the package.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/ports.js';
import { exportPylock } from '../../src/ecosystems/python/export.js';
import { evaluateMarker, type MarkerEnvironment } from '../../src/ecosystems/python/pep/marker.js';
import { importLockedPackages } from '../../src/ecosystems/python/lockfiles/import-lock.js';
import { parsePylock } from '../../src/ecosystems/python/lockfiles/pylock.js';
import { checkAgainstPyproject, selectImported } from '../../src/ecosystems/python/lockfiles/select.js';
import type { ImportedLockRef } from '../../src/ecosystems/python/schema.js';
import { sampleLock } from '../fixtures/lock/sample-lock.js';
import { MemoryIndex } from '../fixtures/resolve/memory-index.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';

const INDEX = 'http://index.test/simple';
const H = (c: string) => c.repeat(64);

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof EnvsealError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, message);
    assert.ok(err.hint);
    return true;
  });
}

async function expectRejection(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof EnvsealError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, message);
    return true;
  });
}

const LOCK = `lock-version = "1.0"
environments = ["sys_platform == 'linux'"]
requires-python = ">=3.9"
extras = ["plot"]
dependency-groups = ["dev", "docs"]
default-groups = ["main"]
created-by = "hand"

[[packages]]
name = "Seal_Metrics"
version = "1.2.0"
index = "${INDEX}/"
wheels = [
  { name = "seal_metrics-1.2.0-py3-none-any.whl", url = "${INDEX}/../files/seal_metrics-1.2.0-py3-none-any.whl", hashes = { sha256 = "${H('a')}" } },
  { name = "seal_metrics-1.2.0-cp311-cp311-manylinux_2_17_x86_64.whl", hashes = { sha256 = "${H('b')}" } },
  { name = "seal_metrics-1.2.0-cp311-cp311-manylinux_2_17_aarch64.whl", hashes = { sha256 = "${H('c')}" } },
]

[[packages]]
name = "winonly"
version = "1.0"
marker = "sys_platform == 'win32'"
wheels = [{ name = "winonly-1.0-py3-none-win_amd64.whl", hashes = { sha256 = "${H('d')}" } }]

[[packages]]
name = "devtool"
version = "2.0"
marker = "'dev' in dependency_groups"
sdist = { name = "devtool-2.0.tar.gz", upload-time = 2026-01-02T03:04:05Z, size = 1234, hashes = { sha256 = "${H('e')}" } }

[[packages]]
name = "plotlib"
version = "0.3"
marker = "'plot' in extras and python_version >= '3.8'"
wheels = [{ url = "https://files.test/p/plotlib-0.3-py3-none-any.whl?x=1", hashes = { sha256 = "${H('f')}" } }]
`;

const sel = (groups: string[] = [], extras: string[] = []) => ({ groups, extras });

describe('pylock.toml: parsing', () => {
  it('reads packages, normalised names, files, markers and the lock-level sets', () => {
    const lock = parsePylock(LOCK, 'pylock.toml');
    assert.deepEqual(lock.dependencyGroups, ['dev', 'docs']);
    assert.deepEqual(lock.defaultGroups, ['main']);
    assert.equal(lock.requiresPython, '>=3.9');
    assert.deepEqual(
      lock.packages.map((p) => p.name),
      ['seal-metrics', 'winonly', 'devtool', 'plotlib'],
    );
    assert.equal(lock.packages[0]!.index, INDEX);
    assert.deepEqual(lock.packages[2]!.sdist, { filename: 'devtool-2.0.tar.gz', sha256: H('e'), size: 1234, uploadTime: '2026-01-02T03:04:05Z' });
    assert.equal(lock.packages[3]!.wheels[0]!.filename, 'plotlib-0.3-py3-none-any.whl', 'the name comes from the URL when absent');
  });

  it('reads what `envseal export` writes', () => {
    const s = sampleLock();
    const text = exportPylock({ section: s.python!, target: s.target, fingerprint: s.fingerprint, lockFile: 'envseal.lock', toolVersion: '0.1.0' });
    const lock = parsePylock(text, 'pylock.toml');
    assert.deepEqual(lock.packages.map((p) => `${p.name}==${p.version}`).sort(), s.python!.packages.map((p) => `${p.name}==${p.version}`).sort());
  });

  it('refuses invalid TOML, a missing or unsupported lock-version, a file without sha256, and non-index sources', () => {
    expectError(() => parsePylock('lock-version = \n', 'pylock.toml'), 'python.import-invalid', /^pylock\.toml:1:\d+: invalid TOML/);
    expectError(() => parsePylock('[[packages]]\nname = "x"\n', 'pylock.toml'), 'python.import-invalid', /pylock\.toml: has no lock-version/);
    expectError(() => parsePylock('lock-version = "2.0"\n', 'pylock.toml'), 'python.import-invalid', /lock-version "2\.0" is not supported/);
    expectError(
      () =>
        parsePylock(
          'lock-version = "1.0"\n[[packages]]\nname = "x"\nversion = "1"\nwheels = [{ name = "x-1-py3-none-any.whl", hashes = { md5 = "0" } }]\n',
          'pylock.toml',
        ),
      'python.import-invalid',
      /package x wheels\[0\] \(x-1-py3-none-any\.whl\) has no sha256/,
    );
    expectError(
      () => parsePylock('lock-version = "1.0"\n[[packages]]\nname = "x"\nversion = "1"\n', 'pylock.toml'),
      'python.import-invalid',
      /package x 1 names no wheel and no sdist/,
    );
    expectError(
      () =>
        parsePylock(
          'lock-version = "1.0"\n[[packages]]\nname = "proj"\nversion = "1"\nvcs = { type = "hg", url = "https://g.test/p", commit-id = "abc" }\n',
          'pylock.toml',
        ),
      'python.import-unsupported',
      /pylock\.toml: package proj is a hg source; envseal locks git repositories by URL only/,
    );
    const git = parsePylock(
      'lock-version = "1.0"\n[[packages]]\nname = "proj"\nversion = "1"\nvcs = { type = "git", url = "https://g.test/p", commit-id = "abc", subdirectory = "sub" }\n',
      'pylock.toml',
    );
    assert.deepEqual(git.kind === 'pylock' && git.packages[0]?.git, { repo: 'https://g.test/p', commit: 'abc', subdirectory: 'sub' });
  });
});

describe('pylock.toml: what applies to the target', () => {
  const lock = parsePylock(LOCK, 'pylock.toml');

  it('picks the wheel for the target tags (manylinux x86_64 over py3-none-any), skips packages whose marker is false', () => {
    const out = selectImported(lock, BOOKWORM_TARGET, sel());
    assert.deepEqual(
      out.map((p) => `${p.name} ${p.file.filename}`),
      ['seal-metrics seal_metrics-1.2.0-cp311-cp311-manylinux_2_17_x86_64.whl'],
    );
  });

  it('groups and extras turn on the packages behind `in dependency_groups` / `in extras` markers; the sdist is the file when there is no wheel', () => {
    const out = selectImported(lock, BOOKWORM_TARGET, sel(['dev'], ['plot']));
    assert.deepEqual(
      out.map((p) => `${p.name} ${p.targets.join()}`),
      ['devtool dev', 'plotlib deploy,dev', 'seal-metrics deploy,dev'],
      'what only a selected group brings in is for the dev image; extras are for both',
    );
    assert.deepEqual(
      out.map((p) => `${p.name}==${p.version} ${p.file.filename}`),
      [
        'devtool==2.0 devtool-2.0.tar.gz',
        'plotlib==0.3 plotlib-0.3-py3-none-any.whl',
        'seal-metrics==1.2.0 seal_metrics-1.2.0-cp311-cp311-manylinux_2_17_x86_64.whl',
      ],
    );
  });

  it('an unknown group or extra is exit 2 listing what the lock has', () => {
    expectError(
      () => selectImported(lock, BOOKWORM_TARGET, sel(['test'])),
      'python.import-unknown-group',
      /pylock\.toml has no dependency group test \(it has: dev, docs\)/,
    );
    expectError(() => selectImported(lock, BOOKWORM_TARGET, sel([], ['gpu'])), 'python.import-unknown-group', /has no extra gpu \(it has: plot\)/);
  });

  it('a lock for another environment or Python is exit 2', () => {
    expectError(
      () => selectImported({ ...lock, environments: ["sys_platform == 'darwin'"] }, BOOKWORM_TARGET, sel()),
      'python.import-wrong-target',
      /pylock\.toml is not for CPython 3\.11\.2 on Linux x86_64 \(glibc 2\.36\): none of its environments holds/,
    );
    expectError(
      () => selectImported({ ...lock, requiresPython: '>=3.12' }, BOOKWORM_TARGET, sel()),
      'python.import-wrong-target',
      /pylock\.toml requires Python >=3\.12, but the target has 3\.11\.2/,
    );
    const pkg = { ...lock.packages[0]!, requiresPython: '<3.10' };
    expectError(
      () => selectImported({ ...lock, packages: [pkg] }, BOOKWORM_TARGET, sel()),
      'python.import-wrong-target',
      /pylock\.toml: package seal-metrics 1\.2\.0 requires Python <3\.10/,
    );
  });

  it('no file for the target is exit 2 naming the lock file and the package', () => {
    const pkg = { ...lock.packages[0]!, wheels: lock.packages[0]!.wheels.slice(2) };
    expectError(
      () => selectImported({ ...lock, packages: [pkg] }, BOOKWORM_TARGET, sel()),
      'python.import-no-file',
      /^pylock\.toml: package seal-metrics 1\.2\.0 has no file for CPython 3\.11\.2 on Linux x86_64/,
    );
  });

  it('two versions of one package applying at once is exit 2', () => {
    const twice = { ...lock, packages: [lock.packages[0]!, { ...lock.packages[0]!, version: '1.3.0' }] };
    expectError(
      () => selectImported(twice, BOOKWORM_TARGET, sel()),
      'python.import-invalid',
      /package seal-metrics applies twice to the target \(1\.2\.0 and 1\.3\.0\)/,
    );
  });

  it('is stale when pyproject.toml requires what the lock does not pin, or pins outside the range', () => {
    const out = selectImported(lock, BOOKWORM_TARGET, sel());
    const check = (requirements: string[]) => checkAgainstPyproject(lock, out, { path: 'pyproject.toml', requirements }, BOOKWORM_TARGET);
    check(['seal-metrics>=1.0', "pywin>=1; sys_platform == 'win32'"]);
    expectError(
      () => check(['seal-metrics>=1.3']),
      'python.import-stale',
      /pylock\.toml is stale: pyproject\.toml requires seal-metrics>=1\.3, but the lock pins seal-metrics 1\.2\.0/,
    );
    expectError(() => check(['numpy']), 'python.import-stale', /pylock\.toml is stale: pyproject\.toml requires numpy, which the lock does not pin/);
  });
});

describe('markers: the lock-file sets (PEP 751)', () => {
  const env = BOOKWORM_TARGET.python!.markers as unknown as MarkerEnvironment;
  it('evaluates membership with lockSets and refuses the sets without them', () => {
    const lockSets = { extras: ['Plot'], dependencyGroups: ['dev'] };
    assert.equal(evaluateMarker("'dev' in dependency_groups", env, { lockSets }), true);
    assert.equal(evaluateMarker("'docs' not in dependency_groups and 'plot' in extras", env, { lockSets }), true);
    assert.equal(evaluateMarker("'docs' in dependency_groups", env, { lockSets }), false);
    expectError(() => evaluateMarker("'dev' in dependency_groups", env), 'pep508.marker.evaluation', /only defined when evaluating a lock file/);
    expectError(() => evaluateMarker("dependency_groups == 'dev'", env, { lockSets }), 'pep508.marker.evaluation', /can only be tested with/);
  });
});

describe('pylock.toml: checked against the index', () => {
  const index = new MemoryIndex({ [INDEX]: { alpha: [{ version: '1.0.0' }] } });
  const filename = 'alpha-1.0.0-py3-none-any.whl';
  const sha = index.sha256Of(INDEX, filename);
  const text = (sha256: string, file = filename, name = 'alpha') =>
    `lock-version = "1.0"\n[[packages]]\nname = "${name}"\nversion = "1.0.0"\nindex = "${INDEX}"\nwheels = [{ name = "${file}", hashes = { sha256 = "${sha256}" } }]\n`;
  const ref: ImportedLockRef = { path: 'pylock.toml', kind: 'pylock', sha256: H('0'), groups: [], extras: [] };
  const run = (t: string) =>
    importLockedPackages({ lock: parsePylock(t, 'pylock.toml'), ref, target: BOOKWORM_TARGET, defaultIndex: INDEX }, { index, logger: silentLogger });

  it('records the file as the index lists it, like a resolved package', async () => {
    const [p] = await run(text(sha));
    assert.deepEqual(p, {
      name: 'alpha',
      version: '1.0.0',
      file: { filename, url: `${INDEX}/../files/alpha/${filename}`, sha256: sha, size: 1000 + filename.length },
      index: INDEX,
      via: ['pylock.toml'],
      targets: ['deploy', 'dev'],
    });
  });

  it('a hash that disagrees with the index, a file or project the index lacks are exit 2 naming the package', async () => {
    await expectRejection(
      run(text(H('9'))),
      'python.import-hash-mismatch',
      new RegExp(`^pylock\\.toml: package alpha 1\\.0\\.0: the lock's sha256 of ${filename} is ${H('9')}, the index ${INDEX} gives ${sha}`),
    );
    await expectRejection(
      run(text(sha, 'alpha-1.0.0-1-py3-none-any.whl')),
      'python.import-not-on-index',
      /package alpha 1\.0\.0: the index http:\/\/index\.test\/simple does not list alpha-1\.0\.0-1-py3-none-any\.whl/,
    );
    await expectRejection(
      run(text(sha, 'beta-1.0.0-py3-none-any.whl', 'beta')),
      'python.import-not-on-index',
      /pylock\.toml: package beta is not on the index/,
    );
  });
});
