/**
 * Git repositories for e2e tests of git requirements: a work tree pushing to a bare repository on disk, with a
 * fixed identity so that commits made from the same files at the same date have the same hash in every run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const IDENTITY = {
  GIT_AUTHOR_NAME: 'envseal test',
  GIT_AUTHOR_EMAIL: 'test@envseal.invalid',
  GIT_COMMITTER_NAME: 'envseal test',
  GIT_COMMITTER_EMAIL: 'test@envseal.invalid',
};

/** Runs git in `cwd` (`main` as the first branch); with `date`, commits and tags get it as author and committer date. */
export function git(cwd: string, args: string[], date?: string): string {
  const env = { ...process.env, ...IDENTITY, ...(date ? { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } : {}) };
  return execFileSync('git', ['-c', 'init.defaultBranch=main', ...args], { cwd, env, encoding: 'utf8' }).trim();
}

/** Writes `files` into `work`, commits them and pushes `main` (and the tags) to origin; gives the commit. */
export function commitFiles(work: string, files: Record<string, string>, message: string, date?: string): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(work, path, '..'), { recursive: true });
    writeFileSync(join(work, path), text);
  }
  git(work, ['add', '-A'], date);
  git(work, ['commit', '-q', '-m', message], date);
  git(work, ['push', '-q', '--tags', 'origin', 'main'], date);
  return git(work, ['rev-parse', 'HEAD'], date);
}

/** A new bare repository `bare` and a work tree `work` whose origin it is, with `files` committed and pushed. */
export function makeRepo(work: string, bare: string, files: Record<string, string>, message = 'first', date?: string): string {
  git('/', ['init', '-q', '--bare', bare]);
  git('/', ['init', '-q', work]);
  git(work, ['remote', 'add', 'origin', bare]);
  return commitFiles(work, files, message, date);
}
