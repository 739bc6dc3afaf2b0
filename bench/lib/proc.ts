/** Running commands for the benches: wall-clock timed, failing loudly with the command's last lines. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ENVSEAL = join(ROOT, 'bin', 'envseal.js');

export interface Timed {
  ms: number;
  stdout: string;
  stderr: string;
}

export function timed(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Timed {
  const started = performance.now();
  const res = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = performance.now() - started;
  if (res.status !== 0) {
    const tail = (res.stderr || res.stdout || String(res.error ?? '')).trim().split('\n').slice(-20).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.status}) in ${cwd}:\n${tail}`);
  }
  return { ms, stdout: res.stdout, stderr: res.stderr };
}

/** `node bin/envseal.js ARGS` in `cwd`. */
export function envseal(args: string[], cwd: string, env: NodeJS.ProcessEnv): Timed {
  return timed(process.execPath, [ENVSEAL, ...args], cwd, env);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
