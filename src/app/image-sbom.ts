/**
 * The SBOM an image carries: the lock's CycloneDX document (both targets), written by `envseal generate` next to
 * the lock, copied by the Dockerfile to SBOM_PATH_IN_IMAGE and named by the image's sbom-digest label. Its bytes
 * are a function of the lock and of the npm lockfile the lock hashed (present whenever an image can be built),
 * so the same lock gives the same file, label and image.
 */
import { dirname, join } from 'node:path';
import { checkFailed, describeError, inputError } from '../core/errors.js';
import { sha256Hex } from '../core/canonical-json.js';
import { readTextFile } from '../core/read-text-file.js';
import { toRel } from '../core/paths.js';
import { DEFAULT_SBOM_FILE } from '../core/image-contract.js';
import type { Lock } from '../lock/schema.js';
import { buildSbomModel, type NpmContents } from '../attest/sbom-model.js';
import { writeCycloneDx } from '../attest/cyclonedx.js';
import type { ProjectPaths } from './load-inputs.js';

export interface ImageSbom {
  /** Absolute path of the file next to the lock. */
  file: string;
  /** Its path inside the build context (the project directory), POSIX separators. */
  contextPath: string;
  text: string;
  /** `sha256:<hex>` of `text`. */
  digest: string;
}

/** Where the image SBOM of a project lives: next to its lock (`envseal.linux-arm64.sbom.cdx.json` for a platform after the primary one). */
export function imageSbomFile(paths: ProjectPaths, platform: string | null = null): string {
  return join(dirname(paths.lock), platformFileName(DEFAULT_SBOM_FILE, platform));
}

/** `envseal.Dockerfile` → `envseal.linux-arm64.Dockerfile`: the files generated for a platform after the primary one. */
export function platformFileName(name: string, platform: string | null): string {
  return platform ? name.replace(/^envseal\./, `envseal.${platform.replace(/\//g, '-')}.`) : name;
}

/**
 * The image SBOM of a lock. An npm lockfile that is missing or no longer the one the lock hashed gives the
 * hash-only listing (lock checks report the staleness; a Dockerfile must still render).
 */
export async function imageSbom(paths: ProjectPaths, lock: Lock, toolVersion: string, platform: string | null = null): Promise<ImageSbom> {
  const npm = lock.npm ? await readNpmContents(paths, lock, [], 'hash-only') : null;
  const text = await writeCycloneDx(buildSbomModel(lock, { toolVersion, npm }));
  const file = imageSbomFile(paths, platform);
  return { file, contextPath: toRel(paths.dir, file), text, digest: `sha256:${sha256Hex(text)}` };
}

/**
 * The npm packages of the lockfile the lock hashed, or why they cannot be listed. A lockfile that changed since
 * the lock was made is an error (exit 1), or with `onStale: 'hash-only'` the hash-only listing.
 */
export async function readNpmContents(paths: ProjectPaths, lock: Lock, warnings: string[], onStale: 'fail' | 'hash-only' = 'fail'): Promise<NpmContents> {
  const npm = lock.npm!;
  const rel = `${npm.dir === '.' ? '' : `${npm.dir}/`}${npm.lockfile}`;
  let text: string;
  try {
    text = await readTextFile(join(paths.dir, rel), rel);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw inputError('sbom.npm-unreadable', `cannot read ${rel}: ${describeError(err)}`, { hint: 'make it readable, or remove it to list only its hash' });
    }
    const reason = `${rel} is not in the project`;
    warnings.push(`${reason}: the SBOM lists it by its sha256 only, not the ${npm.packages} npm packages it pins`);
    return { found: false, reason };
  }
  const actual = sha256Hex(text);
  if (actual !== npm.sha256) {
    if (onStale === 'hash-only') return { found: false, reason: `${rel} is not the file the lock hashed` };
    throw checkFailed('sbom.npm-stale', `${rel} has changed since ${toRel(paths.dir, paths.lock)} was made (sha256 ${actual}, the lock has ${npm.sha256})`, {
      hint: 'run `envseal lock` so the lock and the SBOM describe the same npm packages',
    });
  }
  const { listLockfilePackages } = await import('../ecosystems/npm/parse-npm.js');
  return { found: true, ...listLockfilePackages(text, rel) };
}
