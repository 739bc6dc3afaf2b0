/** What the lock readers share: the TOML parse with `file:line:col` errors and the `python.import-invalid` error. */
import { parse as parseToml, TomlError } from 'smol-toml';
import { inputError } from '../../../core/errors.js';

export const HINT = 'regenerate the lock with the tool that wrote it (uv lock, pdm lock, ...)';

export function invalid(path: string, what: string): never {
  throw inputError('python.import-invalid', `${path}: ${what}`, { hint: HINT });
}

export type Table = Record<string, unknown>;
export const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

export function parseTomlLock(text: string, path: string): Table {
  try {
    return parseToml(text) as Table;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw inputError('python.import-invalid', `${path}:${err.line}:${err.column}: invalid TOML: ${reason}`, { hint: HINT });
    }
    throw err;
  }
}
