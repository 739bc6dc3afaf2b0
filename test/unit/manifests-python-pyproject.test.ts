import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { parsePyproject, selectPyprojectGroups } from '../../src/ecosystems/python/manifests/pyproject.js';
import type { PythonRequirement } from '../../src/ecosystems/python/manifests/requirements.js';
import { formatRequirement } from '../../src/ecosystems/python/pep/requirement.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/manifests/python/pyproject/${name}`, import.meta.url), 'utf8');
const load = (name: string) => parsePyproject(fixture(name), `pyproject/${name}`);

const summary = (reqs: PythonRequirement[]) => reqs.map((r) => `${r.source.file}:${r.source.line} ${formatRequirement(r.requirement)}`);

describe('pyproject.toml: PEP 621 dependencies', () => {
  it('reads name, requires-python, dependencies and optional groups with their lines', () => {
    const p = load('full.toml');
    assert.equal(p.name, 'My_Project');
    assert.equal(p.requiresPython, '<3.13,>=3.10');
    assert.deepEqual(summary(p.dependencies), [
      'pyproject/full.toml:10 requests>=2.31',
      'pyproject/full.toml:11 numpy<2; python_version < "3.12"',
      'pyproject/full.toml:12 Pydantic[email]~=2.6',
      'pyproject/full.toml:14 requests>=2.31',
    ]);
    assert.deepEqual(Object.keys(p.optionalDependencies), ['gpu', 'dev-tools', 'all']);
    assert.deepEqual(summary(p.optionalDependencies.gpu!), ['pyproject/full.toml:19 torch==2.3.1; sys_platform == "linux"']);
    assert.deepEqual(summary(p.optionalDependencies['dev-tools']!), ['pyproject/full.toml:21 pytest>=8', 'pyproject/full.toml:21 ruff']);
    assert.deepEqual(p.dependencyGroups, ['lint']);
    assert.ok(p.dependencies.every((d) => d.hashes.length === 0));
  });

  it('finds lines in dotted keys and inline tables too', () => {
    const p = load('inline.toml');
    assert.equal(p.name, 'inline');
    assert.deepEqual(summary(p.dependencies), ['pyproject/inline.toml:2 attrs']);
    assert.deepEqual(summary(selectPyprojectGroups(p, ['test', 'docs'])), [
      'pyproject/inline.toml:2 attrs',
      'pyproject/inline.toml:3 pytest',
      'pyproject/inline.toml:3 sphinx>=7',
      'pyproject/inline.toml:3 furo',
    ]);
  });

  it('accepts a project without dependencies', () => {
    const p = load('minimal.toml');
    assert.deepEqual([p.name, p.dependencies, p.optionalDependencies, p.requiresPython], ['bare', [], {}, undefined]);
    assert.deepEqual(selectPyprojectGroups(p, []), []);
  });
});

describe('pyproject.toml: selecting groups', () => {
  it('returns dependencies, then the groups asked for (names normalised)', () => {
    const p = load('full.toml');
    assert.deepEqual(summary(selectPyprojectGroups(p, ['DEV.tools'])).slice(4), ['pyproject/full.toml:21 pytest>=8', 'pyproject/full.toml:21 ruff']);
  });

  it('expands a self-reference with extras into those groups, carrying its marker', () => {
    const p = load('full.toml');
    assert.deepEqual(summary(selectPyprojectGroups(p, ['all'])).slice(4), [
      // The extras of the self-reference are taken in sorted order: dev-tools, then gpu.
      'pyproject/full.toml:21 pytest>=8; python_version >= "3.11"',
      'pyproject/full.toml:21 ruff; python_version >= "3.11"',
      'pyproject/full.toml:19 torch==2.3.1; python_version >= "3.11" and sys_platform == "linux"',
    ]);
    // Asking for a group twice, directly and through "all", lists its requirements once per marker.
    const both = summary(selectPyprojectGroups(p, ['gpu', 'all']));
    assert.equal(both.filter((s) => s.includes('torch')).length, 2);
    assert.equal(summary(selectPyprojectGroups(p, ['gpu', 'gpu'])).filter((s) => s.includes('torch')).length, 1);
  });

  it('names the known groups when an unknown one is asked for', () => {
    const p = load('full.toml');
    assert.throws(
      () => selectPyprojectGroups(p, ['gpu', 'docs']),
      (err: unknown) =>
        err instanceof EnvsealError &&
        err.code === 'manifest.pyproject.unknown-group' &&
        err.exitCode === 2 &&
        err.message === 'pyproject/full.toml: no optional dependency group "docs"; the groups are: all, dev-tools, gpu' &&
        (err.hint ?? '').includes('[project.optional-dependencies]'),
    );
    assert.throws(
      () => selectPyprojectGroups(p, ['lint']),
      (err: unknown) => err instanceof EnvsealError && /PEP 735 \[dependency-groups\]/.test(err.hint ?? ''),
    );
    assert.throws(() => selectPyprojectGroups(load('minimal.toml'), ['dev']), /the project declares no optional dependency groups/);
    assert.throws(
      () => selectPyprojectGroups(load('unknown-self-extra.toml'), ['all']),
      (err: unknown) =>
        err instanceof EnvsealError &&
        err.code === 'manifest.pyproject.unknown-group' &&
        err.message.includes('"gpu" (requested by pyproject/unknown-self-extra.toml:5)'),
    );
  });

  it('refuses groups the build backend computes', () => {
    const p = load('dynamic-optional.toml');
    assert.deepEqual(summary(selectPyprojectGroups(p, [])), ['pyproject/dynamic-optional.toml:3 attrs']);
    assert.throws(() => selectPyprojectGroups(p, ['dev']), { code: 'manifest.pyproject.dynamic' });
  });
});

/** Every error path, each with its own fixture: [file, code, "file:line[:col]: " prefix, message part]. */
const ERRORS: [string, string, string, string][] = [
  ['bad-toml.toml', 'manifest.pyproject.syntax', 'pyproject/bad-toml.toml:6:3: ', 'invalid TOML'],
  ['no-project.toml', 'manifest.pyproject.invalid', 'pyproject/no-project.toml: ', 'has no [project] table'],
  ['no-project.toml', 'manifest.pyproject.invalid', 'pyproject/no-project.toml: ', 'has no [project] table'],
  ['dynamic.toml', 'manifest.pyproject.dynamic', 'pyproject/dynamic.toml:3: ', 'project.dynamic lists "dependencies"'],
  [
    'deps-not-list.toml',
    'manifest.pyproject.invalid',
    'pyproject/deps-not-list.toml:3: ',
    'project.dependencies must be an array of requirement strings, not a string',
  ],
  [
    'deps-not-strings.toml',
    'manifest.pyproject.invalid',
    'pyproject/deps-not-strings.toml:3: ',
    'project.dependencies[1] must be a requirement string, not a table',
  ],
  [
    'bad-requirement.toml',
    'manifest.pyproject.invalid',
    'pyproject/bad-requirement.toml:5: ',
    'project.dependencies[1]: invalid requirement "numpy >= 1.0 pandas": expected a comma',
  ],
  [
    'direct-url.toml',
    'manifest.direct-url',
    'pyproject/direct-url.toml:6: ',
    'project.optional-dependencies.extra[0]: direct URL requirement "mylib @ https://example.org/mylib-1.0.tar.bz2": mylib-1.0.tar.bz2 is an archive envseal cannot build',
  ],
  [
    'bad-requires-python.toml',
    'manifest.pyproject.invalid',
    'pyproject/bad-requires-python.toml:3: ',
    'project.requires-python "3.10+" is not a valid version specifier',
  ],
  [
    'group-collision.toml',
    'manifest.pyproject.invalid',
    'pyproject/group-collision.toml:6: ',
    'groups "dev_tools" and "Dev-Tools" are the same group: both normalise to "dev-tools"',
  ],
  ['optional-not-table.toml', 'manifest.pyproject.invalid', 'pyproject/optional-not-table.toml:3: ', 'must be a table of arrays, not an array'],
  ['bad-name.toml', 'manifest.pyproject.invalid', 'pyproject/bad-name.toml:2: ', 'project.name "-x-" is not a valid project name'],
];

describe('pyproject.toml: errors name the file (and line), with a hint', () => {
  for (const [name, code, prefix, part] of ERRORS) {
    it(`${name}: ${code}`, () => {
      assert.throws(
        () => load(name),
        (err: unknown) => {
          assert.ok(err instanceof EnvsealError, String(err));
          assert.equal(err.code, code);
          assert.equal(err.exitCode, 2);
          assert.ok(err.message.startsWith(prefix), err.message);
          assert.ok(err.message.includes(part), err.message);
          assert.ok((err.hint ?? '').length > 10, `hint for ${name}`);
          return true;
        },
      );
    });
  }

  it('shows the TOML error in context; a Poetry project without [project] is read from [tool.poetry] (issue 10)', () => {
    assert.throws(
      () => load('bad-toml.toml'),
      (err: unknown) => err instanceof EnvsealError && err.details.some((d) => d.includes('"pandas",')),
    );
    const poetry = load('poetry.toml');
    assert.equal(poetry.name, 'legacy');
    assert.equal(poetry.requiresPython, '>=3.11,<4.0');
    assert.deepEqual(poetry.dependencies, []);
  });
});

describe('pyproject.toml: "===" needs a value (issue 14 item 8)', () => {
  it('refuses "foo===" in dependencies with the line, exit 2', () => {
    const text = '[project]\nname = "p"\nversion = "1"\ndependencies = [\n  "ok==1.0",\n  "foo===",\n]\n';
    assert.throws(
      () => parsePyproject(text, 'pyproject.toml'),
      (e: EnvsealError) =>
        e.exitCode === 2 && /pyproject\.toml:6: .*invalid requirement "foo===": "===" \(PEP 440 arbitrary equality\) needs a version string/.test(e.message),
    );
  });
});

describe('pyproject.toml: a Poetry 2 project ([project] dependencies, [tool.poetry] groups and sources)', () => {
  it('keeps [project] dependencies and reads the Poetry groups and sources', () => {
    const text = `[project]\nname = "p2"\nversion = "0.1.0"\ndependencies = ["tinyconfig>=1.1"]\n\n[tool.poetry.group.dev.dependencies]\nseal-plot = "^0.1"\n\n[[tool.poetry.source]]\nname = "lab"\nurl = "http://127.0.0.1:5080/simple"\n`;
    const m = parsePyproject(text, 'pyproject.toml');
    assert.deepEqual(summary(m.dependencies), ['pyproject.toml:4 tinyconfig>=1.1']);
    assert.deepEqual(Object.keys(m.poetry!.groups), ['dev']);
    assert.equal(formatRequirement(m.poetry!.groups.dev![0]!.requirement), 'seal-plot<0.2,>=0.1');
    assert.deepEqual(m.poetry!.sources, [{ name: 'lab', url: 'http://127.0.0.1:5080/simple', priority: 'primary' }]);
  });
});
