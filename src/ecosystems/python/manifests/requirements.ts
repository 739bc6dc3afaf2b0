/**
 * requirements.txt in pip's format (https://pip.pypa.io/en/stable/reference/requirements-file-format/):
 * the text is split into logical lines the way pip's `req_file.py` does it (a `\` at the end of a line
 * continues it, `#` at the start or after whitespace starts a comment), then each line is either options
 * (`-r`, `-c`, `--index-url`, ...) or a PEP 508 requirement with per-requirement `--hash` options.
 *
 * What envseal does not take from a requirements file, and why (each is an input error naming file:line):
 * - editable installs (`-e`) and local paths/archives: the lock must pin artifacts by hash from an index,
 *   and a working-tree path has neither a version nor a stable hash;
 * - direct URL requirements other than `name @ http(s)://…/name-version-tags.whl` (see direct-url.ts): bare
 *   URLs (no project name), VCS URLs (a moving ref that needs a checkout and a build) and sdist URLs (they need
 *   a build). Publish a wheel to an index (a local one is enough), or pin a wheel by URL;
 * - `${VAR}` environment variables: pip substitutes them from the environment of whoever runs it, which
 *   is a hidden input a reproducible lock cannot have;
 * - `-r`/`-c` with a URL, and absolute include paths: the project would depend on a network location or on
 *   this machine's layout;
 * - options that change how sdists are built (`--global-option`, `--config-settings`, `--use-feature`).
 *
 * The parser is pure; `loadRequirementsFile` follows includes through an injected file reader.
 */
import { posix } from 'node:path';
import { type EnvsealError, describeError, inputError, isEnvsealError } from '../../../core/errors.js';
import { normalizeName } from '../pep/names.js';
import { findRequirementProblem, type Requirement, tryParseRequirement } from '../pep/requirement.js';
import { maskUrlCredentials } from '../../../core/url-credentials.js';
import { checkDirectUrl } from './direct-url.js';
import { ENV_VAR, parseHash, parseOptionWords, splitArgsAndOptions, splitLogicalLines, splitShellWords, syntaxError } from './requirements-syntax.js';

/** A requirement as declared in a manifest, with where it was declared. */
export interface PythonRequirement {
  requirement: Requirement;
  /** `sha256:<hex>` (or sha384/sha512) from `--hash` options, in the order given. */
  hashes: string[];
  source: { file: string; line: number };
}

/** pip options recorded from requirements files; a field is present only when some file set it. */
export interface RequirementsOptions {
  /** `--pre`: allow pre-releases everywhere. */
  pre?: true;
  /** `--prefer-binary`. */
  preferBinary?: true;
  /** `--no-index`. */
  noIndex?: true;
  /** `--require-hashes`. */
  requireHashes?: true;
  /** `--only-binary`: normalised project names, or `:all:`. */
  onlyBinary?: string[];
  /** `--no-binary`: normalised project names, or `:all:`. */
  noBinary?: string[];
  /** `--trusted-host`. */
  trustedHosts?: string[];
  /** `-f/--find-links`, as written (relative paths are relative to the file they appear in). */
  findLinks?: string[];
}

export interface RequirementsFile {
  requirements: PythonRequirement[];
  constraints: PythonRequirement[];
  /**
   * The last `-i/--index-url` seen. As in pip, a later `-i` replaces the index list: it also drops the
   * `--extra-index-url`s read before it; after `--no-index` both stay empty.
   */
  indexUrl?: string;
  extraIndexUrls: string[];
  options: RequirementsOptions;
  /** Every file read, in the order first read (the top file first). */
  files: string[];
}

/** One logical line of a requirements file, after splitting and comment removal. */
export type RequirementsEntry =
  | { kind: 'requirement'; line: number; requirement: Requirement; hashes: string[] }
  | { kind: 'include'; line: number; path: string; constraint: boolean }
  | { kind: 'option'; line: number; option: RecordedOption; value?: string };

type RecordedOption =
  'index-url' | 'extra-index-url' | 'no-index' | 'find-links' | 'trusted-host' | 'pre' | 'prefer-binary' | 'require-hashes' | 'only-binary' | 'no-binary';

const INDEX_HINT =
  'publish the package to a package index (a local one is enough: envseal reads any PEP 503 index) and ' +
  'require it by name and version, or pin the released version from an index (e.g. name==1.2.3)';

function unsupported(file: string, line: number, what: string, hint: string): EnvsealError {
  return inputError('manifest.requirements.unsupported', `${file}:${line}: ${what}`, { hint });
}

// ---------------------------------------------------------------------------------------------------------
// Requirement lines

const URL_LIKE = /^(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/|(?:git|hg|svn|bzr)\+)/;
const ARCHIVE = /\.(?:whl|zip|tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|txz|tar)$/i;

function looksLikePath(text: string): boolean {
  return /^[.~/\\]/.test(text) || text.includes('/') || text.includes('\\');
}

function rejectLocalPath(args: string, file: string, line: number): never {
  throw unsupported(
    file,
    line,
    `local path "${args}" is not supported as a requirement (a path has no version or stable hash to lock)`,
    `${INDEX_HINT}; to use your own project's code in the image, copy it in with targets.deploy.copy instead`,
  );
}

function parseRequirementLine(args: string, file: string, line: number): Requirement {
  // pip takes anything named like an archive (`pkg-1.0-py3-none-any.whl`, `pkg.tar.gz`) as a file to
  // install, even where it would also read as a (strange) project name.
  if (!URL_LIKE.test(args) && ARCHIVE.test(args.split(/[;\s[]/)[0]!)) rejectLocalPath(args, file, line);
  const parsed = tryParseRequirement(args);
  if (parsed.ok) {
    const problem = findRequirementProblem(parsed.requirement);
    if (problem) throw syntaxError(file, line, `invalid requirement "${args}": ${problem}`, 'requirements look like requests>=2.31 or numpy==1.26.4 (PEP 508)');
    if (parsed.requirement.url !== undefined) {
      const check = checkDirectUrl(parsed.requirement.name, parsed.requirement.url);
      if (!check.ok) {
        throw inputError('manifest.direct-url', maskUrlCredentials(`${file}:${line}: direct URL requirement "${args}": ${check.problem}`), {
          hint: check.hint,
        });
      }
    }
    return parsed.requirement;
  }
  if (URL_LIKE.test(args)) {
    throw inputError('manifest.direct-url', maskUrlCredentials(`${file}:${line}: URL requirement "${args}" is not supported without a project name`), {
      hint: `write a wheel or sdist URL as "name @ URL" (e.g. "mypkg @ https://host/mypkg-1.0-py3-none-any.whl" or "… mypkg-1.0.tar.gz"); a git URL as "name @ git+https://host/repo.git@v1.0"; or ${INDEX_HINT}`,
    });
  }
  if (looksLikePath(args)) rejectLocalPath(args, file, line);
  const comment = args.includes('#') ? ' (a "#" starts a comment only at the start of a line or after whitespace)' : '';
  throw syntaxError(
    file,
    line,
    `invalid requirement "${args}": ${parsed.reason} at column ${parsed.column}${comment}`,
    'requirements look like requests>=2.31, uvicorn[standard]==0.30.1 or numpy<2; python_version < "3.12" ' + '(PEP 508)',
  );
}

/**
 * Parses the text of one requirements file into logical entries, in file order. Pure: includes are
 * returned as entries, not followed. Throws input errors naming `file:line`.
 */
export function parseRequirementsText(text: string, file: string): RequirementsEntry[] {
  const entries: RequirementsEntry[] = [];
  for (const { line, text: content } of splitLogicalLines(text)) {
    const env = ENV_VAR.exec(content);
    if (env) {
      throw unsupported(
        file,
        line,
        `environment variable ${env[0]} is not supported (pip would substitute it from the environment of ` + 'whoever runs it, which a lock cannot reproduce)',
        'write the value into the file; for index credentials use a netrc/keyring on the machine that locks, not the requirements file',
      );
    }
    const { args, options } = splitArgsAndOptions(content);
    const words = splitShellWords(options);
    if (!words) throw syntaxError(file, line, `unbalanced quotes in the options "${options}"`);
    const parsedOptions = parseOptionWords(words, file, line);

    if (args.trim() !== '') {
      const requirement = parseRequirementLine(args.trim(), file, line);
      const hashes: string[] = [];
      for (const opt of parsedOptions) {
        if (opt.name === 'hash') {
          const hash = parseHash(opt.value!, file, line);
          if (!hashes.includes(hash)) hashes.push(hash);
        } else if (opt.name === 'global-option' || opt.name === 'config-settings') {
          throw unsupported(
            file,
            line,
            `${opt.written} is not supported (it changes how a source distribution is built, which the lock cannot record)`,
            'remove the option; envseal installs wheels, and builds sdists only with their default settings',
          );
        } else {
          throw syntaxError(file, line, `option ${opt.written} cannot follow a requirement (only --hash can); put it on a line of its own`);
        }
      }
      entries.push({ kind: 'requirement', line, requirement, hashes });
      continue;
    }

    // pip applies a line's index options in a fixed order, whatever order they were written in.
    const indexOrder: Record<string, number> = { 'no-index': 0, 'index-url': 1, 'extra-index-url': 2 };
    const ordered = [...parsedOptions].sort((a, b) => (indexOrder[a.name] ?? 3) - (indexOrder[b.name] ?? 3));
    for (const opt of ordered) {
      switch (opt.name) {
        case 'requirement':
        case 'constraint': {
          const path = opt.value!;
          if (URL_LIKE.test(path)) {
            throw unsupported(
              file,
              line,
              `${opt.written} ${path}: including a requirements file from a URL is not supported`,
              'download the file into the project and include it by relative path',
            );
          }
          if (posix.isAbsolute(path) || /^[A-Za-z]:[\\/]/.test(path)) {
            throw unsupported(
              file,
              line,
              `${opt.written} ${path}: absolute include paths are not supported (the project would only work on this machine)`,
              'use a path relative to the including file',
            );
          }
          entries.push({ kind: 'include', line, path, constraint: opt.name === 'constraint' });
          break;
        }
        case 'editable':
          throw unsupported(
            file,
            line,
            `editable requirement "-e ${opt.value}" is not supported (an editable install points at a working tree, which has no version or hash to lock)`,
            `${INDEX_HINT}; to use your own project's code in the image, copy it in with targets.deploy.copy instead`,
          );
        case 'use-feature':
          throw unsupported(
            file,
            line,
            `${opt.written} ${opt.value} is not supported (envseal runs pip with its own fixed settings)`,
            'remove the option from the requirements file',
          );
        case 'hash':
        case 'global-option':
        case 'config-settings':
          throw syntaxError(file, line, `option ${opt.written} must follow a requirement on the same line`);
        default:
          entries.push({
            kind: 'option',
            line,
            option: opt.name as RecordedOption,
            ...(opt.value !== undefined ? { value: opt.value } : {}),
          });
      }
    }
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------------------
// Loading with includes

export type ReadFile = (path: string) => Promise<string>;

/** pip's `--no-binary`/`--only-binary` bookkeeping (`FormatControl.handle_mutual_excludes`). */
function applyFormatControl(value: string, target: Set<string>, other: Set<string>): void {
  let names = value.split(',');
  while (names.includes(':all:')) {
    other.clear();
    target.clear();
    target.add(':all:');
    names = names.slice(names.indexOf(':all:') + 1);
    if (!names.includes(':none:')) return;
  }
  for (const name of names) {
    if (name === ':none:') {
      target.clear();
      continue;
    }
    const normalized = normalizeName(name);
    other.delete(normalized);
    target.add(normalized);
  }
}

function isMissingFile(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || (isEnvsealError(err) && err.code === 'manifest.missing');
}

/**
 * Reads a requirements file and everything it includes (`-r` as requirements, `-c` as constraints, paths
 * relative to the including file, as pip resolves them), and folds the options of all of them. Paths are
 * joined with `/` and passed to `readFile` as they are (relative paths stay relative to whatever the
 * reader resolves them against). Include cycles are errors.
 */
export async function loadRequirementsFile(path: string, readFile: ReadFile): Promise<RequirementsFile> {
  const loader = new RequirementsLoader(readFile);
  await loader.visit(posix.normalize(path), false, []);
  return loader.finish();
}

interface IncludedFrom {
  file: string;
  line: number;
  written: string;
}

/** The state of one loadRequirementsFile call: the files read so far and the options folded so far. */
class RequirementsLoader {
  private readonly result: RequirementsFile = { requirements: [], constraints: [], extraIndexUrls: [], options: {}, files: [] };
  private readonly texts = new Map<string, string>();
  private readonly declaredLines = new Set<string>();
  private readonly onlyBinary = new Set<string>();
  private readonly noBinary = new Set<string>();
  private formatControlUsed = false;
  private readonly trustedHosts: string[] = [];
  private readonly findLinks: string[] = [];

  constructor(private readonly readFile: ReadFile) {}

  finish(): RequirementsFile {
    const { result } = this;
    if (this.formatControlUsed) {
      if (this.onlyBinary.size > 0) result.options.onlyBinary = [...this.onlyBinary].sort();
      if (this.noBinary.size > 0) result.options.noBinary = [...this.noBinary].sort();
    }
    if (this.trustedHosts.length > 0) result.options.trustedHosts = this.trustedHosts;
    if (this.findLinks.length > 0) result.options.findLinks = this.findLinks;
    return result;
  }

  private async read(file: string, includedFrom: IncludedFrom | null): Promise<string> {
    const cached = this.texts.get(file);
    if (cached !== undefined) return cached;
    let text: string;
    try {
      text = await this.readFile(file);
    } catch (err) {
      if (includedFrom && isMissingFile(err)) {
        throw inputError('manifest.missing', `${includedFrom.file}:${includedFrom.line}: ${includedFrom.written} names ${file}, which does not exist`, {
          hint: 'include paths are relative to the file that includes them; fix the path or create the file',
        });
      }
      if (isEnvsealError(err)) throw err;
      if (isMissingFile(err)) {
        throw inputError('manifest.missing', `${file}: no such requirements file`, {
          hint: 'create it or fix the path in the spec',
        });
      }
      throw inputError('manifest.unreadable', `${file}: cannot read the requirements file: ${describeError(err)}`, {
        cause: err,
      });
    }
    this.texts.set(file, text);
    this.result.files.push(file);
    return text;
  }

  async visit(file: string, constraint: boolean, stack: IncludedFrom[]): Promise<void> {
    const includedFrom = stack.length > 0 ? stack[stack.length - 1]! : null;
    const text = await this.read(file, includedFrom);
    for (const entry of parseRequirementsText(text, file)) {
      switch (entry.kind) {
        case 'requirement':
          this.addRequirement(entry, file, constraint);
          break;
        case 'include':
          await this.include(entry, file, stack);
          break;
        case 'option':
          this.applyOption(entry);
          break;
      }
    }
  }

  private addRequirement(entry: Extract<RequirementsEntry, { kind: 'requirement' }>, file: string, constraint: boolean): void {
    const declared: PythonRequirement = {
      requirement: entry.requirement,
      hashes: entry.hashes,
      source: { file, line: entry.line },
    };
    // A file reached twice through different includes declares its lines once.
    const key = `${constraint ? 'c' : 'r'}:${file}:${entry.line}`;
    if (this.declaredLines.has(key)) return;
    this.declaredLines.add(key);
    if (!constraint) {
      this.result.requirements.push(declared);
      return;
    }
    // pip's check_invalid_constraint_type: a constraint only narrows versions of a named project.
    if (entry.requirement.extras.length > 0) {
      throw syntaxError(
        file,
        entry.line,
        `constraint "${entry.requirement.name}[${entry.requirement.extras.join(',')}]" has extras; constraints cannot have extras`,
        'write the constraint without extras (e.g. name==1.2.3); put the extras on the requirement instead',
      );
    }
    this.result.constraints.push(declared);
  }

  private async include(entry: Extract<RequirementsEntry, { kind: 'include' }>, file: string, stack: IncludedFrom[]): Promise<void> {
    const target = posix.normalize(posix.join(posix.dirname(file), entry.path));
    const written = `${entry.constraint ? '-c' : '-r'} ${entry.path}`;
    const chain = [...stack.map((s) => s.file), file];
    if (chain.includes(target)) {
      const steps = [...stack, { file, line: entry.line, written }].map((s) => `${s.file}:${s.line} (${s.written})`).join(' → ');
      throw inputError('manifest.requirements.cycle', `${file}:${entry.line}: include cycle: ${steps} → ${target}`, {
        hint: 'remove one of the -r/-c lines so that no file includes itself, directly or through others',
      });
    }
    await this.visit(target, entry.constraint, [...stack, { file, line: entry.line, written }]);
  }

  private applyOption(entry: Extract<RequirementsEntry, { kind: 'option' }>): void {
    const { result } = this;
    switch (entry.option) {
      // The index list follows pip's handle_option_line: --no-index empties it for good, -i replaces
      // the whole list (extra index URLs given before it are dropped), --extra-index-url appends.
      case 'index-url':
        if (!result.options.noIndex) {
          result.indexUrl = entry.value!;
          result.extraIndexUrls = [];
        }
        break;
      case 'extra-index-url':
        if (!result.options.noIndex && !result.extraIndexUrls.includes(entry.value!)) {
          result.extraIndexUrls.push(entry.value!);
        }
        break;
      case 'no-index':
        result.options.noIndex = true;
        delete result.indexUrl;
        result.extraIndexUrls = [];
        break;
      case 'pre':
        result.options.pre = true;
        break;
      case 'prefer-binary':
        result.options.preferBinary = true;
        break;
      case 'require-hashes':
        result.options.requireHashes = true;
        break;
      case 'only-binary':
        this.formatControlUsed = true;
        applyFormatControl(entry.value!, this.onlyBinary, this.noBinary);
        break;
      case 'no-binary':
        this.formatControlUsed = true;
        applyFormatControl(entry.value!, this.noBinary, this.onlyBinary);
        break;
      case 'trusted-host':
        if (!this.trustedHosts.includes(entry.value!)) this.trustedHosts.push(entry.value!);
        break;
      case 'find-links':
        if (!this.findLinks.includes(entry.value!)) this.findLinks.push(entry.value!);
        break;
    }
  }
}
