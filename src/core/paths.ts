import { isAbsolute, relative, sep } from 'node:path';

/** A path relative to the project directory, with POSIX separators (how files are named in messages and locks). */
export function toRel(dir: string, abs: string): string {
  const rel = isAbsolute(abs) ? relative(dir, abs) : abs;
  return rel.split(sep).join('/');
}

/** How a path is named in a message: project-relative when inside the project, else absolute. */
export function displayPath(dir: string, abs: string): string {
  const rel = toRel(dir, abs);
  if (rel === '') return '.';
  return rel === '..' || rel.startsWith('../') ? abs : rel;
}
