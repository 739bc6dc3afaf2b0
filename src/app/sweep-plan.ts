/**
 * `envseal submit`'s pure half: the seed list, the Slurm batch script that turns one `envseal run` into an
 * array job (task index → seed), and reading the tasks' states back from `scontrol show job -o`. No I/O.
 */
import { inputError } from '../core/errors.js';

export const MAX_SEED = 2 ** 32 - 1;
/** More tasks than this is a typo (`1-100000000`), not a sweep; Slurm's own MaxArraySize defaults to 1001. */
export const MAX_SWEEP_TASKS = 10_000;

/**
 * `--seeds`: comma-separated seeds and inclusive ranges, in the order given, repeats kept (`1,1` runs seed 1
 * twice, which is how a sweep checks that equal seeds agree): `1-8`, `1,3,5`, `1-3,7`.
 */
export function parseSeeds(text: string): number[] {
  const bad = (why: string) =>
    inputError('usage.seeds', `--seeds ${JSON.stringify(text)}: ${why}`, {
      hint: 'give seeds and ranges separated by commas, e.g. --seeds 1-8, --seeds 1,3,5 or --seeds 1-3,7',
    });
  const seeds: number[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw bad(part ? `${JSON.stringify(part)} is not a seed (a whole number) or a range like 1-8` : 'an empty item');
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from > MAX_SEED || to > MAX_SEED) throw bad(`seeds go from 0 to ${MAX_SEED}`);
    if (to < from) throw bad(`the range ${part} runs backwards`);
    if (seeds.length + (to - from + 1) > MAX_SWEEP_TASKS) throw bad(`more than ${MAX_SWEEP_TASKS} tasks`);
    for (let s = from; s <= to; s++) seeds.push(s);
  }
  return seeds;
}

/** One word for a POSIX shell, single-quoted unless it is plainly safe. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./=:@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A word in which `{seed}` becomes the task's seed ("$seed" in the script) and `{task}` its array index
 * ("$SLURM_ARRAY_TASK_ID"), the rest quoted.
 */
export function shellWordForTask(word: string): string {
  return word
    .split(/(\{seed\}|\{task\})/)
    .map((part) => (part === '{seed}' ? '"$seed"' : part === '{task}' ? '"$SLURM_ARRAY_TASK_ID"' : part ? shellQuote(part) : ''))
    .join('');
}

export interface SweepPlanInput {
  seeds: number[];
  /** The sweep's name: job name `envseal-<id>`, logs `<logDir>/<id>-<task>.out`. */
  sweepId: string;
  /** Absolute paths: the node binary, envseal's bin/envseal.js, the project, the spec and lock. */
  node: string;
  envsealBin: string;
  projectDir: string;
  spec: string;
  lock: string;
  logDir: string;
  /** The image every task runs (an image ID or a repo digest: nothing a later build can move). */
  image: string;
  /** `envseal run` options after the seed and image (target, network, env, inputs, outputs...). */
  runArgs: string[];
  command: string[];
  /** Extra `#SBATCH` options, passed as they are (e.g. `--partition=gpu`). */
  sbatchOptions: string[];
}

/**
 * The batch script: a bash array of seeds indexed by SLURM_ARRAY_TASK_ID, then `exec node envseal run` with
 * that seed, the pinned image and `--no-build`, so each task is exactly one `envseal run` and its exit code
 * is the task's. `{seed}` and `{task}` in the run options and the command become the seed and the array index
 * (per-seed or per-task output paths).
 */
export function renderSweepScript(plan: SweepPlanInput): string {
  if (!plan.seeds.length) throw inputError('usage.seeds', 'no seeds to submit', { hint: 'e.g. --seeds 1-8' });
  if (!plan.command.length) throw inputError('submit.no-command', 'no command given', { hint: 'envseal submit --seeds 1-8 -- python train.py' });
  for (const option of plan.sbatchOptions) {
    if (!/^--?[A-Za-z]/.test(option) || /[\n\r]/.test(option)) {
      throw inputError('usage.sbatch', `--sbatch ${JSON.stringify(option)}: expected one sbatch option such as --partition=gpu`, {
        hint: 'pass each sbatch option as its own --sbatch, with its value after "="',
      });
    }
  }
  const run = [
    shellQuote(plan.node),
    shellQuote(plan.envsealBin),
    '-C',
    shellQuote(plan.projectDir),
    '--spec',
    shellQuote(plan.spec),
    '--lock',
    shellQuote(plan.lock),
    'run',
    '--seed',
    '"$seed"',
    '--image',
    shellQuote(plan.image),
    '--no-build',
    ...plan.runArgs.map(shellWordForTask),
    '--',
    ...plan.command.map(shellWordForTask),
  ];
  return [
    '#!/bin/bash',
    `# envseal submit: sweep ${plan.sweepId}, ${plan.seeds.length} task(s), one \`envseal run\` per seed.`,
    `#SBATCH --job-name=${shellQuote(`envseal-${plan.sweepId}`)}`,
    `#SBATCH --array=0-${plan.seeds.length - 1}`,
    `#SBATCH --output=${shellQuote(`${plan.logDir}/${plan.sweepId}-%a.out`)}`,
    `#SBATCH --chdir=${shellQuote(plan.projectDir)}`,
    '#SBATCH --ntasks=1',
    ...plan.sbatchOptions.map((o) => `#SBATCH ${o}`),
    'set -euo pipefail',
    `seeds=(${plan.seeds.join(' ')})`,
    'seed=${seeds[$SLURM_ARRAY_TASK_ID]}',
    `exec ${run.join(' ')}`,
    '',
  ].join('\n');
}

/** One array task as Slurm's controller reports it. */
export interface SweepTaskState {
  taskId: number;
  /** COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PENDING, RUNNING... */
  state: string;
  /** The batch script's exit status (`ExitCode=N:signal`); null when Slurm gave none. */
  exitCode: number | null;
  signal: number | null;
  node: string | null;
}

/**
 * `scontrol show job -o <id>`: one line per array task, `Key=Value` words. Lines without an ArrayTaskId
 * (a pending remainder shown as `ArrayTaskId=3-7`) count for each task of the range.
 */
export function parseScontrolJobs(text: string): SweepTaskState[] {
  const tasks: SweepTaskState[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const fields = new Map<string, string>();
    for (const word of line.trim().split(/\s+/)) {
      const eq = word.indexOf('=');
      if (eq > 0 && !fields.has(word.slice(0, eq))) fields.set(word.slice(0, eq), word.slice(eq + 1));
    }
    const state = fields.get('JobState');
    const ids = fields.get('ArrayTaskId');
    if (!state || ids === undefined) continue;
    const exit = /^(\d+):(\d+)$/.exec(fields.get('ExitCode') ?? '');
    const nodeList = fields.get('BatchHost') ?? fields.get('NodeList');
    const node = nodeList && nodeList !== '(null)' ? nodeList : null;
    for (const taskId of expandTaskIds(ids)) {
      tasks.push({ taskId, state, exitCode: exit ? Number(exit[1]) : null, signal: exit ? Number(exit[2]) : null, node });
    }
  }
  return tasks.sort((a, b) => a.taskId - b.taskId);
}

/** `3`, `3-7`, `1,4-6`, `0-7%2` (a throttle) → the task indexes. */
function expandTaskIds(text: string): number[] {
  const ids: number[] = [];
  for (const part of text.replace(/%\d+$/, '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) continue;
    const to = m[2] === undefined ? Number(m[1]) : Number(m[2]);
    for (let i = Number(m[1]); i <= to; i++) ids.push(i);
  }
  return ids;
}

export interface SweepTaskResult extends SweepTaskState {
  seed: number;
  ok: boolean;
}

/**
 * Every planned task with its seed and whether Slurm says it succeeded (COMPLETED with exit 0). A task the
 * controller no longer knows is reported as state UNKNOWN, not ok: nothing is assumed to have worked.
 */
export function sweepResults(seeds: number[], states: SweepTaskState[]): SweepTaskResult[] {
  const byTask = new Map(states.map((s) => [s.taskId, s]));
  return seeds.map((seed, taskId) => {
    const s = byTask.get(taskId) ?? { taskId, state: 'UNKNOWN', exitCode: null, signal: null, node: null };
    return { ...s, seed, ok: s.state === 'COMPLETED' && s.exitCode === 0 };
  });
}

/** "seed 3 (task 2: FAILED, exit 1)" for each task that did not succeed. */
export function describeFailedTasks(results: SweepTaskResult[]): string[] {
  return results
    .filter((r) => !r.ok)
    .map((r) => `seed ${r.seed} (task ${r.taskId}: ${r.state}${r.exitCode !== null ? `, exit ${r.exitCode}` : ''}${r.signal ? `, signal ${r.signal}` : ''})`);
}
