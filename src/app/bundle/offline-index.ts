/**
 * The offline index `envseal load --rebuild` serves the bundled wheels and sdists from: an HTTP forward proxy
 * on loopback that answers, for the lock's own URLs, what the real index would (PEP 503 project pages for
 * every index the lock names, and the files at the URLs the lock recorded) and refuses everything else.
 *
 * The build reaches it through the predefined HTTP_PROXY build arg. The generated Dockerfile never declares
 * that arg, so the classic builder keeps it out of the image config, the history and the cache key: the
 * Dockerfile text and the image are exactly those of a build against the real index (docs/bundles.md).
 */
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startLoopbackProxy } from './loopback-proxy.js';
import { splitUrlCredentials } from '../../core/url-credentials.js';
import type { Lock } from '../../lock/schema.js';
import { lockedPythonFiles } from '../../ecosystems/python/schema.js';

export interface OfflineIndex {
  /** `http://127.0.0.1:<port>`: the value for HTTP_PROXY. */
  proxyUrl: string;
  /** URLs asked for that the bundle does not have (for the error report when the build fails). */
  misses: string[];
  /** How many requests were answered from the bundle. */
  served(): number;
  close(): Promise<void>;
}

export interface ServedFile {
  /** The file's URL as the lock records it. */
  url: string;
  /** Where the bundled copy was extracted to. */
  path: string;
  size: number;
}

/** Strips credentials, the fragment and a trailing slash so that URLs compare as pip sends them. */
export function normalizeUrl(url: string): string {
  const parsed = new URL(splitUrlCredentials(url).url);
  parsed.hash = '';
  return parsed.href.replace(/\/+$/, '');
}

/** PEP 503 project pages (index URL/project → HTML) for the lock's Python packages. */
export function renderProjectPages(lock: Lock): Map<string, string> {
  const byPage = new Map<string, string[]>();
  for (const p of lockedPythonFiles(lock.python)) {
    const page = `${normalizeUrl(p.index)}/${p.name}`;
    const href = `${splitUrlCredentials(p.file.url).url.replace(/#.*$/, '')}#sha256=${p.file.sha256}`;
    const links = byPage.get(page) ?? [];
    links.push(`    <a href="${escapeHtml(href)}">${escapeHtml(p.file.filename)}</a><br/>`);
    byPage.set(page, links);
  }
  const pages = new Map<string, string>();
  for (const [page, links] of byPage) {
    pages.set(page, `<!DOCTYPE html>\n<html>\n  <body>\n${links.join('\n')}\n  </body>\n</html>\n`);
  }
  return pages;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export async function startOfflineIndex(lock: Lock, files: ServedFile[]): Promise<OfflineIndex> {
  const pages = renderProjectPages(lock);
  const byUrl = new Map(files.map((f) => [normalizeUrl(f.url), f]));
  const misses: string[] = [];
  let served = 0;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    let key: string;
    try {
      // A forward proxy receives the absolute URL (absolute-form); a direct request only the path.
      key = normalizeUrl(req.url?.startsWith('http') ? req.url : `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const page = pages.get(key);
    if (page !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
      served++;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page) });
      res.end(req.method === 'HEAD' ? undefined : page);
      return;
    }
    const file = byUrl.get(key);
    if (file && (req.method === 'GET' || req.method === 'HEAD')) {
      served++;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.size });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file.path).pipe(res);
      return;
    }
    misses.push(`${req.method ?? '?'} ${key}`);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not in the envseal bundle\n');
  };
  // CONNECT (https through the proxy) cannot be served from the bundle: it counts as a miss.
  const proxy = await startLoopbackProxy(handle, misses);
  return { proxyUrl: proxy.proxyUrl, misses, served: () => served, close: proxy.close };
}
