/**
 * Deadlines for everything outside the process, read here (the CLI is the only reader of argv and the
 * environment) and passed down to the adapters:
 *   - httpMs: one package-index or registry request, its retries and waits included (a hung index fails
 *     within it),
 *   - engineMs: one Docker Engine API call (inspect, create, start, ...), and the time until a stream answers,
 *   - streamIdleMs: the longest silence of a build, pull, push, load or export before it is cancelled.
 * `--timeout <seconds>` sets all three; ENVSEAL_HTTP_TIMEOUT, ENVSEAL_ENGINE_TIMEOUT and
 * ENVSEAL_BUILD_IDLE_TIMEOUT (seconds) set one each; the flag wins over the environment.
 */
import { inputError } from '../core/errors.js';

export interface Deadlines {
  httpMs: number;
  engineMs: number;
  streamIdleMs: number;
}

export const DEFAULT_DEADLINES: Deadlines = { httpMs: 60_000, engineMs: 60_000, streamIdleMs: 600_000 };

/** Milliseconds from a positive number of seconds ("30", "0.5"); `where` names the flag or variable for the error. */
export function parseDeadlineSeconds(value: string, where: string): number {
  const text = value.trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n) || n <= 0 || n > 7 * 24 * 3600) {
    throw inputError('usage.timeout', `${where}${where.startsWith('-') ? ' ' : '='}${value}: expected a positive number of seconds (at most a week)`, {
      hint: 'e.g. --timeout 30 or ENVSEAL_HTTP_TIMEOUT=30',
    });
  }
  return Math.max(1, Math.round(n * 1000));
}

export function readDeadlines(flag: string | undefined, env: Record<string, string | undefined>): Deadlines {
  const fromEnv = (name: string, fallback: number) => {
    const value = env[name];
    return value === undefined || value === '' ? fallback : parseDeadlineSeconds(value, name);
  };
  const deadlines: Deadlines = {
    httpMs: fromEnv('ENVSEAL_HTTP_TIMEOUT', DEFAULT_DEADLINES.httpMs),
    engineMs: fromEnv('ENVSEAL_ENGINE_TIMEOUT', DEFAULT_DEADLINES.engineMs),
    streamIdleMs: fromEnv('ENVSEAL_BUILD_IDLE_TIMEOUT', DEFAULT_DEADLINES.streamIdleMs),
  };
  if (flag === undefined) return deadlines;
  const ms = parseDeadlineSeconds(flag, '--timeout');
  return { httpMs: ms, engineMs: ms, streamIdleMs: ms };
}
