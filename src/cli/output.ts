/**
 * Everything the CLI prints goes through here. Results go to stdout (human text, or one JSON document with
 * --json); logs, progress and errors go to stderr, so `--json` output can be piped as-is. Credentials inside
 * URLs are masked in everything printed: the code below keeps them out of messages, this is the backstop.
 */
import type { Writable } from 'node:stream';
import type { Logger } from '../core/ports.js';
import { EnvsealError, ExitCode } from '../core/errors.js';
import { maskUrlCredentials } from '../core/url-credentials.js';

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
  stdout: Writable;
  stderr: Writable;
  /** stderr is a terminal: progress lines may be redrawn in place. */
  interactive: boolean;
}

const codes = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1, cyan: 36 } as const;
export type Color = keyof typeof codes;

export class Output {
  private progressShown = false;

  constructor(readonly options: OutputOptions) {}

  private out(text: string): void {
    this.options.stdout.write(maskUrlCredentials(text));
  }

  private err(text: string): void {
    this.options.stderr.write(maskUrlCredentials(text));
  }

  paint(color: Color, text: string): string {
    return this.options.color ? `\u001b[${codes[color]}m${text}\u001b[0m` : text;
  }

  /** A human result line on stdout (suppressed under --json, kept under --quiet: it is the result). */
  result(text: string): void {
    if (this.options.json) return;
    this.clearProgress();
    this.out(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A document that is the command's result (an SBOM, a statement) on stdout as it is, with or without --json. */
  document(text: string): void {
    this.clearProgress();
    this.out(text);
  }

  json(value: unknown): void {
    if (!this.options.json) return;
    this.out(`${JSON.stringify(value, null, 2)}\n`);
  }

  readonly logger: Logger = {
    info: (m) => this.log(m),
    warn: (m) => this.log(`${this.paint('yellow', 'warning:')} ${m}`, true),
    debug: (m) => {
      if (this.options.verbose) this.log(this.paint('dim', m));
    },
    progress: (m) => this.progress(m),
  };

  log(message: string, force = false): void {
    if (this.options.quiet && !force) return;
    this.clearProgress();
    this.err(`${message}\n`);
  }

  progress(message: string): void {
    if (this.options.quiet) return;
    if (this.options.interactive) {
      const width = 160;
      const line = message.length > width ? `${message.slice(0, width - 1)}…` : message;
      this.err(`\r\u001b[2K${this.paint('dim', line)}`);
      this.progressShown = true;
    } else {
      this.err(`${message}\n`);
    }
  }

  clearProgress(): void {
    if (this.progressShown) {
      this.err('\r\u001b[2K');
      this.progressShown = false;
    }
  }

  /** Prints an error the way users should see it: what, details, what to do. Returns the exit code. */
  error(err: EnvsealError): number {
    this.clearProgress();
    if (this.options.json) {
      this.out(`${JSON.stringify({ ok: false, error: err.toJSON() }, null, 2)}\n`);
    }
    const label = err.exitCode === ExitCode.CheckFailed ? this.paint('yellow', 'check failed:') : this.paint('red', 'error:');
    const lines = [`envseal: ${label} ${err.message}`];
    for (const d of err.details) lines.push(`  ${d}`);
    if (err.hint) lines.push(`${this.paint('cyan', 'hint:')} ${err.hint}`);
    this.err(`${lines.join('\n')}\n`);
    return err.exitCode;
  }
}
