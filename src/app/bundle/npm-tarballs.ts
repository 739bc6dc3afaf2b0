/**
 * npm tarballs for the offline bundle, read from package-lock.json (lockfile versions 2 and 3: the `packages`
 * map): each installed package's `resolved` URL and `integrity` (Subresource Integrity, e.g. `sha512-<base64>`).
 * Pure: text in, tarball list out; and the integrity check of downloaded bytes.
 */
import { createHash } from 'node:crypto';
import { inputError } from '../../core/errors.js';

export interface NpmTarball {
  /** The `packages` key, e.g. `node_modules/a/node_modules/b`. */
  key: string;
  url: string;
  integrity: string;
  /** Archive path: npm/<key with / as +>.tgz (unique per key). */
  path: string;
}

/** Tarballs a package-lock.json installs: entries with a `resolved` http(s) URL (links and the root have none). */
export function listNpmTarballs(lockfileText: string, lockfile: string): NpmTarball[] {
  let raw: unknown;
  try {
    raw = JSON.parse(lockfileText);
  } catch (err) {
    throw inputError('bundle.npm-lockfile', `${lockfile} is not JSON: ${(err as Error).message}`, { hint: 'run `npm install --package-lock-only`' });
  }
  const packages = (raw as { packages?: unknown } | null)?.packages;
  if (typeof packages !== 'object' || packages === null) {
    throw inputError('bundle.npm-lockfile', `${lockfile} has no "packages" map (lockfile version 2 or 3 is needed)`, {
      hint: 'run `npm install --package-lock-only` with npm 7 or later',
    });
  }
  const out: NpmTarball[] = [];
  for (const [key, value] of Object.entries(packages as Record<string, unknown>)) {
    const entry = value as { resolved?: unknown; integrity?: unknown; link?: unknown } | null;
    if (!key || !entry || entry.link === true || typeof entry.resolved !== 'string' || !/^https?:\/\//.test(entry.resolved)) continue;
    if (typeof entry.integrity !== 'string') {
      throw inputError('bundle.npm-integrity', `${lockfile}: ${key} has no "integrity"`, {
        hint: 'the bundle checks every tarball against the lockfile: run `npm install --package-lock-only` to record integrity hashes',
      });
    }
    out.push({ key, url: entry.resolved, integrity: entry.integrity, path: `npm/${key.replace(/\//g, '+')}.tgz` });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** True when `bytes` match one of the SRI hashes (sha512, sha384, sha256, sha1) in `integrity`. */
export function matchesIntegrity(bytes: Uint8Array, integrity: string): boolean {
  const hashes = integrity.split(/\s+/).filter(Boolean);
  for (const h of hashes) {
    const dash = h.indexOf('-');
    const algorithm = h.slice(0, dash);
    if (!['sha512', 'sha384', 'sha256', 'sha1'].includes(algorithm)) continue;
    const expected = h.slice(dash + 1).replace(/\?.*$/, '');
    if (createHash(algorithm).update(bytes).digest('base64') === expected) return true;
  }
  return false;
}
