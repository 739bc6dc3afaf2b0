import { PassThrough } from 'node:stream';
import type { ContainerRunOptions, DockerEngine } from '../app/ports.js';

export interface CapturedRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a short command in a throwaway container and returns its output as text. */
export async function captureRun(engine: DockerEngine, options: Omit<ContainerRunOptions, 'stdout' | 'stderr'>): Promise<CapturedRun> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const result = await engine.runContainer({ ...options, stdout, stderr, remove: true });
  stdout.end();
  stderr.end();
  return { exitCode: result.exitCode, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
