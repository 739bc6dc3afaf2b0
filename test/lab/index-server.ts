/**
 * A Python package index on loopback for tests, serving what PyPI serves, from memory or from a directory.
 *
 * Implemented:
 *  - PEP 503 simple repository API (HTML): `/simple/`, `/simple/<normalized>/`, anchors with `#sha256=`,
 *    `data-requires-python` (HTML-escaped), `data-yanked` (PEP 592), `data-core-metadata` (PEP 714) and its
 *    older name `data-dist-info-metadata` (PEP 658), `pypi:repository-version` meta (PEP 629).
 *  - PEP 691 JSON by content negotiation on `Accept` (q-values; 406 when nothing acceptable), with PEP 700
 *    `versions`, `size`, `upload-time`, and `meta.api-version` 1.1. Metadata is offered under `core-metadata`
 *    only: PEP 714 forbids the old JSON key `dist-info-metadata` because pip 22.3–23.1 crash on it (the
 *    lab image's pip 23.0.1 does); `legacyJsonMetadataKey` brings it back to test clients against old servers.
 *  - PEP 658 `<file>.metadata`; files with single-range HTTP Range requests (RFC 9110 §14).
 *  - PyPI behaviours clients meet: non-normalized names redirect (301) to the normalized URL, unknown projects
 *    are 404, project pages carry an ETag and `Cache-Control: max-age=600` and answer 304 to `If-None-Match`.
 *  - For tests: fault injection (status / connection reset / delay on matching paths), a request log.
 *
 * Standalone (what `.ci/lab-up` starts):
 *   node --import tsx test/lab/index-server.ts --dir <dir> [--port 5080] [--host 127.0.0.1] [--pid-file <file>]
 * serves every `*.whl` / `*.tar.gz` / `*.zip` in <dir>, grouped by project from the filenames; a wheel's
 * PEP 658 metadata is its own METADATA (or a `<file>.metadata` next to it); a `<file>.yanked` next to a file
 * yanks it, its content being the reason.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainModule } from './entry.js';
import { extractWheelMetadata, normalizeProjectName, parseCoreMetadata, parseDistFilename, sha256Hex } from './wheel.js';

export interface FileSpec {
  filename: string;
  bytes: Uint8Array;
  /**
   * PEP 658 metadata: a string is served as the `.metadata` file; `true` extracts it from the wheel (an error
   * if that fails); `false` offers none. Left out: wheels offer their own METADATA when it can be read,
   * sdists offer none (as PyPI does).
   */
  metadata?: string | boolean;
  /** `data-requires-python`; left out: the metadata's Requires-Python if any; null: none. */
  requiresPython?: string | null;
  /** PEP 592: true, or the reason. */
  yanked?: string | true;
  /** PEP 700 `upload-time`, e.g. '2024-01-02T03:04:05.000000Z'. */
  uploadTime?: string;
}

export interface StartIndexOptions {
  /** Project name (any spelling; served under its PEP 503 normalized name) → its files. */
  projects: Record<string, FileSpec[]>;
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  /** File URLs in pages: absolute like PyPI (default) or relative to the project page. */
  fileUrls?: 'absolute' | 'relative';
  /** Also emit the pre-PEP 714 JSON key `dist-info-metadata` (as servers did before mid-2023). */
  legacyJsonMetadataKey?: boolean;
  /** Representations offered (default both); ['html'] behaves like a pre-PEP 691 index. */
  formats?: PageFormat[];
}

export type PageFormat = 'json' | 'html';

export interface RequestLog {
  method: string;
  /** Path with query, as requested. */
  path: string;
  accept: string | undefined;
  /** The status sent; 0 while unanswered or when the connection was dropped (fault `reset`). */
  status: number;
  range?: string;
  ifNoneMatch?: string;
}

export interface Fault {
  /** Which request paths to hit (default: every request). */
  path?: RegExp;
  /** Answer with this status instead of the real answer. */
  status?: number;
  /** Drop the connection without an answer (a network error for the client). */
  reset?: boolean;
  /** Wait this long before answering (or failing). */
  delayMs?: number;
  /** How many matching requests to hit (default: all until cleared). */
  times?: number;
}

export interface LabIndex {
  /** The simple API root, e.g. http://127.0.0.1:43567/simple (no trailing slash, as pip's --index-url takes it). */
  url: string;
  origin: string;
  port: number;
  /** Every request answered so far, in order. */
  requests: RequestLog[];
  /** Installs a fault (replacing any previous one); null clears it. */
  setFault(fault: Fault | null): void;
  /** Replaces the served projects (a new release, a yank), e.g. to test caches and drift. */
  setProjects(projects: Record<string, FileSpec[]>): void;
  close(): Promise<void>;
}

/** One file as served, with everything the pages need precomputed. */
interface ServedFile {
  filename: string;
  bytes: Buffer;
  sha256: string;
  version: string;
  metadata: Buffer | undefined;
  metadataSha256: string | undefined;
  requiresPython: string | undefined;
  yanked: string | true | undefined;
  uploadTime: string | undefined;
}

interface ServedProject {
  /** The name as given (PEP 691 root lists it). */
  name: string;
  normalized: string;
  files: ServedFile[];
}

type Catalog = Map<string, ServedProject>;

interface RenderOptions {
  fileUrls: 'absolute' | 'relative';
  legacyJsonMetadataKey: boolean;
  formats: PageFormat[];
  headers: Record<string, string>;
}

const JSON_V1 = 'application/vnd.pypi.simple.v1+json';
const HTML_V1 = 'application/vnd.pypi.simple.v1+html';
const TEXT_HTML = 'text/html';
const API_VERSION = '1.1';
const PAGE_CACHE_CONTROL = 'max-age=600, public';

/** The files whose code a standalone server runs; their hash tells a stale server from a current one. */
export const SERVER_SOURCES = ['index-server.ts', 'wheel.ts', 'zip.ts', 'tar.ts', 'entry.ts'];
/** Response header of the standalone server carrying computeServerCodeStamp() of the code it runs. */
export const CODE_STAMP_HEADER = 'X-Envseal-Lab-Code';

/**
 * First 16 hex digits of the sha256 of SERVER_SOURCES concatenated in order; `.ci/lab-up` computes the same
 * with `cat … | sha256sum`, so it (and requireLabIndex) can tell when the running server is older code.
 */
export function computeServerCodeStamp(): string {
  const dir = dirname(fileURLToPath(import.meta.url));
  return sha256Hex(Buffer.concat(SERVER_SOURCES.map((f) => readFileSync(join(dir, f))))).slice(0, 16);
}

/** Starts an index serving `projects` from memory. */
export async function startIndex(options: StartIndexOptions): Promise<LabIndex> {
  let catalog = buildCatalog(options.projects);
  const render: RenderOptions = {
    fileUrls: options.fileUrls ?? 'absolute',
    legacyJsonMetadataKey: options.legacyJsonMetadataKey ?? false,
    formats: options.formats ?? ['json', 'html'],
    headers: {},
  };
  return listen(
    () => catalog,
    options.host ?? '127.0.0.1',
    options.port ?? 0,
    render,
    (p) => {
      catalog = buildCatalog(p);
    },
  );
}

/** Starts an index serving the distribution files in `dir` (re-read when the directory changes). */
export async function startDirectoryIndex(options: {
  dir: string;
  host?: string;
  port?: number;
  /** Sent with every response (the standalone server sends its code stamp). */
  headers?: Record<string, string>;
}): Promise<LabIndex> {
  const readCatalog = createDirectoryCatalog(options.dir);
  const render: RenderOptions = { fileUrls: 'absolute', legacyJsonMetadataKey: false, formats: ['json', 'html'], headers: options.headers ?? {} };
  return listen(readCatalog, options.host ?? '127.0.0.1', options.port ?? 0, render, () => {
    throw new Error('a directory index serves its directory; change the files instead');
  });
}

function buildCatalog(projects: Record<string, FileSpec[]>): Catalog {
  const catalog: Catalog = new Map();
  for (const [name, files] of Object.entries(projects)) {
    const normalized = normalizeProjectName(name);
    if (catalog.has(normalized)) throw new Error(`index: projects ${catalog.get(normalized)!.name} and ${name} normalize to the same name`);
    const seen = new Set<string>();
    const served = files.map((spec) => {
      if (seen.has(spec.filename)) throw new Error(`index: ${name} lists ${spec.filename} twice`);
      seen.add(spec.filename);
      return prepareFile(spec, normalized);
    });
    catalog.set(normalized, { name, normalized, files: served });
  }
  return catalog;
}

function prepareFile(spec: FileSpec, project: string): ServedFile {
  if (!spec.filename || spec.filename.includes('/')) throw new Error(`index: invalid filename ${JSON.stringify(spec.filename)}`);
  const parsed = parseDistFilename(spec.filename);
  if (parsed && parsed.project !== project) {
    throw new Error(`index: ${spec.filename} belongs to project ${parsed.project}, not ${project}`);
  }
  const bytes = Buffer.from(spec.bytes);
  let metadataText: string | undefined;
  if (typeof spec.metadata === 'string') metadataText = spec.metadata;
  else if (spec.metadata === true) metadataText = extractWheelMetadata(bytes);
  else if (spec.metadata === undefined && parsed?.kind === 'wheel') {
    try {
      metadataText = extractWheelMetadata(bytes);
    } catch {
      metadataText = undefined; // a deliberately broken wheel: offer no metadata, serve the bytes as given
    }
  }
  const metadata = metadataText === undefined ? undefined : Buffer.from(metadataText, 'utf8');
  const fromMetadata = metadataText === undefined ? undefined : parseCoreMetadata(metadataText).get('requires-python')?.[0];
  return {
    filename: spec.filename,
    bytes,
    sha256: sha256Hex(bytes),
    version: parsed?.version ?? '',
    metadata,
    metadataSha256: metadata ? sha256Hex(metadata) : undefined,
    requiresPython: spec.requiresPython === null ? undefined : (spec.requiresPython ?? fromMetadata),
    yanked: spec.yanked,
    uploadTime: spec.uploadTime,
  };
}

function createDirectoryCatalog(dir: string): () => Catalog {
  const cache = new Map<string, { key: string; file: ServedFile }>();
  let last: { key: string; catalog: Catalog } | undefined;
  return () => {
    const names = readdirSync(dir).sort();
    // Stat everything each time: cheap for a lab directory, and any change (even same-second) is seen.
    const stats = names.map((n) => {
      const st = statSync(join(dir, n));
      return `${n}:${st.size}:${st.mtimeMs}`;
    });
    const key = stats.join('|');
    if (last?.key === key) return last.catalog;
    const catalog: Catalog = new Map();
    for (const [i, name] of names.entries()) {
      const parsed = parseDistFilename(name);
      if (!parsed) continue;
      const fileKey = stats[i]!;
      let file = cache.get(name)?.key === fileKey ? cache.get(name)!.file : undefined;
      if (!file) {
        const sidecar = (suffix: string) => (names.includes(name + suffix) ? readFileSync(join(dir, name + suffix), 'utf8') : undefined);
        const yankReason = sidecar('.yanked');
        file = prepareFile(
          {
            filename: name,
            bytes: readFileSync(join(dir, name)),
            metadata: sidecar('.metadata'),
            ...(yankReason !== undefined ? { yanked: yankReason.trim() || true } : {}),
          },
          parsed.project,
        );
        cache.set(name, { key: fileKey, file });
      }
      const project = catalog.get(parsed.project) ?? { name: parsed.project, normalized: parsed.project, files: [] };
      project.files.push(file);
      catalog.set(parsed.project, project);
    }
    last = { key, catalog };
    return catalog;
  };
}

// ---------------------------------------------------------------------------------------------------------
// HTTP

async function listen(
  readCatalog: () => Catalog,
  host: string,
  port: number,
  render: RenderOptions,
  replaceProjects: (projects: Record<string, FileSpec[]>) => void,
): Promise<LabIndex> {
  const requests: RequestLog[] = [];
  let fault: (Fault & { remaining: number }) | null = null;
  let origin = '';

  const server: Server = createServer((req, res) => {
    const log: RequestLog = { method: req.method ?? 'GET', path: req.url ?? '/', accept: req.headers.accept, status: 0 };
    if (typeof req.headers.range === 'string') log.range = req.headers.range;
    if (typeof req.headers['if-none-match'] === 'string') log.ifNoneMatch = req.headers['if-none-match'];
    requests.push(log);
    for (const [name, value] of Object.entries(render.headers)) res.setHeader(name, value);
    res.on('finish', () => {
      log.status = res.statusCode;
    });

    const active = fault && (!fault.path || fault.path.test(log.path)) && fault.remaining > 0 ? fault : null;
    if (active) {
      active.remaining -= 1;
      if (active.remaining <= 0) fault = null;
    }
    const answer = () => {
      if (active?.reset) {
        req.socket.destroy();
        return;
      }
      if (active?.status !== undefined) {
        sendText(res, req, active.status, `injected fault: ${active.status}\n`);
        return;
      }
      try {
        route(req, res, readCatalog(), origin, render);
      } catch (err) {
        sendText(res, req, 500, `index server error: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    };
    if (active?.delayMs) setTimeout(answer, active.delayMs);
    else answer();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `http://${hostForUrl}:${address.port}`;

  return {
    url: `${origin}/simple`,
    origin,
    port: address.port,
    requests,
    setFault(next) {
      fault = next ? { ...next, remaining: next.times ?? Number.POSITIVE_INFINITY } : null;
    },
    setProjects: replaceProjects,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function route(req: IncomingMessage, res: ServerResponse, catalog: Catalog, origin: string, render: RenderOptions): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    sendText(res, req, 405, 'method not allowed\n');
    return;
  }
  const pathname = new URL(req.url ?? '/', 'http://index.invalid').pathname;
  let segments: string[];
  try {
    segments = pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    sendText(res, req, 400, 'bad percent-encoding in path\n');
    return;
  }

  if (segments[0] === 'simple') {
    if (segments.length === 1) return redirect(res, req, '/simple/');
    if (segments.length === 2 && segments[1] === '') return servePage(req, res, renderRoot(catalog), render.formats);
    const name = segments[1]!;
    const normalized = normalizeProjectName(name);
    const exact = segments.length === 3 && segments[2] === '';
    // PyPI answers a non-normalized name (or a missing trailing slash) with a redirect to the canonical URL.
    if (!exact || name !== normalized) {
      if (segments.length > 3 || (segments.length === 3 && segments[2] !== '')) return sendText(res, req, 404, 'not found\n');
      return redirect(res, req, `/simple/${encodeURIComponent(normalized)}/`);
    }
    const project = catalog.get(normalized);
    if (!project) return sendText(res, req, 404, `no project named ${normalized} on this index\n`);
    return servePage(req, res, renderProject(project, origin, render), render.formats);
  }

  if (segments[0] === 'files' && segments.length === 3) {
    const project = catalog.get(segments[1]!);
    const requested = segments[2]!;
    const isMetadata = requested.endsWith('.metadata');
    const file =
      project?.files.find((f) => f.filename === requested) ??
      (isMetadata ? project?.files.find((f) => `${f.filename}.metadata` === requested && f.metadata) : undefined);
    if (!file) return sendText(res, req, 404, 'no such file\n');
    const body = file.filename === requested ? file.bytes : file.metadata!;
    return serveFile(req, res, body, file.filename === requested ? file.sha256 : file.metadataSha256!);
  }
  sendText(res, req, 404, 'not found\n');
}

interface Page {
  html: string;
  json: unknown;
}

function renderRoot(catalog: Catalog): Page {
  const projects = [...catalog.values()].sort((a, b) => (a.normalized < b.normalized ? -1 : a.normalized > b.normalized ? 1 : 0));
  const links = projects.map((p) => `    <a href="/simple/${encodeURIComponent(p.normalized)}/">${escapeHtml(p.name)}</a><br/>`);
  return {
    html: htmlDocument('Simple index', links),
    json: { meta: { 'api-version': API_VERSION }, projects: projects.map((p) => ({ name: p.name })) },
  };
}

function renderProject(project: ServedProject, origin: string, render: RenderOptions): Page {
  const urlOf = (f: ServedFile) => {
    const path = `files/${encodeURIComponent(project.normalized)}/${encodeURIComponent(f.filename)}`;
    return render.fileUrls === 'absolute' ? `${origin}/${path}` : `../../${path}`;
  };
  const links = project.files.map((f) => {
    const attrs = [`href="${escapeHtml(`${urlOf(f)}#sha256=${f.sha256}`)}"`];
    if (f.requiresPython !== undefined) attrs.push(`data-requires-python="${escapeHtml(f.requiresPython)}"`);
    if (f.metadataSha256) {
      attrs.push(`data-dist-info-metadata="sha256=${f.metadataSha256}"`, `data-core-metadata="sha256=${f.metadataSha256}"`);
    }
    if (f.yanked !== undefined) attrs.push(`data-yanked="${f.yanked === true ? '' : escapeHtml(f.yanked)}"`);
    return `    <a ${attrs.join(' ')}>${escapeHtml(f.filename)}</a><br/>`;
  });
  const versions: string[] = [];
  for (const f of project.files) if (f.version && !versions.includes(f.version)) versions.push(f.version);
  const files = project.files.map((f) => {
    const metadata = f.metadataSha256 ? { sha256: f.metadataSha256 } : false;
    return {
      filename: f.filename,
      url: urlOf(f),
      hashes: { sha256: f.sha256 },
      ...(f.requiresPython !== undefined ? { 'requires-python': f.requiresPython } : {}),
      'core-metadata': metadata,
      ...(render.legacyJsonMetadataKey ? { 'dist-info-metadata': metadata } : {}),
      yanked: f.yanked ?? false,
      size: f.bytes.length,
      ...(f.uploadTime !== undefined ? { 'upload-time': f.uploadTime } : {}),
    };
  });
  return {
    html: htmlDocument(`Links for ${project.normalized}`, links),
    json: { meta: { 'api-version': API_VERSION }, name: project.normalized, versions, files },
  };
}

function htmlDocument(title: string, body: string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    `    <meta name="pypi:repository-version" content="${API_VERSION}">`,
    `    <title>${escapeHtml(title)}</title>`,
    '  </head>',
    '  <body>',
    `    <h1>${escapeHtml(title)}</h1>`,
    ...body,
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}

/** Escapes text for HTML content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * PEP 691 content negotiation: the acceptable type with the highest q wins; on equal q the one the client
 * listed first. No Accept header means HTML (every pre-691 client). Wildcards get HTML when it is offered,
 * as PyPI does. Nothing acceptable → null (the caller answers 406).
 */
export function negotiateContentType(accept: string | undefined, formats: PageFormat[] = ['json', 'html']): { format: PageFormat; contentType: string } | null {
  const json = { format: 'json' as const, contentType: JSON_V1 };
  const htmlV1 = { format: 'html' as const, contentType: HTML_V1 };
  const textHtml = { format: 'html' as const, contentType: TEXT_HTML };
  // Media range → what this server can answer with, in its order of preference.
  const ranges: Record<string, { format: PageFormat; contentType: string }[]> = {
    [JSON_V1]: [json],
    'application/vnd.pypi.simple.latest+json': [json],
    [HTML_V1]: [htmlV1],
    'application/vnd.pypi.simple.latest+html': [htmlV1],
    [TEXT_HTML]: [textHtml],
    'text/*': [textHtml],
    'application/*': [json, htmlV1],
    '*/*': [textHtml, json],
  };
  const pick = (range: string) => ranges[range]?.find((o) => formats.includes(o.format));
  if (accept === undefined || accept.trim() === '') return pick('*/*') ?? null;
  let best: { q: number; offer: { format: PageFormat; contentType: string } } | null = null;
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.split(';').map((s) => s.trim());
    const offer = pick((rawType ?? '').toLowerCase());
    if (!offer) continue;
    let q = 1;
    for (const param of params) {
      const m = /^q\s*=\s*([0-9.]+)$/i.exec(param);
      if (m) q = Number(m[1]);
    }
    if (!Number.isFinite(q) || q <= 0) continue;
    if (!best || q > best.q) best = { q, offer };
  }
  return best?.offer ?? null;
}

function servePage(req: IncomingMessage, res: ServerResponse, page: Page, formats: PageFormat[]): void {
  const chosen = negotiateContentType(req.headers.accept, formats);
  res.setHeader('Vary', 'Accept');
  if (!chosen) {
    const offered = formats.flatMap((f) => (f === 'json' ? [JSON_V1] : [HTML_V1, TEXT_HTML]));
    sendText(res, req, 406, `not acceptable; this index offers ${offered.join(', ')}\n`);
    return;
  }
  const body = Buffer.from(chosen.format === 'json' ? `${JSON.stringify(page.json)}\n` : page.html, 'utf8');
  const etag = `"${sha256Hex(body).slice(0, 32)}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', PAGE_CACHE_CONTROL);
  if (matchesIfNoneMatch(req.headers['if-none-match'], etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', chosen.format === 'json' ? chosen.contentType : `${chosen.contentType}; charset=utf-8`);
  res.setHeader('Content-Length', body.length);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** RFC 9110 §13.1.2: `*` or a list of entity tags, compared weakly (W/ prefix ignored). */
function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

function serveFile(req: IncomingMessage, res: ServerResponse, body: Buffer, sha256: string): void {
  const etag = `"${sha256}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Cache-Control', 'max-age=365000000, immutable, public');
  if (matchesIfNoneMatch(req.headers['if-none-match'], etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  const ifRange = req.headers['if-range'];
  const range = typeof req.headers.range === 'string' && (ifRange === undefined || ifRange === etag) ? parseRange(req.headers.range, body.length) : undefined;
  if (range === 'unsatisfiable') {
    res.statusCode = 416;
    res.setHeader('Content-Range', `bytes */${body.length}`);
    res.end();
    return;
  }
  const [start, end] = range ?? [0, body.length - 1];
  const slice = body.subarray(start, end + 1);
  res.statusCode = range ? 206 : 200;
  if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${body.length}`);
  res.setHeader('Content-Length', slice.length);
  res.end(req.method === 'HEAD' ? undefined : slice);
}

/**
 * RFC 9110 §14.1.2 byte ranges, single range only (`a-b`, `a-`, `-n`); a multi-range or malformed header is
 * ignored (a full 200 is a valid answer), a range that starts past the end is unsatisfiable (416).
 */
export function parseRange(header: string, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return [start, end];
}

function redirect(res: ServerResponse, req: IncomingMessage, location: string): void {
  res.setHeader('Location', location);
  sendText(res, req, 301, `moved to ${location}\n`);
}

function sendText(res: ServerResponse, req: IncomingMessage, status: number, text: string): void {
  const body = Buffer.from(text, 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(req.method === 'HEAD' ? undefined : body);
}

// ---------------------------------------------------------------------------------------------------------
// Standalone entry point

function parseArgs(argv: string[]): { dir: string; port: number; host: string; pidFile: string } {
  const out = { dir: '', port: 5080, host: '127.0.0.1', pidFile: '' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if ((flag === '--dir' || flag === '--port' || flag === '--host' || flag === '--pid-file') && value !== undefined) {
      if (flag === '--dir') out.dir = value;
      else if (flag === '--port') out.port = Number(value);
      else if (flag === '--host') out.host = value;
      else out.pidFile = value;
      i++;
    } else {
      throw new Error(`unknown or incomplete argument ${flag}; usage: index-server.ts --dir <dir> [--port 5080] [--host 127.0.0.1] [--pid-file <file>]`);
    }
  }
  if (!out.dir) throw new Error('--dir <dir> is required');
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) throw new Error(`--port ${out.port} is not a port`);
  return out;
}

async function runStandalone(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  statSync(args.dir); // fail now, with the path, if the directory is missing
  const index = await startDirectoryIndex({ ...args, headers: { [CODE_STAMP_HEADER]: computeServerCodeStamp() } });
  // Written only once the port is bound, so whoever waits for the file knows the server is listening.
  if (args.pidFile) writeFileSync(args.pidFile, `${process.pid}\n`);
  console.log(`lab index serving ${args.dir} at ${index.url}/ (pid ${process.pid})`);
  let logged = 0;
  setInterval(() => {
    for (; logged < index.requests.length; logged++) {
      const r = index.requests[logged]!;
      console.log(`${r.status} ${r.method} ${r.path}${r.accept ? ` [${r.accept}]` : ''}`);
    }
    // The log is only for humans; keep memory flat in a long-lived server.
    if (logged > 10000) {
      index.requests.splice(0, logged);
      logged = 0;
    }
  }, 1000).unref();
  const stop = () => {
    void index.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (isMainModule(import.meta.url)) {
  runStandalone().catch((err: unknown) => {
    console.error(`index-server: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
