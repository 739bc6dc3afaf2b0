/**
 * The tokens of PEP 508 dependency specifiers and environment markers, matched where the parser stands
 * (which token is valid depends on context, e.g. a URL after `@`). The token set and the word-boundary
 * rules follow the grammar in https://packaging.python.org/en/latest/specifications/dependency-specifiers/
 * as `packaging` reads it, so that what pip accepts we accept and what it rejects we reject.
 */
import { SPECIFIER_PATTERN_SOURCE } from './specifier.js';

/** A syntax problem at a 0-based offset, turned into an EnvsealError by the public parse functions. */
export class Pep508SyntaxError extends Error {
  constructor(
    /** What was expected or what is wrong, e.g. "expected end of dependency specifier". */
    readonly reason: string,
    readonly source: string,
    /** 0-based offset where the problem starts. */
    readonly start: number,
    /** 0-based offset where it ends (== start for a point). */
    readonly end: number,
  ) {
    super(`${reason} at column ${start + 1}`);
    this.name = 'Pep508SyntaxError';
  }

  /** Two lines for error details: the text and a caret under the problem. */
  pointer(): string[] {
    const width = Math.max(0, this.end - this.start);
    return [this.source, ' '.repeat(this.start) + '~'.repeat(width) + '^'];
  }
}

// Python's `\w` for `str` patterns is Unicode-aware; `\b` is a change between word and non-word characters.
const W = '[\\p{L}\\p{N}_]';
const START = `(?<!${W})`;
const END_BOUNDARY = `(?:(?<=${W})(?!${W})|(?<!${W})(?=${W}))`;

const RULES = {
  LEFT_PARENTHESIS: /\(/y,
  RIGHT_PARENTHESIS: /\)/y,
  LEFT_BRACKET: /\[/y,
  RIGHT_BRACKET: /\]/y,
  SEMICOLON: /;/y,
  COMMA: /,/y,
  QUOTED_STRING: /'[^']*'|"[^"]*"/y,
  OP: /===|==|~=|!=|<=|>=|<|>/y,
  BOOLOP: new RegExp(`${START}(?:or|and)(?!${W})`, 'uy'),
  IN: new RegExp(`${START}in(?!${W})`, 'uy'),
  NOT: new RegExp(`${START}not(?!${W})`, 'uy'),
  VARIABLE: new RegExp(
    `${START}(?:python_version|python_full_version|os[._]name|sys[._]platform|platform_(?:release|system)` +
      `|platform[._](?:version|machine|python_implementation)|python_implementation` +
      `|implementation_(?:name|version)|extras?|dependency_groups)(?!${W})`,
    'uy',
  ),
  // No `u` flag here: with `i` it would fold U+017F onto "s" and U+212A onto "k" (see version.ts).
  SPECIFIER: new RegExp(SPECIFIER_PATTERN_SOURCE, 'iy'),
  AT: /@/y,
  URL: /[^ \t]+/y,
  IDENTIFIER: new RegExp(`${START}[a-zA-Z0-9][a-zA-Z0-9._-]*${END_BOUNDARY}`, 'uy'),
  VERSION_PREFIX_TRAIL: /\.\*/y,
  VERSION_LOCAL_LABEL_TRAIL: /\+[a-z0-9]+(?:[-_.][a-z0-9]+)*/y,
  WS: /[ \t]+/y,
  // Python's `$` also matches before a newline that ends the string.
  END: /(?=\n?$)/y,
} as const;

export type TokenName = keyof typeof RULES;

export interface Token {
  name: TokenName;
  text: string;
  /** 0-based offset. */
  position: number;
}

export class Pep508Tokenizer {
  position = 0;

  constructor(readonly source: string) {}

  /** The text the token would match here, without consuming it; null when it does not match. */
  peek(name: TokenName): string | null {
    const re = RULES[name];
    re.lastIndex = this.position;
    const m = re.exec(this.source);
    return m ? m[0] : null;
  }

  check(name: TokenName): boolean {
    return this.peek(name) !== null;
  }

  /** Consumes the token when it is next; returns it, or null. */
  take(name: TokenName): Token | null {
    const text = this.peek(name);
    if (text === null) return null;
    const token = { name, text, position: this.position };
    this.position += text.length;
    return token;
  }

  /** Consumes the token or fails with "expected <what>". */
  expect(name: TokenName, expected: string): Token {
    const token = this.take(name);
    if (!token) this.fail(`expected ${expected}`);
    return token;
  }

  fail(reason: string, start: number = this.position, end: number = this.position): never {
    throw new Pep508SyntaxError(reason, this.source, start, end);
  }
}
