import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** What a finished helper process (git, nvidia-smi) left behind. */
export interface ProcessResult {
  /** null when the process was ended by a signal. */
  exitCode: number | null;
  signal: string | null;
  /** Empty when the caller consumed stdout through `onStdout`. */
  stdout: Buffer;
  stderr: string;
  /** True when envseal killed the process because it ran past `timeoutMs`. */
  timedOut: boolean;
}

export interface RunProcessOptions {
  cwd?: string;
  /** The process's whole environment (the caller's, passed down from cli/); inherited when not given. */
  env?: Record<string, string>;
  /** Kill the process (SIGKILL) after this long; nvidia-smi can hang on a wedged driver. */
  timeoutMs?: number;
  /** Receive stdout chunk by chunk instead of buffering it (bounded memory for large outputs). */
  onStdout?: (chunk: Buffer) => void;
}

/**
 * Runs an executable without a shell and collects its output. Resolves to null when the executable does not
 * exist (ENOENT on spawn), so callers can tell "not installed" apart from "ran and failed"; every other
 * spawn failure rejects.
 */
export function runProcess(file: string, args: string[], options: RunProcessOptions = {}): Promise<ProcessResult | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, ...(options.env ? { env: options.env } : {}), stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (options.onStdout) options.onStdout(chunk);
      else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      // A missing cwd also surfaces as ENOENT on spawn; only a missing executable means "not installed".
      if (err.code === 'ENOENT' && (options.cwd === undefined || existsSync(options.cwd))) resolve(null);
      else reject(err);
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve({
        exitCode: code,
        signal,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
      });
    });
  });
}
