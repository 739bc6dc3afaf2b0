/**
 * Following a uv.lock (version 1): the graph walk from the project through markers, extras (also extras of
 * dependencies) and dev groups, forked versions told apart by the edge or by resolution-markers, the file for
 * the target's tags, staleness against pyproject.toml (`[package.metadata]`), and each error with its code.
 * The fixture (test/fixtures/uv-project) is hand-written in uv's format, as uv is not installable here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import type { TargetProbe } from '../../src/core/ground.js';
import { readDependencyGroups } from '../../src/ecosystems/python/manifests/dependency-groups.js';
import { parsePyproject } from '../../src/ecosystems/python/manifests/pyproject.js';
import { parseImportedLock } from '../../src/ecosystems/python/lockfiles/read.js';
import { selectImported } from '../../src/ecosystems/python/lockfiles/select.js';
import type { UvLock } from '../../src/ecosystems/python/lockfiles/types.js';
import { checkUvFresh, pyprojectInputs, uvRecordedInputs } from '../../src/ecosystems/python/lockfiles/uv.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/uv-project/${name}`, import.meta.url), 'utf8');
const UV = fixture('uv.lock');
const PYPROJECT = fixture('pyproject.toml');

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

const load = (text = UV) => parseImportedLock(text, 'uv.lock') as UvLock;
const picked = (lock: UvLock, groups: string[] = [], extras: string[] = [], target: TargetProbe = BOOKWORM_TARGET) =>
  selectImported(lock, target, { groups, extras }).map((p) => `${p.name}==${p.version} ${p.file.filename}`);

function stale(pyproject: string): void {
  const lock = load();
  const parsed = parsePyproject(pyproject, 'pyproject.toml');
  const reqs = (rs: typeof parsed.dependencies) => rs.map((r) => r.requirement);
  const optional = Object.fromEntries(Object.entries(parsed.optionalDependencies).map(([g, rs]) => [g, reqs(rs)]));
  checkUvFresh(
    lock,
    uvRecordedInputs(lock),
    pyprojectInputs(reqs(parsed.dependencies), optional, readDependencyGroups(pyproject, 'pyproject.toml')),
    'pyproject.toml',
  );
}

describe('uv.lock: what applies to the target', () => {
  it('is told from a pylock by its content, and reads the packages with their registry and files', () => {
    const lock = load();
    assert.equal(lock.kind, 'uv');
    assert.equal(lock.packages.length, 10);
    const numpy = lock.packages.find((p) => p.name === 'numpy-lite' && p.version === '1.26.4')!;
    assert.equal(numpy.registry, 'https://pypi.org/simple');
    assert.equal(numpy.wheels[1]!.filename, 'numpy_lite-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl');
    assert.equal(numpy.wheels[1]!.size, 14305);
  });

  it('walks from the project: no extras, no groups (unlike `uv sync`, dev only when asked); markers for the target; the fork for Python 3.11', () => {
    assert.deepEqual(picked(load()), [
      'numpy-lite==1.26.4 numpy_lite-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      'seal-metrics==1.2.0 seal_metrics-1.2.0-py3-none-any.whl',
      'tinyconfig==1.1.0 tinyconfig-1.1.0-py3-none-any.whl',
    ]);
  });

  it('an extra brings its packages and the extras they ask of their dependencies (seal-metrics[fast]); dev groups add theirs', () => {
    const withPlot = picked(load(), [], ['plot']);
    assert.ok(withPlot.includes('seal-plot==0.1.0 seal_plot-0.1.0-py3-none-any.whl'));
    assert.ok(withPlot.includes('seal-speedups==0.3.0 seal_speedups-0.3.0-cp311-cp311-manylinux_2_28_x86_64.whl'), 'the glibc wheel, not the musl one');
    assert.deepEqual(
      picked(load(), ['dev']).filter((p) => /ruff|devtools/.test(p)),
      ['ruff-lite==0.1.0 ruff_lite-0.1.0-py3-none-any.whl', 'seal-devtools==2.0.0 seal_devtools-2.0.0-py3-none-any.whl'],
    );
    assert.equal(picked(load(), ['lint']).filter((p) => /ruff|devtools/.test(p)).length, 1);
    const targets = selectImported(load(), BOOKWORM_TARGET, { groups: ['dev'], extras: [] }).map((p) => `${p.name} ${p.targets.join()}`);
    assert.deepEqual(targets, ['numpy-lite deploy,dev', 'ruff-lite dev', 'seal-devtools dev', 'seal-metrics deploy,dev', 'tinyconfig deploy,dev']);
  });

  it('a name locked at two versions is told apart by resolution-markers when the edge does not say', () => {
    const bare = UV.replace(
      /\{ name = "numpy-lite", version = "[^"]+", source = \{ registry = "https:\/\/pypi\.org\/simple" \}, marker = "[^"]+" \}/g,
      '{ name = "numpy-lite" }',
    );
    assert.notEqual(bare, UV);
    assert.ok(picked(load(bare)).includes('numpy-lite==1.26.4 numpy_lite-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'));
    const py312: TargetProbe = {
      ...BOOKWORM_TARGET,
      python: {
        ...BOOKWORM_TARGET.python!,
        version: '3.12.1',
        markers: { ...BOOKWORM_TARGET.python!.markers, python_full_version: '3.12.1', python_version: '3.12' },
      },
    };
    assert.ok(picked(load(), [], [], py312).includes('numpy-lite==2.1.0 numpy_lite-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'));
  });

  it('errors: unknown group or extra, a non-index source, no file for the target, an unsupported version, no project', () => {
    expectError(() => picked(load(), ['docs']), 'python.import-unknown-group', /uv\.lock has no dev group docs \(it has: dev, lint\)/);
    expectError(() => picked(load(), [], ['gpu']), 'python.import-unknown-group', /uv\.lock has no extra gpu \(it has: plot\)/);
    const git = UV.replace(
      '{ name = "tinyconfig" },\n    { name = "winonly"',
      '{ name = "tinyconfig" },\n    { name = "gitdep" },\n    { name = "winonly"',
    ).concat('\n[[package]]\nname = "gitdep"\nversion = "0.1.0"\nsource = { git = "https://git.test/gitdep?rev=v0.1&subdirectory=py#abc123" }\n');
    // A git pin is selected with its repository, commit and subdirectory (import-git.ts checks and builds it).
    const gitPin = selectImported(load(git), BOOKWORM_TARGET, { groups: [], extras: [] }).find((p) => p.name === 'gitdep');
    assert.deepEqual(gitPin?.git, { repo: 'https://git.test/gitdep', commit: 'abc123', subdirectory: 'py' });
    assert.equal(gitPin?.direct, true);
    const svn = UV.replace(
      '{ name = "tinyconfig" },\n    { name = "winonly"',
      '{ name = "tinyconfig" },\n    { name = "svndep" },\n    { name = "winonly"',
    ).concat('\n[[package]]\nname = "svndep"\nversion = "0.1.0"\nsource = { directory = "../svndep" }\n');
    expectError(
      () => picked(load(svn)),
      'python.import-unsupported',
      /^uv\.lock: package svndep comes from a directory source; envseal installs from indexes only/,
    );
    const noWheel = UV.replace(/sdist = \{ url = "[^"]*tinyconfig-1\.1\.0\.tar\.gz"[^\n]*\n/, '').replace(
      /tinyconfig-1\.1\.0-py3-none-any\.whl/,
      'tinyconfig-1.1.0-py3-none-win_amd64.whl',
    );
    expectError(() => picked(load(noWheel)), 'python.import-no-file', /^uv\.lock: package tinyconfig 1\.1\.0 has no file for CPython 3\.11\.2 on Linux x86_64/);
    expectError(() => load(UV.replace('version = 1\n', 'version = 2\n')), 'python.import-invalid', /uv\.lock: uv\.lock version 2 is not supported/);
    expectError(
      () => picked(load(UV.replace('source = { editable = "." }', 'source = { registry = "https://pypi.org/simple" }'))),
      'python.import-invalid',
      /has no project package/,
    );
    expectError(() => load(UV.replace('hash = "sha256:', 'hash = "md5:')), 'python.import-invalid', /has no sha256 hash/);
    expectError(
      () => picked(load(UV.replace('requires-python = ">=3.10"', 'requires-python = ">=3.12"'))),
      'python.import-wrong-target',
      /uv\.lock requires Python >=3\.12, but the target has 3\.11\.2/,
    );
  });
});

describe('uv.lock: stale against pyproject.toml', () => {
  it('is fresh when [package.metadata] records what pyproject.toml declares (include-group expanded)', () => {
    stale(PYPROJECT);
    stale(PYPROJECT.replace('"tinyconfig~=1.1",', '"TinyConfig ~= 1.1",'));
  });

  it('a changed range, a new dependency, a removed extra or group member is python.import-stale naming both files', () => {
    expectError(
      () => stale(PYPROJECT.replace('tinyconfig~=1.1', 'tinyconfig~=1.2')),
      'python.import-stale',
      /uv\.lock is stale against pyproject\.toml: pyproject\.toml declares tinyconfig~=1\.2, .*; the lock was made for tinyconfig~=1\.1/,
    );
    expectError(
      () => stale(PYPROJECT.replace('"tinyconfig~=1.1",', '"tinyconfig~=1.1",\n    "scipy-lite>=1",')),
      'python.import-stale',
      /declares scipy-lite>=1, which the lock was not made for/,
    );
    expectError(
      () => stale(PYPROJECT.replace('plot = ["seal-plot>=0.1"]', 'plot = []')),
      'python.import-stale',
      /the lock was made for seal-plot>=0\.1 \(extra plot\), which pyproject\.toml no longer declares/,
    );
    expectError(
      () => stale(PYPROJECT.replace('lint = ["ruff-lite==0.1.0"]', 'lint = ["ruff-lite==0.2.0"]')),
      'python.import-stale',
      /ruff-lite==0\.2\.0 \(group dev\)/,
    );
  });

  it('dependency groups: include-group cycles and unknown groups are pyproject errors', () => {
    assert.throws(
      () => readDependencyGroups('[dependency-groups]\na = [{ include-group = "b" }]\nb = [{ include-group = "a" }]\n', 'pyproject.toml'),
      /includes itself \(a > b > a\)/,
    );
    assert.throws(() => readDependencyGroups('[dependency-groups]\na = [{ include-group = "c" }]\n', 'pyproject.toml'), /dependency group "c" does not exist/);
  });
});
