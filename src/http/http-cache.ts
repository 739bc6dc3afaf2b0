/**
 * A private HTTP cache on disk for index responses (RFC 9111, "HTTP Caching"), keyed by URL and the request
 * headers the response varies on (`Accept` for PEP 691 content negotiation).
 *
 * What it honours:
 *   - storing (§3): only complete 200 answers to GET, not when the request or response says `no-store`,
 *     not when the response `Vary`s on `*`;
 *   - freshness (§4.2): `Cache-Control: max-age`, else `Expires` − `Date`; the age includes the `Age` header
 *     and the time the entry has been stored; no heuristic freshness (an answer without explicit freshness is
 *     revalidated every time, which is safe for an index);
 *   - `no-cache` (§5.2.2.4): stored, but always revalidated;
 *   - validation (§4.3): `If-None-Match` from `ETag` and `If-Modified-Since` from `Last-Modified`; a 304
 *     refreshes the stored headers (§4.3.4) and the stored body is used.
 *
 * A fresh entry costs no round trip at all, which is what makes a warm re-lock fast. An entry is one file:
 * a JSON line with the headers and the body's length and sha256, then the body. It is written to a temp
 * file and renamed into place (atomic), but not fsynced: the cache is disposable, an entry damaged by a
 * crash fails its digest check and is fetched again, and an fsync per entry would put hundreds of disk
 * flushes on the critical path of a cold lock. Writes are queued and written out together once the current
 * turn of the event loop is done (`flush()` writes what is queued; a process that ends normally writes it
 * anyway). Entries are small, and are read and written synchronously: for hundreds of small files that is
 * several times cheaper than the promise-based file API (half the CPU time per written entry, and no thread
 * pool hand-offs competing with the resolver on a small machine). The clock is injected.
 */
import { createHash, hash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Clock, Logger } from '../core/ports.js';
import { silentLogger } from '../core/ports.js';
import { splitUrlCredentials } from '../core/url-credentials.js';
import type { HttpClient, HttpRequest, HttpResponse, RequestContext, ResponseHeaders } from './http.js';

/** Response headers worth keeping: what freshness, validation and content parsing need. */
const KEPT_HEADERS = ['cache-control', 'content-type', 'date', 'etag', 'expires', 'last-modified', 'age', 'vary'];

export interface CachedResponse {
  /** The URL asked for. */
  url: string;
  /** The final URL after redirects (relative links on a page resolve against it). */
  finalUrl: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** When the response was received (ms since the epoch, by the injected clock). */
  storedAt: number;
  /** sha256 (hex) of `body`, when the cache already computed it (it checks and stores it). */
  bodySha256?: string;
}

interface StoredMeta {
  version: 2;
  url: string;
  finalUrl: string;
  status: number;
  headers: Record<string, string>;
  storedAt: number;
  bodyLength: number;
  bodySha256: string;
}

export interface HttpCacheOptions {
  /**
   * The directory entries live in (created on first write). Private: the directories are made 0700 and the
   * files 0600, since answers from an index that needs credentials are as private as the credentials.
   */
  dir: string;
  clock: Clock;
  logger?: Logger;
}

/**
 * The cache key: a digest of the method, the URL (without fragment and without userinfo) and the headers the
 * answer depends on. Userinfo is left out so that no key is a function of a password (a digest of a URL whose
 * only unknown is a short password can be brute-forced), and so that the same index with or without inline
 * credentials shares entries: the cache is private to the user (RFC 9111 §3.5 lets a private cache store
 * answers to authenticated requests).
 */
export function cacheKey(url: string, varyOn: Record<string, string> = {}): string {
  const u = new URL(splitUrlCredentials(url).url);
  u.hash = '';
  const headerPart = Object.entries(varyOn)
    .map(([k, v]) => `${k.toLowerCase()}:${v}`)
    .sort()
    .join('\n');
  return createHash('sha256').update(`GET ${u.href}\n${headerPart}`).digest('hex');
}

/** Cache-Control directives, lower-cased; values without quotes (RFC 9111 §5.2). */
export function parseCacheControl(value: string | undefined): Map<string, string | true> {
  const out = new Map<string, string | true>();
  if (!value) return out;
  for (const part of value.split(',')) {
    const m = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*(?:"([^"]*)"|([^\s,]*)))?\s*$/.exec(part);
    if (!m) continue;
    out.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? true);
  }
  return out;
}

function parseSeconds(value: string | true | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

function parseHttpDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** Freshness lifetime in seconds (§4.2.1), or 0 when the response gives none. */
export function freshnessLifetime(headers: Record<string, string>): number {
  const cc = parseCacheControl(headers['cache-control']);
  const maxAge = parseSeconds(cc.get('max-age'));
  if (maxAge !== undefined) return maxAge;
  const expires = headers.expires;
  if (expires !== undefined) {
    const exp = parseHttpDate(expires);
    const date = parseHttpDate(headers.date);
    // An invalid Expires (e.g. "0") means "already expired" (§5.3).
    if (exp === undefined) return 0;
    if (date !== undefined) return Math.max(0, (exp - date) / 1000);
  }
  return 0;
}

/** Current age in seconds (§4.2.3), from the stored time, `Date` and `Age`. */
export function currentAge(entry: Pick<CachedResponse, 'headers' | 'storedAt'>, nowMs: number): number {
  const date = parseHttpDate(entry.headers.date);
  const apparentAge = date === undefined ? 0 : Math.max(0, (entry.storedAt - date) / 1000);
  const ageValue = parseSeconds(entry.headers.age) ?? 0;
  const correctedInitialAge = Math.max(apparentAge, ageValue);
  const residentTime = Math.max(0, (nowMs - entry.storedAt) / 1000);
  return correctedInitialAge + residentTime;
}

/** Whether a stored response may be used without asking the server (§4.2, and `no-cache`). */
export function isFresh(entry: Pick<CachedResponse, 'headers' | 'storedAt'>, nowMs: number): boolean {
  const cc = parseCacheControl(entry.headers['cache-control']);
  if (cc.has('no-cache')) return false;
  return freshnessLifetime(entry.headers) > currentAge(entry, nowMs);
}

/** Whether a response may be stored at all (§3). */
export function isStorable(status: number, headers: Record<string, string>): boolean {
  if (status !== 200) return false;
  const cc = parseCacheControl(headers['cache-control']);
  if (cc.has('no-store')) return false;
  if ((headers.vary ?? '').split(',').some((v) => v.trim() === '*')) return false;
  return true;
}

/** Validators for a conditional request (§4.3.1). */
export function conditionalHeaders(entry: Pick<CachedResponse, 'headers'>): Record<string, string> {
  const out: Record<string, string> = {};
  if (entry.headers.etag) out['If-None-Match'] = entry.headers.etag;
  if (entry.headers['last-modified']) out['If-Modified-Since'] = entry.headers['last-modified'];
  return out;
}

/** The headers we keep, lower-cased. */
export function pickHeaders(headers: ResponseHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const v = headers.get(name);
    if (v !== null) out[name] = v;
  }
  return out;
}

export class HttpCache {
  private readonly dir: string;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(options: HttpCacheOptions) {
    this.dir = options.dir;
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
  }

  now(): number {
    return this.clock.now().getTime();
  }

  /** One flat directory: a lock touches a few hundred entries, and one directory means one mkdir. */
  private path(key: string): string {
    return join(this.dir, 'entries', key);
  }

  /** The stored entry, or undefined when there is none or it is damaged. */
  async get(key: string): Promise<CachedResponse | undefined> {
    const data = readOrUndefined(this.path(key));
    if (!data) return undefined;
    const newline = data.indexOf(10);
    let meta: StoredMeta;
    try {
      meta = JSON.parse(data.subarray(0, newline).toString('utf8')) as StoredMeta;
    } catch {
      return undefined;
    }
    const body = data.subarray(newline + 1);
    if (newline < 0 || meta.version !== 2 || body.length !== meta.bodyLength || hash('sha256', body) !== meta.bodySha256) {
      this.logger.debug(`http cache: the entry for ${meta?.url ?? key} is damaged; ignoring it`);
      return undefined;
    }
    return { url: meta.url, finalUrl: meta.finalUrl, status: meta.status, headers: meta.headers, body, storedAt: meta.storedAt, bodySha256: meta.bodySha256 };
  }

  /**
   * The sha256 of a stored body when the entry is still fresh (§4.2), without reading the body: what a memo
   * of results computed from the body checks. Undefined when there is no entry or it needs revalidation.
   */
  freshDigest(key: string): string | undefined {
    const data = readOrUndefined(this.path(key));
    if (!data) return undefined;
    const newline = data.indexOf(10);
    if (newline < 0) return undefined;
    try {
      const meta = JSON.parse(data.subarray(0, newline).toString('utf8')) as StoredMeta;
      if (meta.version !== 2 || data.length - newline - 1 !== meta.bodyLength) return undefined;
      return isFresh(meta, this.now()) ? meta.bodySha256 : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stores an entry (replacing any previous one atomically). */
  async put(key: string, entry: CachedResponse): Promise<void> {
    // Kept on the entry: callers that check or record the body's digest need not hash it again.
    entry.bodySha256 ??= hash('sha256', entry.body);
    const meta: StoredMeta = {
      version: 2,
      url: splitUrlCredentials(entry.url).url,
      finalUrl: splitUrlCredentials(entry.finalUrl).url,
      status: entry.status,
      headers: entry.headers,
      storedAt: entry.storedAt,
      bodyLength: entry.body.length,
      bodySha256: entry.bodySha256,
    };
    this.write(this.path(key), Buffer.concat([Buffer.from(`${JSON.stringify(meta)}\n`, 'utf8'), entry.body]));
  }

  private warnedWrite = false;
  private queue: { path: string; data: Uint8Array }[] = [];
  private drainScheduled: NodeJS.Immediate | undefined;
  /** Directories made (true) or that could not be made (false), so each is tried once. */
  private readonly madeDirs = new Map<string, boolean>();

  /** Queues a write for the next drain. A cache that cannot be written only costs speed: say so once. */
  private write(path: string, data: Uint8Array): void {
    this.queue.push({ path, data });
    this.drainScheduled ??= setImmediate(() => this.drain());
  }

  /** Writes every queued entry now. */
  private drain(): void {
    if (this.drainScheduled) clearImmediate(this.drainScheduled);
    this.drainScheduled = undefined;
    const batch = this.queue;
    this.queue = [];
    for (const { path, data } of batch) {
      try {
        this.makeDirs(dirname(path));
        writeReplacing(path, data);
      } catch (err) {
        if (!this.warnedWrite) {
          this.warnedWrite = true;
          this.logger.warn(`cannot write the index cache in ${this.dir} (${(err as Error).message}); continuing without caching`);
        }
      }
    }
  }

  private makeDirs(dir: string): void {
    const made = this.madeDirs.get(dir);
    if (made === false) throw new Error(`${dir} could not be created`);
    if (made) return;
    try {
      makePrivateDir(this.dir);
      makePrivateDir(dir);
      this.madeDirs.set(dir, true);
    } catch (err) {
      this.madeDirs.set(dir, false);
      throw err;
    }
  }

  /** Writes every write started so far. */
  async flush(): Promise<void> {
    this.drain();
  }

  /** Derived bytes kept under a name of our own (e.g. metadata read out of a wheel, named by its sha256). */
  async getBlob(name: string): Promise<Buffer | undefined> {
    return readOrUndefined(join(this.dir, 'blobs', name));
  }

  async putBlob(name: string, data: Uint8Array): Promise<void> {
    this.write(join(this.dir, 'blobs', name), data);
  }
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * mkdir -p with mode 0700, and 0700 on the directory itself when it already existed (made by an older envseal
 * with the umask's mode). Parents above it are the user's business (e.g. ~/.cache).
 */
function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Temp file + rename: readers see the old entry or the new one, never half of one (no fsync, see above). */
function writeReplacing(path: string, data: Uint8Array): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    // The mode applies when the file is created (the temp file always is); the umask can only narrow it.
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was created
    }
    throw err;
  }
}

export interface CachedFetchResult {
  response: CachedResponse;
  /** `fresh`: no request was made; `revalidated`: a 304 confirmed the stored body; `network`: a new answer. */
  from: 'fresh' | 'revalidated' | 'network';
}

/**
 * GET through the cache: a fresh entry answers without a request; a stale one is revalidated; anything
 * else goes to the network (with the client's retries). Non-200 answers are returned, not stored.
 */
export async function fetchWithCache(
  http: HttpClient,
  cache: HttpCache | undefined,
  request: HttpRequest & { varyOn?: Record<string, string> },
  context: RequestContext,
  now: () => number,
): Promise<CachedFetchResult> {
  const key = cacheKey(request.url, request.varyOn ?? {});
  const stored = cache ? await cache.get(key) : undefined;
  if (stored && isFresh(stored, now())) return { response: stored, from: 'fresh' };
  const headers = { ...(request.headers ?? {}), ...(stored ? conditionalHeaders(stored) : {}) };
  const res: HttpResponse = await http.request({ ...request, method: 'GET', headers }, context);
  const receivedAt = now();
  if (res.status === 304 && stored) {
    // §4.3.4: update the stored headers with those of the 304, and restart the entry's age.
    const refreshed: CachedResponse = { ...stored, headers: { ...stored.headers, ...pickHeaders(res.headers) }, storedAt: receivedAt };
    if (cache) await cache.put(key, refreshed);
    return { response: refreshed, from: 'revalidated' };
  }
  const response: CachedResponse = {
    url: request.url,
    finalUrl: res.url,
    status: res.status,
    headers: pickHeaders(res.headers),
    body: res.body,
    storedAt: receivedAt,
  };
  const requestCc = parseCacheControl(request.headers?.['Cache-Control'] ?? request.headers?.['cache-control']);
  if (cache && !requestCc.has('no-store') && isStorable(res.status, response.headers)) await cache.put(key, response);
  return { response, from: 'network' };
}
