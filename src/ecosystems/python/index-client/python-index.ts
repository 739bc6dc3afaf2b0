/**
 * `PythonIndexClient`: the `PackageIndex` port over HTTP, for PyPI-style "simple" repositories.
 *
 * Specs implemented (https://packaging.python.org/en/latest/specifications/simple-repository-api/):
 *   - PEP 691 JSON pages, asked for by content negotiation, and PEP 503 HTML pages when the index answers
 *     with HTML (every pre-691 index): anchors, `#<alg>=<hex>` fragments, `data-requires-python`
 *     (HTML-escaped), `data-yanked` (PEP 592), `data-core-metadata` / `data-dist-info-metadata`
 *     (PEP 658 / 714), `<base href>`; PEP 629 `api-version` (a major version other than 1 is refused);
 *     PEP 700 `size` and `upload-time`.
 *   - Core metadata: the PEP 658 `<file>.metadata` when offered (its sha256 checked); otherwise the wheel's
 *     `METADATA` read with HTTP range requests (the tail, then the one entry) or from the whole file when
 *     the server ignores ranges; an sdist's `PKG-INFO` from the whole file.
 *   - An HTTP cache on disk (`http-cache.ts`) honouring Cache-Control / Expires / ETag / Last-Modified, so a
 *     warm run makes no request it does not need; metadata read out of files is kept by the file's sha256.
 *   - Bounded concurrency: at most `concurrency` requests in flight; identical requests in one run are shared.
 *   - Transport: `HttpClient` (timeouts, retries with backoff) over node:http keep-alive connections
 *     (`createNodeTransport`), which costs a fraction of the global fetch's CPU per request and never loads undici.
 *
 * 404 on a project page means "this index does not have it" (null); other 4xx answers are errors that say
 * which index answered what; 5xx/429/network failures are retried by `HttpClient` and then reported as
 * `index.unreachable` (exit 3).
 */
import { createHash, hash } from 'node:crypto';
import type { BuildResultCache, Clock, CoreMetadataDocument, IndexFile, IndexProject, Logger, PackageIndex, ResolutionMemo } from '../../../core/ports.js';
import { silentLogger } from '../../../core/ports.js';
import { describeError, externalError, inputError } from '../../../core/errors.js';
import { cacheKey, fetchWithCache, HttpCache, isStorable, type CachedResponse } from '../../../http/http-cache.js';
import { HttpClient, describeStatus, type HttpClientOptions, type RequestContext } from '../../../http/http.js';
import { createNodeTransport } from '../../../http/node-http-fetch.js';
import type { CredentialStore } from '../../../core/url-credentials.js';
import { FileBuildCache } from './build-cache.js';
import { ArchiveError, readSdistPkgInfo, readWheelMetadata, type ByteSource } from './python-archive.js';

/** PEP 691: JSON preferred, HTML accepted (PEP 503 indexes answer text/html whatever we ask). */
export const SIMPLE_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';

export interface PythonIndexClientOptions {
  /** Directory of the HTTP cache; without it responses are only shared within this client's lifetime. */
  cacheDir?: string;
  logger?: Logger;
  /** Used for cache freshness (default: the system clock). */
  clock?: Clock;
  /** Most requests in flight at once (default 16). */
  concurrency?: number;
  /** Largest file downloaded whole to read its metadata when ranges are not available (default 64 MiB). */
  maxDownloadBytes?: number;
  /** Index credentials, sent to the origins they belong to (never part of a URL envseal writes). */
  credentials?: CredentialStore;
  /** Where lock-time sdist builds are cached (see build-cache.ts); none: every lock builds again. */
  buildCacheDir?: string;
  /** Passed to the `HttpClient` (retries, timeouts, sleep; without `fetch` or `transport`, `createNodeTransport`). */
  http?: Omit<HttpClientOptions, 'logger' | 'clock' | 'maxBodyBytes'>;
}

export interface IndexClientStats {
  /** Requests that went to the network (including 304 revalidations). */
  requests: number;
  /** Answers served from the cache without a request. */
  cacheHits: number;
  revalidated: number;
  /** Range requests made to read wheel metadata. */
  rangeRequests: number;
}

const systemClock: Clock = { now: () => new Date() };

/** A counting semaphore: at most `limit` tasks run at once, the rest wait in order. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

export class PythonIndexClient implements PackageIndex {
  readonly stats: IndexClientStats = { requests: 0, cacheHits: 0, revalidated: 0, rangeRequests: 0 };
  private readonly http: HttpClient;
  private readonly cache: HttpCache | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly limiter: Limiter;
  private readonly maxDownloadBytes: number;
  private readonly pages = new Map<string, Promise<IndexProject | null>>();
  private readonly metadata = new Map<string, Promise<CoreMetadataDocument>>();
  private readonly credentials: CredentialStore | undefined;
  readonly buildCache: BuildResultCache | undefined;
  readonly resolutionMemo: ResolutionMemo | undefined;
  /** Cache key → body sha256 of every answer read through the HTTP cache (what a remembered result depends on). */
  private readonly answersRead = new Map<string, string>();
  /** Something was read that the HTTP cache does not hold (a 404, a range, a download): nothing is remembered. */
  private readUncached = false;

  constructor(options: PythonIndexClientOptions = {}) {
    this.credentials = options.credentials;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.maxDownloadBytes = options.maxDownloadBytes ?? 64 * 1024 * 1024;
    const concurrency = Math.max(1, options.concurrency ?? 16);
    this.http = new HttpClient({
      ...options.http,
      ...(options.http?.fetch ? {} : { transport: options.http?.transport ?? createNodeTransport({ maxSockets: concurrency }) }),
      logger: this.logger,
      clock: this.clock,
      maxBodyBytes: this.maxDownloadBytes,
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
    this.cache = options.cacheDir ? new HttpCache({ dir: options.cacheDir, clock: this.clock, logger: this.logger }) : undefined;
    this.limiter = new Limiter(concurrency);
    this.buildCache = options.buildCacheDir ? new FileBuildCache(options.buildCacheDir, this.logger) : undefined;
    this.resolutionMemo = this.cache ? { recall: (key) => this.recall(key), remember: (key, value) => this.remember(key, value) } : undefined;
  }

  private async recall(key: string): Promise<string | undefined> {
    const blob = await this.cache?.getBlob(`resolution-${key}`);
    if (!blob) return undefined;
    try {
      const memo = JSON.parse(blob.toString('utf8')) as { answers: [string, string][]; value: string };
      // Every answer the result was computed from must still be fresh and the same bytes.
      const stale = memo.answers.find(([k, sha]) => this.cache!.freshDigest(k) !== sha);
      if (stale) return undefined;
      this.stats.cacheHits += memo.answers.length;
      return memo.value;
    } catch {
      return undefined;
    }
  }

  private async remember(key: string, value: string): Promise<void> {
    if (!this.cache || this.readUncached) return;
    const memo = { answers: [...this.answersRead].sort(), value };
    await this.cache.putBlob(`resolution-${key}`, Buffer.from(JSON.stringify(memo), 'utf8'));
  }

  netrcFor(urls: string[]): string {
    return this.credentials?.toNetrc(urls) ?? '';
  }

  getProject(index: string, project: string): Promise<IndexProject | null> {
    const url = buildProjectPageUrl(index, project);
    let page = this.pages.get(url);
    if (!page) {
      page = this.fetchProject(index, project, url);
      this.pages.set(url, page);
      // A failed fetch is not remembered: a later call (e.g. a retry by the user in the same process) asks again.
      page.catch(() => this.pages.delete(url));
    }
    return page;
  }

  /** Waits for cache writes still in progress (a process that exits on its own finishes them anyway). */
  async flush(): Promise<void> {
    await this.cache?.flush();
  }

  getCoreMetadata(project: IndexProject, file: IndexFile): Promise<CoreMetadataDocument> {
    let doc = this.metadata.get(file.url);
    if (!doc) {
      doc = this.fetchCoreMetadata(project, file);
      this.metadata.set(file.url, doc);
      doc.catch(() => this.metadata.delete(file.url));
    }
    return doc;
  }

  // -------------------------------------------------------------------------------------------------------

  private context(index: string, extra: Record<string, unknown> = {}): RequestContext {
    return {
      target: `package index ${describeIndex(index)}`,
      codePrefix: 'index',
      hint: `check that ${index} is the right index URL and that it is up; envseal retried with backoff`,
      data: { index, ...extra },
    };
  }

  private async get(url: string, accept: string | undefined, context: RequestContext): Promise<CachedResponse> {
    const headers: Record<string, string> = accept ? { Accept: accept } : {};
    const result = await this.limiter.run(() =>
      fetchWithCache(this.http, this.cache, { url, headers, varyOn: headers }, context, () => this.clock.now().getTime()),
    );
    if (result.from === 'fresh') this.stats.cacheHits += 1;
    else this.stats.requests += 1;
    if (this.cache && (result.from !== 'network' || isStorable(result.response.status, result.response.headers))) {
      this.answersRead.set(cacheKey(url, headers), result.response.bodySha256 ?? hash('sha256', result.response.body));
    } else {
      this.readUncached = true;
    }
    if (result.from === 'revalidated') this.stats.revalidated += 1;
    return result.response;
  }

  private async fetchProject(index: string, project: string, url: string): Promise<IndexProject | null> {
    const context = this.context(index, { project });
    const res = await this.get(url, SIMPLE_ACCEPT, context);
    if (res.status === 404) return null;
    if (res.status !== 200) {
      throw externalError('index.protocol', `package index ${describeIndex(index)} answered ${describeStatus(res.status, '', res.body)} for ${url}`, {
        hint:
          res.status === 401
            ? 'the index needs credentials envseal does not have (or refused the ones given): put them in the index URL ' +
              '(https://user:token@host/simple) or in netrc (NETRC or ~/.netrc); see docs/credentials.md'
            : res.status === 403
              ? 'the index refused access: check the credentials and that they may read this project'
              : `check the index URL ${index}`,
        data: { index, project, status: res.status },
      });
    }
    const contentType = (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const text = res.body.toString('utf8');
    const base = res.finalUrl || url;
    let files: IndexFile[];
    try {
      const isJson = contentType.endsWith('+json') || contentType === 'application/json' || (!contentType && text.trimStart().startsWith('{'));
      files = isJson ? parseJsonProjectPage(text, base) : parseHtmlProjectPage(text, base);
    } catch (err) {
      if (err instanceof IndexPageError) {
        throw externalError('index.protocol', `package index ${describeIndex(index)} sent an unreadable page for ${project}: ${err.message}`, {
          hint: 'the index does not follow PEP 503/691; check the index URL',
          data: { index, project, url },
        });
      }
      throw err;
    }
    this.logger.debug(`${url}: ${files.length} files (${contentType || 'unknown type'})`);
    return { index, name: project, files };
  }

  private async fetchCoreMetadata(project: IndexProject, file: IndexFile): Promise<CoreMetadataDocument> {
    const context = this.context(project.index, { project: project.name, file: file.filename });
    if (file.coreMetadata !== false) {
      const url = `${file.url}.metadata`;
      const res = await this.get(url, undefined, context);
      if (res.status === 200) {
        const expected = file.coreMetadata.sha256;
        if (expected !== undefined && (res.bodySha256 ?? hashSha256(res.body)) !== expected) {
          throw externalError(
            'index.integrity',
            `the PEP 658 metadata of ${file.filename} from ${describeIndex(project.index)} does not match the sha256 the index lists`,
            {
              hint: 'the index is inconsistent or the download was altered; try again later or use another index',
              data: { url, expected, actual: hashSha256(res.body) },
            },
          );
        }
        return { text: res.body.toString('utf8'), source: 'pep658' };
      }
      // An index that advertises metadata it cannot serve: read it from the file instead.
      this.logger.debug(`${url} answered ${res.status}; reading the metadata from the file itself`);
    }
    const fileSha = file.hashes.sha256;
    const blobName = fileSha ? `metadata-${fileSha}` : undefined;
    if (blobName && this.cache) {
      const cached = await this.cache.getBlob(blobName);
      if (cached) {
        this.stats.cacheHits += 1;
        return { text: cached.toString('utf8'), source: file.filename.endsWith('.whl') ? 'wheel' : 'sdist' };
      }
    }
    let doc: CoreMetadataDocument;
    try {
      if (file.filename.endsWith('.whl')) {
        doc = { text: await readWheelMetadata(await this.rangeSource(file, context), file.filename), source: 'wheel' };
      } else {
        const data = await this.download(file, context);
        doc = { text: await readSdistPkgInfo(data, file.filename), source: 'sdist' };
      }
    } catch (err) {
      if (err instanceof ArchiveError) {
        throw inputError('python.bad-metadata', `cannot read the metadata of ${file.filename} from ${describeIndex(project.index)}: ${err.message}`, {
          hint: `the file is damaged or not a valid ${file.filename.endsWith('.whl') ? 'wheel' : 'sdist'}; pin another version of ${project.name}`,
          data: { project: project.name, file: file.filename, url: file.url },
        });
      }
      throw err;
    }
    if (blobName && this.cache) await this.cache.putBlob(blobName, Buffer.from(doc.text, 'utf8'));
    return doc;
  }

  async getFile(project: IndexProject, file: IndexFile): Promise<Buffer> {
    return this.download(file, this.context(project.index, { project: project.name, file: file.filename }));
  }

  /** Downloads a whole file, checking its sha256 when the index gave one. */
  private async download(file: IndexFile, context: RequestContext): Promise<Buffer> {
    this.readUncached = true;
    const res = await this.limiter.run(() => this.http.request({ url: file.url }, context));
    this.stats.requests += 1;
    if (res.status !== 200) {
      throw externalError('index.protocol', `${context.target} answered ${describeStatus(res.status, res.statusText, res.body)} for ${file.url}`, {
        data: { url: file.url, status: res.status },
      });
    }
    checkFileDigest(file, res.body, context);
    return res.body;
  }

  /**
   * Random access to a remote file through range requests. The first request asks for the last 64 KiB
   * (a suffix range, RFC 9110 §14.1.2), which also tells the size; a server that ignores ranges answers with
   * the whole file, which is then read from memory.
   */
  private async rangeSource(file: IndexFile, context: RequestContext): Promise<ByteSource> {
    const tailSize = 64 * 1024;
    this.readUncached = true;
    const first = await this.limiter.run(() => this.http.request({ url: file.url, headers: { Range: `bytes=-${tailSize}` } }, context));
    this.stats.requests += 1;
    this.stats.rangeRequests += 1;
    if (first.status === 200) {
      checkFileDigest(file, first.body, context);
      return { size: first.body.length, read: async (s, e) => first.body.subarray(s, e) };
    }
    if (first.status !== 206) {
      throw externalError('index.protocol', `${context.target} answered ${describeStatus(first.status, first.statusText, first.body)} for ${file.url}`, {
        data: { url: file.url, status: first.status },
      });
    }
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(first.headers.get('content-range') ?? '');
    if (!range) throw externalError('index.protocol', `${context.target} sent a partial answer without a usable Content-Range for ${file.url}`);
    const size = Number(range[3]);
    const tailStart = Number(range[1]);
    const tail = first.body;
    return {
      size,
      read: async (start, end) => {
        if (start >= tailStart && end <= tailStart + tail.length) return tail.subarray(start - tailStart, end - tailStart);
        const res = await this.limiter.run(() => this.http.request({ url: file.url, headers: { Range: `bytes=${start}-${end - 1}` } }, context));
        this.stats.requests += 1;
        this.stats.rangeRequests += 1;
        if (res.status === 206) return res.body;
        if (res.status === 200) return res.body.subarray(start, end);
        throw externalError('index.protocol', `${context.target} answered ${describeStatus(res.status, res.statusText, res.body)} for a range of ${file.url}`, {
          data: { url: file.url, status: res.status },
        });
      },
    };
  }
}

function hashSha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function checkFileDigest(file: IndexFile, body: Buffer, context: RequestContext): void {
  const expected = file.hashes.sha256;
  if (expected !== undefined && hashSha256(body) !== expected) {
    throw externalError('index.integrity', `${file.filename} from ${context.target} does not match the sha256 the index lists`, {
      hint: 'the index is inconsistent or the download was altered; try again later',
      data: { url: file.url, expected, actual: hashSha256(body) },
    });
  }
}

/** `http://127.0.0.1:5080/simple` → `127.0.0.1:5080/simple`: short, and without credentials. */
export function describeIndex(index: string): string {
  try {
    const u = new URL(index);
    return `${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return index;
  }
}

/** PEP 503: `<index>/<normalized-name>/`, with exactly one slash between the parts. */
export function buildProjectPageUrl(index: string, project: string): string {
  return `${index.replace(/\/+$/, '')}/${encodeURIComponent(project)}/`;
}

// ---------------------------------------------------------------------------------------------------------
// Page parsing (pure)

export class IndexPageError extends Error {}

/** Splits `url#sha256=abc` into the URL without fragment and the hashes of the fragment. */
function splitHashFragment(url: URL): { url: string; hashes: Record<string, string> } {
  const hashes: Record<string, string> = {};
  const m = /^#([a-z0-9_]+)=([0-9a-fA-F]+)$/.exec(url.hash);
  if (m) hashes[m[1]!.toLowerCase()] = m[2]!.toLowerCase();
  const clean = new URL(url.href);
  clean.hash = '';
  return { url: clean.href, hashes };
}

/**
 * A file URL from a page, made absolute, without its fragment. Absolute URLs without a fragment (what
 * PyPI and most indexes write) are taken as they are: parsing thousands of them is measurable.
 */
function resolveFileUrl(href: string, base: string): { url: string; hashes: Record<string, string> } | null {
  if (/^https?:\/\/[^\s#]+$/i.test(href)) return { url: href, hashes: {} };
  try {
    return splitHashFragment(new URL(href, base));
  } catch {
    return null;
  }
}

function readFilename(url: string): string {
  const path = new URL(url).pathname;
  const last = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

function checkApiVersion(version: unknown): void {
  if (typeof version !== 'string') return;
  const major = Number(version.split('.')[0]);
  // PEP 629: a client must refuse a major version it does not know.
  if (major !== 1) throw new IndexPageError(`repository API version ${version} is not supported (envseal reads 1.x)`);
}

/** PEP 691 JSON project page → files (only the fields used; unknown fields ignored). */
export function parseJsonProjectPage(text: string, pageUrl: string): IndexFile[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new IndexPageError(`invalid JSON: ${describeError(err)}`);
  }
  if (typeof data !== 'object' || data === null) throw new IndexPageError('the JSON page is not an object');
  const page = data as { meta?: { 'api-version'?: unknown }; files?: unknown };
  checkApiVersion(page.meta?.['api-version']);
  if (!Array.isArray(page.files)) throw new IndexPageError('the JSON page has no "files" list');
  const out: IndexFile[] = [];
  for (const raw of page.files) {
    if (typeof raw !== 'object' || raw === null) continue;
    const f = raw as Record<string, unknown>;
    if (typeof f.filename !== 'string' || typeof f.url !== 'string') continue;
    const split = resolveFileUrl(f.url, pageUrl);
    if (!split) continue;
    const hashes: Record<string, string> = { ...split.hashes };
    if (typeof f.hashes === 'object' && f.hashes !== null) {
      for (const [alg, value] of Object.entries(f.hashes as Record<string, unknown>)) {
        if (typeof value === 'string') hashes[alg.toLowerCase()] = value.toLowerCase();
      }
    }
    const file: IndexFile = {
      filename: f.filename,
      url: split.url,
      hashes,
      yanked: f.yanked === true ? true : typeof f.yanked === 'string' ? f.yanked : false,
      coreMetadata: parseJsonMetadataFlag(f['core-metadata'] ?? f['dist-info-metadata']),
    };
    if (typeof f['requires-python'] === 'string' && f['requires-python'].trim() !== '') file.requiresPython = f['requires-python'];
    if (typeof f.size === 'number' && Number.isInteger(f.size) && f.size >= 0) file.size = f.size;
    if (typeof f['upload-time'] === 'string') file.uploadTime = f['upload-time'];
    out.push(file);
  }
  return out;
}

function parseJsonMetadataFlag(value: unknown): IndexFile['coreMetadata'] {
  if (value === true) return {};
  if (typeof value === 'object' && value !== null) {
    const sha = (value as Record<string, unknown>).sha256;
    return typeof sha === 'string' ? { sha256: sha.toLowerCase() } : {};
  }
  return false;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes HTML character references (named basics, decimal and hex). */
export function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

function parseAttributes(text: string): Map<string, string> {
  const attrs = new Map<string, string>();
  const re = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const m of text.matchAll(re)) {
    const name = m[1]!.toLowerCase();
    if (!attrs.has(name)) attrs.set(name, unescapeHtml(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attrs;
}

/** PEP 503 HTML project page → files. */
export function parseHtmlProjectPage(html: string, pageUrl: string): IndexFile[] {
  const meta = /<meta\s[^>]*name\s*=\s*["']pypi:repository-version["'][^>]*>/i.exec(html);
  if (meta) checkApiVersion(parseAttributes(meta[0].slice(5, -1)).get('content'));
  const baseTag = /<base\s([^>]*)>/i.exec(html);
  let base = pageUrl;
  if (baseTag) {
    const href = parseAttributes(baseTag[1]!).get('href');
    if (href) {
      try {
        base = new URL(href, pageUrl).href;
      } catch {
        // an unusable <base> is ignored, as browsers do
      }
    }
  }
  const out: IndexFile[] = [];
  for (const m of html.matchAll(/<a\s([^>]*)>/gi)) {
    const attrs = parseAttributes(m[1]!);
    const href = attrs.get('href');
    if (!href) continue;
    const split = resolveFileUrl(href, base);
    if (!split) continue;
    const metadataAttr = attrs.get('data-core-metadata') ?? attrs.get('data-dist-info-metadata');
    let coreMetadata: IndexFile['coreMetadata'] = false;
    if (metadataAttr !== undefined) {
      const hm = /^sha256=([0-9a-f]+)$/i.exec(metadataAttr.trim());
      // PEP 658: "true" or "<alg>=<hex>"; PEP 714: data-core-metadata wins over the old name.
      if (hm) coreMetadata = { sha256: hm[1]!.toLowerCase() };
      else if (metadataAttr.trim() === 'true' || /^[a-z0-9]+=[0-9a-f]+$/i.test(metadataAttr.trim())) coreMetadata = {};
    }
    const yanked = attrs.get('data-yanked');
    const file: IndexFile = {
      filename: readFilename(split.url),
      url: split.url,
      hashes: split.hashes,
      yanked: yanked === undefined ? false : yanked === '' ? true : yanked,
      coreMetadata,
    };
    const rp = attrs.get('data-requires-python');
    if (rp !== undefined && rp.trim() !== '') file.requiresPython = rp;
    out.push(file);
  }
  return out;
}
