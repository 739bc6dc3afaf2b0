/**
 * apt package lists (`apt.txt`, as repo2docker reads it): one Debian package per line, `#` comments, blank
 * lines ignored. A line may pin a version (`name=version`) or an architecture (`name:arch`).
 */
import { inputError } from '../../core/errors.js';

export interface AptListEntry {
  name: string;
  line: number;
}

const PACKAGE = /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/;

export function parseAptList(text: string, file: string): AptListEntry[] {
  const out: AptListEntry[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) return;
    for (const word of line.split(/\s+/)) {
      if (PACKAGE.test(word)) out.push({ name: word, line: i + 1 });
      else problems.push(`${file}:${i + 1}: "${word}" is not a Debian package name (lowercase letters, digits, + - .; optionally :arch and =version)`);
    }
  });
  if (problems.length) {
    throw inputError('manifest.apt.syntax', `${file} has ${problems.length} invalid entr${problems.length === 1 ? 'y' : 'ies'}`, {
      details: problems,
      hint: 'list one Debian package name per line',
    });
  }
  return out;
}
