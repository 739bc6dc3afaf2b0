/**
 * `envseal submit --seeds 1-8 -- CMD`: one `envseal run` per seed as a Slurm array job. Reads the lock and the
 * built image (refusing when it is missing: every task must run the same, already built image), plans the
 * batch script (pure, sweep-plan.ts), writes it under `.envseal/sweeps/`, hands it to the scheduler and, with
 * `wait`, reads back which tasks failed. Slurm schedules; envseal only describes the work and reads the result.
 */
import { join } from 'node:path';
import { checkFailed, inputError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic-write.js';
import type { BatchScheduler, ContainerEngine, Logger } from '../core/ports.js';
import type { TargetName } from '../core/image-contract.js';
import { LABEL_FINGERPRINT } from '../core/image-contract.js';
import { computeSourceDigest, defaultImageTag } from './build-image.js';
import { loadLockFile } from './generate-dockerfile.js';
import { toRel, type ProjectPaths } from './load-inputs.js';
import { wandbDocker } from './run-command.js';
import { describeFailedTasks, parseScontrolJobs, renderSweepScript, sweepResults, type SweepTaskResult } from './sweep-plan.js';

export const SWEEPS_DIR = '.envseal/sweeps';

export interface SubmitRequest {
  seeds: number[];
  target: TargetName;
  /** The image to run (default: the lock's tag for the target); it must exist here. */
  image?: string;
  /** `envseal run` options passed to every task (network, env, inputs, outputs, time limit, strict). */
  runArgs: string[];
  command: string[];
  sbatchOptions: string[];
  wait: boolean;
  /** Absolute paths of the node binary and envseal's bin/envseal.js that the tasks run. */
  node: string;
  envsealBin: string;
}

export interface SubmitDeps {
  engine: ContainerEngine;
  scheduler: BatchScheduler;
  logger: Logger;
  newSweepId: () => string;
}

export interface SubmitOutcome {
  jobId: string;
  sweepId: string;
  script: string;
  fingerprint: string;
  /** The image ID or repo digest every task runs. */
  image: string;
  seeds: number[];
  /** With `wait`: each task's state and seed. */
  tasks: SweepTaskResult[] | null;
}

export async function submitSweep(paths: ProjectPaths, request: SubmitRequest, deps: SubmitDeps): Promise<SubmitOutcome> {
  const { lock } = await loadLockFile(paths);
  const sourceDigest = request.target === 'deploy' ? await computeSourceDigest(paths.dir, lock.targets.deploy.copy) : undefined;
  const ref = request.image ?? defaultImageTag(lock, request.target, sourceDigest);
  const info = await deps.engine.inspectImage(ref);
  if (!info) {
    throw inputError('submit.image-missing', `image ${ref} is not built: a sweep runs one image, built before it is submitted`, {
      hint: `build it with \`envseal build --target ${request.target}\` (or push it and pass --image REPOSITORY@sha256:…), then submit again`,
      data: { image: ref },
    });
  }
  const label = info.labels[LABEL_FINGERPRINT] ?? null;
  if (label !== lock.fingerprint) {
    throw inputError('submit.image-mismatch', `image ${ref} carries fingerprint ${label ?? '(none)'}, not the lock's ${lock.fingerprint}`, {
      hint: `rebuild it from the lock with \`envseal build --target ${request.target}\``,
    });
  }
  // The tasks run by digest (or image ID), so a build or a re-tag while the job waits in the queue changes nothing.
  const image = wandbDocker(ref, info);
  const sweepId = deps.newSweepId();
  const logDir = join(paths.dir, SWEEPS_DIR);
  const script = renderSweepScript({
    seeds: request.seeds,
    sweepId,
    node: request.node,
    envsealBin: request.envsealBin,
    projectDir: paths.dir,
    spec: paths.spec,
    lock: paths.lock,
    logDir,
    image,
    runArgs: ['--target', request.target, ...request.runArgs],
    command: request.command,
    sbatchOptions: request.sbatchOptions,
  });
  const scriptPath = join(logDir, `${sweepId}.sbatch`);
  await writeFileAtomic(scriptPath, script, { mkdir: true });
  deps.logger.info(`submitting ${request.seeds.length} task(s) of ${toRel(paths.dir, scriptPath)}${request.wait ? ' and waiting for them' : ''}`);
  const { jobId } = await deps.scheduler.submit(scriptPath, { cwd: paths.dir });
  const outcome: SubmitOutcome = { jobId, sweepId, script: scriptPath, fingerprint: lock.fingerprint, image, seeds: request.seeds, tasks: null };
  if (!request.wait) return outcome;
  deps.logger.info(`Slurm job ${jobId} submitted; waiting for its ${request.seeds.length} task(s)`);
  await deps.scheduler.waitForJob(jobId);
  outcome.tasks = sweepResults(request.seeds, parseScontrolJobs(await deps.scheduler.showJob(jobId)));
  const failed = describeFailedTasks(outcome.tasks);
  if (failed.length) {
    const seeds = [...new Set(outcome.tasks.filter((t) => !t.ok).map((t) => t.seed))];
    throw checkFailed('submit.tasks-failed', `Slurm job ${jobId}: ${failed.length} of ${outcome.tasks.length} task(s) failed (seeds ${seeds.join(', ')})`, {
      details: failed,
      hint: `the task logs are ${toRel(paths.dir, logDir)}/${sweepId}-<task>.out; \`envseal runs --job ${jobId}\` shows each run record`,
      data: { jobId, sweepId, failedSeeds: seeds, tasks: outcome.tasks },
    });
  }
  return outcome;
}
