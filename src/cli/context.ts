/**
 * What every command handler receives from the CLI's composition root: the process's streams and environment,
 * output, the project's paths and the global flags. Kept apart from main.ts so handlers never import it back.
 */
import type { Readable, Writable } from 'node:stream';
import type { ProjectPaths } from '../app/load-inputs.js';
import type { Output } from './output.js';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable & { isTTY?: boolean };
  /** Registers a Ctrl-C (SIGINT/SIGTERM) handler for the duration of a command; returns its remover. */
  onInterrupt?: (handler: (signal?: NodeJS.Signals) => void) => () => void;
}

export interface GlobalOptions {
  dir?: string;
  spec: string;
  lock: string;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
  /** Seconds, as typed: see deadlines.ts. */
  timeout?: string;
}

export interface CommandContext {
  io: CliIo;
  out: Output;
  paths: ProjectPaths;
  globals: GlobalOptions;
  /** templates/ contents the renderer needs. */
  templates(): { template: string; seedHook: string };
}
