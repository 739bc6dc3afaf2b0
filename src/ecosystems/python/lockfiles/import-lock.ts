/**
 * Following an existing lock pin for pin (no resolution): the packages and files that apply to the target
 * (`select.ts`), each checked against its index (the file is listed there with the same sha256) and recorded
 * exactly like a resolved package, so generate, build and verify work unchanged.
 */
import { inputError } from '../../../core/errors.js';
import type { TargetProbe } from '../../../core/ground.js';
import type { Logger, PackageIndex } from '../../../core/ports.js';
import type { ImportedLockRef, LockedPythonPackage } from '../schema.js';
import type { ImportedLock } from './types.js';
import { checkAgainstPyproject, selectImported, type SelectedPackage } from './select.js';

export interface ImportRequest {
  lock: ImportedLock;
  ref: ImportedLockRef;
  target: TargetProbe;
  /** Where packages whose lock entry names no index are looked up (the spec's first index). */
  defaultIndex: string;
}

async function checkOnIndex(lock: ImportedLock, s: SelectedPackage, indexUrl: string, index: PackageIndex): Promise<LockedPythonPackage> {
  const project = await index.getProject(indexUrl, s.name);
  const hint = `check that ${lock.path} was written against ${indexUrl}, or regenerate it`;
  if (!project) throw inputError('python.import-not-on-index', `${lock.path}: package ${s.name} is not on the index ${indexUrl}`, { hint });
  const listed = project.files.find((f) => f.filename === s.file.filename);
  if (!listed) {
    throw inputError('python.import-not-on-index', `${lock.path}: package ${s.name} ${s.version}: the index ${indexUrl} does not list ${s.file.filename}`, {
      hint,
    });
  }
  const served = listed.hashes.sha256;
  if (served !== s.file.sha256) {
    throw inputError(
      'python.import-hash-mismatch',
      `${lock.path}: package ${s.name} ${s.version}: the lock's sha256 of ${s.file.filename} is ${s.file.sha256}, the index ${indexUrl} gives ${served ?? 'none'}`,
      { hint: 'the lock file or the index was changed: find out which before regenerating the lock' },
    );
  }
  const size = s.file.size ?? listed.size;
  const uploadTime = s.file.uploadTime ?? listed.uploadTime;
  return {
    name: s.name,
    version: s.version,
    file: {
      filename: listed.filename,
      url: listed.url,
      sha256: served,
      ...(size !== undefined ? { size } : {}),
      ...(uploadTime !== undefined ? { uploadTime } : {}),
    },
    index: indexUrl,
    via: [lock.path],
    targets: s.targets,
  };
}

/**
 * The lock section's packages for an imported lock. Throws the `select.ts` errors, `python.import-stale`,
 * `python.import-not-on-index` and `python.import-hash-mismatch` (exit 2, naming the lock and the package).
 */
export async function importLockedPackages(req: ImportRequest, deps: { index: PackageIndex; logger: Logger }): Promise<LockedPythonPackage[]> {
  const { lock, ref, target } = req;
  const selected = selectImported(lock, target, { groups: ref.groups, extras: ref.extras });
  // A uv.lock was checked against pyproject.toml when it was loaded (its record does not depend on the target).
  if (ref.pyproject && lock.kind === 'pylock') checkAgainstPyproject(lock, selected, ref.pyproject, target);
  deps.logger.progress(`following ${lock.path}: checking ${selected.length} pinned file(s) against the index`);
  const out: LockedPythonPackage[] = [];
  for (const s of selected) out.push(await checkOnIndex(lock, s, s.index ?? req.defaultIndex, deps.index));
  return out;
}
