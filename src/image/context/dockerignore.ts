/**
 * Which files of a project directory go into the build context: Docker's `.dockerignore` rules
 * (https://docs.docker.com/build/concepts/context/#dockerignore-files) plus envseal's default excludes.
 *
 * Matching itself is @balena/dockerignore, a port of moby's pattern matcher (`*`, `?`, `[...]`, `**`, `!`
 * exceptions, later lines win, a pattern that matches a directory excludes everything below it). This module
 * adds what Docker does around the matcher:
 *  - reading the file like moby's `dockerignore.ReadAll`: a UTF-8 BOM is dropped, lines starting with `#` are
 *    comments, surrounding whitespace is trimmed, paths are cleaned and a leading `/` is dropped;
 *  - case-sensitive matching (Docker on Linux; the library defaults to case-insensitive);
 *  - the Dockerfile and `.dockerignore` are always sent (docker/cli `TrimBuildFilesFromExcludes` appends
 *    `!<file>` when the file would be excluded);
 *  - the walk rule for excluded directories (moby `archive.TarWithOptions`): an excluded directory is skipped
 *    as a whole unless an exception pattern starts with the directory's path, in which case it is walked
 *    (without an entry of its own) so that the re-included files can be found.
 */
import { posix } from 'node:path';
import dockerignore, { type Ignore } from '@balena/dockerignore';
import { describeError, inputError } from '../../core/errors.js';

/**
 * Excluded unless the project's `.dockerignore` re-includes them with a `!` line (later lines win):
 *  - `.git` (history is not an input of the image; it is large and may hold secrets),
 *  - `.envseal/runs` (run records: outputs of previous runs must not change the next image),
 *  - `node_modules`, `.venv`, `__pycache__` (host-built dependencies and bytecode: the image installs its
 *    own, pinned by the lock),
 *  - `.env`, `.env.*`, `*.pem`, `id_rsa*` (credentials; an image is easily pushed and shared).
 * All except `.envseal/runs` match at any depth. Example: `!.env.example` sends a root `.env.example`.
 */
export const DEFAULT_CONTEXT_EXCLUDES: readonly string[] = Object.freeze([
  '**/.git',
  '.envseal/runs',
  '**/node_modules',
  '**/.venv',
  '**/__pycache__',
  '**/.env',
  '**/.env.*',
  '**/*.pem',
  '**/id_rsa*',
]);

export interface ContextFilterOptions {
  /** Content of the project's `.dockerignore` (none: only the defaults and `extraIgnore` apply). */
  ignoreFile?: string;
  /**
   * Patterns applied after the `.dockerignore` lines, so a `!` line there cannot re-include them (envseal's
   * own outputs, for instance). Same syntax as `.dockerignore` lines.
   */
  extraIgnore?: readonly string[];
  /** Paths that are always sent (the Dockerfile and `.dockerignore`). */
  alwaysInclude?: readonly string[];
  /** Use DEFAULT_CONTEXT_EXCLUDES (default true). */
  defaultExcludes?: boolean;
}

export interface ContextFilter {
  /** True when the '/'-separated path relative to the context root is not sent. */
  excludes(path: string): boolean;
  /** For an excluded directory: whether it must still be walked because an exception may re-include files in it. */
  mustWalkExcludedDir(dir: string): boolean;
  /** The effective pattern list, in matching order (later patterns win). */
  readonly patterns: readonly string[];
}

const UTF8_BOM = '\uFEFF';

// The package is CommonJS with `module.exports = factory; factory.default = factory`: under NodeNext the
// default import is `module.exports`, whose `default` is the same factory (and is what its types describe).
const ignore = dockerignore.default;

/**
 * Parses `.dockerignore` text into patterns exactly as moby's `dockerignore.ReadAll` does. A lone `!` is an
 * error there ("illegal exclusion pattern"), and here.
 */
export function parseDockerignore(content: string, source = '.dockerignore'): string[] {
  const text = content.startsWith(UTF8_BOM) ? content.slice(1) : content;
  const patterns: string[] = [];
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    // moby checks for '#' before trimming: "  # x" is a pattern, not a comment.
    if (line.startsWith('#')) return;
    const normalised = normalisePattern(line, `${source}:${index + 1}`);
    if (normalised !== undefined) patterns.push(normalised);
  });
  return patterns;
}

/** Builds the filter: defaults, then `.dockerignore`, then `extraIgnore`, then the always-included files. */
export function createContextFilter(options: ContextFilterOptions = {}): ContextFilter {
  const patterns: string[] = [];
  if (options.defaultExcludes ?? true) patterns.push(...DEFAULT_CONTEXT_EXCLUDES);
  if (options.ignoreFile !== undefined) patterns.push(...parseDockerignore(options.ignoreFile));
  for (const pattern of options.extraIgnore ?? []) {
    const normalised = normalisePattern(pattern, 'extra ignore pattern');
    if (normalised !== undefined) patterns.push(normalised);
  }
  const base = compileMatcher(patterns);
  for (const keep of options.alwaysInclude ?? []) {
    const path = normalisePattern(keep, 'always-included path');
    if (path !== undefined && !path.startsWith('!') && base.ignores(path)) patterns.push(`!${path}`);
  }
  const matcher = compileMatcher(patterns);
  const exceptions = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  return {
    patterns: Object.freeze([...patterns]),
    excludes: (path) => matcher.ignores(path),
    mustWalkExcludedDir: (dir) => {
      const dirSlash = `${dir}/`;
      return exceptions.some((exception) => `${exception}/`.startsWith(dirSlash));
    },
  };
}

/** Compiles the patterns now, so a malformed one (`[a-`) fails here with its text instead of mid-walk. */
function compileMatcher(patterns: string[]): Ignore {
  // The library drops any pattern that starts with '#' as a comment, but moby treats only lines whose first
  // column is '#' as comments (already removed by parseDockerignore): " #x" is the pattern "#x". An escaped
  // '\#' matches '#' in both Go's filepath.Match and the library.
  const forLibrary = patterns.map((p) => (p.startsWith('#') ? `\\${p}` : p.startsWith('!#') ? `!\\${p.slice(1)}` : p));
  const matcher = ignore({ ignorecase: false });
  for (const pattern of forLibrary) {
    try {
      ignore({ ignorecase: false }).add(pattern).ignores('probe');
    } catch (err) {
      throw inputError('build.dockerignore-invalid', `invalid .dockerignore pattern "${pattern}": ${describeError(err)}`, {
        hint: 'fix the pattern (syntax: https://docs.docker.com/build/concepts/context/#syntax)',
      });
    }
  }
  return matcher.add(forLibrary);
}

/** One line → a pattern in moby's canonical form, or undefined for a blank line. */
function normalisePattern(line: string, where: string): string | undefined {
  let pattern = line.trim();
  if (!pattern) return undefined;
  const invert = pattern.startsWith('!');
  if (invert) pattern = pattern.slice(1).trim();
  if (invert && !pattern) {
    throw inputError('build.dockerignore-invalid', `${where}: illegal exclusion pattern "!"`, {
      hint: 'a "!" line needs the path to re-include, e.g. "!docs/keep.md"',
    });
  }
  if (pattern) {
    // Go's filepath.Clean: resolve '.', '..' and duplicate slashes, drop a trailing slash.
    pattern = posix.normalize(pattern);
    if (pattern.length > 1 && pattern.endsWith('/')) pattern = pattern.slice(0, -1);
    if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
  }
  if (!pattern) return undefined;
  return invert ? `!${pattern}` : pattern;
}
