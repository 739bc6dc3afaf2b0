/** Quoting for the two languages a Dockerfile mixes: Dockerfile instructions and POSIX sh. */
import { inputError } from './errors.js';

/** A POSIX shell word: single-quoted unless it is plainly safe. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A double-quoted value for ENV and LABEL. The Dockerfile parser expands `$VAR` in both, so `$` is escaped,
 * as are `"` and `\`. Newlines cannot be expressed in these instructions: rejected.
 */
export function dockerfileQuote(value: string, what: string): string {
  if (/[\r\n]/.test(value)) {
    throw inputError('dockerfile.newline', `${what} contains a newline, which a Dockerfile cannot express`, {
      hint: 'use a value without line breaks',
    });
  }
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** A JSON-form (exec form) argument list for CMD / ENTRYPOINT / SHELL. */
export function execForm(args: string[]): string {
  return `[${args.map((a) => JSON.stringify(a)).join(', ')}]`;
}

/** Joins instruction lines with Dockerfile continuations, one item per line. */
export function continued(first: string, items: string[], indent = '      '): string {
  return [first, ...items.map((i) => indent + i)].join(' \\\n');
}
