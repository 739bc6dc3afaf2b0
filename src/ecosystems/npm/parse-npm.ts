/**
 * package.json + package-lock.json. envseal does not resolve npm packages itself: the lockfile is the pin.
 * Its sha256 goes into envseal.lock and the Dockerfile runs `npm ci` on it, which installs exactly what it
 * lists (and fails when it does not match package.json).
 */
import semver from 'semver';
import { inputError } from '../../core/errors.js';
import { sha256Hex } from '../../core/canonical-json.js';

export interface NpmManifest {
  lockfile: string;
  lockfileVersion: number;
  /** Number of packages the lockfile installs (excluding the root). */
  packages: number;
  packageJsonSha256: string;
  lockfileSha256: string;
}

type Deps = Record<string, string>;

export function parseNpmManifests(packageJson: { path: string; text: string }, lockfile: { path: string; text: string }): NpmManifest {
  const pkg = parseJsonObject(packageJson.text, packageJson.path);
  const lock = parseJsonObject(lockfile.text, lockfile.path);
  const version = lock.lockfileVersion;
  if (typeof version !== 'number' || version < 2) {
    throw inputError('manifest.npm.lockfile-version', `${lockfile.path}: lockfileVersion ${String(version)} is not supported (need 2 or 3)`, {
      hint: 'regenerate it with npm 7 or newer: `npm install --package-lock-only`',
    });
  }
  const packages = lock.packages;
  if (!packages || typeof packages !== 'object') {
    throw inputError('manifest.npm.lockfile', `${lockfile.path}: has no "packages" section`, {
      hint: 'regenerate it: `npm install --package-lock-only`',
    });
  }
  const root = (packages as Record<string, Record<string, unknown>>)[''] ?? {};
  // npm ci refuses a lockfile that disagrees with package.json; say so at lock time, not at build time.
  const drift: string[] = [];
  for (const field of ['dependencies', 'optionalDependencies', 'devDependencies'] as const) {
    const want = (pkg[field] ?? {}) as Deps;
    const have = (root[field] ?? {}) as Deps;
    for (const name of new Set([...Object.keys(want), ...Object.keys(have)])) {
      if (want[name] !== have[name]) {
        drift.push(`${field}.${name}: package.json has ${want[name] ?? '(none)'}, ${lockfile.path} has ${have[name] ?? '(none)'}`);
      }
    }
  }
  // The versions the lockfile installs must satisfy package.json's ranges (npm ci refuses them otherwise).
  const entries = packages as Record<string, { version?: unknown; link?: unknown }>;
  for (const field of ['dependencies', 'optionalDependencies'] as const) {
    for (const [name, range] of Object.entries((pkg[field] ?? {}) as Deps)) {
      const installed = entries[`node_modules/${name}`];
      const version = typeof installed?.version === 'string' ? installed.version : undefined;
      if (!installed) {
        if (field === 'dependencies') drift.push(`${name}: in package.json ${field} but not installed by ${lockfile.path}`);
        continue;
      }
      if (version === undefined || installed.link || !semver.validRange(range) || !semver.valid(version)) continue; // git, file:, tags
      if (!semver.satisfies(version, range, { includePrerelease: true })) {
        drift.push(`${name}: ${lockfile.path} installs ${version}, which does not satisfy ${range} from package.json`);
      }
    }
  }
  if (drift.length) {
    throw inputError('manifest.npm.out-of-sync', `${lockfile.path} is out of date with ${packageJson.path}`, {
      details: drift,
      hint: 'run `npm install --package-lock-only` and commit the updated lockfile',
    });
  }
  return {
    lockfile: lockfile.path.split('/').pop()!,
    lockfileVersion: version,
    packages: Object.keys(packages).filter((k) => k !== '').length,
    packageJsonSha256: sha256Hex(packageJson.text),
    lockfileSha256: sha256Hex(lockfile.text),
  };
}

function parseJsonObject(text: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw inputError('manifest.npm.syntax', `${file}: ${(err as Error).message}`, { hint: 'fix the JSON syntax' });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw inputError('manifest.npm.syntax', `${file}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** One package `npm ci --omit=dev` installs from a lockfile (v2/v3 `packages` section), for SBOMs. */
export interface NpmLockedPackage {
  /** The `packages` key, e.g. `node_modules/a/node_modules/@s/b`: unique, and where npm installs it. */
  path: string;
  name: string;
  version: string;
  /** `resolved`: where npm downloads it from (registry tarball URL), when the lockfile says. */
  resolved: string | null;
  /** `integrity`: Subresource Integrity, e.g. `sha512-<base64>`, when the lockfile says. */
  integrity: string | null;
  /** `packages` keys of the packages it depends on (Node's lookup: nearest node_modules upwards). */
  dependsOn: string[];
}

/**
 * The packages a lockfile installs without devDependencies (what `npm ci --omit=dev` puts in the image), with
 * the root's direct dependencies. Linked (workspace) entries and entries without a version are left out.
 */
export function listLockfilePackages(text: string, file: string): { direct: string[]; packages: NpmLockedPackage[] } {
  const lock = parseJsonObject(text, file);
  const entries = lock.packages;
  if (!entries || typeof entries !== 'object' || Array.isArray(entries)) {
    throw inputError('manifest.npm.lockfile', `${file}: has no "packages" section`, { hint: 'regenerate it: `npm install --package-lock-only`' });
  }
  const all = entries as Record<string, Record<string, unknown>>;
  const installed = (key: string) => {
    const e = all[key];
    return Boolean(e) && key !== '' && e!.dev !== true && e!.link !== true && typeof e!.version === 'string';
  };
  const depsOf = (key: string): string[] => {
    const e = all[key] ?? {};
    const names = [e.dependencies, e.optionalDependencies, e.peerDependencies].flatMap((d) => (d && typeof d === 'object' ? Object.keys(d) : []));
    return [...new Set(names)].flatMap((name) => {
      const found = lookupFrom(key, name, all);
      return found !== null && installed(found) ? [found] : [];
    });
  };
  const packages = Object.keys(all)
    .filter(installed)
    .sort()
    .map((path) => {
      const e = all[path]!;
      const name = typeof e.name === 'string' ? e.name : path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
      return {
        path,
        name,
        version: e.version as string,
        resolved: typeof e.resolved === 'string' ? e.resolved : null,
        integrity: typeof e.integrity === 'string' ? e.integrity : null,
        dependsOn: depsOf(path).sort(),
      };
    });
  return { direct: depsOf('').sort(), packages };
}

/** Node's module lookup in lockfile keys: `<from>/node_modules/<name>`, then each parent's, then the top level. */
function lookupFrom(from: string, name: string, all: Record<string, unknown>): string | null {
  let base = from;
  for (;;) {
    const key = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (key in all) return key;
    if (base === '') return null;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}
