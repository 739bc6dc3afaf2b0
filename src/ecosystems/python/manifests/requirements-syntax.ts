/**
 * The line syntax of pip's requirements files, as pip's `req_file.py` reads it: logical lines (continuations,
 * comments), the split into requirement and options, shell-word splitting of the options, the option table
 * and `--hash` values. requirements.ts gives the entries their meaning.
 */
import { type EnvsealError, inputError } from '../../../core/errors.js';
import { PY_WHITESPACE, stripPythonWhitespace } from '../pep/version.js';

export const FORMAT_HINT = 'see https://pip.pypa.io/en/stable/reference/requirements-file-format/';

export function syntaxError(file: string, line: number, what: string, hint = FORMAT_HINT): EnvsealError {
  return inputError('manifest.requirements.syntax', `${file}:${line}: ${what}`, { hint });
}

// ---------------------------------------------------------------------------------------------------------
// Logical lines (pip's req_file.py: preprocess = join_lines, ignore_comments, expand_env_variables)

// Python's str.splitlines() boundaries.
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
/** `(^|\s+)#.*$`: a comment starts at a `#` at the start of the line or after whitespace. */
const COMMENT = new RegExp(`(?:^|[${PY_WHITESPACE}]+)#.*$`, 's');
const COMMENT_AT_START = new RegExp(`^(?:[${PY_WHITESPACE}]+)?#`);
export const ENV_VAR = /\$\{([A-Z0-9_]+)\}/;

export interface LogicalLine {
  line: number;
  text: string;
}

export function splitLogicalLines(text: string): LogicalLine[] {
  const physical = text.replace(/^\ufeff/, '').split(LINE_BREAK);
  const joined: LogicalLine[] = [];
  let pending: string[] = [];
  let pendingLine = 0;
  physical.forEach((raw, i) => {
    const lineNo = i + 1;
    const isComment = COMMENT_AT_START.test(raw);
    if (!raw.endsWith('\\') || isComment) {
      // A comment line ends a continuation; the leading space keeps it recognisable as a comment.
      const piece = isComment ? ` ${raw}` : raw;
      if (pending.length > 0) {
        joined.push({ line: pendingLine, text: pending.join('') + piece });
        pending = [];
      } else {
        joined.push({ line: lineNo, text: piece });
      }
    } else {
      if (pending.length === 0) pendingLine = lineNo;
      pending.push(raw.replace(/^\\+|\\+$/g, ''));
    }
  });
  if (pending.length > 0) joined.push({ line: pendingLine, text: pending.join('') });
  return joined.map((l) => ({ line: l.line, text: stripPythonWhitespace(l.text.replace(COMMENT, '')) })).filter((l) => l.text !== '');
}

/**
 * pip's `break_args_options`: the requirement is every space-separated token before the first one that
 * starts with `-`; the rest are options (split with shlex).
 */
export function splitArgsAndOptions(text: string): { args: string; options: string } {
  const tokens = text.split(' ');
  const index = tokens.findIndex((t) => t.startsWith('-'));
  if (index === -1) return { args: text, options: '' };
  return { args: tokens.slice(0, index).join(' '), options: tokens.slice(index).join(' ') };
}

/** POSIX shell word splitting (Python's `shlex.split`), used by pip for the options part of a line. */
export function splitShellWords(text: string): string[] | null {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) return null;
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        // Inside double quotes a backslash only escapes `"` and itself (shlex in POSIX mode).
        if (text[j] === '\\' && j + 1 < text.length && (text[j + 1] === '"' || text[j + 1] === '\\')) j++;
        word += text[j];
      }
      if (j >= text.length) return null;
      inWord = true;
      i = j;
    } else if (ch === '\\') {
      if (i + 1 < text.length) word += text[++i];
      inWord = true;
    } else if (' \t\r\n'.includes(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

// ---------------------------------------------------------------------------------------------------------
// Options

interface OptionSpec {
  name: string;
  takesValue: boolean;
}

/** pip's requirements-file options (`req_file.SUPPORTED_OPTIONS` and `SUPPORTED_OPTIONS_REQ`), long names. */
const OPTIONS: Record<string, OptionSpec> = {
  '--index-url': { name: 'index-url', takesValue: true },
  '--extra-index-url': { name: 'extra-index-url', takesValue: true },
  '--no-index': { name: 'no-index', takesValue: false },
  '--constraint': { name: 'constraint', takesValue: true },
  '--requirement': { name: 'requirement', takesValue: true },
  '--editable': { name: 'editable', takesValue: true },
  '--find-links': { name: 'find-links', takesValue: true },
  '--no-binary': { name: 'no-binary', takesValue: true },
  '--only-binary': { name: 'only-binary', takesValue: true },
  '--prefer-binary': { name: 'prefer-binary', takesValue: false },
  '--require-hashes': { name: 'require-hashes', takesValue: false },
  '--pre': { name: 'pre', takesValue: false },
  '--trusted-host': { name: 'trusted-host', takesValue: true },
  '--use-feature': { name: 'use-feature', takesValue: true },
  '--hash': { name: 'hash', takesValue: true },
  '--global-option': { name: 'global-option', takesValue: true },
  '--config-settings': { name: 'config-settings', takesValue: true },
};

const SHORT_OPTIONS: Record<string, string> = {
  '-i': '--index-url',
  '-c': '--constraint',
  '-r': '--requirement',
  '-e': '--editable',
  '-f': '--find-links',
};

export interface ParsedOption {
  name: string;
  /** How it was written, for messages. */
  written: string;
  value?: string;
}

export function parseOptionWords(words: string[], file: string, line: number): ParsedOption[] {
  const out: ParsedOption[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    let long: string;
    let flag: string;
    let value: string | undefined;
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      long = eq === -1 ? word : word.slice(0, eq);
      flag = long;
      if (eq !== -1) value = word.slice(eq + 1);
    } else if (word.startsWith('-') && word.length >= 2) {
      flag = word.slice(0, 2);
      const mapped = SHORT_OPTIONS[flag];
      if (!mapped) {
        throw syntaxError(file, line, `unknown option ${word.slice(0, 2)}`, `${knownOptionsHint()}; ${FORMAT_HINT}`);
      }
      long = mapped;
      if (word.length > 2) value = word.slice(2);
    } else {
      throw syntaxError(file, line, `unexpected ${JSON.stringify(word)} after the options; a requirement must come before its options`);
    }
    const spec = OPTIONS[long];
    if (!spec) throw syntaxError(file, line, `unknown option ${long}`, `${knownOptionsHint()}; ${FORMAT_HINT}`);
    if (spec.takesValue) {
      if (value === undefined) {
        value = words[++i];
        if (value === undefined) throw syntaxError(file, line, `option ${flag} needs a value`);
      }
    } else if (value !== undefined) {
      throw syntaxError(file, line, `option ${long} takes no value`);
    }
    out.push({ name: spec.name, written: flag, ...(value !== undefined ? { value } : {}) });
  }
  return out;
}

function knownOptionsHint(): string {
  return `options pip allows in requirements files: ${Object.keys(OPTIONS).join(', ')} (short: -i, -c, -r, -e, -f)`;
}

const HASH_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

export function parseHash(value: string, file: string, line: number): string {
  const m = /^([A-Za-z0-9]+):([0-9A-Fa-f]+)$/.exec(value);
  const algorithm = m?.[1]?.toLowerCase();
  const length = algorithm ? HASH_LENGTHS[algorithm] : undefined;
  if (!m || !algorithm || length === undefined || m[2]!.length !== length) {
    throw syntaxError(
      file,
      line,
      `invalid --hash ${JSON.stringify(value)}`,
      'hashes look like --hash=sha256:<64 hex digits> (pip accepts sha256, sha384 and sha512)',
    );
  }
  return `${algorithm}:${m[2]!.toLowerCase()}`;
}
