/**
 * The pre-commit hooks with Debian's pre-commit on a fixture repository: a project locked against the lab,
 * committed in a fresh git repository whose .pre-commit-config.yaml points at a local hook repository holding
 * this checkout's .pre-commit-hooks.yaml (a local path: pre-commit clones it with git, no network). The hooks
 * are `language: system`, so they run the `envseal` on PATH, as on a developer's machine.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../lab/cli.js';
import { makeLockedCiProject, type CiProject } from '../lab/ci-fixture.js';

interface Hook {
  id: string;
  entry: string;
  language: string;
  files: string;
  pass_filenames: boolean;
}
const hooks = parse(await readFile(join(REPO_ROOT, '.pre-commit-hooks.yaml'), 'utf8')) as Hook[];

describe('the pre-commit hooks on a fixture repository', { concurrency: false }, () => {
  let project: CiProject;
  let env: Record<string, string>;
  const run = (cmd: string, args: string[], cwd = project.dir) =>
    new Promise<{ code: number; out: string }>((done, fail) => {
      const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('error', fail);
      child.on('close', (code) => done({ code: code ?? 1, out }));
    });
  const git = async (args: string[], cwd = project.dir) => {
    const res = await run('git', args, cwd);
    if (res.code !== 0) throw new Error(`git ${args.join(' ')}: ${res.out}`);
    return res.out.trim();
  };

  before(async () => {
    project = await makeLockedCiProject('ci15-precommit');
    env = {
      PATH: `${project.binDir}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      HOME: project.path('.cache/home'),
      LANG: 'C.UTF-8',
      NO_COLOR: '1',
      PRE_COMMIT_HOME: project.path('.cache/pre-commit'),
      PRE_COMMIT_COLOR: 'never',
      GIT_AUTHOR_NAME: 'envseal test',
      GIT_AUTHOR_EMAIL: 'test@example.invalid',
      GIT_COMMITTER_NAME: 'envseal test',
      GIT_COMMITTER_EMAIL: 'test@example.invalid',
      GIT_CONFIG_NOSYSTEM: '1',
      ...project.env,
    };
    await mkdir(env.HOME!, { recursive: true });
    // The hook repository: this checkout's hooks file, committed (pre-commit wants a git repository and a rev).
    const hookRepo = project.path('.cache/hook-repo');
    await mkdir(hookRepo, { recursive: true });
    await copyFile(join(REPO_ROOT, '.pre-commit-hooks.yaml'), join(hookRepo, '.pre-commit-hooks.yaml'));
    await git(['init', '-q', '-b', 'main'], hookRepo);
    await git(['add', '.'], hookRepo);
    await git(['commit', '-q', '-m', 'hooks'], hookRepo);
    const rev = await git(['rev-parse', 'HEAD'], hookRepo);
    await writeFile(
      project.path('.pre-commit-config.yaml'),
      `repos:\n  - repo: ${hookRepo}\n    rev: ${rev}\n    hooks:\n      - id: envseal-lock-check\n      - id: envseal-generate-check\n`,
    );
    await git(['init', '-q', '-b', 'main']);
    await git(['add', '.']);
    await git(['commit', '-q', '-m', 'locked project']);
    const install = await run('pre-commit', ['install']);
    assert.equal(install.code, 0, install.out);
  });
  after(async () => {
    await project?.cleanup();
  });

  test('the hooks file: two system hooks on the files that feed the lock and the Dockerfile', () => {
    assert.deepEqual(
      hooks.map((h) => [h.id, h.entry, h.language, h.pass_filenames]),
      [
        ['envseal-lock-check', 'envseal lock --check', 'system', false],
        ['envseal-generate-check', 'envseal generate --check', 'system', false],
      ],
    );
    const matches = (id: string, file: string) => new RegExp(hooks.find((h) => h.id === id)!.files).test(file);
    for (const f of [
      'envseal.yaml',
      'sub/envseal.lock',
      'requirements.txt',
      'requirements-dev.txt',
      'pyproject.toml',
      'apt.txt',
      'package.json',
      'package-lock.json',
    ]) {
      assert.ok(matches('envseal-lock-check', f), f);
    }
    for (const f of ['train.py', 'README.md', 'sub/requirements/notes.md', 'myenvseal.yaml']) assert.ok(!matches('envseal-lock-check', f), f);
    for (const f of ['envseal.lock', 'env/envseal.Dockerfile', 'envseal.sbom.cdx.json', 'package-lock.json'])
      assert.ok(matches('envseal-generate-check', f), f);
    assert.ok(!matches('envseal-generate-check', 'Dockerfile'));
  });

  test('passing: both hooks pass on the fresh lock', async () => {
    const res = await run('pre-commit', ['run', '--all-files']);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /envseal lock --check\.+Passed/);
    assert.match(res.out, /envseal generate --check\.+Passed/);
  });

  test('a commit touching no input skips the hooks', async () => {
    await writeFile(project.path('app.py'), 'print("hello again")\n');
    await git(['add', 'app.py']);
    const res = await run('git', ['commit', '-m', 'app only']);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /envseal lock --check\.+\(no files to check\)Skipped/);
  });

  test('failing: a commit with an edited manifest and the old lock is refused, with what drifted and the hint', async () => {
    await writeFile(project.path('requirements.txt'), 'tinyconfig~=1.1\nseal-metrics>=1.0\n');
    await git(['add', 'requirements.txt']);
    const res = await run('git', ['commit', '-m', 'add seal-metrics']);
    assert.notEqual(res.code, 0, res.out);
    assert.match(res.out, /envseal lock --check\.+Failed/);
    assert.match(res.out, /exit code: 1/);
    assert.match(res.out, /envseal\.lock is stale: 1 input change/);
    assert.match(res.out, /seal-metrics/);
    assert.match(res.out, /hint: run `envseal lock` and commit the result/);
    assert.equal(await git(['log', '-1', '--format=%s']), 'app only', 'nothing was committed');
  });
});
