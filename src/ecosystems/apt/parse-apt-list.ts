/**
 * apt package lists (`apt.txt`, as repo2docker reads it): one Debian package per line, `#` comments, blank
 * lines ignored. A line may pin a version (`name=version`) or an architecture (`name:arch`).
 * Names follow Debian Policy 5.6.1 (lowercase letters, digits, `+`, `-`, `.`; at least two characters,
 * starting with a letter or digit), so a line can hold no space: `foo bar` is an error, not two packages.
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
    if (/\s/.test(line)) {
      problems.push(`${file}:${i + 1}: "${line}" holds more than one word: list one Debian package per line`);
    } else if (PACKAGE.test(line)) {
      out.push({ name: line, line: i + 1 });
    } else {
      problems.push(`${file}:${i + 1}: "${line}" is not a Debian package name (lowercase letters, digits, + - .; optionally :arch and =version)`);
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
