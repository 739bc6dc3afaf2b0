/**
 * Poetry projects without poetry.lock: caret/tilde/wildcard constraints translated to PEP 440 bound for bound
 * as poetry-core computes them (vectors below), `python` as a marker, table forms, extras, groups, sources,
 * and the errors (alternatives, git/path dependencies, unknown sources, unknown groups).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { poetryConstraintToPep440, pythonConstraintToMarker } from '../../src/ecosystems/python/manifests/poetry-constraint.js';
import { poetryIndexes, selectPoetryGroups } from '../../src/ecosystems/python/manifests/poetry.js';
import { parsePyproject, selectPyprojectGroups } from '../../src/ecosystems/python/manifests/pyproject.js';
import { formatRequirement } from '../../src/ecosystems/python/pep/requirement.js';

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof EnvsealError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, message);
    return true;
  });
}

describe('Poetry constraints as PEP 440', () => {
  const vectors: [string, string][] = [
    ['^1.2.3', '>=1.2.3,<2.0.0'],
    ['^1.2', '>=1.2,<2.0'],
    ['^1', '>=1,<2'],
    ['^0.2.3', '>=0.2.3,<0.3.0'],
    ['^0.0.3', '>=0.0.3,<0.0.4'],
    ['^0.0', '>=0.0,<0.1'],
    ['^0', '>=0,<1'],
    ['~1.2.3', '>=1.2.3,<1.3.0'],
    ['~1.2', '>=1.2,<1.3'],
    ['~1', '>=1,<2'],
    ['~=1.2', '~=1.2'],
    ['1.*', '==1.*'],
    ['1.2.*', '==1.2.*'],
    ['*', ''],
    ['1.2.3', '==1.2.3'],
    ['>=1.2,<2.0', '>=1.2,<2.0'],
    ['>= 1.2 < 2.0', '>=1.2,<2.0'],
    ['!=1.5', '!=1.5'],
  ];
  for (const [poetry, pep440] of vectors) it(`${poetry} is ${pep440 || 'any version'}`, () => assert.equal(poetryConstraintToPep440(poetry), pep440));

  it('an alternative has no single PEP 440 form', () => assert.throws(() => poetryConstraintToPep440('^1.2 || ^2.0'), /alternative/));
  it('python constraints become markers on the interpreter version', () => {
    assert.equal(pythonConstraintToMarker('^3.8'), 'python_version >= "3.8" and python_version < "4.0"');
    assert.equal(pythonConstraintToMarker('>=3.8.1'), 'python_full_version >= "3.8.1"');
  });
});

const POETRY = `[tool.poetry]
name = "demo"
version = "0.1.0"

[tool.poetry.dependencies]
python = "^3.11"
numpy = "^1.26"
requests = { version = "~2.31", extras = ["socks"], markers = "sys_platform == 'linux'" }
torch = { version = "^2.1", source = "torch-cpu" }
tomli = { version = ">=2", python = "<3.11" }
pandas = { version = "^2.0", optional = true }

[tool.poetry.extras]
frames = ["pandas"]

[tool.poetry.group.dev.dependencies]
pytest = "^8.0"

[tool.poetry.dev-dependencies]
ruff = "0.4.*"

[[tool.poetry.source]]
name = "lab"
url = "http://127.0.0.1:5080/simple/"
priority = "primary"

[[tool.poetry.source]]
name = "torch-cpu"
url = "https://download.pytorch.org/whl/cpu"
priority = "explicit"
`;

describe('Poetry pyproject.toml without poetry.lock', () => {
  const manifest = parsePyproject(POETRY, 'pyproject.toml');
  const texts = (reqs: { requirement: Parameters<typeof formatRequirement>[0] }[]) => reqs.map((r) => formatRequirement(r.requirement));

  it('reads dependencies, python, table forms and extras', () => {
    assert.equal(manifest.requiresPython, '>=3.11,<4.0');
    assert.deepEqual(texts(selectPyprojectGroups(manifest, [])), [
      'numpy<2.0,>=1.26',
      'requests[socks]<2.32,>=2.31; sys_platform == "linux"',
      'torch<3.0,>=2.1',
      'tomli>=2; python_version < "3.11"',
    ]);
    assert.deepEqual(texts(selectPyprojectGroups(manifest, ['frames'])).at(-1), 'pandas<3.0,>=2.0');
  });

  it('groups (dev-dependencies is group dev) and sources (explicit ones pin their projects)', () => {
    assert.deepEqual(texts(selectPoetryGroups(manifest.poetry!, ['dev'])), ['ruff==0.4.*', 'pytest<9.0,>=8.0']);
    assert.deepEqual(poetryIndexes(manifest.poetry!), { indexes: ['http://127.0.0.1:5080/simple'], pinned: { torch: 'https://download.pytorch.org/whl/cpu' } });
    expectError(() => selectPoetryGroups(manifest.poetry!, ['docs']), 'manifest.pyproject.unknown-group', /no Poetry dependency group "docs" \(it has: dev\)/);
  });

  it('refuses what it cannot translate, naming the file and the dependency', () => {
    const with_ = (line: string) => POETRY.replace('numpy = "^1.26"', line);
    expectError(
      () => parsePyproject(with_('numpy = "^1.26 || ^2.0"'), 'pyproject.toml'),
      'manifest.poetry.invalid',
      /tool\.poetry\.dependencies\.numpy: .*alternative/,
    );
    expectError(() => parsePyproject(with_('numpy = { git = "https://x/y.git" }'), 'pyproject.toml'), 'manifest.direct-url', /numpy is a git dependency/);
    expectError(
      () => parsePyproject(with_('numpy = { version = "1", source = "nowhere" }'), 'pyproject.toml'),
      'manifest.poetry.invalid',
      /names source "nowhere"/,
    );
    expectError(
      () => parsePyproject(POETRY.replace('frames = ["pandas"]', 'frames = ["polars"]'), 'pyproject.toml'),
      'manifest.poetry.invalid',
      /polars, which is not an optional/,
    );
  });
});
