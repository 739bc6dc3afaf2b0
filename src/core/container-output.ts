/**
 * Capturing a container's output as strings through any ContainerEngine port: the target probe, apt resolution,
 * verify and diff read a command's output this way. Engine-neutral, so ecosystems and use cases need no adapter.
 */
import { Writable } from 'node:stream';
import type { ContainerRunOptions, ContainerRunResult, ContainerEngine } from './ports.js';

export interface CapturedRun extends ContainerRunResult {
  stdout: string;
  stderr: string;
  /** True when an output exceeded `maxBytes` and was cut. */
  truncated: boolean;
}

export type CaptureOptions = Omit<ContainerRunOptions, 'stdout' | 'stderr' | 'tty'> & {
  /** Per stream; default 16 MiB. The container still runs to completion; the rest is dropped. */
  maxBytes?: number;
};

/**
 * Runs a container through any ContainerEngine and returns its exit code and output as UTF-8 strings (the
 * target probe and apt resolution read a command's output this way).
 */
export async function captureContainerOutput(engine: ContainerEngine, options: CaptureOptions): Promise<CapturedRun> {
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  const stdout = new BoundedCollector(maxBytes);
  const stderr = new BoundedCollector(maxBytes);
  const { maxBytes: _ignored, ...runOptions } = options;
  const result = await engine.runContainer({ ...runOptions, tty: false, stdout, stderr });
  return {
    ...result,
    stdout: stdout.text(),
    stderr: stderr.text(),
    truncated: stdout.truncated || stderr.truncated,
  };
}

/** A Writable that keeps the first `maxBytes` bytes written to it. */
class BoundedCollector extends Writable {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const room = this.maxBytes - this.size;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.chunks.push(Buffer.from(part));
      this.size += part.length;
    }
    if (chunk.length > room) this.truncated = true;
    callback();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
