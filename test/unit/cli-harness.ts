/**
 * Runs the CLI in-process (src/cli/main.ts runCli) with fake streams: the same argument handling, use cases
 * and exit codes as `node bin/envseal.js`, without a child process, so hundreds of cases run in seconds.
 * DOCKER_HOST points at a socket that does not exist unless a test passes its own, so a case that reaches
 * the engine fails fast with exit 3 instead of touching the lab's engine.
 */
import { rmSync } from 'node:fs';
import { lstat, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main.js';

export const NO_ENGINE = 'unix:///tmp/envseal-test-no-engine.sock';

/** HOME and the HTTP cache live outside the project, so "nothing written" can be checked on the project alone. */
let sharedHome: string | undefined;
async function homeDir(): Promise<string> {
  if (sharedHome === undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-home-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    sharedHome = dir;
  }
  return sharedHome;
}

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface InProcessOptions {
  cwd: string;
  env?: Record<string, string>;
  /** Receives the CLI's interrupt handler (what bin/envseal.js wires to SIGINT/SIGTERM). */
  onInterrupt?: (handler: (signal?: NodeJS.Signals) => void) => () => void;
  /** Rejects when the CLI has not finished after this long (a hang). Default 20 s. */
  timeoutMs?: number;
}

export async function runCliInProcess(args: string[], options: InProcessOptions): Promise<InProcessResult> {
  let stdout = '';
  let stderr = '';
  const out = new PassThrough();
  out.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  const err = new PassThrough();
  err.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const stdin = new PassThrough();
  stdin.end();
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`envseal ${JSON.stringify(args)} did not finish within ${timeoutMs} ms (a hang)`)), timeoutMs);
  });
  try {
    const code = await Promise.race([
      runCli(args, {
        env: { NO_COLOR: '1', HOME: await homeDir(), ENVSEAL_CACHE_DIR: join(await homeDir(), 'cache'), DOCKER_HOST: NO_ENGINE, ...options.env },
        cwd: options.cwd,
        stdout: out,
        stderr: err,
        stdin,
        ...(options.onInterrupt ? { onInterrupt: options.onInterrupt } : {}),
      }),
      hang,
    ]);
    await new Promise((r) => setImmediate(r));
    return { code, stdout, stderr, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

export async function makeTempDir(prefix = 'envseal-unit-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Every path under `dir` with its type and content (files), link target (symlinks): to prove nothing was written. */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    const full = join(dir, rel);
    const st = await lstat(full);
    if (st.isSymbolicLink()) out[rel] = `link:${await readlink(full)}`;
    else if (st.isDirectory()) {
      if (rel) out[rel] = 'dir';
      for (const name of (await readdir(full)).sort()) await walk(rel ? `${rel}/${name}` : name);
    } else if (st.isFile()) out[rel] = `file:${(await readFile(full)).toString('base64')}`;
    else out[rel] = 'other';
  };
  await walk('');
  return out;
}
