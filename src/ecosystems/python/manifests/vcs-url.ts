/**
 * Git requirements (`name @ git+https://host/repo.git@<tag|branch|commit>`, pip's VCS syntax): the parts
 * envseal locks, and how a ref is turned into the full commit the lock names. Pure.
 *
 *   - Schemes: `git+https://`, `git+http://`, `git+file://` and `git+ssh://` (reached with the host's ssh setup:
 *     agent, ~/.ssh/config, GIT_SSH_COMMAND; envseal stores no key, and the lock holds only the URL).
 *   - The ref is everything after the last `@` of the path (as pip splits it); without one, the repository's default branch
 *     (its `HEAD`) is locked. A `#subdirectory=path` fragment names the project's directory in the repository (a
 *     monorepo); `#egg=` is refused (the name comes before `@`).
 *   - Credentials in the URL are refused: the URL is written into the lock and the Dockerfile. An ssh URL may
 *     name its login user (`git+ssh://git@host/…`, no password): that is an account name, not a secret.
 *   - A full 40-hex commit is taken as it is; an abbreviated one is refused (it may name another commit once the
 *     repository grows, and resolving it needs the whole history); tags and branches resolve through the
 *     repository's refs (`git ls-remote`), an annotated tag to the commit it points to.
 */

export interface GitUrl {
  /** The repository URL git is given (without `git+`, ref or fragment). */
  repo: string;
  /** The ref as written, or undefined for the default branch. */
  ref?: string;
  /** `#subdirectory=`: the project's directory inside the repository (relative, `/`-separated, normalised). */
  subdirectory?: string;
}

export type GitUrlCheck = { ok: true; value: GitUrl } | { ok: false; problem: string; hint: string };

/** A ref the remote advertises (`git ls-remote`): full ref name (`refs/tags/v1`, `HEAD`) and the object it names. */
export interface RemoteRef {
  name: string;
  oid: string;
}

const FULL_COMMIT = /^[0-9a-f]{40}$/;
const SHORT_COMMIT = /^[0-9a-f]{4,39}$/i;

export function isGitRequirementUrl(url: string): boolean {
  return /^git\+/i.test(url);
}

/** Whether `url` is a lockable git URL; if not, what is wrong and what to do. */
export function parseGitUrl(url: string): GitUrlCheck {
  const fail = (problem: string, hint = 'write it as "name @ git+https://host/repo.git@v1.0" (a tag, a branch or a full commit)'): GitUrlCheck => ({
    ok: false,
    problem,
    hint,
  });
  const hash = url.indexOf('#');
  const bare = url.slice(4, hash === -1 ? undefined : hash);
  const fragment = hash === -1 ? null : parseGitFragment(url.slice(hash + 1));
  if (fragment && !fragment.ok)
    return fail(fragment.problem, 'name the project\'s directory as "#subdirectory=path/in/repo" (a relative path), or leave the fragment out');
  const sub = fragment?.ok && fragment.subdirectory !== undefined ? { subdirectory: fragment.subdirectory } : {};
  let parsed: URL;
  try {
    parsed = new URL(bare);
  } catch {
    return fail(`${JSON.stringify(url)} is not a URL`);
  }
  if (!['https:', 'http:', 'file:', 'ssh:'].includes(parsed.protocol)) {
    return fail(`only git+https://, git+http://, git+ssh:// and git+file:// repositories can be locked, not git+${parsed.protocol}//`);
  }
  if (parsed.password || (parsed.username && parsed.protocol !== 'ssh:')) {
    return fail(
      'the URL carries credentials, which would be written into the lock and the Dockerfile',
      parsed.protocol === 'ssh:'
        ? 'leave the password out: git+ssh:// uses your ssh keys (ssh-agent, ~/.ssh/config), which stay on this host'
        : 'serve the repository without credentials in the URL (a git credential helper on the host works)',
    );
  }
  if (parsed.search) return fail('a query string is not supported in a git requirement URL');
  // As pip: the ref is what follows the last "@" of the path, slashes included (branch feature/x).
  const at = parsed.pathname.lastIndexOf('@');
  if (at === -1) {
    if (parsed.pathname.length <= 1) return fail('the URL names no repository');
    return { ok: true, value: { repo: bare, ...sub } };
  }
  let ref: string;
  try {
    ref = decodeURIComponent(parsed.pathname.slice(at + 1));
  } catch {
    return fail(`the ref ${JSON.stringify(parsed.pathname.slice(at + 1))} is not valid percent-encoding`);
  }
  if (ref === '')
    return fail('the URL ends in "@" without a ref', 'name a tag, a branch or a full commit after "@", or leave "@" out to lock the default branch');
  const repo = bare.slice(0, bare.length - parsed.pathname.length + at);
  return { ok: true, value: { repo, ref, ...sub } };
}

/** `subdirectory=path` (pip's fragment; `egg=` is refused): the path checked to stay inside the repository. */
function parseGitFragment(text: string): { ok: true; subdirectory?: string } | { ok: false; problem: string } {
  let subdirectory: string | undefined;
  for (const part of text.split('&')) {
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    let value: string;
    try {
      value = decodeURIComponent(eq === -1 ? '' : part.slice(eq + 1));
    } catch {
      return { ok: false, problem: `the URL fragment #${text} is not valid percent-encoding` };
    }
    if (key !== 'subdirectory') return { ok: false, problem: `the URL fragment #${key}= is not supported (only #subdirectory=)` };
    const segments = value.replace(/\/+$/, '').split('/');
    // Plain path characters only: the path is written into the lock, a pip requirement and a shell command.
    if (!/^[A-Za-z0-9._/-]+$/.test(value) || value.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
      return { ok: false, problem: `#subdirectory=${value} is not a relative path inside the repository` };
    }
    subdirectory = segments.join('/');
  }
  return { ok: true, ...(subdirectory !== undefined ? { subdirectory } : {}) };
}

export type RefChoice =
  { ok: true; commit: string; via: string } | { ok: false; code: 'python.vcs-ref' | 'python.vcs-short-commit'; problem: string; hint: string };

/**
 * The commit `ref` names among the remote's refs: the default branch (`HEAD`) without a ref; a full commit as
 * is; else a tag (peeled), a branch, or a full ref name, in that order. An abbreviated commit is refused.
 */
export function chooseCommit(ref: string | undefined, refs: readonly RemoteRef[]): RefChoice {
  const find = (name: string) => refs.find((r) => r.name === name)?.oid;
  if (ref === undefined) {
    const head = find('HEAD');
    if (head) return { ok: true, commit: head, via: 'HEAD (the default branch)' };
    return {
      ok: false,
      code: 'python.vcs-ref',
      problem: 'the repository has no HEAD (default branch) to lock',
      hint: 'name a tag, a branch or a full commit after "@"',
    };
  }
  if (FULL_COMMIT.test(ref)) return { ok: true, commit: ref, via: 'commit' };
  const candidates: [string, string][] = [
    [`refs/tags/${ref}^{}`, `tag ${ref}`],
    [`refs/tags/${ref}`, `tag ${ref}`],
    [`refs/heads/${ref}`, `branch ${ref}`],
    [ref, ref],
  ];
  for (const [name, via] of candidates) {
    const oid = find(name);
    if (oid) return { ok: true, commit: oid, via };
  }
  if (SHORT_COMMIT.test(ref)) {
    return {
      ok: false,
      code: 'python.vcs-short-commit',
      problem: `"${ref}" looks like an abbreviated commit; envseal locks full commits only (an abbreviation may later name another commit)`,
      hint: 'write the full 40-character commit hash (git rev-parse <abbrev> prints it), or a tag',
    };
  }
  const known = refs
    .map((r) => r.name)
    .filter((n) => n.startsWith('refs/tags/') || n.startsWith('refs/heads/'))
    .filter((n) => !n.endsWith('^{}'))
    .map((n) => n.replace(/^refs\/(tags|heads)\//, ''));
  return {
    ok: false,
    code: 'python.vcs-ref',
    problem: `the repository has no tag or branch "${ref}"`,
    hint: known.length ? `its tags and branches: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}` : 'the repository has no tags or branches',
  };
}

/** `git+<repo>@<commit>[#subdirectory=<path>]`: the URL the lock records for a git package (pip's syntax, never a moving ref). */
export function lockedGitUrl(repo: string, commit: string, subdirectory?: string): string {
  return `git+${repo}@${commit}${subdirectory !== undefined ? `#subdirectory=${subdirectory}` : ''}`;
}

/** The repository, commit and subdirectory of a locked git URL (`lockedGitUrl`), or null for any other URL. */
export function parseLockedGitUrl(url: string): { repo: string; commit: string; subdirectory?: string } | null {
  const m = /^git\+(.+)@([0-9a-f]{40})(?:#subdirectory=(.+))?$/.exec(url);
  if (!m) return null;
  return { repo: m[1]!, commit: m[2]!, ...(m[3] !== undefined ? { subdirectory: m[3] } : {}) };
}

/**
 * Where the archive of a locked git package lies in the project (the build context), so the Dockerfile's
 * builder stage can COPY it: `.envseal/vcs/<commit>/<filename>`. `envseal lock` and `envseal build` write it.
 */
export function vcsArchivePath(commit: string, filename: string): string {
  return `.envseal/vcs/${commit}/${filename}`;
}

/** Where the builder stage (and the lock-time build) puts the archive. */
export function vcsArchiveInBuild(commit: string, filename: string): string {
  return `/tmp/envseal-vcs/${commit}/${filename}`;
}
