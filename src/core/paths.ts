import { isAbsolute, relative, sep } from 'node:path';

/** A path relative to the project directory, with POSIX separators (how files are named in messages and locks). */
export function toRel(dir: string, abs: string): string {
  const rel = isAbsolute(abs) ? relative(dir, abs) : abs;
  return rel.split(sep).join('/');
}
