/**
 * Pure helpers for the Docker Engine's streamed answers, kept apart from the adapter so they can be tested
 * with plain data:
 *  - JSON-lines splitting across chunk boundaries (`POST /build`, `/images/create`, `/images/{name}/push`,
 *    `/images/load` answer with newline-delimited JSON messages, written whenever the daemon flushes);
 *  - interpreting build, pull, push and load messages: errors arrive *inside* a 200 stream as
 *    `{"errorDetail":{"message":..},"error":..}` once output has started (moby `build_routes.go`,
 *    `streamformatter.FormatError`), so a stream that ends is not a success until we have checked;
 *  - the multiplexed attach stream of a non-TTY container (Engine API "Attach to a container": an 8-byte
 *    header `[stream type, 0, 0, 0, size as uint32 big-endian]` before each frame; 0 stdin, 1 stdout, 2 stderr);
 *  - classifying the daemon's container-start errors into envseal's error codes.
 */
import { StringDecoder } from 'node:string_decoder';
import type { BuildEvent } from '../../core/ports.js';

// ---------------------------------------------------------------------------------------------------------
// JSON lines

/** Splits a byte stream into lines; a line (or a UTF-8 character) split across chunks is reassembled. */
export class JsonLineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  /** Feeds a chunk; returns the complete, non-empty lines it finished (without the newline or a trailing CR). */
  push(chunk: Buffer | string): string[] {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const lines: string[] = [];
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) >= 0) {
      const line = stripCr(this.pending.slice(0, newline));
      this.pending = this.pending.slice(newline + 1);
      if (line.trim()) lines.push(line);
    }
    return lines;
  }

  /** Returns what is left once the stream has ended (a last line without a newline). */
  end(): string[] {
    const rest = stripCr(this.pending + this.decoder.end());
    this.pending = '';
    return rest.trim() ? [rest] : [];
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** One message of a daemon JSON stream, parsed permissively: only the fields envseal uses, type-checked. */
export interface DaemonMessage {
  stream?: string;
  status?: string;
  id?: string;
  /** Present on progress updates (download/upload bars). */
  progress?: string;
  aux?: Record<string, unknown>;
  error?: { message: string; code?: number };
}

export type ParsedLine = { ok: true; message: DaemonMessage } | { ok: false; raw: string };

/** Parses one line; a line that is not a JSON object is reported as `ok: false` (never thrown). */
export function parseDaemonLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, raw: line };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, raw: line };
  const v = value as Record<string, unknown>;
  const message: DaemonMessage = {};
  if (typeof v.stream === 'string') message.stream = v.stream;
  if (typeof v.status === 'string') message.status = v.status;
  if (typeof v.id === 'string') message.id = v.id;
  if (typeof v.progress === 'string') message.progress = v.progress;
  if (typeof v.aux === 'object' && v.aux !== null && !Array.isArray(v.aux)) message.aux = v.aux as Record<string, unknown>;
  const detail = typeof v.errorDetail === 'object' && v.errorDetail !== null ? (v.errorDetail as Record<string, unknown>) : undefined;
  const detailMessage = typeof detail?.message === 'string' ? detail.message : undefined;
  const errorText = detailMessage ?? (typeof v.error === 'string' ? v.error : undefined);
  if (errorText !== undefined || detail !== undefined) {
    message.error = { message: errorText ?? 'unknown error' };
    if (typeof detail?.code === 'number') message.error.code = detail.code;
  }
  return { ok: true, message };
}

/** Removes ANSI escape sequences (the classic builder wraps a RUN's stderr in `ESC[91m` … `ESC[0m`). */
export function stripAnsi(text: string): string {
  // CSI sequences (ESC [ params final-byte) and the two-byte ESC sequences.
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\u001b[@-Z\\-_]/g, '');
}

// ---------------------------------------------------------------------------------------------------------
// Text assembly for `stream` fields: output arrives in arbitrary pieces ("Step 1/3 : FROM x" and its "\n" are
// separate messages; a RUN's output is flushed as the process writes it).

class LineAssembler {
  private pending = '';

  push(text: string): string[] {
    this.pending += text;
    const parts = this.pending.split('\n');
    this.pending = parts.pop() ?? '';
    return parts.map(stripCr);
  }

  end(): string[] {
    const rest = this.pending;
    this.pending = '';
    return rest ? [stripCr(rest)] : [];
  }
}

// ---------------------------------------------------------------------------------------------------------
// Build stream (classic builder, `version=1`)

export interface BuildFailureInfo {
  /** The daemon's message, e.g. "The command '/bin/sh -c exit 3' returned a non-zero code: 3". */
  message: string;
  /** Exit code of the failed RUN when the daemon reports one. */
  code?: number;
  step?: number;
  totalSteps?: number;
  /** The instruction of the failed step, e.g. "RUN exit 3". */
  instruction?: string;
  /** The last lines of that step's output (builder chatter removed). */
  stepOutput: string[];
}

export interface BuildOutcome {
  imageId?: string;
  failure?: BuildFailureInfo;
  /** Every output line of the build, ANSI-stripped. */
  log: string[];
}

const STEP_LINE = /^Step (\d+)\/(\d+) : (.*)$/;
const WARNING_LINE = /^(?: ---> )?\[Warning\] (.*)$/;
/** The classic builder's own progress lines, not output of the instruction. */
const BUILDER_CHATTER = /^(?: ---> |Removing intermediate container |Successfully built |Successfully tagged )/;
const STEP_OUTPUT_LINES = 30;

/**
 * Turns the messages of a classic build into BuildEvents and an outcome. Feed it every line (parsed or not)
 * in order, then call `finish()`. Nothing here throws on odd input: an unparsable line becomes output.
 */
export class BuildStreamInterpreter {
  private readonly assembler = new LineAssembler();
  private readonly log: string[] = [];
  private stepOutput: string[] = [];
  private step: { step: number; totalSteps: number; instruction: string } | undefined;
  private imageId: string | undefined;
  private failure: BuildFailureInfo | undefined;

  constructor(private readonly emit: (event: BuildEvent) => void = () => {}) {}

  /** Handles one raw line of the HTTP body. */
  acceptLine(line: string): void {
    const parsed = parseDaemonLine(line);
    if (parsed.ok) {
      this.acceptMessage(parsed.message);
    } else {
      // Not JSON (a proxy's error page, a truncated write): keep it as an output line of its own.
      this.flushText();
      this.acceptOutputLine(parsed.raw);
    }
  }

  acceptMessage(message: DaemonMessage): void {
    if (message.error) {
      this.flushText();
      this.failure ??= {
        message: message.error.message.trim(),
        ...(message.error.code !== undefined ? { code: message.error.code } : {}),
        ...(this.step ? { step: this.step.step, totalSteps: this.step.totalSteps, instruction: this.step.instruction } : {}),
        stepOutput: this.stepOutput.slice(-STEP_OUTPUT_LINES),
      };
      return;
    }
    // BuildKit (`version=2`) sends the image ID as `{"id":"moby.image.id","aux":{"ID":..}}` and its trace as
    // other `aux` messages; the classic builder sends `{"aux":{"ID":..}}` without an id.
    if (message.aux) {
      const id = message.aux.ID;
      if (typeof id === 'string' && (message.id === undefined || message.id === 'moby.image.id')) this.imageId = id;
      return;
    }
    if (message.stream !== undefined) {
      this.acceptText(message.stream);
      return;
    }
    if (message.status !== undefined) {
      // Pull progress of a FROM image during the build.
      const text = message.id ? `${message.id}: ${message.status}` : message.status;
      this.emitSafely({ kind: 'status', text });
      if (message.progress === undefined) this.log.push(text);
    }
  }

  private acceptText(text: string): void {
    for (const line of this.assembler.push(text)) this.acceptOutputLine(line);
  }

  private flushText(): void {
    for (const line of this.assembler.end()) this.acceptOutputLine(line);
  }

  private acceptOutputLine(rawLine: string): void {
    const line = stripAnsi(rawLine);
    this.log.push(line);
    const step = STEP_LINE.exec(line);
    if (step) {
      this.step = { step: Number(step[1]), totalSteps: Number(step[2]), instruction: step[3]!.trim() };
      this.stepOutput = [];
      this.emitSafely({ kind: 'step', step: this.step.step, totalSteps: this.step.totalSteps, text: this.step.instruction });
      return;
    }
    const warning = WARNING_LINE.exec(line);
    if (warning) {
      this.emitSafely({ kind: 'warning', text: warning[1]! });
      return;
    }
    if (!line.trim()) return;
    if (!BUILDER_CHATTER.test(line)) this.stepOutput.push(line);
    this.emitSafely({ kind: 'output', text: line });
  }

  private emitSafely(event: BuildEvent): void {
    try {
      this.emit(event);
    } catch {
      // A failing progress listener must not break the build; the log still has every line.
    }
  }

  /** The result once the stream has ended. */
  finish(): BuildOutcome {
    this.flushText();
    return {
      ...(this.imageId !== undefined ? { imageId: this.imageId } : {}),
      ...(this.failure ? { failure: this.failure } : {}),
      log: [...this.log],
    };
  }

  /** The step being built when the stream stopped (for messages about interrupted builds). */
  currentStep(): { step: number; totalSteps: number; instruction: string } | undefined {
    return this.step;
  }

  /** The last output lines of the current step. */
  currentStepOutput(): string[] {
    return this.stepOutput.slice(-STEP_OUTPUT_LINES);
  }
}

/** `build failed at step 3/9 (RUN exit 3): <daemon message>` (instruction shortened to one readable line). */
export function describeBuildFailure(failure: BuildFailureInfo): string {
  if (failure.step === undefined) return `build failed: ${failure.message}`;
  return `build failed at step ${failure.step}/${failure.totalSteps} (${shorten(failure.instruction ?? '', 80)}): ${failure.message}`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

// ---------------------------------------------------------------------------------------------------------
// Pull, push and load streams

/** What a pull/push/load stream said: the first error, the `aux` payloads, the text lines and statuses. */
export interface ProgressStreamSummary {
  error?: { message: string; code?: number };
  aux: Record<string, unknown>[];
  /** `stream` text, split into lines (load answers this way). */
  lines: string[];
  /** `status` messages without progress bars, prefixed with their id. */
  statuses: string[];
  /** Lines that were not JSON objects. */
  malformed: string[];
}

/** Collects the messages of a pull, push or load stream. */
export class ProgressStreamCollector {
  private readonly assembler = new LineAssembler();
  private readonly summary: ProgressStreamSummary = { aux: [], lines: [], statuses: [], malformed: [] };

  constructor(private readonly onStatus: (text: string) => void = () => {}) {}

  acceptLine(line: string): void {
    const parsed = parseDaemonLine(line);
    if (!parsed.ok) {
      this.summary.malformed.push(parsed.raw);
      return;
    }
    const message = parsed.message;
    if (message.error) {
      this.summary.error ??= message.error;
      return;
    }
    if (message.aux) this.summary.aux.push(message.aux);
    if (message.stream !== undefined) this.summary.lines.push(...this.assembler.push(stripAnsi(message.stream)).filter((l) => l.trim()));
    if (message.status !== undefined) {
      const text = message.id ? `${message.id}: ${message.status}` : message.status;
      if (message.progress === undefined) this.summary.statuses.push(text);
      try {
        this.onStatus(text);
      } catch {
        // progress display only
      }
    }
  }

  finish(): ProgressStreamSummary {
    this.summary.lines.push(...this.assembler.end().filter((l) => l.trim()));
    return this.summary;
  }
}

/**
 * The manifest digest a push reported: the `aux` message `{"Tag":..,"Digest":"sha256:..","Size":..}`, or else
 * the status line "<tag>: digest: sha256:<hex> size: <n>" (what `docker push` prints).
 */
export function findPushedDigest(summary: ProgressStreamSummary): string | undefined {
  for (const aux of [...summary.aux].reverse()) {
    if (typeof aux.Digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(aux.Digest)) return aux.Digest;
  }
  for (const status of [...summary.statuses].reverse()) {
    const match = /digest: (sha256:[0-9a-f]{64})/.exec(status);
    if (match) return match[1];
  }
  return undefined;
}

/** The images a load reported: "Loaded image ID: sha256:.." and "Loaded image: name:tag" lines, in order. */
export function findLoadedImages(summary: ProgressStreamSummary): string[] {
  const loaded: string[] = [];
  for (const line of summary.lines) {
    const match = /^Loaded image(?: ID)?: (\S+)\s*$/.exec(line.trim());
    if (match) loaded.push(match[1]!);
  }
  return loaded;
}

// ---------------------------------------------------------------------------------------------------------
// Attach stream demultiplexing

export interface DockerFrame {
  stream: 'stdin' | 'stdout' | 'stderr';
  data: Buffer;
}

/**
 * Decodes the multiplexed attach stream into frames, across chunk boundaries. When a header has an unknown
 * stream type the stream is not multiplexed after all (a TTY container), and everything from there on is
 * passed through as stdout, as the docker CLI would show it.
 */
export class DockerFrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  private raw = false;

  push(chunk: Buffer): DockerFrame[] {
    if (this.raw) return chunk.length ? [{ stream: 'stdout', data: chunk }] : [];
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const frames: DockerFrame[] = [];
    while (this.buffer.length >= 8) {
      const type = this.buffer[0]!;
      if (type > 2 || this.buffer[1] !== 0 || this.buffer[2] !== 0 || this.buffer[3] !== 0) {
        this.raw = true;
        frames.push({ stream: 'stdout', data: this.buffer });
        this.buffer = Buffer.alloc(0);
        break;
      }
      const size = this.buffer.readUInt32BE(4);
      if (this.buffer.length < 8 + size) break;
      const data = this.buffer.subarray(8, 8 + size);
      frames.push({ stream: type === 0 ? 'stdin' : type === 1 ? 'stdout' : 'stderr', data });
      this.buffer = this.buffer.subarray(8 + size);
    }
    return frames;
  }

  /** Bytes of an incomplete frame left when the stream ended (0 for a well-formed stream). */
  pendingBytes(): number {
    return this.buffer.length;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Classifying container start errors

export type StartErrorKind = 'command-not-found' | 'command-not-executable' | 'no-gpu' | 'other';

/**
 * What went wrong when the daemon refused to start a container, from its message. runc reports exec
 * failures as `OCI runtime create failed: ... exec: "<cmd>": executable file not found in $PATH` or
 * `... stat <path>: no such file or directory` or `... permission denied`; a GPU request without an NVIDIA
 * runtime gives `could not select device driver "" with capabilities: [[gpu]]`.
 */
export function classifyStartError(message: string): { kind: StartErrorKind; command?: string } {
  if (/could not select device driver .* with capabilities/.test(message)) return { kind: 'no-gpu' };
  const exec = /exec: "((?:[^"\\]|\\.)*)": (.*)$/.exec(message);
  const command = exec?.[1];
  const reason = exec?.[2] ?? message;
  if (/executable file not found|no such file or directory/.test(reason) && /OCI runtime|exec/.test(message)) {
    return { kind: 'command-not-found', ...(command !== undefined ? { command } : {}) };
  }
  if (exec && /permission denied/.test(reason)) return { kind: 'command-not-executable', ...(command !== undefined ? { command } : {}) };
  return { kind: 'other' };
}
