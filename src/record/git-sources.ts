/**
 * GitSources through the host's `git` (git+ requirements): `git ls-remote` for the refs, and for a commit's
 * source a fetch into a throwaway bare repository and `git archive`, gzipped here without a timestamp. The
 * archive's bytes depend only on the commit's tree, its committer time and git's tar writer, so the same commit
 * gives the same sha256 on the next `lock` or `build` (the lock records it, and a mismatch is reported, never
 * installed).
 *
 * git runs without a terminal (`core.askPass=true` answers any prompt with nothing) and with the settings that
 * change an archive fixed (`tar.umask`, `core.autocrlf`, attributes from the commit only).
 *
 * `ssh://` repositories go through the user's own ssh setup (agent, ~/.ssh/config, known_hosts, GIT_SSH_COMMAND),
 * reached through the environment the CLI passes in (`env`); envseal holds no key. A refused key and a host
 * key ssh cannot check are exit 3 with a hint that says how to fix the ssh setup.
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
  /** git's environment (from cli/: the user's, with prompts turned off); inherited when not given. */
  env?: Record<string, string>;
}

export class HostGit implements GitSources {
  private readonly archives = new Map<string, GitArchive>();

  constructor(private readonly options: HostGitOptions) {}

  async listRefs(repo: string): Promise<GitRemoteRef[]> {
    const run = await this.git(['ls-remote', repo], undefined);
    if (run.exitCode !== 0) throw remoteFailure(`git ls-remote ${repo}`, repo, run);
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
    if (all.exitCode !== 0) throw remoteFailure(`git fetch ${repo}`, repo, all);
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
    const run = await runProcess('git', [...FIXED, ...args], {
      ...(cwd ? { cwd } : {}),
      ...(this.options.env ? { env: this.options.env } : {}),
      timeoutMs: this.options.timeoutMs ?? 600_000,
    });
    if (!run) {
      throw externalError('vcs.no-git', 'git is not installed on this host; it is needed to lock and build git+ requirements', {
        hint: 'install git (e.g. apt-get install git) and run again',
      });
    }
    return run;
  }
}

/**
 * The error for a remote git could not read: ssh's own reason when ssh said one (a refused key, a host key it
 * cannot check, a host name that does not resolve, a port nothing answers on), else git's fatal: line. Exit 3 either way.
 */
export function remoteFailure(what: string, repo: string, run: ProcessResult): Error {
  const exit = `exit ${run.exitCode ?? run.signal}`;
  const ssh = /^ssh:/i.test(repo) ? sshReason(run.stderr) : undefined;
  if (ssh) return externalError(ssh.code, `${what} failed (${exit}): ${ssh.line}`, { hint: ssh.hint });
  return externalError('vcs.unreachable', `${what} failed (${exit}): ${lastLine(run)}`, {
    hint: /^ssh:/i.test(repo)
      ? 'check that the repository URL is right and that `ssh` to its host works from this shell (envseal runs git with your ssh setup)'
      : 'check that the repository URL is right and reachable from this host (network, credentials in a git credential helper)',
  });
}

const SSH_SETUP = 'envseal runs git with your ssh setup (ssh-agent, ~/.ssh/config, GIT_SSH_COMMAND) and stores no key';

function sshReason(stderr: string): { code: string; line: string; hint: string } | undefined {
  const lines = stderr.split('\n').map((l) => l.trim());
  const find = (re: RegExp) => lines.find((l) => re.test(l));
  const denied = find(/Permission denied \(|Too many authentication failures/);
  if (denied) {
    return {
      code: 'vcs.ssh-auth',
      line: `ssh: ${denied.replace(/^.*?(Permission denied|Too many)/, '$1')}`,
      hint: `the ssh server refused every key offered: load the key it accepts into ssh-agent (ssh-add) or name it in ~/.ssh/config (IdentityFile); ${SSH_SETUP}`,
    };
  }
  const hostKey = find(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/);
  if (hostKey) {
    return {
      code: 'vcs.ssh-host-key',
      line: `ssh: ${hostKey.replace(/^[@\s]+|[@\s]+$/g, '')}`,
      hint: `ssh cannot check the server's host key against known_hosts, and envseal does not answer prompts: connect once with ssh (or add the key with ssh-keyscan after checking its fingerprint); ${SSH_SETUP}`,
    };
  }
  const resolve = find(/Could not resolve hostname/);
  if (resolve) {
    return {
      code: 'vcs.unreachable',
      line: resolve.replace(/^.*?(Could not resolve hostname)/, 'ssh: $1'),
      hint: "check the host name in the git+ssh:// URL (or the Host alias in ~/.ssh/config) and this host's DNS",
    };
  }
  const connect = find(/connect to host .*: (Connection refused|Connection timed out|No route to host|Network is unreachable)|Connection (closed|reset) by/);
  if (connect) {
    return {
      code: 'vcs.unreachable',
      line: `ssh: ${connect.replace(/^ssh:\s*/, '')}`,
      hint: 'check the host and port in the git+ssh:// URL (or the Host alias in ~/.ssh/config) and that its ssh server is up and reachable from this host',
    };
  }
  return undefined;
}

/** git's reason: its last `fatal:`/`error:` line (git ends some with advice lines), else its last line. */
function lastLine(run: ProcessResult): string {
  if (run.timedOut) return 'timed out';
  const lines = run.stderr
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.filter((l) => /^(fatal|error):/.test(l)).pop() ?? lines[lines.length - 1] ?? 'no output';
}
