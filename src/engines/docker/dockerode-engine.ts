/**
 * DockerEngine over the Docker Engine API through dockerode (the only file that imports it).
 *
 * Every call goes through one typed `request()` on dockerode's transport (docker-modem: unix socket, TCP,
 * TLS, connection hijacking for attach), so each one gets the same abort signal, timeout and error mapping,
 * and the Engine API endpoint is visible where it is used (https://docs.docker.com/reference/api/engine/).
 * dockerode's own helpers are not used for streams on purpose (research/mechanisms.md §1): `followProgress`
 * reports success for streams that carry `errorDetail` and throws from an event handler on a malformed line,
 * and `@types/dockerode` lags the library. Streams are parsed by docker/stream.ts.
 *
 * Builds use the classic builder (`version=1`): BuildKit through dockerode needs a gRPC session it does not
 * fully serve (research §1.4).
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import type Docker from 'dockerode';

const loadCjs = createRequire(import.meta.url);
import type {
  BuildOptions,
  BuildResult,
  ContainerRunOptions,
  ContainerRunResult,
  DockerEngine,
  EngineInfo,
  ImageInfo,
  Logger,
} from '../../core/ports.js';
import { silentLogger } from '../../core/ports.js';
import { EnvsealError, describeError, externalError, inputError, isEnvsealError } from '../../core/errors.js';
import {
  BuildStreamInterpreter,
  DockerFrameDecoder,
  JsonLineSplitter,
  ProgressStreamCollector,
  classifyStartError,
  describeBuildFailure,
  findLoadedImages,
  findPushedDigest,
  type DockerFrame,
  type ProgressStreamSummary,
} from './stream.js';
import { captureContainerOutput as captureWithEngine, type CaptureOptions, type CapturedRun } from '../../core/container-output.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Credentials for a registry host ("127.0.0.1:5000", "ghcr.io", "docker.io"), or undefined for anonymous. */
export type RegistryAuthProvider = (
  registry: string,
) => RegistryCredentials | undefined | Promise<RegistryCredentials | undefined>;

export interface DockerodeEngineOptions {
  /** Unix socket of the engine (default /var/run/docker.sock unless `host` is given). */
  socketPath?: string;
  /** TCP engine: a URL (`tcp://h:2375`, `http://h:2375`, `https://h:2376`) or a host name with `port`. */
  host?: string;
  port?: number;
  /** Client certificate and CA for an https engine. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** Timeout of short API calls (inspect, tag, create, start...). Default 60 s. Builds and runs have their own. */
  timeoutMs?: number;
  /** Seconds a stopped container gets between SIGTERM and SIGKILL (default 3). */
  stopGraceSeconds?: number;
  logger?: Logger;
  /** Credentials sent as X-Registry-Auth on push and pull. */
  authFor?: RegistryAuthProvider;
}

const DEFAULT_SOCKET = '/var/run/docker.sock';
const DEFAULT_TIMEOUT_MS = 60_000;
/** After a container exits, how long its attach stream may take to deliver the last output. */
const OUTPUT_DRAIN_MS = 10_000;
const START_HINT = 'start it (e.g. `dockerd` / `systemctl start docker`, or `bash .ci/lab-up` in this repo) or set DOCKER_HOST';

/**
 * Engine connection options from a DOCKER_HOST value (the CLI reads the environment and passes it in):
 * unset → the default socket; `unix:///path`; `tcp://host:port` (plain HTTP, default port 2375);
 * `http://` and `https://` URLs.
 */
export function engineOptionsFromDockerHost(dockerHost: string | undefined): Pick<DockerodeEngineOptions, 'socketPath' | 'host' | 'port'> {
  const value = dockerHost?.trim();
  if (!value) return { socketPath: DEFAULT_SOCKET };
  if (value.startsWith('unix://')) return { socketPath: value.slice('unix://'.length) || DEFAULT_SOCKET };
  if (value.startsWith('/')) return { socketPath: value };
  const match = /^(tcp|http|https):\/\/([^/:]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(value);
  if (!match) {
    throw inputError('docker.host-invalid', `DOCKER_HOST="${value}" is not a supported engine address`, {
      hint: 'use unix:///var/run/docker.sock, tcp://HOST:2375 or https://HOST:2376 (ssh:// is not supported)',
    });
  }
  const scheme = match[1] === 'https' ? 'https' : 'http';
  const port = match[3] ? Number(match[3]) : scheme === 'https' ? 2376 : 2375;
  return { host: `${scheme}://${match[2]}`, port };
}

/**
 * Engine connection options from environment variables the caller passes in (the CLI hands over its env;
 * nothing here reads process.env): DOCKER_HOST as engineOptionsFromDockerHost reads it; with
 * DOCKER_TLS_VERIFY=1 a tcp:// engine is spoken to over https, and DOCKER_CERT_PATH (default
 * $HOME/.docker) holds ca.pem, cert.pem and key.pem, as the docker CLI expects them.
 */
export function dockerConnectionFromEnv(env: Record<string, string | undefined>): Pick<DockerodeEngineOptions, 'socketPath' | 'host' | 'port' | 'tls'> {
  const options: Pick<DockerodeEngineOptions, 'socketPath' | 'host' | 'port' | 'tls'> = engineOptionsFromDockerHost(env.DOCKER_HOST);
  const tlsVerify = env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '' && env.DOCKER_TLS_VERIFY !== '0';
  if (!options.host || !(tlsVerify || options.host.startsWith('https://'))) return options;
  if (options.host.startsWith('http://')) options.host = `https://${options.host.slice('http://'.length)}`;
  const certDir = env.DOCKER_CERT_PATH || (env.HOME ? join(env.HOME, '.docker') : undefined);
  if (!certDir) return options;
  const read = (name: string): Buffer | undefined => {
    try {
      return readFileSync(join(certDir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !tlsVerify) return undefined;
      throw inputError('docker.tls-files', `cannot read ${join(certDir, name)} for the TLS connection to the Docker engine: ${describeError(err)}`, {
        hint: 'set DOCKER_CERT_PATH to the directory with ca.pem, cert.pem and key.pem, or unset DOCKER_TLS_VERIFY',
      });
    }
  };
  const tls = { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
  if (tls.ca || tls.cert || tls.key) {
    options.tls = Object.fromEntries(Object.entries(tls).filter(([, value]) => value !== undefined)) as DockerodeEngineOptions['tls'];
  }
  return options;
}

interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Engine API path without the version prefix, e.g. `/images/x/json`. */
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  /** Request body stream (build context, image tar). */
  file?: Readable;
  /** Statuses that count as success. */
  ok: number[];
  stream?: boolean;
  hijack?: boolean;
  authconfig?: Record<string, string>;
  signal?: AbortSignal;
  /** Time until the answer (for streams: until the headers). `null`: no limit. Default: the engine's. */
  timeoutMs?: number | null;
  /** What is being done, for messages ("inspect image x"). */
  action: string;
}

/** readJsonLines stopped because its abort signal fired. */
class StreamAborted extends Error {
  constructor() {
    super('cancelled');
  }
}

/** A failed Engine API call: the HTTP status and the daemon's own message. */
interface HttpFailure {
  statusCode: number;
  message: string;
}

export class DockerodeEngine implements DockerEngine {
  private client: Docker | undefined;
  private readonly connection: Docker.DockerOptions;
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly stopGraceSeconds: number;
  private readonly logger: Logger;
  private readonly authFor: RegistryAuthProvider | undefined;

  constructor(options: DockerodeEngineOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.stopGraceSeconds = options.stopGraceSeconds ?? 3;
    this.logger = options.logger ?? silentLogger;
    this.authFor = options.authFor;
    // docker-modem merges DOCKER_HOST/DOCKER_CERT_PATH from the environment into its defaults; every field is
    // set here explicitly (undefined included) so that only what the caller passed decides the connection.
    const connection = {
      socketPath: undefined as string | undefined,
      host: undefined as string | undefined,
      port: undefined as number | undefined,
      protocol: undefined as 'http' | 'https' | undefined,
      ca: options.tls?.ca,
      cert: options.tls?.cert,
      key: options.tls?.key,
      timeout: undefined,
      version: undefined,
    };
    if (options.host) {
      const url = /^(\w+):\/\/(.+)$/.exec(options.host);
      const scheme = url?.[1] === 'https' ? 'https' : 'http';
      connection.host = url ? url[2]!.replace(/\/$/, '') : options.host;
      connection.protocol = url ? scheme : options.tls?.cert ? 'https' : 'http';
      connection.port = options.port ?? (connection.protocol === 'https' ? 2376 : 2375);
      this.endpoint = `${connection.protocol}://${connection.host}:${connection.port}`;
    } else {
      connection.socketPath = options.socketPath ?? DEFAULT_SOCKET;
      this.endpoint = connection.socketPath;
    }
    this.connection = { ...connection, pathPrefix: '/' } as Docker.DockerOptions;
  }

  /**
   * dockerode (with ssh2 and protobufjs behind it) is loaded on the first call, not at start-up: commands that
   * never talk to the engine (a fresh `lock`, `generate`, `fingerprint`) start faster.
   */
  private get docker(): Docker {
    if (!this.client) {
      const DockerClass = loadCjs('dockerode') as typeof Docker;
      try {
        this.client = new DockerClass(this.connection);
      } catch (err) {
        // docker-modem evaluates DOCKER_HOST / DOCKER_CERT_PATH for its defaults before our options override
        // them, and throws when they are malformed or name missing files.
        throw inputError('docker.config', `cannot set up the Docker client: ${describeError(err)}`, {
          hint: 'check DOCKER_HOST and DOCKER_CERT_PATH in the environment',
          cause: err,
        });
      }
    }
    return this.client;
  }

  // -------------------------------------------------------------------------------------------------------
  // Engine

  /** GET /info and GET /version. `architecture` is the Go/OCI name (amd64, arm64), as platforms use it. */
  async info(): Promise<EngineInfo> {
    const [info, version] = await Promise.all([
      this.request<Record<string, unknown>>({ method: 'GET', path: '/info', ok: [200], action: 'read engine info' }),
      this.request<Record<string, unknown>>({ method: 'GET', path: '/version', ok: [200], action: 'read engine version' }),
    ]);
    const result: EngineInfo = {
      version: str(version.Version) ?? str(info.ServerVersion) ?? 'unknown',
      apiVersion: str(version.ApiVersion) ?? 'unknown',
      os: str(version.Os) ?? str(info.OSType) ?? 'unknown',
      architecture: str(version.Arch) ?? str(info.Architecture) ?? 'unknown',
    };
    const kernel = str(info.KernelVersion) ?? str(version.KernelVersion);
    if (kernel) result.kernelVersion = kernel;
    if (str(info.OperatingSystem)) result.operatingSystem = str(info.OperatingSystem)!;
    if (typeof info.NCPU === 'number') result.cpus = info.NCPU;
    if (typeof info.MemTotal === 'number') result.memoryBytes = info.MemTotal;
    if (str(info.Driver)) result.storageDriver = str(info.Driver)!;
    if (typeof info.Runtimes === 'object' && info.Runtimes !== null) result.runtimes = Object.keys(info.Runtimes).sort();
    return result;
  }

  // -------------------------------------------------------------------------------------------------------
  // Images

  /** GET /images/{name}/json; null when the engine has no such image. */
  async inspectImage(ref: string): Promise<ImageInfo | null> {
    assertReference(ref);
    let raw: Record<string, unknown>;
    try {
      raw = await this.request({ method: 'GET', path: `/images/${ref}/json`, ok: [200], action: `inspect image ${ref}` });
    } catch (err) {
      if (httpStatusOf(err) === 404) return null;
      throw err;
    }
    const config = (raw.Config ?? {}) as Record<string, unknown>;
    const rootfs = (raw.RootFS ?? {}) as Record<string, unknown>;
    const info: ImageInfo = {
      id: str(raw.Id) ?? '',
      repoTags: strings(raw.RepoTags),
      repoDigests: strings(raw.RepoDigests),
      labels: stringRecord(config.Labels),
      env: strings(config.Env),
      layers: strings(rootfs.Layers),
    };
    if (str(raw.Created)) info.created = str(raw.Created)!;
    if (str(raw.Architecture)) info.architecture = str(raw.Architecture)!;
    if (str(raw.Os)) info.os = str(raw.Os)!;
    if (typeof raw.Size === 'number') info.sizeBytes = raw.Size;
    return info;
  }

  /** POST /images/{name}/tag?repo=&tag= */
  async tagImage(imageId: string, repoTag: string): Promise<void> {
    assertReference(imageId);
    const { name, tag, digest } = splitReference(repoTag);
    if (digest || !tag) {
      throw inputError('docker.bad-reference', `cannot tag ${imageId} as "${repoTag}": a tag reference (name:tag) is needed`, {
        hint: 'use a reference such as registry.example/team/image:1.0',
      });
    }
    try {
      await this.request({ method: 'POST', path: `/images/${imageId}/tag`, query: { repo: name, tag }, ok: [200, 201], action: `tag ${imageId} as ${repoTag}` });
    } catch (err) {
      throw this.mapImageError(err, imageId, (failure) =>
        // Docker 20.10 answers 500 "invalid reference format: ..." for a malformed tag.
        failure.statusCode === 400 || failure.statusCode === 409 || /invalid reference format/.test(failure.message)
          ? inputError('docker.bad-reference', `cannot tag ${imageId} as "${repoTag}": ${failure.message}`, { hint: 'use a valid lowercase reference such as team/image:1.0' })
          : undefined,
      );
    }
  }

  /** DELETE /images/{name} */
  async removeImage(ref: string, options: { force?: boolean } = {}): Promise<void> {
    assertReference(ref);
    try {
      await this.request({ method: 'DELETE', path: `/images/${ref}`, query: { force: options.force ?? false }, ok: [200], action: `remove image ${ref}` });
    } catch (err) {
      throw this.mapImageError(err, ref, (failure) =>
        failure.statusCode === 409
          ? externalError('docker.image-in-use', `cannot remove image ${ref}: ${failure.message}`, { hint: 'remove the containers that use it, or remove with force' })
          : undefined,
      );
    }
  }

  /** POST /images/create?fromImage=&tag= (a digest goes in `tag`, as the docker CLI sends it). */
  async pullImage(ref: string, options: { platform?: string; signal?: AbortSignal } = {}): Promise<void> {
    assertReference(ref);
    const { name, tag, digest } = splitReference(ref);
    const query: Record<string, unknown> = { fromImage: name, tag: digest ?? tag ?? 'latest' };
    if (options.platform) query.platform = options.platform;
    const summary = await this.runProgressStream(
      { method: 'POST', path: '/images/create', query, stream: true, ok: [200], authconfig: await this.registryAuth(name), action: `pull ${ref}`, timeoutMs: null, ...(options.signal ? { signal: options.signal } : {}) },
      (failure) => externalError('docker.pull-failed', `pulling ${ref} failed: ${failure}`, { hint: pullHint(failure) }),
    );
    if (summary.error) {
      throw externalError('docker.pull-failed', `pulling ${ref} failed: ${summary.error.message}`, { hint: pullHint(summary.error.message) });
    }
  }

  /** POST /images/{name}/push?tag= with X-Registry-Auth; returns the manifest digest the engine reported. */
  async pushImage(repoTag: string, options: { signal?: AbortSignal } = {}): Promise<{ digest: string }> {
    assertReference(repoTag);
    const { name, tag, digest } = splitReference(repoTag);
    if (digest || !tag) {
      throw inputError('docker.push-needs-tag', `cannot push "${repoTag}": push a tag (name:tag), not ${digest ? 'a digest' : 'a bare name'}`, {
        hint: 'tag the image first, e.g. 127.0.0.1:5000/team/image:1.0',
      });
    }
    const summary = await this.runProgressStream(
      { method: 'POST', path: `/images/${name}/push`, query: { tag }, stream: true, ok: [200], authconfig: await this.registryAuth(name), action: `push ${repoTag}`, timeoutMs: null, ...(options.signal ? { signal: options.signal } : {}) },
      (failure, status) =>
        status === 404
          ? inputError('docker.image-missing', `cannot push ${repoTag}: no such image in the Docker engine at ${this.endpoint}`, { hint: 'build or tag the image first' })
          : externalError('docker.push-failed', `pushing ${repoTag} failed: ${failure}`, { hint: pushHint(failure) }),
    );
    if (summary.error) {
      // Docker 20.10 reports a missing local tag inside the stream: "An image does not exist locally with the tag".
      if (/does not exist locally|no such image/i.test(summary.error.message)) {
        throw inputError('docker.image-missing', `cannot push ${repoTag}: ${summary.error.message}`, { hint: 'build or tag the image first' });
      }
      throw externalError('docker.push-failed', `pushing ${repoTag} failed: ${summary.error.message}`, { hint: pushHint(summary.error.message) });
    }
    const pushed = findPushedDigest(summary);
    if (!pushed) {
      throw externalError('docker.push-failed', `pushing ${repoTag} ended without a manifest digest from the engine`, {
        hint: 'check the registry, then push again',
        details: summary.statuses.slice(-10),
      });
    }
    return { digest: pushed };
  }

  /** GET /images/{name}/get: the `docker save` tar as a stream. */
  async exportImage(ref: string): Promise<Readable> {
    assertReference(ref);
    try {
      return await this.request<IncomingMessage>({ method: 'GET', path: `/images/${ref}/get`, stream: true, ok: [200], action: `export image ${ref}` });
    } catch (err) {
      throw this.mapImageError(err, ref);
    }
  }

  /** POST /images/load?quiet=1; returns what the engine reported loading (image IDs and/or name:tag). */
  async loadImage(tar: Readable, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    let summary: ProgressStreamSummary;
    try {
      summary = await this.runProgressStream(
        { method: 'POST', path: '/images/load', query: { quiet: true }, file: tar, stream: true, ok: [200], action: 'load an image', timeoutMs: null, ...(options.signal ? { signal: options.signal } : {}) },
        (failure) => externalError('docker.load-failed', `loading the image failed: ${failure}`, { hint: 'check that the archive is a complete `docker save` / OCI tar' }),
      );
    } finally {
      if (!tar.readableEnded) tar.destroy();
    }
    if (summary.error) {
      throw externalError('docker.load-failed', `loading the image failed: ${summary.error.message}`, {
        hint: 'check that the archive is a complete `docker save` / OCI tar',
      });
    }
    const loaded = findLoadedImages(summary);
    if (!loaded.length) {
      throw externalError('docker.load-failed', 'the engine finished loading but reported no image', {
        hint: 'check that the archive has a manifest.json or index.json',
        details: summary.lines.slice(-10),
      });
    }
    return loaded;
  }

  // -------------------------------------------------------------------------------------------------------
  // Build

  /** POST /build (classic builder) with the context tar as the body; see the module comment. */
  async build(context: Readable, options: BuildOptions): Promise<BuildResult> {
    const interpreter = new BuildStreamInterpreter(options.onEvent);
    const controller = new AbortController();
    let stopReason: 'signal' | 'timeout' | undefined;
    const onAbort = () => {
      stopReason ??= 'signal';
      controller.abort();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = options.timeoutMs
      ? setTimeout(() => {
          stopReason ??= 'timeout';
          controller.abort();
        }, options.timeoutMs)
      : undefined;
    let contextError: unknown;
    context.on('error', (err) => {
      contextError ??= err;
    });

    const query: Record<string, unknown> = {
      t: options.tags,
      dockerfile: options.dockerfile,
      version: '1',
      rm: true,
      // Also remove the intermediate container of a failed step (Docker keeps it by default).
      forcerm: true,
    };
    if (options.target) query.target = options.target;
    if (options.networkMode) query.networkmode = options.networkMode;
    if (options.noCache) query.nocache = true;
    if (options.pull) query.pull = true;
    if (options.platform) query.platform = options.platform;
    if (options.labels && Object.keys(options.labels).length) query.labels = options.labels;
    if (options.buildArgs && Object.keys(options.buildArgs).length) query.buildargs = options.buildArgs;

    try {
      let response: IncomingMessage;
      try {
        response = await this.request<IncomingMessage>({
          method: 'POST',
          path: '/build',
          query,
          file: context,
          stream: true,
          ok: [200],
          signal: controller.signal,
          timeoutMs: null,
          action: 'build',
        });
      } catch (err) {
        if (contextError !== undefined) throw asError(contextError);
        if (stopReason) throw this.buildStopped(stopReason, options, interpreter);
        const failure = httpFailureOf(err);
        if (failure) {
          throw externalError('build.failed', `build failed: the Docker engine rejected the build: ${failure.message}`, {
            hint: 'check the Dockerfile path and the build options',
            data: { httpStatus: failure.statusCode },
          });
        }
        throw err;
      }
      try {
        await readJsonLines(response, (line) => interpreter.acceptLine(line), controller.signal);
      } catch (err) {
        if (contextError !== undefined) throw asError(contextError);
        if (err instanceof StreamAborted || stopReason) throw this.buildStopped(stopReason ?? 'signal', options, interpreter);
        const step = interpreter.currentStep();
        throw externalError('build.failed', `build failed: the connection to the Docker engine at ${this.endpoint} broke${step ? ` during step ${step.step}/${step.totalSteps}` : ''}: ${describeError(err)}`, {
          hint: 'check that the engine is still running (its log may say why), then build again',
          details: interpreter.currentStepOutput(),
          cause: err,
        });
      }
      const outcome = interpreter.finish();
      if (outcome.failure) {
        const failure = outcome.failure;
        throw externalError('build.failed', describeBuildFailure(failure), {
          hint: 'the last output lines of the failing step are listed with this error; fix the instruction or its inputs and build again',
          details: failure.stepOutput,
          data: {
            ...(failure.step !== undefined ? { step: failure.step, totalSteps: failure.totalSteps, instruction: failure.instruction } : {}),
            ...(failure.code !== undefined ? { exitCode: failure.code } : {}),
          },
        });
      }
      if (!outcome.imageId) {
        throw externalError('build.failed', 'build failed: the build stream ended without an image ID and without an error', {
          hint: 'the engine may have stopped mid-build; check its log and build again',
          details: outcome.log.slice(-30),
        });
      }
      return { imageId: outcome.imageId, log: outcome.log };
    } catch (err) {
      if (!context.destroyed && !context.readableEnded) context.destroy();
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private buildStopped(reason: 'signal' | 'timeout', options: BuildOptions, interpreter: BuildStreamInterpreter): EnvsealError {
    const step = interpreter.currentStep();
    const at = step ? ` at step ${step.step}/${step.totalSteps} (${step.instruction})` : '';
    if (reason === 'timeout') {
      return externalError('build.timeout', `build stopped after ${options.timeoutMs} ms${at}`, {
        hint: 'raise the build timeout, or find the slow step in the output',
        details: interpreter.currentStepOutput(),
      });
    }
    return externalError('build.aborted', `build cancelled${at}`, { details: interpreter.currentStepOutput() });
  }

  // -------------------------------------------------------------------------------------------------------
  // Containers

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
    const body = containerCreateBody(options);
    let id: string;
    try {
      const created = await this.request<{ Id?: string }>({ method: 'POST', path: '/containers/create', body, ok: [200, 201], action: `create a container from ${options.image}` });
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

  /** Runs `cmd` in `image` and returns its exit code and output as strings (see captureContainerOutput). */
  async captureContainerOutput(image: string, cmd: string[], options: Omit<CaptureOptions, 'image' | 'cmd'> = {}): Promise<CapturedRun> {
    return captureWithEngine(this, { ...options, image, cmd });
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
      attach = await this.request<Readable>({
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
        await this.request({ method: 'POST', path: `/containers/${id}/start`, ok: [200, 204, 304], action: `start container ${id.slice(0, 12)}` });
      } catch (err) {
        throw this.mapRunError(err, options);
      }
      started = true;
      if (interrupted) stopping ??= this.stopContainer(id);
      if (options.timeoutMs) timer = setTimeout(() => stop('timeout'), options.timeoutMs);

      const status = await this.request<{ StatusCode?: number; Error?: { Message?: string } | null }>({
        method: 'POST',
        path: `/containers/${id}/wait`,
        ok: [200],
        timeoutMs: null,
        action: `wait for container ${id.slice(0, 12)}`,
      });
      if (stopping) await stopping;
      await Promise.race([outputDone, delay(OUTPUT_DRAIN_MS)]);
      if (typeof status.StatusCode !== 'number') {
        throw externalError('run.failed', `the engine reported no exit code for container ${id.slice(0, 12)}${status.Error?.Message ? `: ${status.Error.Message}` : ''}`);
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

  /** POST /containers/{id}/stop?t=grace (the engine sends SIGTERM, then SIGKILL); kill if stop fails. */
  private async stopContainer(id: string): Promise<void> {
    try {
      await this.request({
        method: 'POST',
        path: `/containers/${id}/stop`,
        query: { t: this.stopGraceSeconds },
        ok: [200, 204, 304, 404],
        timeoutMs: (this.stopGraceSeconds + 30) * 1000,
        action: `stop container ${id.slice(0, 12)}`,
      });
    } catch (err) {
      this.logger.warn(`could not stop container ${id.slice(0, 12)} (${describeError(err)}); killing it`);
      await this.request({ method: 'POST', path: `/containers/${id}/kill`, ok: [200, 204, 404, 409], action: `kill container ${id.slice(0, 12)}` }).catch(
        (killErr: unknown) => this.logger.warn(`could not kill container ${id.slice(0, 12)}: ${describeError(killErr)}`),
      );
    }
  }

  /** DELETE /containers/{id}?force=1&v=1; failures are logged, never thrown (cleanup must not hide the result). */
  private async removeContainerQuietly(id: string): Promise<void> {
    try {
      await this.request({ method: 'DELETE', path: `/containers/${id}`, query: { force: true, v: true }, ok: [200, 204, 404], action: `remove container ${id.slice(0, 12)}` });
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
      return inputError('docker.image-missing', `image ${options.image} does not exist in the Docker engine at ${this.endpoint}`, {
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
        return externalError('run.no-gpu', `GPUs were requested, but the Docker engine at ${this.endpoint} has no GPU runtime: ${failure.message}`, {
          hint: 'install the NVIDIA Container Toolkit and restart the engine, or run without GPUs',
        });
      default:
        return externalError('run.start-failed', `could not start ${command} in image ${options.image}: ${failure.message}`, {
          hint: 'check the run options (binds, user, working directory) and the engine log',
          data: { httpStatus: failure.statusCode },
        });
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Plumbing

  private async registryAuth(name: string): Promise<Record<string, string>> {
    const registry = registryOf(name);
    const credentials = this.authFor ? await this.authFor(registry) : undefined;
    // The daemon wants an X-Registry-Auth header on push even without credentials: `{}` means anonymous.
    return credentials ? { username: credentials.username, password: credentials.password, serveraddress: registry } : {};
  }

  /** Runs a JSON-lines progress request (pull, push, load) to its end and collects what it said. */
  private async runProgressStream(
    spec: RequestSpec,
    onHttpFailure: (message: string, statusCode: number) => EnvsealError,
  ): Promise<ProgressStreamSummary> {
    let response: IncomingMessage;
    try {
      response = await this.request<IncomingMessage>(spec);
    } catch (err) {
      const failure = httpFailureOf(err);
      if (failure) throw onHttpFailure(failure.message, failure.statusCode);
      throw err;
    }
    const collector = new ProgressStreamCollector((status) => this.logger.progress(status));
    try {
      await readJsonLines(response, (line) => collector.acceptLine(line), spec.signal);
    } catch (err) {
      if (err instanceof StreamAborted) throw externalError('docker.aborted', `Docker engine: ${spec.action} was cancelled`);
      throw externalError('docker.stream-broken', `${spec.action}: the connection to the Docker engine at ${this.endpoint} broke: ${describeError(err)}`, {
        hint: 'check that the engine is still running, then try again',
        cause: err,
      });
    }
    const summary = collector.finish();
    for (const line of summary.malformed) this.logger.debug(`${spec.action}: unparsable engine output: ${line}`);
    return summary;
  }

  /** 404 → docker.image-missing; `specific` may map other statuses; otherwise the error as is. */
  private mapImageError(err: unknown, ref: string, specific?: (failure: HttpFailure) => EnvsealError | undefined): Error {
    const failure = httpFailureOf(err);
    if (failure?.statusCode === 404) {
      return inputError('docker.image-missing', `image ${ref} does not exist in the Docker engine at ${this.endpoint}`, {
        hint: 'build it first (`envseal build`), or pull it',
      });
    }
    return (failure && specific?.(failure)) || asError(err);
  }

  /**
   * One Engine API call. Resolves with the parsed JSON body, or the response stream (`stream`), or the
   * hijacked socket (`hijack`). Rejects with EnvsealErrors: docker.unreachable (no connection),
   * docker.api-error carrying `data.httpStatus` and the daemon's message (non-success status),
   * docker.aborted (the caller's signal) or docker.timeout (no answer in time).
   */
  private request<T>(spec: RequestSpec): Promise<T> {
    const controller = new AbortController();
    let abortReason: 'signal' | 'timeout' | undefined;
    const onCallerAbort = () => {
      abortReason ??= 'signal';
      controller.abort();
    };
    if (spec.signal?.aborted) return Promise.reject(externalError('docker.aborted', `Docker engine: ${spec.action} was cancelled`));
    spec.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const timeoutMs = spec.timeoutMs === undefined ? this.timeoutMs : spec.timeoutMs;
    const timer =
      timeoutMs === null
        ? undefined
        : setTimeout(() => {
            abortReason ??= 'timeout';
            controller.abort();
          }, timeoutMs);
    const dialOptions = {
      path: `${spec.path}?`,
      method: spec.method,
      options: { _query: compactQuery(spec.query ?? {}), _body: spec.body ?? {} },
      statusCodes: Object.fromEntries(spec.ok.map((code) => [code, true])),
      isStream: spec.stream ?? false,
      hijack: spec.hijack ?? false,
      abortSignal: controller.signal,
      // A hijacked request must end right after its headers: docker-modem would otherwise announce a chunked
      // body, whose terminator the daemon could read as the container's first stdin bytes. An empty buffer
      // body makes it send `Content-Length: 0` and end the request (the docker CLI sends no body either).
      ...(spec.hijack ? { file: Buffer.alloc(0) } : spec.file ? { file: spec.file } : {}),
      ...(spec.authconfig ? { authconfig: spec.authconfig } : {}),
    };
    return new Promise<T>((resolve, reject) => {
      this.docker.modem.dial(dialOptions, (err, result) => {
        if (timer) clearTimeout(timer);
        const isLongLived = (spec.stream || spec.hijack) && !err;
        if (!isLongLived) spec.signal?.removeEventListener('abort', onCallerAbort);
        else (result as Readable).once('close', () => spec.signal?.removeEventListener('abort', onCallerAbort));
        if (err) {
          if (abortReason === 'timeout') {
            return reject(externalError('docker.timeout', `Docker engine: ${spec.action} timed out after ${timeoutMs} ms`, {
              hint: 'the engine is slow or stuck; check it (`docker info`) and try again',
            }));
          }
          if (abortReason) return reject(externalError('docker.aborted', `Docker engine: ${spec.action} was cancelled`));
          return reject(this.translateError(err, spec.action));
        }
        resolve(result as T);
      });
    });
  }

  private translateError(err: Error, action: string): Error {
    if (isEnvsealError(err)) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code && CONNECTION_ERRORS[code]) {
      return externalError('docker.unreachable', `cannot reach the Docker engine at ${this.endpoint}: ${CONNECTION_ERRORS[code]} (${code})`, {
        hint: code === 'EACCES' || code === 'EPERM' ? `${START_HINT}; if it is running, your user may lack access to the socket (docker group)` : START_HINT,
        cause: err,
      });
    }
    const statusCode = (err as { statusCode?: unknown }).statusCode;
    if (typeof statusCode === 'number') {
      const message = daemonMessageOf(err);
      return externalError('docker.api-error', `Docker engine: ${action} failed (HTTP ${statusCode}): ${message}`, {
        hint: 'see the message from the engine; its log may say more',
        data: { httpStatus: statusCode, daemonMessage: message },
        cause: err,
      });
    }
    return externalError('docker.request-failed', `Docker engine: ${action} failed: ${describeError(err)}`, {
      hint: 'check that the engine is running and reachable',
      cause: err,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Helpers (module-private)

const CONNECTION_ERRORS: Record<string, string> = {
  ENOENT: 'no such socket',
  ECONNREFUSED: 'connection refused',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTSOCK: 'not a socket',
};

function containerCreateBody(options: ContainerRunOptions): Record<string, unknown> {
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
    Labels: options.labels ?? {},
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

/**
 * Reads a JSON-lines response to its end, handing each line over. Rejects on a socket error, on a close
 * without a proper end, and (with StreamAborted) when the signal fires; the response is destroyed then.
 */
function readJsonLines(response: Readable, onLine: (line: string) => void, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const splitter = new JsonLineSplitter();
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        response.destroy();
        reject(err);
      } else {
        resolve();
      }
    };
    const onAbort = () => settle(new StreamAborted());
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const handle = (lines: string[]) => {
      try {
        for (const line of lines) onLine(line);
      } catch (err) {
        settle(err);
      }
    };
    response.on('data', (chunk: Buffer) => handle(splitter.push(chunk)));
    response.on('end', () => {
      handle(splitter.end());
      settle();
    });
    response.on('error', (err) => settle(err));
    response.on('close', () => settle(new Error('the connection closed before the stream ended')));
  });
}

function pullHint(message: string): string {
  if (/not found|manifest unknown|does not exist/i.test(message)) return 'check that the reference exists in the registry';
  if (/unauthorized|authentication required|denied/i.test(message)) return 'configure credentials for the registry';
  return 'check that the registry is reachable from the Docker engine';
}

function pushHint(message: string): string {
  if (/unauthorized|authentication required|denied/i.test(message)) return 'configure credentials for the registry';
  return 'check that the registry is reachable from the Docker engine and accepts pushes';
}

/** name, tag and digest of a reference (`registry:5000/a/b:tag@sha256:...`). */
function splitReference(ref: string): { name: string; tag?: string; digest?: string } {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  const result: { name: string; tag?: string; digest?: string } = { name: colon > slash ? rest.slice(0, colon) : rest };
  if (colon > slash) result.tag = rest.slice(colon + 1);
  if (digest) result.digest = digest;
  return result;
}

/** The registry host of a repository name, as Docker decides it (docker/distribution reference rules). */
function registryOf(name: string): string {
  const slash = name.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = name.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : 'docker.io';
}

/** Image references go into URL paths unencoded (the Engine API routes take `/`): allow only reference characters. */
function assertReference(ref: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@+]*$/.test(ref) || ref.includes('..')) {
    throw inputError('docker.bad-reference', `"${ref}" is not a valid image reference or ID`, {
      hint: 'use a reference such as registry:5000/team/image:tag, image@sha256:<hex>, or an image ID',
    });
  }
}

function compactQuery(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined));
}

function httpStatusOf(err: unknown): number | undefined {
  return httpFailureOf(err)?.statusCode;
}

/** The HTTP status and daemon message of a failed call, from our translated error or dockerode's. */
function httpFailureOf(err: unknown): HttpFailure | undefined {
  if (isEnvsealError(err)) {
    const status = err.data?.httpStatus;
    const message = err.data?.daemonMessage;
    return typeof status === 'number' ? { statusCode: status, message: typeof message === 'string' ? message : err.message } : undefined;
  }
  const statusCode = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof statusCode === 'number' ? { statusCode, message: daemonMessageOf(err as Error) } : undefined;
}

/** docker-modem formats failures as "(HTTP code 500) server error - <daemon message> ". */
function daemonMessageOf(err: Error): string {
  const json = (err as { json?: unknown }).json;
  if (json && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string') {
    return ((json as { message: string }).message).trim();
  }
  const match = /^\(HTTP code \d+\) .*? - ([\s\S]*)$/.exec(err.message);
  return (match ? match[1]! : err.message).trim();
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
