/**
 * The GitHub Action's entry (action.yml runs bin/envseal-github-action.js, which calls this). It reads the
 * inputs the composite action passes as INPUT_* variables, optionally builds the image, runs the chosen
 * envseal check with `--json` in the project directory, appends a Markdown table of the checks to
 * $GITHUB_STEP_SUMMARY, sets outputs through $GITHUB_OUTPUT, annotates failed checks, and returns envseal's
 * exit code for the step to fail with. envseal itself runs as a child process (`node bin/envseal.js`), exactly
 * as a user runs it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { outcomeFromJson, renderAnnotations, renderSummary, type CommandOutcome } from './ci-summary.js';

const ENVSEAL_BIN = fileURLToPath(new URL('../../bin/envseal.js', import.meta.url));

export interface ActionIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: Writable;
  stderr: Writable;
}

/** The commands the action runs: checks only (it never rewrites a committed file). */
const COMMANDS = ['verify', 'verify --rebuild', 'lock --check', 'generate --check'];

interface Inputs {
  command: string[];
  dir: string;
  build: boolean;
  target: string;
  args: string[];
  junit?: string;
}

class UsageError extends Error {}

const words = (s: string | undefined) => (s ?? '').trim().split(/\s+/).filter(Boolean);

function readInputs(env: NodeJS.ProcessEnv, cwd: string): Inputs {
  const command = words(env.INPUT_COMMAND || 'verify');
  if (!COMMANDS.includes(command.join(' '))) {
    throw new UsageError(`input command: ${JSON.stringify(env.INPUT_COMMAND)} is not one of ${COMMANDS.map((c) => `"${c}"`).join(', ')}`);
  }
  const build = (env.INPUT_BUILD || 'false').toLowerCase();
  if (!['true', 'false'].includes(build)) throw new UsageError(`input build: ${JSON.stringify(env.INPUT_BUILD)} is not true or false`);
  if (build === 'true' && command[0] !== 'verify')
    throw new UsageError(`input build: "true" builds an image for verify to check; ${command.join(' ')} does not use one`);
  const target = env.INPUT_TARGET || 'deploy';
  if (!['dev', 'deploy'].includes(target)) throw new UsageError(`input target: ${JSON.stringify(target)} is not dev or deploy`);
  const workspace = env.GITHUB_WORKSPACE || cwd;
  return {
    command,
    dir: resolve(workspace, env.INPUT_WORKING_DIRECTORY || '.'),
    build: build === 'true',
    target,
    args: words(env.INPUT_ARGS),
    ...(env.INPUT_JUNIT ? { junit: resolve(workspace, env.INPUT_JUNIT) } : {}),
  };
}

/** Runs `node bin/envseal.js ARGS`: stdout collected (the JSON result), stderr passed through to the log. */
function runEnvseal(args: string[], io: ActionIo): Promise<{ code: number; stdout: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [ENVSEAL_BIN, ...args], { cwd: io.cwd, env: io.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => io.stderr.write(c));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code: code ?? (signal === 'SIGTERM' ? 143 : 130), stdout: Buffer.concat(out).toString('utf8') }));
  });
}

/** Appends `name<<DELIM … DELIM` blocks (the multi-line-safe form) to $GITHUB_OUTPUT. */
async function setOutputs(env: NodeJS.ProcessEnv, outputs: Record<string, string>): Promise<void> {
  if (!env.GITHUB_OUTPUT) return;
  const delimiter = `ENVSEAL_${randomBytes(8).toString('hex')}`;
  const text = Object.entries(outputs)
    .map(([k, v]) => `${k}<<${delimiter}\n${v}\n${delimiter}\n`)
    .join('');
  await appendFile(env.GITHUB_OUTPUT, text);
}

async function report(io: ActionIo, outcome: CommandOutcome, extra: Record<string, string>): Promise<number> {
  for (const line of renderAnnotations(outcome)) io.stdout.write(`${line}\n`);
  if (io.env.GITHUB_STEP_SUMMARY) await appendFile(io.env.GITHUB_STEP_SUMMARY, renderSummary(outcome));
  const failed = outcome.rows.filter((r) => r.status !== 'passed').map((r) => r.name);
  await setOutputs(io.env, {
    'exit-code': String(outcome.exitCode),
    ok: String(outcome.exitCode === 0),
    fingerprint: outcome.fingerprint ?? '',
    'failed-checks': failed.join(','),
    ...extra,
  });
  return outcome.exitCode;
}

/** The whole step; returns the exit code the step should end with. */
export async function runGithubAction(io: ActionIo): Promise<number> {
  let inputs: Inputs;
  try {
    inputs = readInputs(io.env, io.cwd);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const outcome: CommandOutcome = { command: 'action inputs', exitCode: 2, rows: [{ name: 'inputs', status: 'error', summary: err.message, details: [] }] };
    return report(io, outcome, {});
  }
  const project = ['-C', inputs.dir];
  let image = '';
  if (inputs.build) {
    io.stderr.write(`envseal build --target ${inputs.target}\n`);
    const built = await runEnvseal([...project, 'build', '--target', inputs.target, '--json'], io);
    if (built.code !== 0) return report(io, outcomeFromJson('build', built.code, built.stdout), {});
    const result = JSON.parse(built.stdout) as { tags?: string[]; imageId?: string };
    image = result.tags?.[0] ?? result.imageId ?? '';
  }
  const verify = inputs.command[0] === 'verify';
  // verify checks the built image; a rebuild without one rebuilds the lock's image for the target.
  const command = [
    ...inputs.command,
    ...(verify && image ? ['--image', image] : verify && inputs.command.includes('--rebuild') ? ['--target', inputs.target] : []),
  ];
  const junit = inputs.junit ? ['--junit', inputs.junit] : [];
  io.stderr.write(`envseal ${[...command, ...junit, ...inputs.args].join(' ')} --json\n`);
  const ran = await runEnvseal([...project, ...command, ...junit, ...inputs.args, '--json'], io);
  return report(io, outcomeFromJson(inputs.command.join(' '), ran.code, ran.stdout), { image });
}
