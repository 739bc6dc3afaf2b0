/**
 * One error type for everything envseal reports to a user. The CLI turns it into a message, a hint and an
 * exit code; nothing else in the program prints or exits.
 *
 * Exit codes (documented in the README):
 *   0 ok · 1 a check failed (drift, mismatch) · 2 the user's input is wrong (usage, spec, manifest,
 *   unsatisfiable) · 3 an outside system failed (registry, index, Docker engine, build) · 70 internal bug.
 */
export const ExitCode = {
  Ok: 0,
  CheckFailed: 1,
  UserInput: 2,
  External: 3,
  Internal: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorKind = 'check' | 'input' | 'external' | 'internal';

const exitCodeOf: Record<ErrorKind, ExitCodeValue> = {
  check: ExitCode.CheckFailed,
  input: ExitCode.UserInput,
  external: ExitCode.External,
  internal: ExitCode.Internal,
};

export interface EnvsealErrorOptions {
  /** What the user can do next. */
  hint?: string;
  /** Individual problems (validation issues, drift entries), printed one per line. */
  details?: string[];
  cause?: unknown;
  /** Extra machine-readable data for `--json` output. */
  data?: Record<string, unknown>;
}

export class EnvsealError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly details: string[];
  readonly data: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, code: string, message: string, options: EnvsealErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EnvsealError';
    this.kind = kind;
    this.code = code;
    this.exitCode = exitCodeOf[kind];
    this.hint = options.hint;
    this.details = options.details ?? [];
    this.data = options.data;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      kind: this.kind,
      exitCode: this.exitCode,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details.length ? { details: this.details } : {}),
      ...(this.data ? { data: this.data } : {}),
    };
  }
}

/** The user's input is wrong: usage, spec, manifest, unsatisfiable requirements. Exit 2. */
export function inputError(code: string, message: string, options?: EnvsealErrorOptions): EnvsealError {
  return new EnvsealError('input', code, message, options);
}

/** An outside system failed: registry, index, Docker engine, a build step. Exit 3. */
export function externalError(code: string, message: string, options?: EnvsealErrorOptions): EnvsealError {
  return new EnvsealError('external', code, message, options);
}

/** A check found a difference: drift, mismatch. Exit 1. */
export function checkFailed(code: string, message: string, options?: EnvsealErrorOptions): EnvsealError {
  return new EnvsealError('check', code, message, options);
}

/** Our own bug. Exit 70. */
export function internalError(code: string, message: string, options?: EnvsealErrorOptions): EnvsealError {
  return new EnvsealError('internal', code, message, options);
}

export function isEnvsealError(err: unknown): err is EnvsealError {
  return err instanceof EnvsealError;
}

/** Short description of any thrown value, for wrapping foreign errors in messages. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
