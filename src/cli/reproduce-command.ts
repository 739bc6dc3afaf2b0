/** `envseal reproduce <record>`: re-creates a recorded run and compares its outputs. */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import type { Command } from 'commander';
import { TOOL_VERSION } from '../core/version.js';
import type { CommandContext } from './context.js';
import { doBuild } from './pipeline-commands.js';
import { interruptSignal } from './interrupt.js';

type ContextOf = (cmd: Command) => CommandContext;
type SetExit = (code: number) => void;

export function registerReproduce(program: Command, context: ContextOf, setExit: SetExit): void {
  program
    .command('reproduce')
    .description('re-create a recorded run (same image, inputs, seed, command) and compare its outputs byte for byte')
    .argument('<record>', 'run record file or run ID')
    .addHelpText(
      'after',
      '\nExit codes: 0 every output byte-identical · 1 an input or output differs · 2 unusable record or missing secret · 3 the image cannot be had' +
        '\n\nExamples:\n  envseal reproduce .envseal/runs/20261127T225501.123Z-7ZKQ3M9X2D4F8H1J.json\n  envseal reproduce 20261127T225501.123Z-7ZKQ3M9X2D4F8H1J --json',
    )
    .action(async (record: string, _opts: unknown, cmd: Command) => {
      setExit(await reproduceAction(context(cmd), record));
    });
}

async function reproduceAction(ctx: CommandContext, record: string): Promise<number> {
  const { signal, dispose } = interruptSignal(ctx);
  try {
    const { createDeps, hostNvidiaSmi, systemClock } = await import('./deps.js');
    const { reproduceRun } = await import('../app/reproduce/reproduce.js');
    const { formatReport } = await import('../app/reproduce/plan.js');
    const { captureGitState } = await import('../record/git.js');
    const { captureHostFacts } = await import('../record/host.js');
    const { createRunIdGenerator } = await import('../record/run-id.js');
    const { runProcess } = await import('../record/exec.js');
    const deps = createDeps(ctx);
    const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
    const gid = typeof process.getgid === 'function' ? process.getgid() : 0;
    const { report, exitCode } = await reproduceRun(
      ctx.paths,
      {
        record,
        cwd: ctx.io.cwd,
        lookupEnv: (name) => ctx.io.env[name],
        stdout: ctx.globals.json ? ctx.io.stderr : ctx.io.stdout,
        stderr: ctx.io.stderr,
        signal,
        ...(uid !== 0 ? { hostUser: `${uid}:${gid}` } : {}),
      },
      {
        engine: deps.engine,
        logger: ctx.out.logger,
        runGit: (args, options) => runProcess('git', args, options),
        rebuild: async (paths, target) => doBuild({ ...ctx, paths }, { target, push: false, network: 'host', cache: true, reproducible: true }, signal),
        tmpDir: ctx.io.env.TMPDIR ?? tmpdir(),
        signal,
        run: {
          engine: deps.engine,
          clock: deps.clock,
          logger: ctx.out.logger,
          toolVersion: TOOL_VERSION,
          newRunId: createRunIdGenerator({ clock: systemClock, randomBytes }),
          newSeed: () => 0,
          captureGit: async (dir) => captureGitState(dir),
          captureHost: async (engine) => captureHostFacts(engine ? { engine } : {}),
          runNvidiaSmi: hostNvidiaSmi(ctx.io.env),
        },
      },
    );
    ctx.out.json(report);
    ctx.out.result(formatReport(report).join('\n'));
    return exitCode;
  } finally {
    dispose();
  }
}
