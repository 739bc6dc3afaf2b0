/**
 * GitSources through the host's `git` (git+ requirements): `git ls-remote` for the refs, and for a commit's
 * source a fetch into a throwaway bare repository and `git archive`, gzipped here without a timestamp. The
 * archive's bytes depend only on the commit's tree, its committer time and git's tar writer, so the same commit
 * gives the same sha256 on the next `lock` or `build` (the lock records it, and a mismatch is reported, never
 * installed).
 *
 * git runs without a terminal (`core.askPass=true` answers any prompt with nothing) and with the settings that
 * change an archive fixed (`tar.umask`, `core.autocrlf`, attributes from the commit only).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { externalError, inputError } from '../core/errors.js';
import type { GitArchive, GitRemoteRef, GitSources } from '../core/ports.js';
import { runProcess, type ProcessResult } from './exec.js';

const FIXED = ['-c', 'core.askPass=true', '-c', 'credential.interactive=false', '-c', 'tar.umask=0022', '-c', 'core.autocrlf=false'];

export interface HostGitOptions {
  /** Where throwaway repositories are made (the system temp directory). */
  tmpDir: string;
  /** Kill a git command after this long (default 10 minutes: a large repository may take a while to fetch). */
  timeoutMs?: number;
}

export class HostGit implements GitSources {
  private readonly archives = new Map<string, GitArchive>();

  constructor(private readonly options: HostGitOptions) {}

  async listRefs(repo: string): Promise<GitRemoteRef[]> {
    const run = await this.git(['ls-remote', repo], undefined);
    if (run.exitCode !== 0) {
      throw externalError('vcs.unreachable', `git ls-remote ${repo} failed (exit ${run.exitCode ?? run.signal}): ${lastLine(run)}`, {
        hint: 'check that the repository URL is right and reachable from this host (network, credentials in a git credential helper)',
      });
    }
    return run.stdout
      .toString('utf8')
      .split('\n')
      .map((l) => /^([0-9a-f]{40})\t(\S+)$/.exec(l.trim()))
      .filter((m) => m !== null)
      .map((m) => ({ oid: m[1]!, name: m[2]! }));
  }

  async archive(repo: string, commit: string, prefix: string): Promise<GitArchive> {
    const key = `${repo}\u0000${commit}\u0000${prefix}`;
    const known = this.archives.get(key);
    if (known) return known;
    const dir = await mkdtemp(join(this.options.tmpDir, 'envseal-git-'));
    try {
      await this.must(['init', '-q', '--bare', dir], undefined, `git init in ${dir}`);
      await this.fetchCommit(dir, repo, commit);
      const tar = await this.must(['archive', '--format=tar', `--prefix=${prefix}/`, commit], dir, `git archive of ${commit}`);
      const time = await this.must(['show', '-s', '--format=%ct', commit], dir, `git show ${commit}`);
      const made = { data: gzipSync(tar.stdout, { level: 9 }), commitTime: Number(time.stdout.toString('utf8').trim()) };
      this.archives.set(key, made);
      return made;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The commit alone (shallow) when the server allows it, else every branch and tag; exit 2 when it is not there. */
  private async fetchCommit(dir: string, repo: string, commit: string): Promise<void> {
    const shallow = await this.git(['fetch', '-q', '--no-tags', '--depth=1', repo, commit], dir);
    if (shallow.exitCode === 0) return;
    const all = await this.git(['fetch', '-q', '--no-tags', repo, '+refs/heads/*:refs/remotes/r/heads/*', '+refs/tags/*:refs/remotes/r/tags/*'], dir);
    if (all.exitCode !== 0) {
      throw externalError('vcs.unreachable', `git fetch ${repo} failed (exit ${all.exitCode ?? all.signal}): ${lastLine(all)}`, {
        hint: 'check that the repository URL is right and reachable from this host',
      });
    }
    const has = await this.git(['cat-file', '-e', `${commit}^{commit}`], dir);
    if (has.exitCode !== 0) {
      throw inputError('vcs.no-commit', `${repo} has no commit ${commit} on any branch or tag`, {
        hint: 'name a commit the repository has (pushed to a branch or tag)',
      });
    }
  }

  private async must(args: string[], cwd: string | undefined, what: string): Promise<ProcessResult> {
    const run = await this.git(args, cwd);
    if (run.exitCode !== 0) throw externalError('vcs.git-failed', `${what} failed (exit ${run.exitCode ?? run.signal}): ${lastLine(run)}`);
    return run;
  }

  private async git(args: string[], cwd: string | undefined): Promise<ProcessResult> {
    const run = await runProcess('git', [...FIXED, ...args], { ...(cwd ? { cwd } : {}), timeoutMs: this.options.timeoutMs ?? 600_000 });
    if (!run) {
      throw externalError('vcs.no-git', 'git is not installed on this host; it is needed to lock and build git+ requirements', {
        hint: 'install git (e.g. apt-get install git) and run again',
      });
    }
    return run;
  }
}

function lastLine(run: ProcessResult): string {
  const lines = run.stderr.trim().split('\n').filter(Boolean);
  return run.timedOut ? 'timed out' : (lines[lines.length - 1] ?? 'no output');
}
