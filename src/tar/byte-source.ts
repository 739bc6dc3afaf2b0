/**
 * Where the raw reader (raw-reader.ts) takes its bytes from: a stream, consumed in order, or a file, whose
 * bodies are skipped by seeking and whose headers come from one read-ahead window, so scanning a multi-GB
 * layer reads little more than its headers.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { inputError } from '../core/errors.js';

/** Where the reader takes bytes from: a stream (consumed in order) or a file (bodies skipped by seeking). */
export interface ByteSource {
  readonly position: number;
  /** Exactly n bytes; null at a clean end (no byte left) when `allowEnd`. */
  read(n: number, allowEnd: boolean): Promise<Buffer | null>;
  skip(n: number): Promise<void>;
  chunks(n: number): AsyncGenerator<Buffer>;
  /** Consumes whatever is left (trailing zero records). */
  drain(): Promise<void>;
}

export function truncatedError(what: string): Error {
  return inputError('tar.corrupt', `cannot read the tar archive: it ends in the middle of ${what}`, {
    hint: 'the archive is truncated; export it again',
  });
}

export class StreamByteSource implements ByteSource {
  private readonly iterator: AsyncIterator<Buffer | Uint8Array | string>;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private consumed = 0;
  private ended = false;

  constructor(source: Readable) {
    this.iterator = (source as AsyncIterable<Buffer | Uint8Array | string>)[Symbol.asyncIterator]();
  }

  get position(): number {
    return this.consumed;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const value = next.value;
    const buf = typeof value === 'string' ? Buffer.from(value) : Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (buf.length) {
      this.pending.push(buf);
      this.pendingLength += buf.length;
    }
    return true;
  }

  private take(n: number): Buffer {
    const first = this.pending[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const head = this.pending[0]!;
        const part = Math.min(head.length, n - filled);
        head.copy(out, filled, 0, part);
        filled += part;
        if (part === head.length) this.pending.shift();
        else this.pending[0] = head.subarray(part);
      }
    }
    this.pendingLength -= n;
    this.consumed += n;
    return out;
  }

  async read(n: number, allowEnd: boolean): Promise<Buffer | null> {
    while (this.pendingLength < n) {
      if (!(await this.pull())) {
        if (allowEnd && this.pendingLength === 0) return null;
        throw truncatedError('a header');
      }
    }
    return this.take(n);
  }

  async skip(n: number): Promise<void> {
    for await (const _chunk of this.chunks(n)) {
      // discarded
    }
  }

  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.pendingLength === 0 && !(await this.pull())) throw truncatedError('an entry body');
      if (this.pendingLength === 0) continue;
      const part = Math.min(left, this.pending[0]!.length);
      left -= part;
      yield this.take(part);
    }
  }

  async drain(): Promise<void> {
    this.consumed += this.pendingLength;
    this.pending = [];
    this.pendingLength = 0;
    while (await this.pull()) {
      this.consumed += this.pendingLength;
      this.pending = [];
      this.pendingLength = 0;
    }
  }
}

export class FileByteSource implements ByteSource {
  private offset = 0;
  /** Read-ahead window: headers of small files sit close together, so one read serves many of them. */
  private readonly window = Buffer.allocUnsafe(256 * 1024);
  private windowStart = 0;
  private windowLength = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
  ) {}

  get position(): number {
    return this.offset;
  }

  async read(n: number, allowEnd: boolean): Promise<Buffer | null> {
    if (allowEnd && this.offset >= this.size) return null;
    if (this.offset + n > this.size) throw truncatedError('a header');
    const inWindow = this.offset >= this.windowStart && this.offset + n <= this.windowStart + this.windowLength;
    if (!inWindow && n <= this.window.length) {
      this.windowStart = this.offset;
      this.windowLength = 0;
      const want = Math.min(this.window.length, this.size - this.offset);
      while (this.windowLength < want) {
        const { bytesRead } = await this.handle.read(this.window, this.windowLength, want - this.windowLength, this.offset + this.windowLength);
        if (bytesRead === 0) throw truncatedError('a header');
        this.windowLength += bytesRead;
      }
    }
    if (this.offset >= this.windowStart && this.offset + n <= this.windowStart + this.windowLength) {
      const at = this.offset - this.windowStart;
      this.offset += n;
      return Buffer.from(this.window.subarray(at, at + n));
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const { bytesRead } = await this.handle.read(out, filled, n - filled, this.offset + filled);
      if (bytesRead === 0) throw truncatedError('a header');
      filled += bytesRead;
    }
    this.offset += n;
    return out;
  }

  async skip(n: number): Promise<void> {
    if (this.offset + n > this.size) throw truncatedError('an entry body');
    this.offset += n;
  }

  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      const part = Math.min(left, this.window.length);
      left -= part;
      yield (await this.read(part, false))!;
    }
  }

  async drain(): Promise<void> {
    this.offset = this.size;
  }
}
