import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isEnvsealError } from '../../src/core/errors.js';
import { captureGitState, headCommit, stripRemoteCredentials, type GitCapture, type GitState } from '../../src/record/git.js';

let root: string;
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'envseal-git-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' }).trim();
}

/** A repository with one commit on `main`: train.py, data/labels.csv and a .gitignore for *.log. */
async function makeRepo(): Promise<string> {
  counter += 1;
  const dir = join(root, `repo${counter}`);
  await mkdir(join(dir, 'data'), { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  await writeFile(join(dir, 'train.py'), 'print("train")\n');
  await writeFile(join(dir, 'data', 'labels.csv'), 'a,b\n');
  await writeFile(join(dir, '.gitignore'), '*.log\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initial');
  return dir;
}

function stateOf(capture: GitCapture): GitState {
  assert.equal(capture.unavailable, null);
  assert.ok(capture.state);
  return capture.state;
}

describe('captureGitState with a real repository', () => {
  it('captures a clean work tree', async () => {
    const dir = await makeRepo();
    const state = stateOf(await captureGitState(dir));
    assert.deepEqual(state, {
      commit: git(dir, 'rev-parse', 'HEAD'),
      branch: 'main',
      dirty: false,
      diffDigest: null,
      changedFiles: 0,
      untrackedFiles: 0,
      projectPath: '.',
      remote: null,
    });
    assert.match(state.commit!, /^[0-9a-f]{40}$/);
  });

  it('captures a dirty work tree: modified and untracked files, ignored files left out', async () => {
    const dir = await makeRepo();
    await writeFile(join(dir, 'train.py'), 'print("train v2")\n');
    await writeFile(join(dir, 'notes.md'), 'draft\n');
    await writeFile(join(dir, 'debug.log'), 'ignored\n');
    const state = stateOf(await captureGitState(dir));
    assert.equal(state.dirty, true);
    assert.equal(state.changedFiles, 1);
    assert.equal(state.untrackedFiles, 1);
    assert.match(state.diffDigest!, /^sha256:[0-9a-f]{64}$/);

    // Same state → same digest; an ignored file changing → same digest.
    await writeFile(join(dir, 'debug.log'), 'ignored, changed\n');
    assert.equal(stateOf(await captureGitState(dir)).diffDigest, state.diffDigest);
    // The untracked file's content is part of the digest.
    await writeFile(join(dir, 'notes.md'), 'draft 2\n');
    const second = stateOf(await captureGitState(dir)).diffDigest;
    assert.notEqual(second, state.diffDigest);
    // Restoring everything makes the tree clean again.
    git(dir, 'checkout', '--', 'train.py');
    await unlink(join(dir, 'notes.md'));
    assert.equal(stateOf(await captureGitState(dir)).dirty, false);
  });

  it('counts staged changes, deletions and mode changes', async () => {
    const dir = await makeRepo();
    await writeFile(join(dir, 'new.py'), 'x = 1\n');
    git(dir, 'add', 'new.py');
    const staged = stateOf(await captureGitState(dir));
    assert.equal(staged.changedFiles, 1);
    assert.equal(staged.untrackedFiles, 0);

    git(dir, 'rm', '-q', '--cached', 'new.py');
    await unlink(join(dir, 'new.py'));
    await unlink(join(dir, 'data', 'labels.csv'));
    const deleted = stateOf(await captureGitState(dir));
    assert.equal(deleted.changedFiles, 1);

    git(dir, 'checkout', '--', 'data/labels.csv');
    await chmod(join(dir, 'train.py'), 0o755);
    const mode = stateOf(await captureGitState(dir));
    assert.equal(mode.dirty, true);
    assert.equal(mode.changedFiles, 1);
    assert.notEqual(mode.diffDigest, deleted.diffDigest);
  });

  it('gives the same digest for the same changes in two clones', async () => {
    const a = await makeRepo();
    const b = await makeRepo();
    for (const dir of [a, b]) {
      await writeFile(join(dir, 'train.py'), 'print("same edit")\n');
      await writeFile(join(dir, 'extra.txt'), 'same\n');
    }
    assert.equal(stateOf(await captureGitState(a)).diffDigest, stateOf(await captureGitState(b)).diffDigest);
  });

  it('captures a detached HEAD as branch null', async () => {
    const dir = await makeRepo();
    const first = git(dir, 'rev-parse', 'HEAD');
    await writeFile(join(dir, 'train.py'), 'print("two")\n');
    git(dir, 'commit', '-q', '-am', 'second');
    git(dir, 'switch', '-q', '--detach', first);
    const state = stateOf(await captureGitState(dir));
    assert.equal(state.branch, null);
    assert.equal(state.commit, first);
    assert.equal(state.dirty, false);
  });

  it('captures a repository without commits', async () => {
    counter += 1;
    const dir = join(root, `unborn${counter}`);
    await mkdir(dir);
    git(dir, 'init', '-q', '-b', 'trunk');
    await writeFile(join(dir, 'a.py'), '');
    git(dir, 'add', 'a.py');
    await writeFile(join(dir, 'b.py'), '');
    const state = stateOf(await captureGitState(dir));
    assert.equal(state.commit, null);
    assert.equal(state.branch, 'trunk');
    assert.equal(state.changedFiles, 1);
    assert.equal(state.untrackedFiles, 1);
    assert.equal(state.dirty, true);
  });

  it('works from a subdirectory and leaves envseal run records out of the dirty check', async () => {
    const dir = await makeRepo();
    const project = join(dir, 'data');
    await mkdir(join(project, '.envseal', 'runs'), { recursive: true });
    await writeFile(join(project, '.envseal', 'runs', '20260101T000000.000Z-0000000000000000.json'), '{}\n');
    const state = stateOf(await captureGitState(project));
    assert.equal(state.projectPath, 'data');
    assert.equal(state.dirty, false);
    // A change elsewhere in the repository still counts: the commit covers the whole tree.
    await writeFile(join(dir, 'train.py'), 'print("edited")\n');
    assert.equal(stateOf(await captureGitState(project)).dirty, true);
    // Without the exclusion the record is an untracked file.
    git(dir, 'checkout', '--', 'train.py');
    assert.equal(stateOf(await captureGitState(project, { excludePaths: [] })).untrackedFiles, 1);
  });

  it('records the upstream remote with credentials stripped', async () => {
    const dir = await makeRepo();
    git(dir, 'remote', 'add', 'backup', 'git@backup.example:org/repo.git');
    git(dir, 'remote', 'add', 'origin', 'https://user:ghp_secret@github.com/org/repo.git');
    assert.deepEqual(stateOf(await captureGitState(dir)).remote, { name: 'origin', url: 'https://github.com/org/repo.git' });
    git(dir, 'config', 'branch.main.remote', 'backup');
    assert.deepEqual(stateOf(await captureGitState(dir)).remote, { name: 'backup', url: 'git@backup.example:org/repo.git' });
  });

  it('reports a directory outside any repository as not-a-repository', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-nogit-'));
    try {
      const capture = await captureGitState(dir);
      assert.equal(capture.state, null);
      assert.equal(capture.unavailable?.reason, 'not-a-repository');
      assert.match(capture.unavailable!.message, /is not inside a git work tree/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it(
    'surfaces a repository git refuses to read (dubious ownership) as an external error with a hint',
    { skip: process.getuid?.() === 0 ? false : 'chown to another user needs root' },
    async () => {
      const dir = await makeRepo();
      execFileSync('chown', ['-R', '54321:54321', dir]);
      try {
        await assert.rejects(captureGitState(dir), (err: unknown) => {
          assert.ok(isEnvsealError(err));
          assert.equal(err.code, 'record.git-failed');
          assert.equal(err.exitCode, 3);
          assert.match(err.message, /dubious ownership/);
          assert.match(err.hint ?? '', /safe\.directory/);
          return true;
        });
      } finally {
        await chown(dir, 0, 0);
      }
    },
  );
});

describe('headCommit (the build revision label)', () => {
  it('is the checked-out commit, with one git process', async () => {
    const dir = await makeRepo();
    const calls: string[][] = [];
    const commit = await headCommit(join(dir, 'data'), async (args, options) => {
      calls.push(args);
      const out = execFileSync('git', args, { cwd: options.cwd });
      return { exitCode: 0, signal: null, stdout: out, stderr: '', timedOut: false };
    });
    assert.equal(commit, git(dir, 'rev-parse', 'HEAD'));
    assert.equal(calls.length, 1);
    assert.equal(await headCommit(dir), commit);
  });

  it('is null before the first commit, outside a repository, and when git is missing or fails', async () => {
    counter += 1;
    const unborn = join(root, `unborn-head${counter}`);
    await mkdir(unborn);
    git(unborn, 'init', '-q');
    assert.equal(await headCommit(unborn), null);
    const outside = await mkdtemp(join(tmpdir(), 'envseal-nogit-'));
    try {
      assert.equal(await headCommit(outside), null);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
    assert.equal(await headCommit(root, async () => null), null);
    assert.equal(
      await headCommit(root, async () => {
        throw new Error('spawn failed');
      }),
      null,
    );
  });
});

describe('captureGitState with an injected runner', () => {
  it('reports a missing git executable as git-not-installed', async () => {
    const capture = await captureGitState(root, { runGit: async () => null });
    assert.deepEqual(capture, {
      state: null,
      unavailable: { reason: 'git-not-installed', message: 'git is not installed (no `git` executable on PATH)' },
    });
  });

  it('turns a failing git command into an external error, not into null', async () => {
    const dir = await makeRepo();
    const runGit = async (args: string[]) => {
      const sub = args[1];
      if (sub === 'rev-parse' && args.includes('--show-toplevel')) {
        return { exitCode: 0, signal: null, stdout: Buffer.from(`${dir}\n\n`), stderr: '', timedOut: false };
      }
      return { exitCode: 128, signal: null, stdout: Buffer.alloc(0), stderr: 'fatal: bad object HEAD', timedOut: false };
    };
    await assert.rejects(captureGitState(dir, { runGit }), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'record.git-failed');
      assert.match(err.message, /fatal: bad object HEAD/);
      return true;
    });
  });

  it('rejects a project directory that does not exist', async () => {
    await assert.rejects(captureGitState(join(root, 'missing')), /does not exist/);
  });
});

describe('stripRemoteCredentials', () => {
  const cases: [string, string][] = [
    ['https://user:token@github.com/org/repo.git', 'https://github.com/org/repo.git'],
    ['https://ghp_abc123@github.com/org/repo.git', 'https://github.com/org/repo.git'],
    ['https://oauth2:glpat-x@gitlab.com/g/p.git', 'https://gitlab.com/g/p.git'],
    ['ssh://git@github.com/org/repo.git', 'ssh://git@github.com/org/repo.git'],
    ['ssh://git:pw@host:2222/repo.git', 'ssh://git@host:2222/repo.git'],
    ['git@github.com:org/repo.git', 'git@github.com:org/repo.git'],
    ['https://github.com/org/repo.git', 'https://github.com/org/repo.git'],
    ['/srv/git/repo.git', '/srv/git/repo.git'],
    ['file:///srv/git/repo.git', 'file:///srv/git/repo.git'],
  ];
  for (const [input, expected] of cases) it(`strips ${input}`, () => assert.equal(stripRemoteCredentials(input), expected));
});
