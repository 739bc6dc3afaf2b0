/**
 * `envseal export`: the locked Python closure for other installers (pylock.toml, hashed requirements.txt).
 * Read the lock → render (pure, python wing) → the CLI prints or writes it; `--check` compares with a file.
 */
import { checkFailed, inputError } from '../core/errors.js';
import { readTextFile } from '../core/read-text-file.js';
import { describeWriteFailure, writeFileAtomic } from '../core/atomic-write.js';
import type { TargetName } from '../core/image-contract.js';
import { exportPylock, exportRequirements } from '../ecosystems/python/export.js';
import { loadLockFile } from './generate-dockerfile.js';
import type { ProjectPaths } from './load-inputs.js';
import { toRel } from '../core/paths.js';

export const EXPORT_FORMATS = ['pylock', 'requirements'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportRequest {
  format: ExportFormat;
  target: TargetName;
  toolVersion: string;
}

export interface Exported {
  text: string;
  /** Packages in the output (for pylock: both targets). */
  packages: number;
}

export async function renderExport(paths: ProjectPaths, request: ExportRequest): Promise<Exported> {
  const { lock } = await loadLockFile(paths);
  const lockFile = toRel(paths.dir, paths.lock);
  if (!lock.python || !lock.python.packages.length) {
    throw inputError('export.no-python', `${lockFile} pins no Python packages: there is nothing to export`, {
      hint: 'export writes the Python closure; add Python requirements to the spec and run `envseal lock`',
    });
  }
  const source = { section: lock.python, target: lock.target, fingerprint: lock.fingerprint, lockFile, toolVersion: request.toolVersion };
  if (request.format === 'pylock') return { text: exportPylock(source), packages: lock.python.packages.length };
  const text = exportRequirements(source, request.target);
  return { text, packages: lock.python.packages.filter((p) => p.targets.includes(request.target)).length };
}

/** Writes the export atomically; `written: false` when the file already holds these bytes. */
export async function writeExport(file: string, display: string, text: string): Promise<{ written: boolean }> {
  const written = await writeFileAtomic(file, text).catch((err: unknown) => {
    throw describeWriteFailure(err, display);
  });
  return { written };
}

/** `--check`: exit 1 when the file is missing or differs from what the lock exports. */
export async function checkExport(file: string, display: string, text: string): Promise<void> {
  let current: string;
  try {
    current = await readTextFile(file, display);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw checkFailed('export.missing', `${display} does not exist`, { hint: 'run `envseal export` with the same options and commit the file' });
  }
  if (current !== text) {
    throw checkFailed('export.stale', `${display} differs from what the lock exports`, {
      hint: 'run `envseal export` with the same options and commit the file',
    });
  }
}
