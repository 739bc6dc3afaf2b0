/**
 * The command-line interface: flag parsing, human and --json output, exit codes. The only place that prints,
 * reads the process environment or decides the exit code; the composition root that builds the adapters.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { EnvsealError, ExitCode, describeError, inputError, internalError, isEnvsealError } from '../core/errors.js';
import { TEMPLATES_DIR, TOOL_VERSION } from '../core/version.js';
import { Output } from './output.js';
import { parseDeadlineSeconds } from './deadlines.js';
import { registerCommands } from './commands.js';
import type { CliIo, CommandContext, GlobalOptions } from './context.js';

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let out: Output | undefined;
  const program = new Command('envseal');
  program
    .description('Lock, build, run and verify reproducible ML environments.')
    .version(TOOL_VERSION, '--version', 'print the envseal version')
    .option('-C, --dir <path>', 'project directory', undefined)
    .option('--spec <file>', 'env spec, relative to the project directory', 'envseal.yaml')
    .option('--lock <file>', 'lock file, relative to the project directory', 'envseal.lock')
    .option('--json', 'machine-readable result on stdout (logs stay on stderr)', false)
    .option('-q, --quiet', 'only errors and results', false)
    .option('-v, --verbose', 'more detail (e.g. build output as it scrolls)', false)
    .addOption(
      new Option(
        '--timeout <seconds>',
        'deadline for each package-index, registry and Docker engine call, and for a build that prints nothing ' +
          '(default: 60 s per call, 600 s of build silence; also ENVSEAL_HTTP_TIMEOUT, ENVSEAL_ENGINE_TIMEOUT, ENVSEAL_BUILD_IDLE_TIMEOUT)',
      ).argParser((value: string) => (parseDeadlineSeconds(value, '--timeout'), value)),
    )
    .addOption(new Option('--no-color', 'no ANSI colours (also: NO_COLOR=1)'))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .addHelpText(
      'after',
      `
Examples:
  envseal init --base 127.0.0.1:5000/python:bookworm   write a commented envseal.yaml for this project
  envseal lock                                        resolve everything to exact pins in envseal.lock
  envseal lock --check                                exit 1 (with what drifted) if the lock is stale
  envseal generate                                    write envseal.Dockerfile from the lock
  envseal build --target dev                          build the dev image through the Docker Engine API
  envseal run --seed 42 -- python train.py            run in the image, write a run record
  envseal verify --json                               CI: every check, machine-readable

Exit codes: 0 ok · 1 a check failed · 2 wrong input · 3 an outside system failed · 70 internal bug`,
    );

  const context = (cmd: Command): CommandContext => {
    const globals = cmd.optsWithGlobals() as GlobalOptions;
    const color = globals.color && !io.env.NO_COLOR && Boolean(io.stderr.isTTY);
    out = new Output({
      json: globals.json,
      quiet: globals.quiet,
      verbose: globals.verbose,
      color,
      stdout: io.stdout,
      stderr: io.stderr,
      interactive: Boolean(io.stderr.isTTY) && !globals.json,
    });
    const dir = resolve(io.cwd, globals.dir ?? '.');
    if (globals.dir !== undefined) assertProjectDir(dir, globals.dir);
    const at = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
    let templates: { template: string; seedHook: string } | undefined;
    return {
      io,
      out,
      globals,
      paths: { dir, spec: at(globals.spec), lock: at(globals.lock) },
      templates: () =>
        (templates ??= {
          template: readFileSync(new URL('Dockerfile.tmpl', TEMPLATES_DIR), 'utf8'),
          seedHook: readFileSync(new URL('envseal_seed.py', TEMPLATES_DIR), 'utf8'),
        }),
    };
  };

  let exitCode: number = ExitCode.Ok;
  registerCommands(program, context, (code) => {
    exitCode = Math.max(exitCode, code);
  });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.Ok;
      return ExitCode.UserInput;
    }
    const output =
      out ??
      new Output({ json: argv.includes('--json'), quiet: false, verbose: false, color: false, stdout: io.stdout, stderr: io.stderr, interactive: false });
    if (isEnvsealError(err)) return output.error(err);
    const bug = internalError('internal', `unexpected error: ${describeError(err)}`, {
      hint: 'this is a bug in envseal; rerun with ENVSEAL_DEBUG=1 for a stack trace and report it',
      cause: err,
    });
    if (io.env.ENVSEAL_DEBUG && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return output.error(bug);
  }
}

/** `-C` must name an existing directory: every command reads from it, and init writes into it. */
function assertProjectDir(dir: string, given: string): void {
  const info = statSync(dir, { throwIfNoEntry: false });
  if (!info) throw inputError('usage.dir', `-C ${given}: no such directory`, { hint: 'name the project directory (the one holding envseal.yaml)' });
  if (!info.isDirectory()) throw inputError('usage.dir', `-C ${given}: not a directory`, { hint: 'name the project directory (the one holding envseal.yaml)' });
}

export { EnvsealError, inputError };
