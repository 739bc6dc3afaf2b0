/**
 * The host-git adapter of GitSources (record/git-sources.ts) against a real repository on disk (git+file://, no
 * network): refs as ls-remote lists them, the archive made the same bytes each time, and its errors: a commit
 * the repository does not have (exit 2), a repository that is not there (exit 3), no git on the host (exit 3).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { EnvsealError } from '../../src/core/errors.js';
import { HostGit } from '../../src/record/git-sources.js';

const ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t.invalid',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t.invalid',
  GIT_AUTHOR_DATE: '2024-01-02T03:04:05Z',
  GIT_COMMITTER_DATE: '2024-01-02T03:04:05Z',
};

async function caught(p: Promise<unknown>): Promise<EnvsealError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof EnvsealError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('HostGit (git+ requirements through the host git)', () => {
  let dir: string;
  let repo: string;
  let commit: string;
  const git = (args: string[]) => execFileSync('git', ['-c', 'init.defaultBranch=main', ...args], { cwd: repo, env: ENV, encoding: 'utf8' }).trim();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'envseal-git-sources-'));
    repo = join(dir, 'repo');
    await mkdir(join(repo, 'pkg'), { recursive: true });
    git(['init', '-q']);
    await writeFile(join(repo, 'pyproject.toml'), '[project]\nname = "pkg"\nversion = "1.0"\n');
    await writeFile(join(repo, 'pkg', '__init__.py'), '');
    git(['add', '-A']);
    git(['commit', '-q', '-m', 'one']);
    git(['tag', '-a', '-m', 'v1', 'v1']);
    commit = git(['rev-parse', 'HEAD']);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the refs, an annotated tag with its peeled commit', async () => {
    const refs = await new HostGit({ tmpDir: dir }).listRefs(`file://${repo}`);
    const byName = Object.fromEntries(refs.map((r) => [r.name, r.oid]));
    assert.equal(byName.HEAD, commit);
    assert.equal(byName['refs/heads/main'], commit);
    assert.equal(byName['refs/tags/v1^{}'], commit);
    assert.notEqual(byName['refs/tags/v1'], commit, 'the tag object itself');
  });

  it('archives a commit under its prefix with the commit time, the same bytes each time', async () => {
    const one = await new HostGit({ tmpDir: dir }).archive(`file://${repo}`, commit, `pkg-${commit}`);
    const two = await new HostGit({ tmpDir: dir }).archive(`file://${repo}`, commit, `pkg-${commit}`);
    assert.equal(one.commitTime, 1704164645);
    assert.ok(one.data.equals(two.data));
    assert.equal(one.data.readUInt32LE(4), 0, 'no gzip timestamp');
    const tar = gunzipSync(one.data).toString('latin1');
    assert.ok(tar.includes(`pkg-${commit}/pyproject.toml`));
  });

  it('refuses a commit the repository does not have (exit 2) and a repository that is not there (exit 3)', async () => {
    const missing = await caught(new HostGit({ tmpDir: dir }).archive(`file://${repo}`, 'f'.repeat(40), 'x'));
    assert.equal(missing.code, 'vcs.no-commit');
    assert.equal(missing.exitCode, 2);
    const gone = await caught(new HostGit({ tmpDir: dir }).listRefs(`file://${join(dir, 'nothing')}`));
    assert.equal(gone.code, 'vcs.unreachable');
    assert.equal(gone.exitCode, 3);
    assert.match(gone.message, /^git ls-remote file:\/\/\S+nothing failed/);
  });

  it('says git is missing (exit 3) when the host has none', async () => {
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'no-bin');
    try {
      const err = await caught(new HostGit({ tmpDir: dir }).listRefs(`file://${repo}`));
      assert.equal(err.code, 'vcs.no-git');
      assert.equal(err.exitCode, 3);
      assert.match(err.hint ?? '', /install git/);
    } finally {
      process.env.PATH = path;
    }
  });
});
