/**
 * Containers over the Engine API: create, attach (before start, so no output is lost), start, wait, stop and
 * remove. The attach stream of a non-TTY container is multiplexed (stream.ts decodes its frames); with stdin
 * the connection is hijacked so it carries input both ways.
 */
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContainerRunOptions, ContainerRunResult, EngineContainers, Logger } from '../../core/ports.js';
import { describeError, externalError, inputError } from '../../core/errors.js';
import { DockerFrameDecoder, classifyStartError, type DockerFrame } from './stream.js';
import { DockerConnection, asError, assertReference, httpFailureOf } from './connection.js';
import { LABEL_CONTAINER_OWNER, LABEL_TEMPORARY } from '../../core/image-contract.js';

/**
 * Who creates containers, for the cleanup guarantee: every container carries its creator's `owner` label, and
 * before the first container of a process the engine's containers whose owner `isAbandoned` (a process on this
 * host that no longer runs: a killed envseal) are removed.
 */
export interface ContainerOwnership {
  /** This process, e.g. `host/1234`. */
  owner: string;
  isAbandoned(owner: string): boolean;
}

/** The leftover sweep is housekeeping: it never holds a command up for longer than this. */
export const SWEEP_TIMEOUT_MS = 10_000;

/** After a container exits, how long its attach stream may take to deliver the last output. */
const OUTPUT_DRAIN_MS = 10_000;

export class DockerContainers implements EngineContainers {
  constructor(
    private readonly connection: DockerConnection,
    /** Seconds a stopped container gets between SIGTERM and SIGKILL. */
    private readonly stopGraceSeconds: number,
    private readonly ownership?: ContainerOwnership,
  ) {}

  private get logger(): Logger {
    return this.connection.logger;
  }

  /**
   * POST /containers/create, attach (before start, so no output is lost), start, wait; output is
   * demultiplexed into `stdout`/`stderr` unless it is a TTY. Abort/timeout stop the container (SIGTERM,
   * SIGKILL after the grace period) and report `interrupted`. The container is removed afterwards unless
   * `remove: false`, also when something failed.
   */
  async runContainer(options: ContainerRunOptions): Promise<ContainerRunResult> {
    assertReference(options.image);
    if (options.signal?.aborted) {
      throw externalError('run.aborted', `the run of ${options.image} was cancelled before the container started`);
    }
    const body = containerCreateBody(options, this.ownership?.owner);
    let id: string;
    try {
      const created = await this.connection.request<{ Id?: string }>({
        method: 'POST',
        path: '/containers/create',
        body,
        ok: [200, 201],
        action: `create a container from ${options.image}`,
      });
      if (!created.Id) throw externalError('run.start-failed', `the engine created no container for ${options.image}`);
      id = created.Id;
    } catch (err) {
      throw this.mapRunError(err, options);
    }
    try {
      return await this.runCreatedContainer(id, options);
    } finally {
      if (options.remove ?? true) await this.removeContainerQuietly(id);
    }
  }

  private async runCreatedContainer(id: string, options: ContainerRunOptions): Promise<ContainerRunResult> {
    let interrupted: 'signal' | 'timeout' | undefined;
    let started = false;
    let stopping: Promise<void> | undefined;
    const stop = (reason: 'signal' | 'timeout') => {
      interrupted ??= reason;
      if (started) stopping ??= this.stopContainer(id);
    };
    const onAbort = () => stop('signal');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let attach: Readable | undefined;
    try {
      const withStdin = options.stdin !== undefined;
      attach = await this.connection.request<Readable>({
        method: 'POST',
        path: `/containers/${id}/attach`,
        query: { stream: true, stdout: true, stderr: true, stdin: withStdin },
        stream: true,
        // With stdin the connection is hijacked (HTTP upgrade) so it can carry input both ways.
        hijack: withStdin,
        ok: [101, 200],
        action: `attach to container ${id.slice(0, 12)}`,
      });
      const attached = attach;
      // Kept for the connection's whole life: late socket errors (stdin written after the exit) are not crashes.
      attached.on('error', (err) => this.logger.debug(`container ${id.slice(0, 12)} connection: ${describeError(err)}`));
      const outputDone = pumpContainerOutput(attached, options).catch((err: unknown) => {
        this.logger.debug(`container ${id.slice(0, 12)} output stream: ${describeError(err)}`);
      });
      if (options.stdin) feedStdin(options.stdin, attached, this.logger);

      try {
        await this.connection.request({ method: 'POST', path: `/containers/${id}/start`, ok: [200, 204, 304], action: `start container ${id.slice(0, 12)}` });
      } catch (err) {
        throw this.mapRunError(err, options);
      }
      started = true;
      if (interrupted) stopping ??= this.stopContainer(id);
      if (options.timeoutMs) timer = setTimeout(() => stop('timeout'), options.timeoutMs);

      // As a stream: the answer's body comes when the container exits, and a connection that drops before then
      // (a remote engine's network) must fail the run, not leave a call that never settles.
      const waiting = await this.connection.request<Readable>({
        method: 'POST',
        path: `/containers/${id}/wait`,
        ok: [200],
        stream: true,
        timeoutMs: null,
        action: `wait for container ${id.slice(0, 12)}`,
      });
      const status = await readWaitAnswer(waiting, this.connection.endpoint, id);
      if (stopping) await stopping;
      await Promise.race([outputDone, delay(OUTPUT_DRAIN_MS)]);
      if (typeof status.StatusCode !== 'number') {
        throw externalError(
          'run.failed',
          `the engine reported no exit code for container ${id.slice(0, 12)}${status.Error?.Message ? `: ${status.Error.Message}` : ''}`,
        );
      }
      return { exitCode: status.StatusCode, containerId: id, ...(interrupted ? { interrupted } : {}) };
    } catch (err) {
      if (started) await (stopping ?? this.stopContainer(id));
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (attach) {
        options.stdin?.unpipe(attach as unknown as NodeJS.WritableStream);
        attach.destroy();
      }
    }
  }

  /**
   * Removes the containers that envseal processes killed before they could clean up (SIGKILL, a crash, a
   * closed terminal) left behind. Best effort: a failure is logged and never stops the command.
   */
  async removeLeftovers(ownership: ContainerOwnership, signal?: AbortSignal): Promise<void> {
    let listed: { Id?: string; Labels?: Record<string, string> | null }[];
    try {
      listed = await this.connection.request({
        method: 'GET',
        path: '/containers/json',
        query: { all: true, filters: JSON.stringify({ label: [LABEL_CONTAINER_OWNER] }) },
        ok: [200],
        timeoutMs: SWEEP_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
        action: 'list envseal containers',
      });
    } catch (err) {
      this.logger.debug(`could not list leftover containers: ${describeError(err)}`);
      return;
    }
    for (const container of Array.isArray(listed) ? listed : []) {
      const owner = container.Labels?.[LABEL_CONTAINER_OWNER];
      if (!container.Id || !owner || owner === ownership.owner || !ownership.isAbandoned(owner)) continue;
      this.logger.info(`removing container ${container.Id.slice(0, 12)}, left behind by an envseal process that no longer runs (${owner})`);
      await this.removeContainerQuietly(container.Id);
    }
  }

  /** POST /containers/{id}/stop?t=grace (the engine sends SIGTERM, then SIGKILL); kill if stop fails. */
  private async stopContainer(id: string): Promise<void> {
    try {
      await this.connection.request({
        method: 'POST',
        path: `/containers/${id}/stop`,
        query: { t: this.stopGraceSeconds },
        ok: [200, 204, 304, 404],
        timeoutMs: (this.stopGraceSeconds + 30) * 1000,
        action: `stop container ${id.slice(0, 12)}`,
      });
    } catch (err) {
      this.logger.warn(`could not stop container ${id.slice(0, 12)} (${describeError(err)}); killing it`);
      await this.connection
        .request({ method: 'POST', path: `/containers/${id}/kill`, ok: [200, 204, 404, 409], action: `kill container ${id.slice(0, 12)}` })
        .catch((killErr: unknown) => this.logger.warn(`could not kill container ${id.slice(0, 12)}: ${describeError(killErr)}`));
    }
  }

  /** DELETE /containers/{id}?force=1&v=1; failures are logged, never thrown (cleanup must not hide the result). */
  private async removeContainerQuietly(id: string): Promise<void> {
    try {
      await this.connection.request({
        method: 'DELETE',
        path: `/containers/${id}`,
        query: { force: true, v: true },
        ok: [200, 204, 404],
        action: `remove container ${id.slice(0, 12)}`,
      });
    } catch (err) {
      const failure = httpFailureOf(err);
      // 409 "removal already in progress" is fine.
      if (failure?.statusCode === 409) return;
      this.logger.warn(`could not remove container ${id.slice(0, 12)}: ${describeError(err)} (remove it with \`docker rm -f ${id.slice(0, 12)}\`)`);
    }
  }

  private mapRunError(err: unknown, options: ContainerRunOptions): Error {
    const failure = httpFailureOf(err);
    if (!failure) return asError(err);
    const command = [...(options.entrypoint ?? []), ...options.cmd].join(' ');
    if (failure.statusCode === 404 && /no such image/i.test(failure.message)) {
      return inputError('docker.image-missing', `image ${options.image} does not exist in the Docker engine at ${this.connection.endpoint}`, {
        hint: 'build it first (`envseal build`), or pull it',
      });
    }
    const classified = classifyStartError(failure.message);
    switch (classified.kind) {
      case 'command-not-found':
        return inputError('run.command-not-found', `command not found in image ${options.image}: ${classified.command ?? command}`, {
          hint: 'check the command name, and that the image installs it on PATH (or give its full path)',
          details: [failure.message],
          data: { command: classified.command ?? command },
        });
      case 'command-not-executable':
        return inputError('run.command-not-executable', `cannot execute ${classified.command ?? command} in image ${options.image}: permission denied`, {
          hint: 'make the file executable in the image (chmod +x), or run it through its interpreter',
          details: [failure.message],
        });
      case 'no-gpu':
        return externalError('run.no-gpu', `GPUs were requested, but the Docker engine at ${this.connection.endpoint} has no GPU runtime: ${failure.message}`, {
          hint: 'install the NVIDIA Container Toolkit and restart the engine, or run without GPUs',
        });
      default:
        return externalError('run.start-failed', `could not start ${command} in image ${options.image}: ${failure.message}`, {
          hint: 'check the run options (binds, user, working directory) and the engine log',
          data: { httpStatus: failure.statusCode },
        });
    }
  }
}

/** The body of POST /containers/create: the project's run options in the Engine API's shape. */
function containerCreateBody(options: ContainerRunOptions, owner?: string): Record<string, unknown> {
  const withStdin = options.stdin !== undefined;
  const hostConfig: Record<string, unknown> = { AutoRemove: false };
  if (options.networkMode) hostConfig.NetworkMode = options.networkMode;
  if (options.binds?.length) {
    hostConfig.Binds = options.binds.map((bind) => {
      for (const path of [bind.source, bind.target]) {
        if (!path.startsWith('/') || path.includes(':')) {
          throw inputError('run.bad-bind', `bind paths must be absolute and contain no ":" (got "${path}")`, {
            hint: 'give absolute paths for both the host directory and the container directory',
          });
        }
      }
      return `${bind.source}:${bind.target}${bind.readOnly ? ':ro' : ''}`;
    });
  }
  if (options.gpus) {
    // Engine API DeviceRequest; `--gpus all` is Count -1 with capabilities [["gpu"]]; specific devices are
    // DeviceIDs without Count (docker/cli opts/gpus.go).
    const ids = options.gpus.deviceIds;
    hostConfig.DeviceRequests = [
      {
        Driver: '',
        Count: ids?.length ? 0 : (options.gpus.count ?? -1),
        DeviceIDs: ids?.length ? ids : null,
        Capabilities: options.gpus.capabilities ?? [['gpu']],
        Options: {},
      },
    ];
  }
  const body: Record<string, unknown> = {
    Image: options.image,
    Cmd: options.cmd,
    Env: Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
    Labels: { ...options.labels, [LABEL_TEMPORARY]: 'true', ...(owner ? { [LABEL_CONTAINER_OWNER]: owner } : {}) },
    Tty: options.tty ?? false,
    AttachStdin: withStdin,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: withStdin,
    StdinOnce: withStdin,
    HostConfig: hostConfig,
  };
  if (options.entrypoint) body.Entrypoint = options.entrypoint;
  if (options.workdir) body.WorkingDir = options.workdir;
  if (options.user) body.User = options.user;
  return body;
}

/** Copies the attach stream to the caller's writables, demultiplexing unless TTY, with backpressure. */
async function pumpContainerOutput(attach: Readable, options: ContainerRunOptions): Promise<void> {
  const decoder = options.tty ? undefined : new DockerFrameDecoder();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const frames: DockerFrame[] = decoder ? decoder.push(chunk) : [{ stream: 'stdout', data: chunk }];
      writeFrames(frames, options).then(() => callback(), callback);
    },
  });
  await pipeline(attach, sink);
}

async function writeFrames(frames: DockerFrame[], options: ContainerRunOptions): Promise<void> {
  for (const frame of frames) {
    const target = frame.stream === 'stderr' ? options.stderr : frame.stream === 'stdout' ? options.stdout : undefined;
    if (!target || !frame.data.length) continue;
    if (!target.write(frame.data)) await once(target, 'drain');
  }
}

/** Writes stdin into the hijacked connection and half-closes it at the end, so the process sees EOF. */
function feedStdin(stdin: Readable, connection: Readable, logger: Logger): void {
  const socket = connection as unknown as NodeJS.WritableStream & { end(): void };
  stdin.on('error', (err) => logger.warn(`stdin of the container: ${describeError(err)}`));
  stdin.pipe(socket, { end: false });
  stdin.once('end', () => socket.end());
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The JSON body of `POST /containers/{id}/wait`; a connection closed before it ends is exit 3, naming the engine. */
async function readWaitAnswer(body: Readable, endpoint: string, id: string): Promise<{ StatusCode?: number; Error?: { Message?: string } | null }> {
  const chunks: Buffer[] = [];
  const lost = (why: string) =>
    externalError('docker.connection-lost', `the connection to the Docker engine at ${endpoint} was lost while container ${id.slice(0, 12)} ran: ${why}`, {
      hint: 'the container may still be running on the engine; check the engine and its network, then run again',
    });
  await new Promise<void>((resolve, reject) => {
    let ended = false;
    body.on('data', (c: Buffer) => chunks.push(c));
    body.once('end', () => {
      ended = true;
      resolve();
    });
    body.once('error', (err) => reject(lost(describeError(err))));
    body.once('close', () => {
      if (!ended) reject(lost('closed before the exit status came'));
    });
  });
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as { StatusCode?: number; Error?: { Message?: string } | null };
  } catch {
    throw lost('the exit status was not JSON');
  }
}
