/**
 * A Python index on loopback that requires HTTP Basic authentication (RFC 7617), as a private index does:
 * an in-memory `startIndex` behind a small reverse proxy that answers 401 with `WWW-Authenticate: Basic` to
 * every request without the right credentials. File URLs are relative to the page, so downloads go through
 * the proxy (and its check) too.
 *
 * A separate file, not an option of index-server.ts: the lab's standalone index runs index-server.ts and is
 * checked against its code stamp, which an edit there would change for every checkout.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startIndex, type FileSpec, type LabIndex } from './index-server.js';

export interface AuthIndexLog {
  method: string;
  path: string;
  /** `none`: no Authorization header; `wrong`: one with other credentials; `ok`: accepted. */
  auth: 'none' | 'wrong' | 'ok';
  /** The request's User-Agent (pip's starts with "pip/", envseal's Node client sends none). */
  userAgent: string | undefined;
}

export interface AuthIndex {
  /** The simple API root without credentials, e.g. http://127.0.0.1:43567/simple. */
  url: string;
  origin: string;
  port: number;
  requests: AuthIndexLog[];
  inner: LabIndex;
  close(): Promise<void>;
}

export async function startBasicAuthIndex(options: { projects: Record<string, FileSpec[]>; username: string; password: string }): Promise<AuthIndex> {
  const inner = await startIndex({ projects: options.projects, fileUrls: 'relative' });
  const innerUrl = new URL(inner.origin);
  const expected = `Basic ${Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64')}`;
  const requests: AuthIndexLog[] = [];
  let origin = '';

  const server: Server = createServer((req, res) => {
    const header = req.headers.authorization;
    const auth: AuthIndexLog['auth'] = header === undefined ? 'none' : header === expected ? 'ok' : 'wrong';
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', auth, userAgent: req.headers['user-agent'] });
    if (auth !== 'ok') {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="lab"', 'Content-Type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    const headers = { ...req.headers, host: innerUrl.host };
    delete headers.authorization;
    const upstream = httpRequest({ host: innerUrl.hostname, port: innerUrl.port, method: req.method, path: req.url, headers }, (answer) => {
      const out = { ...answer.headers };
      if (typeof out.location === 'string') out.location = out.location.replace(inner.origin, origin);
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`upstream failed: ${err.message}\n`);
    });
    req.pipe(upstream);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/simple`,
    origin,
    port,
    requests,
    inner,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await inner.close();
    },
  };
}
