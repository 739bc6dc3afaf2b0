import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import { describeError, externalError, inputError } from '../core/errors.js';
import { digestOf } from '../core/canonical-json.js';
import { runProcess, type ProcessResult } from './exec.js';

/**
 * The state of the project's git work tree at run time: which commit, which branch, and whether (and how)
 * the files differ from that commit.
 *
 * `diffDigest` identifies the uncommitted changes without storing them. It is the `sha256:` of the canonical
 * JSON of every path that differs from HEAD, tracked (`git diff HEAD --name-only`: staged and unstaged
 * changes, deletions, mode changes) and untracked (`git ls-files --others --exclude-standard`: ignored files
 * stay out), each with the sha256 of its working-tree content (link text for symlinks), its executable bit,
 * or "deleted". Given the commit, that determines the textual diff; unlike hashing `git diff` output it does
 * not change with the user's diff settings (algorithm, context, prefixes, colour) or the git version.
 *
 * Git is run with `--no-optional-locks` so recording a run never takes the index lock from a concurrent
 * `git commit`, and with pathspecs that leave out envseal's own run records and git-package archives (`excludePaths`), which would
 * otherwise make every run after the first look dirty.
 */
export interface GitRemote {
  name: string;
  /** The remote's URL with any credentials removed (see `stripRemoteCredentials`). */
  url: string;
}

export interface GitState {
  /** Full object name of HEAD; null in a repository with no commits yet. */
  commit: string | null;
  /** Short branch name; null when HEAD is detached. */
  branch: string | null;
  dirty: boolean;
  /** null when the work tree is clean. */
  diffDigest: string | null;
  /** Tracked paths that differ from HEAD. */
  changedFiles: number;
  /** Untracked, not ignored files. */
  untrackedFiles: number;
  /** The project directory relative to the repository root, "." at the root. */
  projectPath: string;
  remote: GitRemote | null;
}

export type GitUnavailableReason = 'not-a-repository' | 'git-not-installed';

/**
 * `changedPaths`: the tracked paths that differ from HEAD and the untracked ones, relative to the repository
 * root and sorted (what `envseal run` names when it warns about a dirty work tree; not part of the record's
 * git state, which keeps counts and a digest).
 */
export type GitCapture =
  { state: GitState; unavailable: null; changedPaths?: string[] } | { state: null; unavailable: { reason: GitUnavailableReason; message: string } };

/**
 * Runs `git <args>` in `cwd`. Resolves null when git is not installed.
 */
export type GitRunner = (args: string[], options: { cwd: string }) => Promise<ProcessResult | null>;

export interface CaptureGitOptions {
  runGit?: GitRunner;
  /** Paths relative to `dir` that do not count as changes. Default: `.envseal/runs`. */
  excludePaths?: string[];
}

export const defaultGitRunner: GitRunner = (args, options) => runProcess('git', args, options);

/**
 * The commit checked out in the work tree holding `dir`, with one git process: what a build's revision label
 * needs (captureGitState also lists changes and reads the remote, for run records). Null outside a repository,
 * before the first commit, without git, or when git fails: the label is then left out.
 */
export async function headCommit(dir: string, runGit: GitRunner = defaultGitRunner): Promise<string | null> {
  const head = await runGit(['--no-optional-locks', 'rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { cwd: dir }).catch(() => null);
  const commit = head?.exitCode === 0 ? head.stdout.toString('utf8').trim() : '';
  return /^[0-9a-f]{40,64}$/.test(commit) ? commit : null;
}

/** Captures the git state of the work tree containing `dir` (an absolute path: the project directory). */
export async function captureGitState(dir: string, options: CaptureGitOptions = {}): Promise<GitCapture> {
  const runGit = options.runGit ?? defaultGitRunner;
  const excludePaths = options.excludePaths ?? ['.envseal/runs', '.envseal/vcs'];
  if (!existsSync(dir)) {
    throw inputError('record.git-dir-missing', `project directory ${dir} does not exist`, { hint: 'run envseal from the project directory' });
  }
  const git: Git = async (args, okCodes = [0]) => {
    const result = await runGit(['--no-optional-locks', ...args], { cwd: dir });
    if (result === null) throw externalError('record.git-failed', `git disappeared while envseal was running \`git ${args.join(' ')}\``);
    if (result.exitCode === null || !okCodes.includes(result.exitCode)) throw gitFailed(dir, args, result);
    return result;
  };

  const where = await runGit(['--no-optional-locks', 'rev-parse', '--show-toplevel', '--show-prefix'], { cwd: dir });
  if (where === null) {
    return { state: null, unavailable: { reason: 'git-not-installed', message: 'git is not installed (no `git` executable on PATH)' } };
  }
  if (where.exitCode !== 0) {
    // Git's own wording is translated, so decide by what is on disk: with no `.git` above `dir` this is simply
    // not a repository; with one, git failed for another reason (e.g. "dubious ownership") that must surface.
    if (!hasGitAncestor(resolve(dir))) {
      return { state: null, unavailable: { reason: 'not-a-repository', message: `${dir} is not inside a git work tree` } };
    }
    throw gitFailed(dir, ['rev-parse', '--show-toplevel', '--show-prefix'], where);
  }
  const [topLevel = '', prefix = ''] = where.stdout.toString('utf8').split('\n');

  const head = await git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], [0, 1]);
  const commit = head.exitCode === 0 ? head.stdout.toString('utf8').trim() : null;
  const symref = await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], [0, 1]);
  const branch = symref.exitCode === 0 ? symref.stdout.toString('utf8').trim() : null;

  // Pathspecs: the whole work tree (":/"), minus envseal's own outputs. `top` makes the excluded paths
  // relative to the repository root, `literal` stops glob characters in them from being interpreted
  // (git-scm.com/docs/gitglossary#Documentation/gitglossary.txt-aiddefpathspecapathspec).
  const pathspecs = [':/', ...excludePaths.map((p) => `:(top,exclude,literal)${posix.normalize(`${prefix}${p}`)}`)];

  // Before the first commit there is no HEAD to compare with: every file in the index is a change.
  const changedArgs = commit
    ? ['diff', 'HEAD', '--name-only', '-z', '--no-renames', '--no-relative', '--no-ext-diff', '--no-textconv', '--', ...pathspecs]
    : ['ls-files', '--cached', '-z', '--full-name', '--', ...pathspecs];
  const changed = splitNul((await git(['-c', 'core.quotePath=false', ...changedArgs])).stdout);
  const untracked = splitNul(
    (await git(['-c', 'core.quotePath=false', 'ls-files', '--others', '--exclude-standard', '-z', '--full-name', '--', ...pathspecs])).stdout,
  );

  const dirty = changed.length + untracked.length > 0;
  const diffDigest = dirty
    ? digestOf({
        version: 1,
        base: commit,
        changed: await describeWorkTreeFiles(topLevel, changed),
        untracked: await describeWorkTreeFiles(topLevel, untracked),
      })
    : null;

  return {
    state: {
      commit,
      branch,
      dirty,
      diffDigest,
      changedFiles: changed.length,
      untrackedFiles: untracked.length,
      projectPath: prefix === '' ? '.' : prefix.replace(/\/$/, ''),
      remote: await readRemote(git, branch),
    },
    unavailable: null,
    changedPaths: [...new Set([...changed, ...untracked])].sort(),
  };
}

/**
 * Removes credentials from a remote URL before it is recorded. In URL form (`scheme://userinfo@host/…`,
 * RFC 3986 §3.2.1) the password is always removed; the user name is kept only for ssh, where it is an
 * account name like `git` and the credential is a key. For http(s) and everything else it is removed too,
 * because tokens are commonly passed as the user name (`https://<token>@github.com/…`,
 * `https://oauth2:<token>@gitlab.com/…`). scp-like `user@host:path` and local paths carry no credentials.
 */
export function stripRemoteCredentials(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)@/.exec(url);
  if (!m) return url;
  const scheme = m[1]!.toLowerCase();
  const userinfo = m[2]!;
  const keepUser = scheme === 'ssh' || scheme === 'git+ssh' || scheme === 'ssh+git';
  const user = userinfo.split(':')[0]!;
  const authority = keepUser && user !== '' ? `${user}@` : '';
  return `${m[1]}://${authority}${url.slice(m[0].length)}`;
}

type Git = (args: string[], okCodes?: number[]) => Promise<ProcessResult>;

/** The branch's upstream remote, else `origin`, else the first remote by name. */
async function readRemote(git: Git, branch: string | null): Promise<GitRemote | null> {
  const list = await git(['remote']);
  const names = list.stdout.toString('utf8').split('\n').filter(Boolean).sort();
  if (names.length === 0) return null;
  let name: string | undefined;
  if (branch) {
    const upstream = await git(['config', '--get', `branch.${branch}.remote`], [0, 1]);
    const configured = upstream.exitCode === 0 ? upstream.stdout.toString('utf8').trim() : '';
    if (names.includes(configured)) name = configured;
  }
  name ??= names.includes('origin') ? 'origin' : names[0]!;
  const url = await git(['remote', 'get-url', name]);
  return { name, url: stripRemoteCredentials(url.stdout.toString('utf8').trim()) };
}

interface WorkTreeFile {
  path: string;
  state: 'file' | 'executable' | 'symlink' | 'directory' | 'other' | 'deleted';
  sha256: string | null;
}

/** One file at a time: a work tree can hold tens of thousands of untracked files (an unignored venv). */
async function describeWorkTreeFiles(topLevel: string, paths: string[]): Promise<WorkTreeFile[]> {
  const out: WorkTreeFile[] = [];
  for (const path of [...paths].sort()) out.push(await describeWorkTreeFile(topLevel, path));
  return out;
}

async function describeWorkTreeFile(topLevel: string, path: string): Promise<WorkTreeFile> {
  const full = join(topLevel, path);
  let stats;
  try {
    stats = await lstat(full);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return { path, state: 'deleted', sha256: null };
    }
    throw unreadableWorkTree(full, err);
  }
  if (stats.isSymbolicLink()) {
    const target = await readlink(full, { encoding: 'buffer' }).catch((err: unknown) => {
      throw unreadableWorkTree(full, err);
    });
    return { path, state: 'symlink', sha256: createHash('sha256').update(target).digest('hex') };
  }
  // A submodule or a nested repository: its own commit is not captured here.
  if (stats.isDirectory()) return { path, state: 'directory', sha256: null };
  if (!stats.isFile()) return { path, state: 'other', sha256: null };
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(full)) hash.update(chunk as Buffer);
  } catch (err) {
    throw unreadableWorkTree(full, err);
  }
  return { path, state: (stats.mode & 0o100) !== 0 ? 'executable' : 'file', sha256: hash.digest('hex') };
}

function hasGitAncestor(dir: string): boolean {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(join(current, '.git'))) return true;
    if (dirname(current) === current) return false;
  }
}

function splitNul(buffer: Buffer): string[] {
  return buffer
    .toString('utf8')
    .split('\0')
    .filter((s) => s.length > 0);
}

function gitFailed(dir: string, args: string[], result: ProcessResult) {
  const stderr = result.stderr.trim();
  const dubious = /dubious ownership|safe\.directory/.test(stderr);
  return externalError('record.git-failed', `git ${args.join(' ')} failed in ${dir}: ${stderr || `exit ${result.exitCode ?? result.signal}`}`, {
    hint: dubious
      ? 'git refuses to read a repository owned by another user; if you trust it, run the `git config --global --add safe.directory` command git printed above'
      : 'run `git status` in the project directory to see what is wrong with the repository',
    data: { args, exitCode: result.exitCode, stderr },
  });
}

function unreadableWorkTree(path: string, err: unknown) {
  return inputError('record.git-unreadable', `cannot read ${path} to digest uncommitted changes: ${describeError(err)}`, {
    hint: 'make the work tree readable by the user running envseal',
    cause: err,
  });
}
