/**
 * A small HTTP client over an injected `fetch`, shared by the registry and package-index clients. It
 * owns the transport policy the project promises for every outside service:
 *   - a timeout on every attempt (covering the body, not only the headers), and optionally a deadline for
 *     the whole request, retries and waits included (`deadlineMs`): a hung server fails within it,
 *   - retries with exponential backoff for network errors, timeouts, 408, 429 and 5xx (not 501/505,
 *     which no retry can fix), honouring `Retry-After` (RFC 9110 §10.2.3) up to a limit,
 *   - an EnvsealError (exit 3) naming the service and the last failure when the retries run out.
 * Any other response (2xx, 3xx not followed, 4xx) is returned with its body read into memory: callers
 * decide what a 401 or 404 means in their protocol. No raw fetch error ever escapes.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock, Logger } from '../core/ports.js';
import { silentLogger } from '../core/ports.js';
import { describeError, externalError, internalError, isEnvsealError } from '../core/errors.js';
import { basicAuthorization, CredentialStore, splitUrlCredentials } from '../core/url-credentials.js';

/** The part of the Fetch `Headers` that `HttpClient`'s callers use; a Fetch `Headers` is one. */
export interface ResponseHeaders {
  /** The value (several fields of one name joined with ", ", as Fetch does), or null. Case-insensitive. */
  get(name: string): string | null;
}

/** A response with its body read: what `HttpClient` needs from a transport. */
export interface TransportResponse {
  /** The final URL (after redirects). */
  url: string;
  status: number;
  statusText: string;
  headers: ResponseHeaders;
  body: Buffer;
}

export interface TransportRequest {
  method: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /** Redirects: followed (default), returned as they are (`manual`), or a failure (`error`). */
  redirect?: 'follow' | 'manual' | 'error';
  /** A body (as sent, or decoded) longer than this rejects with `BodyTooLargeError`. */
  maxBodyBytes?: number;
}

export type Transport = (url: URL, request: TransportRequest) => Promise<TransportResponse>;

/** The body passed `maxBodyBytes`; the connection was closed without reading the rest. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the body is larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

export interface HttpClientOptions {
  /** A Fetch-standard function (default: the global fetch); ignored when `transport` is given. */
  fetch?: typeof fetch;
  /** What sends a request and reads its answer (e.g. `createNodeTransport`); default: `fetch` wrapped. */
  transport?: Transport;
  /** Retries after the first attempt (default 3, so 4 attempts in all). */
  retries?: number;
  /** Per-attempt timeout in ms, body included (default 30 s). */
  timeoutMs?: number;
  /**
   * Time for the whole request in ms: every attempt, its body and the waits between attempts (default: no
   * limit beyond the attempts' own). An attempt gets at most what is left; a retry that would start after the
   * deadline is not made.
   */
  deadlineMs?: number;
  /** Monotonic milliseconds for the deadline (default performance.now); tests inject one. */
  monotonicNow?: () => number;
  /** Waits between attempts; tests inject one that returns at once and records the delays. */
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
  /** Only used to turn an HTTP-date `Retry-After` into a delay. */
  clock?: Clock;
  /** First backoff delay (default 500 ms); doubles on every retry up to `maxDelayMs` (default 8 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest `Retry-After` we wait for (default 60 s); a longer one fails at once, saying so. */
  maxRetryAfterMs?: number;
  /** Responses larger than this are refused (default 32 MiB). */
  maxBodyBytes?: number;
  /** Credentials sent as `Authorization: Basic` to the origins they belong to (see core/url-credentials.ts). */
  credentials?: CredentialStore;
  /** Cancels every request of this client (Ctrl-C): in flight, and before any further attempt. */
  signal?: AbortSignal;
}

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Overrides the client's `maxBodyBytes` for this request (e.g. a wheel download). */
  maxBodyBytes?: number;
  /** Cancels the request (Ctrl-C): no retry follows, it fails with `<codePrefix>.aborted`. */
  signal?: AbortSignal;
}

export interface HttpResponse {
  /** The final URL (after redirects). */
  url: string;
  status: number;
  statusText: string;
  headers: ResponseHeaders;
  /** The body bytes exactly as received (empty for HEAD). */
  body: Buffer;
  /** How many attempts it took. */
  attempts: number;
}

export interface RequestContext {
  /** Who is being asked, for messages: "registry ghcr.io", "package index 127.0.0.1:8080". */
  target: string;
  /** Error codes are `<codePrefix>.unreachable` (retries exhausted) and `<codePrefix>.protocol`. */
  codePrefix: string;
  /** What the user can do when the service stays unreachable. */
  hint?: string;
  data?: Record<string, unknown>;
}

interface AttemptFailure {
  description: string;
  status?: number;
  retryAfterMs?: number;
}

const DEFAULTS = {
  retries: 3,
  timeoutMs: 30_000,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
  maxBodyBytes: 32 * 1024 * 1024,
};

export class HttpClient {
  private readonly transport: Transport;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly policy: typeof DEFAULTS;
  private readonly credentials: CredentialStore;
  private readonly deadlineMs: number | undefined;
  private readonly monotonicNow: () => number;
  private readonly cancel: AbortSignal | undefined;

  constructor(options: HttpClientOptions = {}) {
    this.cancel = options.signal;
    this.transport = options.transport ?? fetchTransport(options.fetch ?? globalThis.fetch);
    this.sleep = options.sleep ?? ((ms) => delay(ms));
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? { now: () => new Date() };
    this.credentials = options.credentials ?? new CredentialStore();
    this.policy = {
      retries: options.retries ?? DEFAULTS.retries,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      baseDelayMs: options.baseDelayMs ?? DEFAULTS.baseDelayMs,
      maxDelayMs: options.maxDelayMs ?? DEFAULTS.maxDelayMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    };
    this.deadlineMs = options.deadlineMs;
    this.monotonicNow = options.monotonicNow ?? (() => performance.now());
    if (this.deadlineMs !== undefined && !(this.deadlineMs > 0)) {
      throw internalError('http.options', `deadlineMs must be positive, got ${this.deadlineMs}`);
    }
    if (!Number.isInteger(this.policy.retries) || this.policy.retries < 0) {
      throw internalError('http.options', `retries must be a non-negative integer, got ${this.policy.retries}`);
    }
  }

  /** Sends a request, retrying transient failures; see the module comment for the policy. */
  async request(request: HttpRequest, context: RequestContext): Promise<HttpResponse> {
    const method = request.method ?? 'GET';
    // Userinfo never travels in the URL: it would end up in log lines, errors and cache entries. It becomes an
    // Authorization header (unless the caller set one), as do credentials stored for the URL's origin.
    const { url: cleanUrl, credentials: inUrl } = splitUrlCredentials(request.url);
    let url: URL;
    try {
      url = new URL(cleanUrl);
    } catch (err) {
      throw internalError('http.url', `invalid URL ${JSON.stringify(cleanUrl)}`, { cause: err });
    }
    const credentials = inUrl ?? this.credentials.forUrl(url.href);
    const hasAuthorization = Object.keys(request.headers ?? {}).some((k) => k.toLowerCase() === 'authorization');
    if (credentials && !hasAuthorization) {
      request = { ...request, headers: { ...request.headers, Authorization: basicAuthorization(credentials) } };
    }
    const attempts = this.policy.retries + 1;
    const endsAt = this.deadlineMs === undefined ? Infinity : this.monotonicNow() + this.deadlineMs;
    let failure: AttemptFailure | undefined;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      this.throwIfCancelled(method, url, context);
      const budget = Math.min(this.policy.timeoutMs, Math.max(1, Math.ceil(endsAt - this.monotonicNow())));
      const outcome = await this.attempt(method, url, request, context, attempt, budget);
      if ('response' in outcome) return outcome.response;
      failure = outcome.failure;
      if (attempt === attempts) break;

      let wait = backoffDelay(attempt, this.policy.baseDelayMs, this.policy.maxDelayMs);
      if (failure.retryAfterMs !== undefined) {
        if (failure.retryAfterMs > this.policy.maxRetryAfterMs) {
          throw this.unreachable(method, url, context, attempt, {
            ...failure,
            description:
              `${failure.description}, and it asked to retry after ${formatSeconds(failure.retryAfterMs)}, ` +
              `longer than envseal waits (${formatSeconds(this.policy.maxRetryAfterMs)})`,
          });
        }
        wait = failure.retryAfterMs;
      }
      if (this.monotonicNow() + wait >= endsAt) {
        throw this.unreachable(
          method,
          url,
          context,
          attempt,
          {
            ...failure,
            description: `${failure.description}; no time left for another attempt within the deadline of ${formatSeconds(this.deadlineMs!)}`,
          },
          true,
        );
      }
      this.logger.warn(
        `${context.target}: ${method} ${url.href} failed (${failure.description}); ` +
          `retrying in ${formatSeconds(wait)} (attempt ${attempt + 1} of ${attempts})`,
      );
      await this.sleep(wait);
    }
    throw this.unreachable(method, url, context, attempts, failure ?? { description: 'no attempt was made' });
  }

  private throwIfCancelled(method: string, url: URL, context: RequestContext): void {
    if (!this.cancel?.aborted) return;
    throw externalError(`${context.codePrefix}.cancelled`, `${method} ${url.href} to ${context.target} was cancelled (interrupted)`);
  }

  private async attempt(
    method: string,
    url: URL,
    request: HttpRequest,
    context: RequestContext,
    attempt: number,
    timeoutMs: number,
  ): Promise<{ response: HttpResponse } | { failure: AttemptFailure }> {
    // One controller and one timer per attempt, both released when it ends: cheaper than AbortSignal.timeout
    // and AbortSignal.any, which a lock's hundreds of requests would otherwise each pay for.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    const cancels = [this.cancel, request.signal].filter((s): s is AbortSignal => s !== undefined);
    const onCancel = () => controller.abort(new DOMException('cancelled', 'AbortError'));
    for (const s of cancels) {
      if (s.aborted) onCancel();
      else {
        liftListenerLimit(s);
        s.addEventListener('abort', onCancel, { once: true });
      }
    }
    const limit = request.maxBodyBytes ?? this.policy.maxBodyBytes;
    let res: TransportResponse;
    try {
      res = await this.transport(url, {
        method,
        ...(request.headers ? { headers: request.headers } : {}),
        ...(request.body !== undefined ? { body: request.body } : {}),
        signal: controller.signal,
        redirect: 'follow',
        maxBodyBytes: limit,
      });
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw externalError(
          `${context.codePrefix}.protocol`,
          `${context.target} sent more than ${limit} bytes for ${method} ${url.href}; refusing to read it`,
          {
            data: context.data,
          },
        );
      }
      // Our own refusals are final; everything else thrown here is the transport failing.
      if (isEnvsealError(err)) throw err;
      this.throwIfCancelled(method, url, context);
      if (request.signal?.aborted) throw externalError(`${context.codePrefix}.aborted`, `${context.target}: ${method} ${url.href} was cancelled`);
      const description = timedOut ? `timed out after ${formatSeconds(timeoutMs)}` : describeNetworkError(err);
      this.logger.debug(`${method} ${url.href} → ${description}`);
      return { failure: { description } };
    } finally {
      clearTimeout(timer);
      for (const s of cancels) s.removeEventListener('abort', onCancel);
    }
    const body = res.body;
    this.logger.debug(`${method} ${url.href} → ${res.status}`);
    if (!isRetryableStatus(res.status)) {
      return {
        response: { url: res.url || url.href, status: res.status, statusText: res.statusText, headers: res.headers, body, attempts: attempt },
      };
    }
    const failure: AttemptFailure = { description: describeStatus(res.status, res.statusText, body), status: res.status };
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), this.clock.now().getTime());
    if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
    return { failure };
  }

  private unreachable(method: string, url: URL, context: RequestContext, attempts: number, failure: AttemptFailure, outOfTime = false) {
    const hints: string[] = [];
    if (outOfTime || /timed out/.test(failure.description)) hints.push('a longer deadline may help: --timeout <seconds> or ENVSEAL_HTTP_TIMEOUT');
    if (failure.status === 429) hints.push(`${context.target} is limiting the request rate; wait a while and try again`);
    if (context.hint) hints.push(context.hint);
    return externalError(
      `${context.codePrefix}.unreachable`,
      `${context.target} is unreachable: ${method} ${url.href} failed ${attempts === 1 ? 'once' : `${attempts} times`}; ` +
        `last error: ${failure.description}`,
      {
        hint: hints.length ? hints.join('; ') : undefined,
        data: { ...context.data, url: url.href, attempts, ...(failure.status ? { status: failure.status } : {}) },
      },
    );
  }
}

/** A Fetch-standard function as a `Transport`: the body read into memory, within the limit. */
export function fetchTransport(fetchImpl: typeof fetch): Transport {
  return async (url, request) => {
    const res = await fetchImpl(url, {
      method: request.method,
      ...(request.headers ? { headers: request.headers } : {}),
      ...(request.body !== undefined ? { body: request.body } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.redirect ? { redirect: request.redirect } : {}),
    });
    const limit = request.maxBodyBytes ?? Number.POSITIVE_INFINITY;
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > limit) {
      await res.body?.cancel().catch(() => {});
      throw new BodyTooLargeError(limit);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        size += chunk.byteLength;
        if (size > limit) throw new BodyTooLargeError(limit);
        chunks.push(Buffer.from(chunk));
      }
    }
    return { url: res.url, status: res.status, statusText: res.statusText, headers: res.headers, body: Buffer.concat(chunks) };
  };
}

/** 408, 429 and 5xx are worth retrying; 501 (not implemented) and 505 (version) are not. */
export function isRetryableStatus(status: number): boolean {
  if (status === 408 || status === 429) return true;
  return status >= 500 && status <= 599 && status !== 501 && status !== 505;
}

/** Exponential backoff: base, 2·base, 4·base, … capped at `max`. Deterministic (no jitter): no hidden randomness. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns milliseconds from now, or
 * undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // All three HTTP-date forms (IMF-fixdate, RFC 850, asctime) start with a day name; Date.parse alone
  // would also take "-5" (the year -5).
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** True for hosts that never leave the machine: localhost, 127.0.0.0/8 and ::1 (with or without a port). */
export function isLoopbackHost(hostWithPort: string): boolean {
  let host = hostWithPort.toLowerCase();
  if (host.startsWith('[')) {
    host = host.slice(1, host.indexOf(']') >= 0 ? host.indexOf(']') : undefined);
  } else if (host.split(':').length === 2) {
    host = host.slice(0, host.indexOf(':'));
  }
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const octets = host.split('.');
  return octets.length === 4 && octets[0] === '127' && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255);
}

/** "HTTP 503 Service Unavailable: <start of the body>" */
export function describeStatus(status: number, statusText: string, body: Buffer): string {
  const text = body.subarray(0, 300).toString('utf8').replace(/\s+/g, ' ').trim();
  const printable = text.length > 0 && !/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text);
  return `HTTP ${status}${statusText ? ` ${statusText}` : ''}${printable ? `: ${text.slice(0, 200)}` : ''}`;
}

/**
 * undici's fetch rejects with `TypeError: fetch failed` and puts the real reason (ECONNREFUSED,
 * ENOTFOUND, a TLS error) in `cause`, sometimes as an AggregateError with an empty message.
 */
export function describeNetworkError(err: unknown): string {
  let current: unknown = err;
  for (let depth = 0; depth < 5; depth += 1) {
    if (current instanceof AggregateError && current.errors.length > 0) {
      current = current.errors[0];
      continue;
    }
    const cause = current instanceof Error ? current.cause : undefined;
    if (cause === undefined || cause === null) break;
    current = cause;
  }
  const text = describeError(current);
  if (text.trim().length > 0 && !/^\s*\(/.test(text)) return text;
  const code = (current as NodeJS.ErrnoException | undefined)?.code;
  return code ?? describeError(err);
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

const lifted = new WeakSet<AbortSignal>();
/**
 * One shared signal (the command's interrupt) has a listener per request in flight, removed when it ends; with
 * more than ten in flight Node would print a MaxListenersExceededWarning to the user for what is no leak.
 */
function liftListenerLimit(signal: AbortSignal): void {
  if (lifted.has(signal)) return;
  lifted.add(signal);
  setMaxListeners(0, signal);
}
