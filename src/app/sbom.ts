/**
 * `envseal sbom`: the lock as a CycloneDX 1.6 or SPDX 2.3 JSON document. The lock pins npm packages by the
 * lockfile's sha256 only, so the npm packages are read from the project's package-lock.json when it is there
 * and still the file the lock hashed; without it the lockfile itself (with its hash) stands for them.
 */
import { join } from 'node:path';
import { checkFailed, describeError, inputError } from '../core/errors.js';
import { sha256Hex } from '../core/canonical-json.js';
import { readTextFile } from '../core/read-text-file.js';
import { toRel } from '../core/paths.js';
import { listLockfilePackages } from '../ecosystems/npm/parse-npm.js';
import type { Lock } from '../lock/schema.js';
import type { TargetName } from '../core/image-contract.js';
import { buildSbomModel, type NpmContents, type SbomModel } from '../attest/sbom-model.js';
import { writeCycloneDx } from '../attest/cyclonedx.js';
import { writeSpdx } from '../attest/spdx.js';
import { loadLockFile } from './generate-dockerfile.js';
import type { ProjectPaths } from './load-inputs.js';

export const SBOM_FORMATS = ['cyclonedx', 'spdx'] as const;
export type SbomFormat = (typeof SBOM_FORMATS)[number];

export interface SbomResult {
  text: string;
  model: SbomModel;
  lock: Lock;
  /** Things the user should know (e.g. npm packages not listed one by one). */
  warnings: string[];
}

export function parseSbomFormat(value: string): SbomFormat {
  if ((SBOM_FORMATS as readonly string[]).includes(value)) return value as SbomFormat;
  throw inputError('usage.sbom-format', `--format ${value}: unknown SBOM format`, { hint: `use one of: ${SBOM_FORMATS.join(', ')}` });
}

export async function generateSbom(paths: ProjectPaths, options: { format: SbomFormat; toolVersion: string; target?: TargetName }): Promise<SbomResult> {
  const { lock } = await loadLockFile(paths);
  const warnings: string[] = [];
  const npm = lock.npm ? await readNpmContents(paths, lock, warnings) : null;
  const model = buildSbomModel(lock, { toolVersion: options.toolVersion, npm, ...(options.target ? { target: options.target } : {}) });
  const text = options.format === 'cyclonedx' ? writeCycloneDx(model) : writeSpdx(model);
  return { text, model, lock, warnings };
}

/** The npm packages of the lockfile the lock hashed, or why they cannot be listed. */
export async function readNpmContents(paths: ProjectPaths, lock: Lock, warnings: string[]): Promise<NpmContents> {
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
    throw checkFailed('sbom.npm-stale', `${rel} has changed since ${toRel(paths.dir, paths.lock)} was made (sha256 ${actual}, the lock has ${npm.sha256})`, {
      hint: 'run `envseal lock` so the lock and the SBOM describe the same npm packages',
    });
  }
  return { found: true, ...listLockfilePackages(text, rel) };
}
