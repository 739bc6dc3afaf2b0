/**
 * apt sources pointing at a dated snapshot archive (snapshot.debian.org for Debian, snapshot.ubuntu.com for
 * Ubuntu, or a site's own mirror of either), so the versions a lock pins stay installable after the live
 * archive has moved on. `check-valid-until=no` because a snapshot's Release files expire (Valid-Until) while
 * the snapshot itself stays valid forever. Pure.
 */
import { inputError } from '../../core/errors.js';

export interface AptSnapshot {
  /** `YYYYMMDDTHHMMSSZ`, the snapshot services' timestamp format. */
  timestamp: string;
  /** Base URL of the snapshot service or mirror (without the archive name). */
  url: string;
}

export const DEBIAN_SNAPSHOT_URL = 'http://snapshot.debian.org/archive';
export const UBUNTU_SNAPSHOT_URL = 'http://snapshot.ubuntu.com';

/** The path apt reads and the lines to write there; other source files are removed. */
export interface AptSourcesFile {
  path: string;
  lines: string[];
}

/** `2026-11-27T12:00:00Z` (or a Date) → `20261127T120000Z`. */
export function formatSnapshotTimestamp(time: string | Date): string {
  const iso = (typeof time === 'string' ? new Date(time) : time).toISOString();
  return iso.replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

export function isSnapshotTimestamp(text: string): boolean {
  return /^\d{8}T\d{6}Z$/.test(text) && !Number.isNaN(Date.parse(text.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z')));
}

export function defaultSnapshotUrl(osId: string): string {
  if (osId === 'debian') return DEBIAN_SNAPSHOT_URL;
  if (osId === 'ubuntu') return UBUNTU_SNAPSHOT_URL;
  throw inputError('apt.snapshot-unsupported', `apt snapshots are available for Debian and Ubuntu bases, not "${osId}"`, {
    hint: 'remove apt.snapshot from envseal.yaml, or use a Debian/Ubuntu base image',
  });
}

export function snapshotSources(os: { id: string; codename: string }, snapshot: AptSnapshot): AptSourcesFile {
  if (!os.codename) {
    throw inputError('apt.snapshot-unsupported', `the base image's /etc/os-release names no VERSION_CODENAME, so apt snapshot sources cannot be written`);
  }
  const base = snapshot.url.replace(/\/+$/, '');
  const opt = '[check-valid-until=no]';
  const c = os.codename;
  const ts = snapshot.timestamp;
  if (os.id === 'debian') {
    return {
      path: '/etc/apt/sources.list',
      lines: [
        `deb ${opt} ${base}/debian/${ts} ${c} main`,
        `deb ${opt} ${base}/debian/${ts} ${c}-updates main`,
        `deb ${opt} ${base}/debian-security/${ts} ${c}-security main`,
      ],
    };
  }
  if (os.id === 'ubuntu') {
    const components = 'main restricted universe multiverse';
    return {
      path: '/etc/apt/sources.list',
      lines: [
        `deb ${opt} ${base}/ubuntu/${ts} ${c} ${components}`,
        `deb ${opt} ${base}/ubuntu/${ts} ${c}-updates ${components}`,
        `deb ${opt} ${base}/ubuntu/${ts} ${c}-security ${components}`,
      ],
    };
  }
  return defaultSnapshotUrl(os.id) as never;
}

/** Shell that replaces the image's apt sources with `file` (deb822 *.sources and *.list files removed). */
export function writeSourcesScript(file: AptSourcesFile, quote: (s: string) => string): string {
  return ['rm -f /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources', `printf '%s\\n' ${file.lines.map(quote).join(' ')} > ${file.path}`].join(
    ' && ',
  );
}
