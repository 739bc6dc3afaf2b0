/** conda environment.yml: what envseal honours exactly (python, pip, the pip: section) and what it refuses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { condaToPep440, parseCondaEnvironment } from '../../src/ecosystems/python/manifests/conda-env.js';
import { parseRequirementsText } from '../../src/ecosystems/python/manifests/requirements.js';
import { initPython } from '../../src/ecosystems/python/init.js';

const ENV = `name: iris
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
      - --index-url http://127.0.0.1:5080/simple
      - tinyconfig~=1.1
      - seal-metrics>=1.0  # metrics
`;

function refusal(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof EnvsealError);
    assert.equal(err.code, code);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, message);
    return true;
  });
}

describe('conda environment.yml', () => {
  it('reads python as a PEP 440 specifier and the pip: section as requirements text at its YAML lines', () => {
    const env = parseCondaEnvironment(ENV, 'environment.yml');
    assert.deepEqual(env.python, { specifier: '==3.11.*', line: 5 });
    const entries = parseRequirementsText(env.pipText, 'environment.yml');
    assert.deepEqual(
      entries.map((e) => [e.kind, e.line]),
      [
        ['option', 8],
        ['requirement', 9],
        ['requirement', 10],
      ],
    );
  });

  it('converts conda version specs for python the way conda matches them', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['3.11', '==3.11.*'],
      ['=3.11', '==3.11.*'],
      ['=3.11.*', '==3.11.*'],
      ['==3.11.2', '==3.11.2'],
      ['>=3.10,<3.13', '>=3.10,<3.13'],
      ['>= 3.10', '>=3.10'],
    ];
    for (const [spec, pep440] of cases) assert.equal(condaToPep440(spec, 'e.yml', 1), pep440, spec);
    refusal(() => condaToPep440('3.11|3.12', 'e.yml', 4), 'manifest.conda-python', /e\.yml:4: python 3\.11\|3\.12: alternatives/);
    refusal(() => condaToPep440('=3.11=h123_cpython', 'e.yml', 4), 'manifest.conda-python', /build strings/);
    refusal(() => condaToPep440('3.11 h123_cpython', 'e.yml', 4), 'manifest.conda-python', /build strings/);
    refusal(() => condaToPep440('=latest', 'e.yml', 4), 'manifest.conda-python', /"latest" is not a version/);
  });

  it('refuses every other conda package at once, naming each with its line', () => {
    const text = 'dependencies:\n  - python=3.11\n  - numpy=1.26\n  - conda-forge::pytorch\n  - pip\n';
    assert.throws(
      () => parseCondaEnvironment(text, 'environment.yml'),
      (err: unknown) => {
        assert.ok(err instanceof EnvsealError);
        assert.equal(err.code, 'manifest.conda-package');
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /2 conda packages envseal cannot install/);
        assert.deepEqual(err.details, ['environment.yml:3: numpy=1.26', 'environment.yml:4: conda-forge::pytorch']);
        assert.match(err.hint ?? '', /pip:.*apt:/);
        return true;
      },
    );
  });

  it('refuses variables:, unknown keys, bad shapes and invalid YAML with file:line', () => {
    refusal(() => parseCondaEnvironment('name: x\nvariables:\n  A: 1\n', 'e.yml'), 'manifest.conda-variables', /e\.yml:2: `variables:`/);
    refusal(() => parseCondaEnvironment('name: x\nsolver: libmamba\n', 'e.yml'), 'manifest.invalid', /e\.yml:2: unknown key `solver`/);
    refusal(() => parseCondaEnvironment('dependencies: numpy\n', 'e.yml'), 'manifest.invalid', /`dependencies` must be a list/);
    refusal(
      () => parseCondaEnvironment('dependencies:\n  - npm: [x]\n', 'e.yml'),
      'manifest.invalid',
      /e\.yml:2: a mapping in `dependencies` must be `pip: \[\.\.\.\]`/,
    );
    refusal(() => parseCondaEnvironment('dependencies:\n  - pip:\n    - {a: 1}\n', 'e.yml'), 'manifest.invalid', /pip entries must be strings/);
    refusal(() => parseCondaEnvironment('dependencies: [\n', 'e.yml'), 'manifest.invalid', /not valid YAML/);
    refusal(() => parseCondaEnvironment('- a\n', 'e.yml'), 'manifest.invalid', /expected a conda environment/);
  });

  it('an environment without dependencies (or only python and pip) has nothing to install', () => {
    assert.deepEqual(parseCondaEnvironment('name: x\n', 'e.yml'), { python: null, pipText: '' });
    assert.deepEqual(parseCondaEnvironment('dependencies: [python, pip]\n', 'e.yml'), { python: { specifier: '', line: 1 }, pipText: '' });
  });

  it('init writes a spec that reads environment.yml, and lock must read or ignore it', () => {
    const found = initPython(['environment.yml', 'train.py']);
    assert.deepEqual(found.found, ['environment.yml']);
    assert.ok(found.lines.includes('  environment: environment.yml'));
    assert.equal(found.unused, undefined);
    assert.deepEqual(
      found.mustRead?.map((m) => m.file),
      ['environment.yml'],
    );
    const two = initPython(['conda.yml', 'environment.yml']);
    assert.deepEqual(
      two.unused?.map((u) => u.file),
      ['environment.yml'],
    );
  });
});
