/**
 * The connection to a Docker engine, and the only file that loads dockerode.
 *
 * Where the engine is comes in as options (the CLI resolves DOCKER_HOST, DOCKER_CONTEXT and the docker contexts
 * with endpoint.ts from the environment it passes in; nothing here reads process.env).
 * Every Engine API call goes through one typed `request()` on dockerode's transport (docker-modem: unix
 * socket, TCP, TLS, connection hijacking for attach), so each one gets the same abort signal, timeout and
 * error mapping, and the endpoint is visible where it is used (https://docs.docker.com/reference/api/engine/).
 * dockerode's own helpers are not used for streams on purpose (research/mechanisms.md §1): `followProgress`
 * reports success for streams that carry `errorDetail` and throws from an event handler on a malformed line,
 * and `@types/dockerode` lags the library. Streamed answers are read by readJsonLines here and interpreted by
 * the pure helpers of stream.ts. Paths carry no API version prefix: the engine answers with its own version.
 */
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { EngineInfo, Logger } from '../../core/ports.js';
import { describeError, externalError, inputError, isEnvsealError } from '../../core/errors.js';
import { JsonLineSplitter } from './stream.js';
import { formatDuration } from './deadline.js';
import { DEFAULT_SOCKET, type EngineAddress, type EngineEndpoint } from './endpoint.js';

const loadCjs = createRequire(import.meta.url);

/** Where the engine is and how long a short call may take. */
export interface DockerConnectionOptions extends EngineAddress {
  /**
   * Where the engine is, found on first use (the CLI passes resolveDockerEndpoint, so that a command that never
   * talks to the engine never reads the docker contexts). Overrides the address fields above.
   */
  locate?: () => EngineEndpoint;
  /** Timeout of short API calls (inspect, tag, create, start...). Default 60 s. Builds and runs have their own. */
  timeoutMs?: number;
  /**
   * Longest silence of a long-lived stream (build, pull, push, load, export) before it is cancelled: no byte
   * of the upload taken and none of the answer received for this long. Default 10 minutes.
   */
  streamIdleTimeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_STREAM_IDLE_MS = 600_000;
/** Hint of every deadline error of the engine. */
export const TIMEOUT_HINT = 'a longer deadline: --timeout <seconds> or ENVSEAL_ENGINE_TIMEOUT';
const START_HINT = 'start it (e.g. `dockerd` / `systemctl start docker`, or `bash .ci/lab-up` in this repo) or set DOCKER_HOST';

/** One Engine API call, as the resource adapters (images, build, containers) describe it. */
export interface RequestSpec {
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

/** A failed Engine API call: the HTTP status and the daemon's own message. */
export interface HttpFailure {
  statusCode: number;
  message: string;
}

/**
 * A lazily opened client for one engine. The resource adapters get this narrow handle (request, endpoint,
 * logger), never dockerode itself.
 */
export class DockerConnection {
  readonly logger: Logger;
  /** See DockerConnectionOptions.streamIdleTimeoutMs. */
  readonly streamIdleMs: number;
  private client: Docker | undefined;
  private readonly locate: () => EngineEndpoint;
  private resolved: { options: Docker.DockerOptions; endpoint: string } | undefined;
  private readonly timeoutMs: number;

  constructor(options: DockerConnectionOptions, logger: Logger) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.streamIdleMs = options.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_MS;
    this.logger = logger;
    this.locate = options.locate ?? (() => ({ address: options, source: 'the caller' }));
  }

  /** Where the engine is, for messages: the socket path, `http(s)://host:port` or `ssh://user@host:port`. */
  get endpoint(): string {
    return this.target.endpoint;
  }

  /** The engine's address, found on first use; `--verbose` says which engine it is and what chose it. */
  private get target(): { options: Docker.DockerOptions; endpoint: string } {
    if (!this.resolved) {
      const { address, source } = this.locate();
      this.resolved = modemOptions(address);
      this.logger.debug(`Docker engine: ${this.resolved.endpoint} (from ${source})`);
    }
    return this.resolved;
  }

  /**
   * dockerode (with ssh2 and protobufjs behind it) is loaded on the first call, not at start-up: commands that
   * never talk to the engine (a fresh `lock`, `generate`, `fingerprint`) start faster.
   */
  private get docker(): Docker {
    if (!this.client) {
      const { options } = this.target;
      const DockerClass = loadCjs('dockerode') as typeof Docker;
      try {
        this.client = new DockerClass(options);
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

  /**
   * One Engine API call. Resolves with the parsed JSON body, or the response stream (`stream`), or the
   * hijacked socket (`hijack`). Rejects with EnvsealErrors: docker.unreachable (no connection),
   * docker.api-error carrying `data.httpStatus` and the daemon's message (non-success status),
   * docker.aborted (the caller's signal) or docker.timeout (no answer in time).
   */
  request<T>(spec: RequestSpec): Promise<T> {
    const controller = new AbortController();
    let abortReason: 'signal' | 'timeout' | undefined;
    // docker-modem never calls back when a plain (non-stream) answer is cut mid-body and later aborted; the
    // deadline and the caller's signal settle the call themselves (`fail`), so it cannot hang past them.
    let fail: (() => void) | undefined;
    const onCallerAbort = () => {
      abortReason ??= 'signal';
      controller.abort();
      fail?.();
    };
    if (spec.signal?.aborted) return Promise.reject(externalError('docker.aborted', `Docker engine: ${spec.action} was cancelled`));
    try {
      // Where the engine is, before any timer starts: an unreadable docker context fails the call here.
      void this.docker;
    } catch (err) {
      return Promise.reject(err);
    }
    spec.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const timeoutMs = spec.timeoutMs === undefined ? this.timeoutMs : spec.timeoutMs;
    const timer =
      timeoutMs === null
        ? undefined
        : setTimeout(() => {
            abortReason ??= 'timeout';
            controller.abort();
            fail?.();
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
    const aborted = () =>
      abortReason === 'timeout'
        ? externalError('docker.timeout', `Docker engine at ${this.endpoint}: ${spec.action} got no answer in ${formatDuration(timeoutMs!)}`, {
            hint: `the engine is slow or stuck; check it (\`docker info\`) and try again; ${TIMEOUT_HINT}`,
          })
        : externalError('docker.aborted', `Docker engine: ${spec.action} was cancelled`);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      fail = () => {
        // A stream already handed over is the caller's to end; only a pending call is failed here.
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        spec.signal?.removeEventListener('abort', onCallerAbort);
        reject(aborted());
      };
      this.docker.modem.dial(dialOptions, (err, result) => {
        if (timer) clearTimeout(timer);
        if (settled) {
          if (!err && (spec.stream || spec.hijack)) (result as Readable).destroy();
          return;
        }
        settled = true;
        const isLongLived = (spec.stream || spec.hijack) && !err;
        if (!isLongLived) spec.signal?.removeEventListener('abort', onCallerAbort);
        else (result as Readable).once('close', () => spec.signal?.removeEventListener('abort', onCallerAbort));
        if (err) return reject(abortReason ? aborted() : this.translateError(err, spec.action));
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
    const tls = tlsFailureOf(err, this.endpoint);
    if (tls) return tls;
    const sshLevel = (err as { level?: unknown }).level;
    if (typeof sshLevel === 'string' && sshLevel.startsWith('client-')) {
      return externalError('docker.unreachable', `cannot reach the Docker engine at ${this.endpoint}: ssh: ${err.message}`, {
        hint: 'check that `ssh` to that host works with the same user, key (IdentityFile in ~/.ssh/config) or agent (SSH_AUTH_SOCK)',
        cause: err,
      });
    }
    const statusCode = (err as { statusCode?: unknown }).statusCode;
    if (typeof statusCode === 'number') {
      const message = daemonMessageOf(err);
      return externalError('docker.api-error', `Docker engine: ${action} failed (HTTP ${statusCode}): ${message}`, {
        hint: /HTTP request to an HTTPS server/i.test(message)
          ? `the engine at ${this.endpoint} speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), or give it as https://`
          : 'see the message from the engine; its log may say more',
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

/**
 * docker-modem's options for an address. docker-modem merges DOCKER_HOST/DOCKER_CERT_PATH from the environment
 * into its defaults; every field is set here explicitly (undefined included) so that only the address decides.
 */
function modemOptions(address: EngineAddress): { options: Docker.DockerOptions; endpoint: string } {
  const connection = {
    socketPath: undefined as string | undefined,
    host: undefined as string | undefined,
    port: undefined as number | undefined,
    protocol: undefined as 'http' | 'https' | 'ssh' | undefined,
    username: undefined as string | undefined,
    sshOptions: undefined as Record<string, unknown> | undefined,
    ca: address.tls?.ca,
    cert: address.tls?.cert,
    key: address.tls?.key,
    timeout: undefined,
    version: undefined,
  };
  let endpoint: string;
  if (address.ssh) {
    const { host, port, username, agent, privateKey } = address.ssh;
    Object.assign(connection, { host, port, username, protocol: 'ssh' });
    // ssh2's connect options; docker-modem runs `docker system dial-stdio` over the session.
    connection.sshOptions = { ...(agent ? { agent } : {}), ...(privateKey ? { privateKey } : {}), readyTimeout: 20_000 };
    // No userinfo in the URL: the CLI masks `scheme://…@` in everything it prints.
    endpoint = `ssh://${address.ssh.alias}:${port} (user ${username})`;
  } else if (address.host) {
    const url = /^(\w+):\/\/(.+)$/.exec(address.host);
    const scheme = url?.[1] === 'https' ? 'https' : 'http';
    connection.host = url ? url[2]!.replace(/\/$/, '') : address.host;
    connection.protocol = url ? scheme : address.tls?.cert ? 'https' : 'http';
    connection.port = address.port ?? (connection.protocol === 'https' ? 2376 : 2375);
    endpoint = `${connection.protocol}://${connection.host}:${connection.port}`;
  } else {
    connection.socketPath = address.socketPath ?? DEFAULT_SOCKET;
    endpoint = connection.socketPath;
  }
  return { options: { ...connection, pathPrefix: '/' } as Docker.DockerOptions, endpoint };
}

/** GET /info and GET /version. `architecture` is the Go/OCI name (amd64, arm64), as platforms use it. */
export async function readEngineInfo(connection: DockerConnection): Promise<EngineInfo> {
  const [info, version] = await Promise.all([
    connection.request<Record<string, unknown>>({ method: 'GET', path: '/info', ok: [200], action: 'read engine info' }),
    connection.request<Record<string, unknown>>({ method: 'GET', path: '/version', ok: [200], action: 'read engine version' }),
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
  const driverStatus = Array.isArray(info.DriverStatus) ? (info.DriverStatus as unknown[]) : [];
  const snapshotter = driverStatus.some((pair) => Array.isArray(pair) && pair[0] === 'driver-type' && /containerd\.snapshotter/.test(String(pair[1])));
  if (result.storageDriver) result.imageStore = snapshotter ? 'containerd' : 'classic';
  if (typeof info.Runtimes === 'object' && info.Runtimes !== null) result.runtimes = Object.keys(info.Runtimes).sort();
  return result;
}

/** readJsonLines stopped because its abort signal fired. */
export class StreamAborted extends Error {
  constructor() {
    super('cancelled');
  }
}

/** readJsonLines stopped because the stream sent nothing for its idle limit. */
export class StreamIdle extends Error {
  constructor(readonly idleMs: number) {
    super(`no data for ${idleMs} ms`);
  }
}

/**
 * Reads a JSON-lines response to its end, handing each line over. Rejects on a socket error, on a close
 * without a proper end, (with StreamAborted) when the signal fires and (with StreamIdle) when nothing arrives
 * for `idleMs`; the response is destroyed then.
 */
export function readJsonLines(response: Readable, onLine: (line: string) => void, signal: AbortSignal | undefined, idleMs?: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const splitter = new JsonLineSplitter();
    let settled = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (idleMs === undefined) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => settle(new StreamIdle(idleMs)), idleMs);
    };
    arm();
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(idleTimer);
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
    response.on('data', (chunk: Buffer) => {
      arm();
      handle(splitter.push(chunk));
    });
    response.on('end', () => {
      handle(splitter.end());
      settle();
    });
    response.on('error', (err) => settle(err));
    response.on('close', () => settle(new Error('the connection closed before the stream ended')));
  });
}

/**
 * Image references and IDs go into URL paths unencoded (the Engine API routes take `/`): allow only
 * reference characters. This guards the path; what a reference means is core/image-ref.ts's business.
 */
export function assertReference(ref: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@+]*$/.test(ref) || ref.includes('..')) {
    throw inputError('docker.bad-reference', `"${ref}" is not a valid image reference or ID`, {
      hint: 'use a reference such as registry:5000/team/image:tag, image@sha256:<hex>, or an image ID',
    });
  }
}

/** The HTTP status and daemon message of a failed call, from our translated error or dockerode's. */
export function httpFailureOf(err: unknown): HttpFailure | undefined {
  if (isEnvsealError(err)) {
    const status = err.data?.httpStatus;
    const message = err.data?.daemonMessage;
    return typeof status === 'number' ? { statusCode: status, message: typeof message === 'string' ? message : err.message } : undefined;
  }
  const statusCode = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof statusCode === 'number' ? { statusCode, message: daemonMessageOf(err as Error) } : undefined;
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A non-empty string field of the engine's JSON, or undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Node's codes for a server certificate that does not verify against the CA given (tls.checkServerIdentity, OpenSSL). */
const CERT_VERIFY_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A failed TLS handshake with an https engine, told apart from an engine that is down: the engine's
 * certificate does not verify against ca.pem, or the engine refused envseal's client certificate (a TLS alert).
 * Exit 3 like any engine that cannot be reached, but the message says which side and which file to look at.
 */
function tlsFailureOf(err: Error, endpoint: string): Error | undefined {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  // OpenSSL's errors carry a short `reason` ("sslv3 alert bad certificate"); Node's verify errors only a message.
  const reason = (err as { reason?: unknown }).reason;
  const text = typeof reason === 'string' && reason ? reason : err.message.split('\n')[0]!.trim();
  if (CERT_VERIFY_ERRORS.has(code)) {
    return externalError('docker.tls-failed', `cannot reach the Docker engine at ${endpoint}: TLS: its certificate is not trusted: ${text} (${code})`, {
      hint: "ca.pem (in DOCKER_CERT_PATH or the context's TLS files) must be the CA that signed the engine's certificate (dockerd --tlscert), for this host name or IP",
      cause: err,
    });
  }
  const clientHint =
    "the client certificate (cert.pem, key.pem) must be signed by the CA the engine trusts (dockerd --tlscacert); the engine's log may say more";
  if (code === 'ECONNRESET' && /before secure TLS connection was established/.test(err.message)) {
    return externalError(
      'docker.tls-failed',
      `cannot reach the Docker engine at ${endpoint}: TLS: the engine closed the connection during the handshake (${code})`,
      {
        hint: `${clientHint}; or the engine does not speak TLS on that port`,
        cause: err,
      },
    );
  }
  if (/^ERR_SSL_.*ALERT/.test(code)) {
    return externalError('docker.tls-failed', `cannot reach the Docker engine at ${endpoint}: TLS: the engine refused the connection: ${text} (${code})`, {
      hint: clientHint,
      cause: err,
    });
  }
  return undefined;
}

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

function compactQuery(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined));
}

/** docker-modem formats failures as "(HTTP code 500) server error - <daemon message> ". */
function daemonMessageOf(err: Error): string {
  const json = (err as { json?: unknown }).json;
  if (json && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string') {
    return (json as { message: string }).message.trim();
  }
  const match = /^\(HTTP code \d+\) .*? - ([\s\S]*)$/.exec(err.message);
  return (match ? match[1]! : err.message).trim();
}
