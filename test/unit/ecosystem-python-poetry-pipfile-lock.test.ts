/**
 * poetry.lock and Pipfile.lock, followed pin for pin. The fixtures are real tool output (test/fixtures/
 * poetry-project, pipenv-project: see their READMEs): Poetry's content-hash and pipenv's _meta.hash must be
 * recomputed exactly from pyproject.toml / Pipfile (the known vectors), an edit makes the lock stale, and the
 * graph walk / sections give the packages per target and group.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { EnvsealError } from '../../src/core/errors.js';
import { parsePyproject } from '../../src/ecosystems/python/manifests/pyproject.js';
import { checkPipfileFresh, pipfileApplicable, pipfileHash } from '../../src/ecosystems/python/lockfiles/pipfile-lock.js';
import { checkPoetryFresh, poetryContentHash } from '../../src/ecosystems/python/lockfiles/poetry-lock.js';
import { pythonJsonDumps } from '../../src/ecosystems/python/lockfiles/python-json.js';
import { parseImportedLock } from '../../src/ecosystems/python/lockfiles/read.js';
import { selectImported } from '../../src/ecosystems/python/lockfiles/select.js';
import type { PipfileLock, PoetryLock } from '../../src/ecosystems/python/lockfiles/types.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';

const fixture = (dir: string, name: string) => readFileSync(new URL(`../fixtures/${dir}/${name}`, import.meta.url), 'utf8');
const PYPROJECT = fixture('poetry-project', 'pyproject.toml');
const POETRY_LOCK = fixture('poetry-project', 'poetry.lock');
const PIPFILE = fixture('pipenv-project', 'Pipfile');
const PIPFILE_LOCK = fixture('pipenv-project', 'Pipfile.lock');
const toml = (t: string) => parseToml(t) as Record<string, unknown>;

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

function poetryLock(pyproject = PYPROJECT): PoetryLock {
  const lock = parseImportedLock(POETRY_LOCK, 'poetry.lock') as PoetryLock;
  const m = parsePyproject(pyproject, 'pyproject.toml');
  const plain = (g: Record<string, { requirement: never }[]>) => Object.fromEntries(Object.entries(g).map(([k, rs]) => [k, rs.map((r) => r.requirement)]));
  lock.roots = {
    file: 'pyproject.toml',
    main: m.dependencies.map((r) => r.requirement),
    extras: plain(m.optionalDependencies as never),
    groups: plain(m.poetry!.groups as never),
  };
  return lock;
}
const picked = (lock: PoetryLock | PipfileLock, groups: string[] = []) =>
  lock.kind === 'pipfile'
    ? pipfileApplicable(lock, BOOKWORM_TARGET.python!.markers as never, { groups, extras: [] })
        .map((p) => `${p.name}==${p.version}`)
        .sort()
    : selectImported(lock, BOOKWORM_TARGET, { groups, extras: [] }).map((p) => `${p.name}==${p.version} ${p.targets.join()}`);

describe('Python json.dumps', () => {
  it('matches Python byte for byte (sorted keys, separators, ensure_ascii, null)', () => {
    assert.equal(pythonJsonDumps({ b: [1, true, null], a: 'é"\n' }), '{"a": "\\u00e9\\"\\n", "b": [1, true, null]}');
    assert.equal(pythonJsonDumps({ b: {}, a: [] }, true), '{"a":[],"b":{}}');
  });
});

describe('poetry.lock (lock-version 2.0, Poetry 1.3.2)', () => {
  it('content-hash is recomputed exactly from pyproject.toml (known vector)', () => {
    assert.equal(poetryContentHash(toml(PYPROJECT)), '8dda453a69f4fcbaa00d2727762470c7d7cc4d2bf33699c4c31f757a71e64ed7');
    checkPoetryFresh(poetryLock(), toml(PYPROJECT), 'pyproject.toml');
  });

  it('an edited dependency makes it stale, naming both files', () => {
    const edited = PYPROJECT.replace('tinyconfig = "~1.1"', 'tinyconfig = "~1.0"');
    expectError(
      () => checkPoetryFresh(poetryLock(), toml(edited), 'pyproject.toml'),
      'python.import-stale',
      /^poetry\.lock is stale against pyproject\.toml: its content-hash is 8dda/,
    );
  });

  it('walks from the project: main dependencies for both images, the dev group for the dev image', () => {
    assert.deepEqual(picked(poetryLock()), ['seal-metrics==1.0.0 deploy,dev', 'seal-utils==1.0.0 deploy,dev', 'tinyconfig==1.1.0 deploy,dev']);
    assert.deepEqual(picked(poetryLock(), ['dev']), [
      'seal-metrics==1.0.0 deploy,dev',
      'seal-plot==0.1.0 dev',
      'seal-utils==1.0.0 deploy,dev',
      'tinyconfig==1.1.0 deploy,dev',
    ]);
  });

  it('errors: unknown group, a package the lock lacks, a git source, an old lock-version, no pyproject', () => {
    expectError(() => picked(poetryLock(), ['docs']), 'python.import-unknown-group', /has no Poetry dependency group docs \(it has: dev\)/);
    const added = PYPROJECT.replace('tinyconfig = "~1.1"', 'tinyconfig = "~1.1"\nseal-legacy = "*"');
    expectError(() => picked(poetryLock(added)), 'python.import-stale', /requires seal-legacy, which the lock holds nowhere/);
    const git = POETRY_LOCK.replace(
      'type = "legacy"\nurl = "http://127.0.0.1:5080/simple"\nreference = "lab"',
      'type = "git"\nurl = "https://x/y.git"\nreference = "main"',
    );
    const lock = parseImportedLock(git, 'poetry.lock') as PoetryLock;
    lock.roots = poetryLock().roots!;
    expectError(() => picked(lock), 'python.import-unsupported', /package seal-metrics comes from a git source/);
    expectError(
      () => parseImportedLock(POETRY_LOCK.replace('lock-version = "2.0"', 'lock-version = "1.1"'), 'poetry.lock'),
      'python.import-invalid',
      /lock-version "1\.1" is not supported/,
    );
    expectError(() => picked(parseImportedLock(POETRY_LOCK, 'poetry.lock') as PoetryLock), 'python.import-invalid', /without its pyproject\.toml/);
  });
});

describe('Pipfile.lock (pipfile-spec 6, pipenv 2022.12.19)', () => {
  const lock = () => parseImportedLock(PIPFILE_LOCK, 'Pipfile.lock') as PipfileLock;

  it('_meta.hash is recomputed exactly from the Pipfile (known vector); an edit makes it stale', () => {
    assert.equal(pipfileHash(toml(PIPFILE)), '6c4581db31e6454e024b974f52b41e6878b67479b0ee1462066a856435b661bd');
    checkPipfileFresh(lock(), toml(PIPFILE), 'Pipfile');
    expectError(
      () => checkPipfileFresh(lock(), toml(PIPFILE.replace('~=1.1', '~=1.0')), 'Pipfile'),
      'python.import-stale',
      /^Pipfile\.lock is stale against Pipfile/,
    );
  });

  it('default for both images; develop (or dev) adds its packages', () => {
    assert.deepEqual(picked(lock()), ['seal-metrics==1.1.0', 'seal-utils==1.0.0', 'tinyconfig==1.1.0']);
    assert.deepEqual(picked(lock(), ['dev']), ['seal-metrics==1.1.0', 'seal-plot==0.1.0', 'seal-utils==1.0.0', 'tinyconfig==1.1.0']);
    assert.equal(lock().sections.default!.find((p) => p.name === 'seal-utils')!.index, 'http://127.0.0.1:5080/simple');
  });

  it('errors: unknown section, no sha256, a git requirement, not JSON', () => {
    expectError(() => picked(lock(), ['docs']), 'python.import-unknown-group', /has no section docs/);
    expectError(
      () => parseImportedLock(PIPFILE_LOCK.replace(/"sha256:9b58[0-9a-f]+"/g, '"md5:00"'), 'Pipfile.lock'),
      'python.import-invalid',
      /package tinyconfig 1\.1\.0 has no sha256/,
    );
    const git = PIPFILE_LOCK.replace(
      '"index": "lab",\n            "version": "==1.1.0"\n        },\n        "seal-utils"',
      '"git": "https://x/y.git", "index": "lab",\n            "version": "==1.1.0"\n        },\n        "seal-utils"',
    );
    expectError(() => parseImportedLock(git, 'Pipfile.lock'), 'python.import-unsupported', /package seal-metrics is a git requirement/);
    expectError(() => parseImportedLock('{', 'Pipfile.lock'), 'python.import-invalid', /Pipfile\.lock: not JSON/);
  });
});

describe('poetry.lock python-versions and edges with alternatives (||)', () => {
  it('a package or lock whose python-versions excludes the target is wrong-target; alternatives are read', () => {
    const alt = POETRY_LOCK.replace('python-versions = ">=3.8"', 'python-versions = "~2.7 || >=3.5"');
    const lock = parseImportedLock(alt, 'poetry.lock') as PoetryLock;
    lock.roots = poetryLock().roots!;
    assert.equal(picked(lock).length, 3);
    const old = parseImportedLock(POETRY_LOCK.replace('python-versions = ">=3.8"', 'python-versions = "~2.7 || >=3.12"'), 'poetry.lock') as PoetryLock;
    old.roots = lock.roots;
    expectError(() => picked(old), 'python.import-wrong-target', /package tinyconfig 1\.1\.0 requires Python >=2\.7,<2\.8 \|\| >=3\.12/);
    const whole = parseImportedLock(POETRY_LOCK.replace('python-versions = "^3.9"', 'python-versions = "^3.12"'), 'poetry.lock') as PoetryLock;
    whole.roots = lock.roots;
    expectError(() => picked(whole), 'python.import-wrong-target', /^poetry\.lock is for Python >=3\.12,<4\.0/);
  });
});
