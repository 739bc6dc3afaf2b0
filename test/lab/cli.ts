/**
 * Running the real, compiled CLI the way a user does: `node bin/envseal.js …` in a child process, so exit
 * codes, stdout/stderr separation and the launcher are all part of what a test checks. `npm ci` (prepare) or
 * `npm run build` compiles dist/ first.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_BASE_IMAGE, type CommandResult } from './lab.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ENVSEAL_BIN = join(REPO_ROOT, 'bin', 'envseal.js');

export interface RunEnvsealOptions {
  cwd: string;
  /**
   * Extra environment. The child does not inherit the test runner's whole environment (a developer's
   * ENVSEAL_* settings must not change a test): it gets PATH, HOME, TMPDIR, DOCKER_HOST/DOCKER_CONFIG when
   * set, LANG=C.UTF-8 and NO_COLOR=1, then these.
   */
  env?: Record<string, string | undefined>;
  /** Written to stdin (stdin is closed either way, so a prompt cannot hang a test). */
  input?: string | Uint8Array;
  /** Default 10 minutes (builds in e2e tests); the child is killed and the promise rejects after it. */
  timeoutMs?: number;
}

function buildChildEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { LANG: 'C.UTF-8', NO_COLOR: '1' };
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'DOCKER_HOST', 'DOCKER_CONFIG', 'SYSTEMROOT']) {
    if (process.env[key] !== undefined) env[key] = process.env[key];
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Runs `node bin/envseal.js <args>` and collects its exit code and output. */
export function runEnvseal(args: string[], options: RunEnvsealOptions): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENVSEAL_BIN, ...args], {
      cwd: options.cwd,
      env: buildChildEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`envseal ${args.join(' ')} timed out after ${timeoutMs} ms; output so far:\n${Buffer.concat(err).toString('utf8')}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined); // the CLI may exit before reading its input
    child.stdin.end(options.input ?? '');
  });
}

export interface TempProject {
  dir: string;
  /** Absolute path of a file inside the project. */
  path(relative: string): string;
  /** Removes the whole directory; safe to call twice. */
  cleanup(): Promise<void>;
}

/** Creates a fresh directory under the OS temp dir holding `files` (relative path → content). */
export async function makeTempProject(files: Record<string, string | Uint8Array> = {}): Promise<TempProject> {
  const dir = await mkdtemp(join(tmpdir(), 'envseal-test-'));
  const resolveInside = (relative: string) => {
    const full = normalize(join(dir, relative));
    if (isAbsolute(relative) || !full.startsWith(dir + sep)) throw new Error(`makeTempProject: ${relative} is not inside the project`);
    return full;
  };
  for (const [relative, content] of Object.entries(files)) {
    const full = resolveInside(relative);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  return {
    dir,
    path: resolveInside,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * envseal.yaml for a Python project on the lab base image: requirements.txt resolved against `index`, and a
 * deploy target that runs `python -c <code>` (code without double quotes or backslashes: it is YAML-quoted as is).
 */
export function pythonDeploySpec(name: string, index: string, code: string): string {
  if (/["\\]/.test(code)) throw new Error('pythonDeploySpec: the code must not contain double quotes or backslashes');
  return `version: 1
name: ${name}
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${index}
targets:
  deploy:
    command: [python, -c, "${code}"]
`;
}
