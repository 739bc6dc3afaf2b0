/**
 * Issue 10, conda environment.yml through the real CLI and lab: `init` writes a spec that reads it, `lock` pins
 * its pip: section from the lab index and checks `python=` against the base image's interpreter; a conda
 * package envseal cannot install and a wrong Python are exit 2 naming them, leaving the lock byte-identical;
 * an environment.yml the spec does not read is refused (never silently ignored).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const ENV = `name: conda-e2e
channels: [conda-forge]
dependencies:
  - python=3.11
  - pip
  - pip:
      - --index-url ${LAB_INDEX_URL}
      - tinyconfig~=1.1
`;

describe('conda environment.yml (issue 10)', { concurrency: false }, () => {
  let project: TempProject;
  const env = { ENVSEAL_CACHE_DIR: '' };
  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({ 'environment.yml': ENV, 'train.py': 'print(1)\n' });
    env.ENVSEAL_CACHE_DIR = project.path('.cache');
  });
  after(async () => {
    await project?.cleanup();
  });

  it('init writes a spec that reads it; lock pins its pip: section', async () => {
    const init = await runEnvseal(['init', '--base', LAB_BASE_IMAGE, '--name', 'conda-e2e'], { cwd: project.dir, env });
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stderr, /uses: environment\.yml/);
    assert.match(await readFile(project.path('envseal.yaml'), 'utf8'), /^ {2}environment: environment\.yml$/m);
    const lock = await runEnvseal(['lock', '--json'], { cwd: project.dir, env });
    assert.equal(lock.code, 0, lock.stderr);
    const locked = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.deepEqual(
      locked.python.packages.map((p: { name: string }) => p.name),
      ['tinyconfig'],
    );
    assert.deepEqual(locked.python.indexes, [LAB_INDEX_URL]);
    assert.deepEqual(locked.declared.python.requiresPython, { specifier: '==3.11.*', source: 'environment.yml' });
    assert.ok(locked.inputFiles.includes('environment.yml'));
    const check = await runEnvseal(['lock', '--check'], { cwd: project.dir, env });
    assert.equal(check.code, 0, check.stderr);
  });

  it('a conda-only package and a Python the base does not have are exit 2; the lock stays byte-identical', async () => {
    const before = await readFile(project.path('envseal.lock'));
    await writeFile(project.path('environment.yml'), ENV.replace('  - pip\n', '  - pip\n  - cudatoolkit=11.8\n'));
    const pkg = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(pkg.code, 2, pkg.stderr);
    assert.match(pkg.stderr, /environment\.yml: 1 conda package envseal cannot install/);
    assert.match(pkg.stderr, /environment\.yml:6: cudatoolkit=11\.8/);
    assert.deepEqual(await readFile(project.path('envseal.lock')), before);

    await writeFile(project.path('environment.yml'), ENV.replace('python=3.11', 'python=3.10'));
    const stale = await runEnvseal(['lock', '--check'], { cwd: project.dir, env });
    assert.equal(stale.code, 1, 'the changed python= is drift');
    assert.match(stale.stderr, /requiresPython/);
    const py = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(py.code, 2, py.stderr);
    assert.match(py.stderr, /environment\.yml asks for Python ==3\.10\.\*, but the base image .* has Python 3\.11\.\d+/);
    assert.deepEqual(await readFile(project.path('envseal.lock')), before);
    await writeFile(project.path('environment.yml'), ENV);
  });

  it('an environment.yml the spec does not read is refused until it is read or ignored', async () => {
    const spec = await readFile(project.path('envseal.yaml'), 'utf8');
    await writeFile(
      project.path('envseal.yaml'),
      spec.replace(/^ {2}environment: environment\.yml\n/m, '  packages: ["tinyconfig~=1.1"]\n  index: ' + LAB_INDEX_URL + '\n'),
    );
    const res = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /would be ignored: environment\.yml/);
    assert.match(res.stderr, /python\.environment/);
  });
});
