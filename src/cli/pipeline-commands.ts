/** build, run, verify and diff: the commands that talk to the Docker engine. */
import { randomBytes, randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { ExitCode, inputError, isEnvsealError } from '../core/errors.js';
import { TOOL_VERSION } from '../core/version.js';
import type { BuildOutcome } from '../app/build-image.js';
import type { Lock } from '../lock/schema.js';
import type { TargetName } from '../core/image-contract.js';
import type { SlurmFacts } from '../record/schema.js';
import type { CommandContext } from './context.js';
import type { Deps } from './deps.js';
import { interruptSignal } from './interrupt.js';

// Use cases and adapters are imported when a command runs (see commands.ts).
const load = {
  deps: () => import('./deps.js'),
  git: () => import('../record/git.js'),
};

type ContextOf = (cmd: Command) => CommandContext;
type SetExit = (code: number) => void;

const targetOption = () => new Option('--target <target>', 'dev or deploy').choices(['dev', 'deploy']).default('dev');

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The names a POSIX shell (and the spec's `env`) accepts; the engine would pass anything on. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseEnvPairs(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw inputError('usage.env', `--env ${pair}: expected NAME=VALUE`);
    const name = pair.slice(0, eq);
    if (!ENV_NAME.test(name)) {
      throw inputError('usage.env', `--env ${JSON.stringify(pair)}: ${JSON.stringify(name)} is not a valid environment variable name`, {
        hint: 'names are letters, digits and "_", not starting with a digit (e.g. -e MY_VAR=value)',
      });
    }
    if (pair.includes('\0')) throw inputError('usage.env', `--env ${name}: the value contains a NUL character`);
    env[name] = pair.slice(eq + 1);
  }
  return env;
}

/** The network modes the README documents for build and run; anything else would reach the engine as a network name. */
const NETWORK_MODES = ['host', 'none', 'default'];
const networkOption = (description: string, fallback: string) => new Option('--network <mode>', description).choices(NETWORK_MODES).default(fallback);

export function parseSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw inputError('usage.timeout', `${flag} ${value}: expected a positive number of seconds`);
  return Math.round(n * 1000);
}

/** The deploy image's revision label: the checked-out commit (one git process, not the run record's full capture). */
async function gitRevision(dir: string): Promise<string | null> {
  const { headCommit } = await load.git();
  return headCommit(dir);
}

export function registerPipelineCommands(program: Command, context: ContextOf, setExit: SetExit): void {
  registerBuild(program, context, setExit);
  registerRun(program, context, setExit);
  registerVerify(program, context, setExit);
  registerDiff(program, context, setExit);
}

/** Builds an image with the build command's flags (also what `run` does when the image is missing). */
export async function doBuild(ctx: CommandContext, opts: BuildFlags, signal: AbortSignal): Promise<BuildOutcome> {
  const { createDeps } = await load.deps();
  const { buildImage } = await import('../app/build-image.js');
  const deps = createDeps(ctx, { signal });
  return buildImage(
    ctx.paths,
    {
      target: opts.target,
      tags: opts.tag ?? [],
      push: opts.push,
      network: opts.network,
      noCache: !opts.cache,
      ...(opts.platform ? { platform: opts.platform } : {}),
      ...(opts.timeLimit ? { timeoutMs: parseSeconds(opts.timeLimit, '--time-limit')! } : {}),
      reproducible: opts.reproducible,
      signal,
      verbose: ctx.globals.verbose,
    },
    { ...deps, ...ctx.templates(), toolVersion: TOOL_VERSION, revision: await gitRevision(ctx.paths.dir) },
  );
}

function registerBuild(program: Command, context: ContextOf, setExit: SetExit): void {
  program
    .command('build')
    .description('build the dev or deploy image from the lock through the Docker Engine API')
    .addOption(targetOption())
    .option('-t, --tag <tag>', 'tag the image (repeatable; default envseal/<name>:<target>-<fingerprint>)', collect)
    .option('--push', 'push the tags to their registry and report the pushed digest', false)
    .addOption(networkOption('network for RUN steps: host, none or default (the engine default)', 'host'))
    .option('--no-cache', 'do not use the build cache')
    .option('--platform <os/arch>', 'build for this platform')
    .option('--time-limit <seconds>', 'give up when the whole build takes longer than this (see also the global --timeout)')
    .option('--no-reproducible', 'skip the normalisation that makes the image ID reproducible')
    .addHelpText('after', '\nExamples:\n  envseal build --target deploy\n  envseal build --target deploy -t 127.0.0.1:5000/iris:1 --push --json')
    .action(async (opts: BuildFlags, cmd: Command) => {
      const ctx = context(cmd);
      const { signal, dispose, exitCode } = interruptSignal(ctx);
      try {
        const outcome = await doBuild(ctx, opts, signal).catch((err: unknown) => {
          // A build stopped by Ctrl-C fails with a cancellation error; the exit code says it was interrupted.
          const code = exitCode();
          if (code === undefined) throw err;
          ctx.out.log(`build interrupted${isEnvsealError(err) ? `: ${err.message}` : ''}`);
          return code;
        });
        if (typeof outcome === 'number') {
          setExit(outcome);
          return;
        }
        ctx.out.json({ ok: true, ...outcome });
        ctx.out.result(
          [
            `built ${opts.target} image ${outcome.imageId}`,
            `tags: ${outcome.tags.join(', ')}`,
            `fingerprint ${outcome.fingerprint}${outcome.reproducible ? ' (reproducible)' : ''}`,
            ...outcome.pushed.map((p) => `pushed ${p.tag}@${p.digest}`),
          ].join('\n'),
        );
      } finally {
        dispose();
      }
    });
}

function registerRun(program: Command, context: ContextOf, setExit: SetExit): void {
  program
    .command('run')
    .description('run a command in the locked image and write a run record')
    .addOption(targetOption())
    .option('--image <ref>', 'run this image (it must carry the lock fingerprint)')
    .option('--seed <n>', 'seed for random, NumPy, PyTorch, TensorFlow and PYTHONHASHSEED')
    .option('--gpus <all|N|device=ID,...>', 'GPUs to pass in (fails if the engine has none)')
    .addOption(networkOption('container network: none, host or default', 'none'))
    .option('-e, --env <NAME=VALUE>', 'environment variable (repeatable)', collect)
    .option('--input <path>', 'record the content digest of this input (repeatable)', collect)
    .option('--output <path>', 'record the content digest of this output after the run (repeatable)', collect)
    .option('--no-build', 'fail instead of building a missing image')
    .option('-i, --interactive', 'attach stdin even when it is a terminal', false)
    .option('--tty', 'allocate a terminal', false)
    .option('--time-limit <seconds>', 'stop the command after this long (exit 124)')
    .option(
      '--strict',
      'refuse to run (exit 1) when the lock is stale, the image does not match it, the work tree is dirty or the build was not reproducible (also ENVSEAL_STRICT=1)',
      false,
    )
    .argument('<command...>', 'the command and its arguments, after --')
    .addHelpText(
      'after',
      '\nExamples:\n  envseal run --seed 42 --input data/ --output out/ -- python train.py\n  envseal run --target deploy --json -- python train.py',
    )
    .action(async (command: string[], opts: RunFlags, cmd: Command) => {
      setExit(await runAction(context(cmd), command, opts));
    });
}

/** `envseal run`: runs the command, writes the run record and returns the command's exit code. */
async function runAction(ctx: CommandContext, command: string[], opts: RunFlags): Promise<number> {
  // Flags are checked before anything is loaded or asked of the engine.
  const env = parseEnvPairs(opts.env ?? []);
  const timeoutMs = parseSeconds(opts.timeLimit, '--time-limit');
  const { signal, dispose } = interruptSignal(ctx);
  try {
    const { createDeps, hostNvidiaSmi, systemClock } = await load.deps();
    const { runCommand } = await import('../app/run-command.js');
    const { captureGitState } = await load.git();
    const { captureHostFacts } = await import('../record/host.js');
    const { createRunIdGenerator } = await import('../record/run-id.js');
    const deps = createDeps(ctx);
    let seed: number | undefined;
    if (opts.seed !== undefined) {
      if (!/^\d+$/.test(opts.seed) || Number(opts.seed) > 2 ** 32 - 1)
        throw inputError('usage.seed', `--seed ${opts.seed}: expected an integer from 0 to 4294967295`);
      seed = Number(opts.seed);
    }
    const stdin = ctx.io.stdin;
    const slurm = slurmFromEnv(ctx.io.env);
    const attachStdin = opts.interactive || !stdin.isTTY;
    const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
    const gid = typeof process.getgid === 'function' ? process.getgid() : 0;
    const outcome = await runCommand(
      ctx.paths,
      {
        target: opts.target,
        ...(opts.image ? { image: opts.image } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(opts.gpus ? { gpus: opts.gpus } : {}),
        network: opts.network,
        env,
        inputs: opts.input ?? [],
        outputs: opts.output ?? [],
        noBuild: !opts.build,
        command,
        ...(attachStdin ? { stdin } : {}),
        tty: opts.tty,
        stdout: ctx.globals.json ? ctx.io.stderr : ctx.io.stdout,
        stderr: ctx.io.stderr,
        signal,
        ...(timeoutMs ? { timeoutMs } : {}),
        ...(uid !== 0 ? { hostUser: `${uid}:${gid}` } : {}),
        strict: opts.strict || strictFromEnv(ctx.io.env),
        ...(slurm ? { slurm } : {}),
      },
      {
        engine: deps.engine,
        clock: deps.clock,
        logger: ctx.out.logger,
        toolVersion: TOOL_VERSION,
        newRunId: createRunIdGenerator({ clock: systemClock, randomBytes }),
        newSeed: () => randomInt(0, 2 ** 31),
        captureGit: async (dir) => captureGitState(dir),
        captureHost: async (engine) => captureHostFacts(engine ? { engine } : {}),
        build: async (target: TargetName) => doBuild(ctx, { target, push: false, network: 'host', cache: true, reproducible: true }, signal),
        runNvidiaSmi: hostNvidiaSmi(ctx.io.env),
      },
    );
    const rel = outcome.recordPath.startsWith(ctx.paths.dir) ? outcome.recordPath.slice(ctx.paths.dir.length + 1) : outcome.recordPath;
    ctx.out.json({
      ok: outcome.exitCode === 0,
      exitCode: outcome.exitCode,
      runId: outcome.record.runId,
      record: rel,
      fingerprint: outcome.record.environment.fingerprint,
      seed: outcome.record.seed,
    });
    ctx.out.log(`run ${outcome.record.runId}: exit ${outcome.exitCode}${outcome.record.outcome.interrupted ? ' (interrupted)' : ''}, record ${rel}`);
    return outcome.exitCode;
  } finally {
    dispose();
  }
}

/**
 * The Slurm job this process runs in, from the variables slurmd sets: an array task names its array's job ID
 * (the one sbatch printed) and its index; a plain job its own ID. Undefined outside Slurm.
 */
export function slurmFromEnv(env: NodeJS.ProcessEnv): SlurmFacts | undefined {
  const digits = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? v : undefined);
  const arrayJob = digits(env.SLURM_ARRAY_JOB_ID);
  const task = digits(env.SLURM_ARRAY_TASK_ID);
  const jobId = arrayJob && task !== undefined ? arrayJob : digits(env.SLURM_JOB_ID);
  if (!jobId) return undefined;
  return { jobId, arrayTaskId: arrayJob && task !== undefined ? Number(task) : null, node: env.SLURMD_NODENAME || null };
}

/** ENVSEAL_STRICT=1 (or true/yes) makes every run strict, for CI; 0, false, no or empty leave it off. */
function strictFromEnv(env: NodeJS.ProcessEnv): boolean {
  const value = (env.ENVSEAL_STRICT ?? '').trim().toLowerCase();
  if (value === '' || value === '0' || value === 'false' || value === 'no') return false;
  if (value === '1' || value === 'true' || value === 'yes') return true;
  throw inputError('usage.strict', `ENVSEAL_STRICT=${JSON.stringify(env.ENVSEAL_STRICT)}: expected 1 or 0`, {
    hint: 'set ENVSEAL_STRICT=1 to refuse non-reproducible runs',
  });
}

function registerVerify(program: Command, context: ContextOf, setExit: SetExit): void {
  program
    .command('verify')
    .description('CI: lock fresh, Dockerfile up to date, image and record match the lock')
    .option('--image <ref>', 'check this image: fingerprint label and installed packages')
    .option('--record <file>', 'check this run record was made with this lock')
    .option('--dockerfile <file>', 'the generated Dockerfile to check', 'envseal.Dockerfile')
    .option('--rebuild', "build again from the lock with no cache and compare image ID and layers (with --image or the lock's image)", false)
    .addOption(new Option('--target <target>', 'target to rebuild when no --image is given').choices(['dev', 'deploy']))
    .option('--junit <file>', 'also write the checks as a JUnit XML report (for CI test reports), whatever the outcome')
    .addHelpText(
      'after',
      '\nExamples:\n  envseal verify\n  envseal verify --image envseal/iris:deploy-1a2b3c4d5e6f --json\n  envseal verify --junit envseal-junit.xml\n  envseal verify --record .envseal/runs/20261127T225501.123Z-7ZKQ3M9X2D4F8H1J.json',
    )
    .action(async (opts: VerifyFlags, cmd: Command) => {
      const ctx = context(cmd);
      const start = new Date();
      const { writeJunitReport, verifyCases, errorCase, warnOf } = await import('./junit-report.js');
      let outcome;
      try {
        outcome = await verifyAction(ctx, opts);
      } catch (err) {
        if (opts.junit !== undefined) {
          const failed = errorCase(err, 'verify', 'envseal.verify', (Date.now() - start.getTime()) / 1000);
          await writeJunitReport(ctx, opts.junit, { name: 'envseal verify', cases: [failed] }, start).catch(warnOf(ctx));
        }
        throw err;
      }
      const { report, durations } = outcome;
      if (opts.junit !== undefined) await writeJunitReport(ctx, opts.junit, { name: 'envseal verify', cases: verifyCases(report, durations) }, start);
      ctx.out.json({ ok: report.ok, fingerprint: report.fingerprint, checks: report.checks });
      const lines = [];
      for (const c of report.checks) {
        lines.push(`${c.ok ? ctx.out.paint('green', 'ok  ') : ctx.out.paint('red', 'FAIL')} ${c.name}: ${c.summary}`);
        for (const d of c.details) lines.push(`       ${d}`);
        if (!c.ok && c.fix) lines.push(`       fix: ${c.fix}`);
      }
      lines.push(
        report.ok ? `all ${report.checks.length} checks passed` : `${report.checks.filter((c) => !c.ok).length} of ${report.checks.length} checks failed`,
      );
      ctx.out.result(lines.join('\n'));
      if (!report.ok) setExit(ExitCode.CheckFailed);
    });
}

async function verifyAction(ctx: CommandContext, opts: VerifyFlags) {
  const { verifyEnvironment } = await import('../app/verify-environment.js');
  // The adapters (engine, registry) and git are loaded only by the checks that use them: a plain `verify`
  // (lock and Dockerfile) reads files and nothing else.
  let deps: Promise<Deps> | undefined;
  const engineDeps = () => (deps ??= load.deps().then(({ createDeps }) => createDeps(ctx)));
  const { signal, dispose } = interruptSignal(ctx);
  try {
    return await verifyEnvironment(
      ctx.paths,
      {
        ...(opts.image ? { image: opts.image } : {}),
        ...(opts.record ? { record: resolve(ctx.io.cwd, opts.record) } : {}),
        dockerfile: opts.dockerfile,
        ...(opts.rebuild
          ? {
              extra: async (lock: Lock) => {
                const { checkRebuild } = await import('../app/rebuild-check.js');
                const buildDeps = { ...(await engineDeps()), ...ctx.templates(), toolVersion: TOOL_VERSION, revision: await gitRevision(ctx.paths.dir) };
                const request = { ...(opts.image ? { image: opts.image } : {}), ...(opts.target ? { target: opts.target } : {}), signal };
                return [await checkRebuild(ctx.paths, lock, request, buildDeps)];
              },
            }
          : {}),
      },
      {
        engine: async () => (await engineDeps()).engine,
        logger: ctx.out.logger,
        clock: { now: () => new Date() },
        artifacts: async (ref, write) => (await engineDeps()).artifacts(ref, write),
        ...ctx.templates(),
        toolVersion: TOOL_VERSION,
      },
    );
  } finally {
    dispose();
  }
}

function registerDiff(program: Command, context: ContextOf, setExit: SetExit): void {
  program
    .command('diff')
    .description('what changed between two environments (locks, run records or images)')
    .argument('<a>', 'lock file, run record or image reference')
    .argument('<b>', 'lock file, run record or image reference')
    .addHelpText(
      'after',
      '\nExamples:\n  envseal diff old/envseal.lock envseal.lock\n  envseal diff .envseal/runs/A.json .envseal/runs/B.json\n  envseal diff envseal/iris:dev-1a2b3c envseal/iris:dev-4d5e6f',
    )
    .action(async (a: string, b: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const { createDeps } = await load.deps();
      const { diffTwo } = await import('../app/diff-environments.js');
      const { formatEnvironmentDiff } = await import('../app/environment-diff.js');
      let deps: ReturnType<typeof createDeps> | undefined;
      const result = await diffTwo(ctx.io.cwd, a, b, { engine: () => (deps ??= createDeps(ctx)).engine });
      ctx.out.json({
        ok: result.diff.identical,
        identical: result.diff.identical,
        a: result.a,
        b: result.b,
        diff: result.diff,
        ...(result.files ? { files: result.files } : {}),
      });
      ctx.out.result([...formatEnvironmentDiff(result.diff, result.a, result.b), ...(result.files ?? [])].join('\n'));
      if (!result.diff.identical) setExit(ExitCode.CheckFailed);
    });
}

interface VerifyFlags {
  image?: string;
  record?: string;
  dockerfile: string;
  rebuild: boolean;
  target?: TargetName;
  junit?: string;
}

export interface BuildFlags {
  target: TargetName;
  tag?: string[];
  push: boolean;
  network: string;
  cache: boolean;
  platform?: string;
  timeLimit?: string;
  reproducible: boolean;
}

interface RunFlags {
  target: TargetName;
  image?: string;
  seed?: string;
  gpus?: string;
  network: string;
  env?: string[];
  input?: string[];
  output?: string[];
  build: boolean;
  interactive: boolean;
  tty: boolean;
  timeLimit?: string;
  strict: boolean;
}
