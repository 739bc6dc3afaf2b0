/**
 * `envseal sbom`: the lock as a CycloneDX 1.6 or SPDX 2.3 JSON document. The lock pins npm packages by the
 * lockfile's sha256 only, so the npm packages are read from the project's package-lock.json when it is there
 * and still the file the lock hashed; without it the lockfile itself (with its hash) stands for them.
 */
import { inputError } from '../core/errors.js';
import type { Lock } from '../lock/schema.js';
import type { TargetName } from '../core/image-contract.js';
import { buildSbomModel, type SbomModel } from '../attest/sbom-model.js';
import { writeCycloneDx } from '../attest/cyclonedx.js';
import { writeSpdx } from '../attest/spdx.js';
import { loadLockFile } from './generate-dockerfile.js';
import type { ProjectPaths } from './load-inputs.js';
import { readNpmContents } from './image-sbom.js';

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
  const text = options.format === 'cyclonedx' ? await writeCycloneDx(model) : writeSpdx(model);
  return { text, model, lock, warnings };
}
