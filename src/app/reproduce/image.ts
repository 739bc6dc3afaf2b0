/**
 * `envseal reproduce`: getting the exact image a run used. By its image ID when the engine has it; else
 * pulled by a recorded repo digest (the image ID must then match); else built again from the lock at the
 * recorded git commit, in a temporary `git worktree`, which must give the same image ID (envseal's builds
 * are bit-for-bit reproducible: see `verify --rebuild`). When none works: exit 3, with what each attempt said.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describeError, externalError } from '../../core/errors.js';
import type { ContainerEngine, Logger } from '../../core/ports.js';
import type { TargetName } from '../../core/image-contract.js';
import type { ProcessResult } from '../../record/exec.js';
import type { RunRecord } from '../../record/schema.js';
import type { ProjectPaths } from '../load-inputs.js';
import { planImageSources, type ImageSource } from './plan.js';

export interface ImageDeps {
  engine: ContainerEngine;
  logger: Logger;
  /** Runs git (null when git is not installed). */
  runGit: (args: string[], options: { cwd: string }) => Promise<ProcessResult | null>;
  /** Builds `target` from the project at `paths` (reproducibly, without a build record); returns the image ID. */
  rebuild: (paths: ProjectPaths, target: TargetName) => Promise<{ imageId: string }>;
  tmpDir: string;
  signal?: AbortSignal;
}

export async function obtainImage(paths: ProjectPaths, record: RunRecord, deps: ImageDeps): Promise<{ imageId: string; source: ImageSource['kind'] }> {
  const attempts: string[] = [];
  for (const source of planImageSources(record)) {
    try {
      if (await tryImageSource(paths, record, source, deps)) return { imageId: record.image.id, source: source.kind };
      attempts.push(`${describeSource(source)}: ${source.kind === 'local' ? 'not in the engine' : 'gave another image ID'}`);
    } catch (err) {
      attempts.push(`${describeSource(source)}: ${describeError(err)}`);
    }
  }
  if (!record.git?.commit) attempts.push('rebuild: the record has no git commit to rebuild from');
  const dirty = record.git?.dirty ? ' The original run had uncommitted changes, which a rebuild from the commit does not have.' : '';
  throw externalError('reproduce.image-unavailable', `image ${record.image.id} of run ${record.runId} cannot be had`, {
    details: attempts,
    hint: `push images you may want to reproduce from (envseal build --push), or commit the lock before running.${dirty}`,
    data: { imageId: record.image.id, attempts },
  });
}

async function tryImageSource(paths: ProjectPaths, record: RunRecord, source: ImageSource, deps: ImageDeps): Promise<boolean> {
  if (source.kind === 'local') return (await deps.engine.inspectImage(source.imageId)) !== null;
  if (source.kind === 'pull') {
    deps.logger.info(`pulling ${source.reference}`);
    await deps.engine.pullImage(source.reference, deps.signal ? { signal: deps.signal } : {});
    return (await deps.engine.inspectImage(record.image.id)) !== null;
  }
  deps.logger.info(`image ${record.image.id} is not here: rebuilding it from the lock at commit ${source.commit.slice(0, 12)}`);
  const imageId = await rebuildAtCommit(paths, source, deps);
  if (imageId !== record.image.id) {
    throw new Error(
      `the rebuild at ${source.commit.slice(0, 12)} gave image ${imageId}, not ${record.image.id} (\`envseal verify --rebuild\` explains such differences)`,
    );
  }
  return true;
}

/** Checks the commit out into a temporary worktree, builds there, and removes the worktree again. */
async function rebuildAtCommit(paths: ProjectPaths, source: Extract<ImageSource, { kind: 'rebuild' }>, deps: ImageDeps): Promise<string> {
  const git = async (args: string[], cwd: string): Promise<string> => {
    const result = await deps.runGit(args, { cwd });
    if (result === null) throw new Error('git is not installed');
    if (result.exitCode !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr.trim() || `exit ${result.exitCode}`}`);
    return result.stdout.toString('utf8').trim();
  };
  const top = await git(['rev-parse', '--show-toplevel'], paths.dir);
  const scratch = await mkdtemp(join(deps.tmpDir, 'envseal-reproduce-'));
  const worktree = join(scratch, 'worktree');
  try {
    await git(['worktree', 'add', '--detach', worktree, source.commit], top);
    const dir = source.projectPath === '.' ? worktree : join(worktree, source.projectPath);
    const at = { dir, spec: join(dir, relative(paths.dir, paths.spec)), lock: join(dir, relative(paths.dir, paths.lock)) };
    return (await deps.rebuild(at, source.target)).imageId;
  } finally {
    await deps.runGit(['worktree', 'remove', '--force', worktree], { cwd: top }).catch(() => null);
    await rm(scratch, { recursive: true, force: true });
    await deps.runGit(['worktree', 'prune'], { cwd: top }).catch(() => null);
  }
}

function describeSource(source: ImageSource): string {
  if (source.kind === 'local') return `local image ${source.imageId}`;
  if (source.kind === 'pull') return `pull ${source.reference}`;
  return `rebuild at commit ${source.commit.slice(0, 12)}`;
}
