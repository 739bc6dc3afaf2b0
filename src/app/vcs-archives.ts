/**
 * The archives of locked git packages in the project (`.envseal/vcs/<commit>/<file>`), where the Dockerfile's
 * builder stage COPYs them from the build context. `envseal lock` and `envseal build` make any that are missing
 * (the directory is not committed: it is derived from the lock) from the locked commit with the host's git, and
 * check each against the sha256 the lock records: the archive is never taken from a moving ref.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inputError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic-write.js';
import type { GitSources, Logger } from '../core/ports.js';
import { parseLockedGitUrl, vcsArchivePath } from '../ecosystems/python/manifests/vcs-url.js';
import type { LockedPythonPackage, PythonSection } from '../ecosystems/python/schema.js';
import type { Lock } from '../lock/schema.js';

/** Every git package of the lock (all platforms), once per archive path. */
export function lockedGitPackages(lock: Lock): { pkg: LockedPythonPackage; repo: string; commit: string; path: string }[] {
  const record = lock as unknown as { python?: PythonSection | null; platforms?: Record<string, { python?: PythonSection | null }> };
  const sections = [record.python, ...Object.values(record.platforms ?? {}).map((p) => p.python)];
  const byPath = new Map<string, { pkg: LockedPythonPackage; repo: string; commit: string; path: string }>();
  for (const pkg of sections.flatMap((s) => s?.packages ?? [])) {
    const git = parseLockedGitUrl(pkg.file.url);
    if (!git) continue;
    const path = vcsArchivePath(git.commit, pkg.file.filename);
    if (!byPath.has(path)) byPath.set(path, { pkg, ...git, path });
  }
  return [...byPath.values()];
}

/** Makes the missing or stale archives; exit 2 (`python.vcs-archive`) when git gives other bytes than the lock names. */
export async function ensureVcsArchives(dir: string, lock: Lock, git: GitSources | undefined, logger: Logger, signal?: AbortSignal): Promise<void> {
  const wanted = lockedGitPackages(lock);
  if (!wanted.length) return;
  for (const { pkg, repo, commit, path } of wanted) {
    const abs = join(dir, path);
    const have = await readFile(abs).catch(() => null);
    if (have && sha256(have) === pkg.file.sha256) continue;
    if (!git)
      throw inputError('python.vcs-archive', `${path} is missing and git is not available to make it`, { hint: 'run `envseal lock` where git is installed' });
    logger.progress(`${pkg.name}: making ${path} from ${repo} commit ${commit}`);
    const made = await git.archive(repo, commit, `${pkg.name}-${commit}`, signal ? { signal } : {});
    const got = sha256(made.data);
    if (got !== pkg.file.sha256) {
      throw inputError('python.vcs-archive', `the archive of ${repo} commit ${commit} made here has sha256 ${got}, but the lock records ${pkg.file.sha256}`, {
        hint:
          'the host git writes other archive bytes than the one that made the lock (another git version?): run `envseal lock --upgrade-package ' +
          pkg.name +
          '` to lock it again here',
      });
    }
    await writeFileAtomic(abs, made.data, { mkdir: true });
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
