/** `submit` (a seed sweep as a Slurm array job) and `runs` (the run records, and a sweep's summary). */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { toRel } from '../core/paths.js';
import type { TargetName } from '../core/image-contract.js';
import type { CommandContext } from './context.js';
import { parseEnvPairs, parseSeconds } from './pipeline-commands.js';

type ContextOf = (cmd: Command) => CommandContext;
type SetExit = (code: number) => void;

/** bin/envseal.js of this installation (dist/cli/ → the package root), which the Slurm tasks run. */
const ENVSEAL_BIN = fileURLToPath(new URL('../../bin/envseal.js', import.meta.url));

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerSweepCommands(program: Command, context: ContextOf, setExit: SetExit): void {
  registerSubmit(program, context, setExit);
  registerRuns(program, context);
}

interface SubmitFlags {
  seeds: string;
  target: TargetName;
  image?: string;
  gpus?: string;
  network: string;
  env?: string[];
  input?: string[];
  output?: string[];
  timeLimit?: string;
  strict: boolean;
  sbatch?: string[];
  wait: boolean;
}

function registerSubmit(program: Command, context: ContextOf, setExit: SetExit): void {
  program
    .command('submit')
    .description('run a command once per seed as a Slurm array job (each task is one `envseal run` of the built image)')
    .requiredOption('--seeds <list>', 'seeds and ranges, e.g. 1-8, 1,3,5 or 1-3,7 (repeats run again)')
    .addOption(new Option('--target <target>', 'dev or deploy').choices(['dev', 'deploy']).default('dev'))
    .option('--image <ref>', 'run this image (default: the lock’s tag); it must be built and carry the lock fingerprint')
    .option('--gpus <all|N|device=ID,...>', 'GPUs each task passes to its container')
    .addOption(new Option('--network <mode>', 'container network: none, host or default').choices(['host', 'none', 'default']).default('none'))
    .option('-e, --env <NAME=VALUE>', 'environment variable for every task (repeatable; written into the batch script)', collect)
    .option('--input <path>', 'record the content digest of this input (repeatable)', collect)
    .option('--output <path>', 'record this output after each task; {seed} and {task} become the seed and the array index (repeatable)', collect)
    .option('--time-limit <seconds>', 'stop each task’s command after this long (exit 124)')
    .option('--strict', 'each task refuses to run when the lock is stale, the image does not match or the work tree is dirty', false)
    .option('--sbatch <option>', 'an extra sbatch option for the job, e.g. --sbatch=--partition=gpu (repeatable)', collect)
    .option('--wait', 'wait for every task (polling squeue); exit 1 naming the seeds whose tasks failed', false)
    .argument('<command...>', 'the command and its arguments, after --; {seed} and {task} as in --output')
    .addHelpText(
      'after',
      '\nExamples:\n  envseal submit --seeds 1-8 --output out/seed-{seed} -- python train.py --out out/seed-{seed}\n  envseal submit --seeds 1,1,2 --wait --json -- python train.py',
    )
    .action(async (command: string[], opts: SubmitFlags, cmd: Command) => {
      setExit(await submitAction(context(cmd), command, opts));
    });
}

/** The `envseal run` options every task gets, checked here so a typo fails before anything is queued. */
function taskRunArgs(opts: SubmitFlags): string[] {
  const env = parseEnvPairs(opts.env ?? []);
  parseSeconds(opts.timeLimit, '--time-limit');
  return [
    '--network',
    opts.network,
    ...(opts.gpus ? ['--gpus', opts.gpus] : []),
    ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    ...(opts.input ?? []).flatMap((p) => ['--input', p]),
    ...(opts.output ?? []).flatMap((p) => ['--output', p]),
    ...(opts.timeLimit ? ['--time-limit', opts.timeLimit] : []),
    ...(opts.strict ? ['--strict'] : []),
  ];
}

async function submitAction(ctx: CommandContext, command: string[], opts: SubmitFlags): Promise<number> {
  const { parseSeeds } = await import('../app/sweep-plan.js');
  const seeds = parseSeeds(opts.seeds);
  const runArgs = taskRunArgs(opts);
  if (opts.gpus) {
    const { parseGpus } = await import('../app/run-command.js');
    parseGpus(opts.gpus);
  }
  const { createDeps, systemClock } = await import('./deps.js');
  const { submitSweep } = await import('../app/submit-sweep.js');
  const { createSlurmCli } = await import('../engines/slurm/slurm-cli.js');
  const { createRunIdGenerator } = await import('../record/run-id.js');
  const outcome = await submitSweep(
    ctx.paths,
    {
      seeds,
      target: opts.target,
      ...(opts.image ? { image: opts.image } : {}),
      runArgs,
      command,
      sbatchOptions: opts.sbatch ?? [],
      wait: opts.wait,
      node: process.execPath,
      envsealBin: ENVSEAL_BIN,
    },
    {
      engine: createDeps(ctx).engine,
      scheduler: createSlurmCli(),
      logger: ctx.out.logger,
      newSweepId: createRunIdGenerator({ clock: systemClock, randomBytes }),
    },
  );
  ctx.out.json({
    ok: true,
    jobId: outcome.jobId,
    sweepId: outcome.sweepId,
    script: toRel(ctx.paths.dir, outcome.script),
    fingerprint: outcome.fingerprint,
    image: outcome.image,
    seeds: outcome.seeds,
    tasks: outcome.tasks,
  });
  ctx.out.result(
    outcome.tasks
      ? `Slurm job ${outcome.jobId}: all ${outcome.tasks.length} task(s) completed (seeds ${outcome.seeds.join(',')})`
      : `submitted Slurm job ${outcome.jobId}: ${outcome.seeds.length} task(s), seeds ${outcome.seeds.join(',')}`,
  );
  ctx.out.log(`image ${outcome.image}; script ${toRel(ctx.paths.dir, outcome.script)}; records: envseal runs --job ${outcome.jobId}`);
  return 0;
}

function registerRuns(program: Command, context: ContextOf): void {
  program
    .command('runs')
    .description('list the run records (.envseal/runs/); with --job, summarise a Slurm sweep per seed')
    .option('--job <id>', 'only the runs of this Slurm job, with the per-seed summary')
    .option('--fingerprint <sha256:…>', 'only runs of this environment fingerprint (a prefix is enough)')
    .option('--status <ok|failed>', 'only runs that exited 0 (ok) or did not (failed)')
    .addHelpText('after', '\nExamples:\n  envseal runs --status failed\n  envseal runs --job 42 --json')
    .action(async (opts: { job?: string; fingerprint?: string; status?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const { listRuns, parseRunFilter, summariseSweep } = await import('../app/list-runs.js');
      const { RUNS_DIR } = await import('../app/run-command.js');
      const filter = parseRunFilter(opts);
      const runs = await listRuns(join(ctx.paths.dir, RUNS_DIR), filter);
      const sweep = filter.jobId !== undefined ? summariseSweep(filter.jobId, runs) : null;
      ctx.out.json({
        ok: true,
        runs: runs.map(({ path, record, status }) => ({
          runId: record.runId,
          record: toRel(ctx.paths.dir, path),
          status,
          exitCode: record.outcome.exitCode,
          seed: record.seed,
          fingerprint: record.environment.fingerprint,
          command: [record.command, ...record.args].join(' '),
          slurm: record.slurm,
        })),
        ...(sweep ? { sweep } : {}),
      });
      const lines = runs.map(({ record, status }) => {
        const job = record.slurm ? ` job ${record.slurm.jobId}${record.slurm.arrayTaskId !== null ? `_${record.slurm.arrayTaskId}` : ''}` : '';
        return `${record.runId}  ${status.padEnd(6)} exit ${String(record.outcome.exitCode ?? '-').padEnd(3)} seed ${String(record.seed ?? '-').padEnd(6)}${job}  ${record.command} ${record.args.join(' ')}`;
      });
      if (sweep) lines.push(...sweepLines(sweep));
      ctx.out.result(lines.length ? lines.join('\n') : 'no run records match');
    });
}

function sweepLines(sweep: import('../app/list-runs.js').SweepSummary): string[] {
  const lines = [
    `job ${sweep.jobId}: ${sweep.runs} run(s), ${sweep.failed} failed, fingerprint${sweep.fingerprints.length === 1 ? '' : 's'} ${sweep.fingerprints.join(', ') || '-'}`,
  ];
  for (const s of sweep.seeds) {
    const exits = s.runs.map((r) => r.exitCode ?? '-').join(',');
    const verdict = s.agree === null ? '' : s.agree ? ', outputs agree' : ', OUTPUTS DIFFER';
    lines.push(`  seed ${s.seed ?? '-'}: ${s.runs.length} run(s), exit ${exits}${verdict}`);
  }
  if (sweep.equalSeedsAgree !== null) lines.push(sweep.equalSeedsAgree ? 'equal seeds agree' : 'equal seeds DISAGREE');
  return lines;
}
