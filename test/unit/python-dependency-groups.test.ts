/**
 * PEP 735 `[dependency-groups]` selected with `python.pyproject.groups` in a project without [tool.poetry]:
 * the groups' requirements (include-group expanded, uv's legacy dev-dependencies as `dev`) go to the dev image
 * only; an unknown group is exit 2 naming the groups there are.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EnvsealError } from '../../src/core/errors.js';
import { CredentialStore } from '../../src/core/url-credentials.js';
import { loadPython } from '../../src/ecosystems/python/load.js';
import { pythonSpecSchema } from '../../src/ecosystems/python/schema.js';
import { selectDependencyGroups } from '../../src/ecosystems/python/manifests/dependency-groups.js';

const PYPROJECT = `[project]
name = "app"
version = "0.1"
dependencies = ["numpy>=1.24"]

[project.optional-dependencies]
train = ["torch"]

[dependency-groups]
test = ["pytest>=7", "coverage[toml]"]
lint = ["ruff"]
dev = [{ include-group = "test" }, { include-group = "lint" }, "ipython"]
`;

const load = (pyproject: unknown, text = PYPROJECT) =>
  loadPython(pythonSpecSchema.parse({ pyproject }), undefined, {
    specFile: 'envseal.yaml',
    readManifest: async () => text,
    readOptional: async () => null,
    credentials: new CredentialStore(),
  });

describe('PEP 735 dependency groups (python.pyproject.groups)', () => {
  it('a selected group, include-group expanded, goes to the dev image only; the project dependencies to both', async () => {
    const loaded = await load({ path: 'pyproject.toml', groups: ['Dev'] });
    const reqs = loaded!.declared.requirements.map((r) => [r.requirement, r.targets]);
    assert.deepEqual(reqs, [
      ['numpy>=1.24', ['deploy', 'dev']],
      ['pytest>=7', ['dev']],
      ['coverage[toml]', ['dev']],
      ['ruff', ['dev']],
      ['ipython', ['dev']],
    ]);
  });

  it('no groups selected: none of them is locked', async () => {
    const loaded = await load('pyproject.toml');
    assert.deepEqual(
      loaded!.declared.requirements.map((r) => r.requirement),
      ['numpy>=1.24'],
    );
  });

  it('an unknown group is exit 2 naming the file and the groups it has', async () => {
    await assert.rejects(load({ path: 'pyproject.toml', groups: ['docs'] }), (err: unknown) => {
      assert.ok(err instanceof EnvsealError);
      assert.equal(err.code, 'manifest.pyproject.unknown-group');
      assert.equal(err.exitCode, 2);
      assert.equal(err.message, 'pyproject.toml: no dependency group "docs" (it has: dev, lint, test)');
      return true;
    });
  });

  it("uv's legacy [tool.uv] dev-dependencies are the dev group", () => {
    const text = '[project]\nname = "app"\nversion = "0.1"\n\n[tool.uv]\ndev-dependencies = ["pytest"]\n';
    assert.deepEqual(
      selectDependencyGroups(text, 'pyproject.toml', ['dev']).map((r) => r.requirement.name),
      ['pytest'],
    );
  });

  it('a group that includes itself is exit 2', () => {
    const text = '[dependency-groups]\na = [{ include-group = "b" }]\nb = [{ include-group = "a" }]\n';
    assert.throws(() => selectDependencyGroups(text, 'pyproject.toml', ['a']), /dependency group "a" includes itself \(a > b > a\)/);
  });
});
