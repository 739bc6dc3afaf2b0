/**
 * A `fetch` for `HttpClient` over node:http / node:https with keep-alive agents.
 *
 * Why not the global fetch: a lock asks an index for a few hundred small documents, and in a fresh
 * process the global fetch (undici) costs about 1 ms of CPU per request plus its start-up, several times
 * what node:http costs; on a cold lock that is most of the time not spent waiting for the network. This
 * implements the part of the Fetch standard `HttpClient` uses: method, headers, body, `signal`, redirects
 * (`follow`, at most 20, RFC 9110 §15.4: 303 and POST-after-301/302 become GET), content decoding (gzip,
 * deflate, br, as fetch does; not for range requests, whose byte offsets refer to the encoded bytes), and a
 * `Response` with the final URL. Network failures reject like fetch's do, with the system error (code
 * ECONNREFUSED, ECONNRESET, ...) as the reason.
 *
 * `createNodeTransport` is the same without the Fetch objects: `HttpClient` reads every body into memory
 * anyway, and in Node 20 the first `Response` or `Headers` loads undici (about 130 ms of CPU in a fresh
 * process, measured on a cold lock) and then costs a web stream per body. The transport answers with the
 * bytes and a small `get()`-only header map instead, and enforces the body limit while reading.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { kMaxLength } from 'node:buffer';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { BodyTooLargeError, type ResponseHeaders, type Transport, type TransportRequest, type TransportResponse } from './http.js';

export interface NodeFetchOptions {
  /** Sockets per host (default 16). */
  maxSockets?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;

interface RawAnswer {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Buffer;
}

class PairHeaders implements ResponseHeaders {
  constructor(readonly pairs: [string, string][]) {}
  get(name: string): string | null {
    const key = name.toLowerCase();
    const values = this.pairs.filter(([k]) => k === key).map(([, v]) => v);
    return values.length ? values.join(', ') : null;
  }
}

function listHeaderPairs(message: IncomingMessage): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < message.rawHeaders.length; i += 2) out.push([message.rawHeaders[i]!.toLowerCase(), message.rawHeaders[i + 1]!]);
  return out;
}

/**
 * The body without its content coding. The decoded size is bounded by `limit` while decoding (zlib's
 * maxOutputLength), so a small compressed answer cannot expand past the body limit in memory first.
 */
function decode(body: Buffer, encoding: string | undefined, limit: number): Buffer {
  const bounded = Number.isFinite(limit) && limit < kMaxLength ? { maxOutputLength: Math.max(1, limit) } : {};
  try {
    switch ((encoding ?? '').trim().toLowerCase()) {
      case '':
      case 'identity':
        return body;
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(body, bounded);
      case 'deflate':
        return inflateSync(body, bounded);
      case 'br':
        return brotliDecompressSync(body, bounded);
      default:
        throw new TypeError(`unsupported content-encoding ${encoding}`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new BodyTooLargeError(limit);
    throw err;
  }
}

function toHeaderRecord(headers: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  const entries: [string, string][] =
    headers instanceof Headers
      ? [...headers.entries()]
      : Array.isArray(headers)
        ? (headers as [string, string][])
        : Object.entries(headers as Record<string, string>);
  for (const [k, v] of entries) out[k.toLowerCase()] = String(v);
  return out;
}

/** A transport over node:http(s) keep-alive agents (see the module comment). */
export function createNodeTransport(options: NodeFetchOptions = {}): Transport {
  const maxSockets = options.maxSockets ?? 16;
  const agents = {
    'http:': new HttpAgent({ keepAlive: true, maxSockets }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets }),
  };

  const once = (url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, signal: AbortSignal | undefined, limit: number) =>
    new Promise<RawAnswer>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const agent = agents[url.protocol as 'http:' | 'https:'];
      if (!agent) {
        reject(new TypeError(`unsupported URL scheme ${url.protocol}`));
        return;
      }
      const req = send(url, { method, headers, agent, ...(signal ? { signal } : {}) }, (res) => {
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > limit) {
          req.destroy();
          reject(new BodyTooLargeError(limit));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > limit) {
            req.destroy();
            reject(new BodyTooLargeError(limit));
            return;
          }
          chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          const pairs = listHeaderPairs(res);
          const encoding = pairs.find(([k]) => k === 'content-encoding')?.[1];
          let decoded: Buffer;
          try {
            decoded = headers.range !== undefined ? Buffer.concat(chunks, size) : decode(Buffer.concat(chunks, size), encoding, limit);
          } catch (err) {
            reject(err);
            return;
          }
          if (decoded.length > limit) {
            reject(new BodyTooLargeError(limit));
            return;
          }
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            // The body is handed over decoded, so its encoding and length headers no longer describe it.
            headers: headers.range !== undefined ? pairs : pairs.filter(([k]) => k !== 'content-encoding' && k !== 'content-length'),
            body: decoded,
          });
        });
      });
      req.on('error', reject);
      req.end(body);
    });

  return async (input: URL, init: TransportRequest): Promise<TransportResponse> => {
    let url = input;
    let method = init.method.toUpperCase();
    const headers: Record<string, string> = {};
    // Not toHeaderRecord: its `instanceof Headers` would load undici, which this transport exists to avoid.
    for (const [k, v] of Object.entries(init.headers ?? {})) headers[k.toLowerCase()] = v;
    if (headers.range === undefined && headers['accept-encoding'] === undefined) headers['accept-encoding'] = 'gzip, deflate, br';
    let body = init.body === undefined ? undefined : Buffer.from(init.body);
    const limit = init.maxBodyBytes ?? Number.POSITIVE_INFINITY;
    for (let redirects = 0; ; redirects += 1) {
      const answer = await once(url, method, headers, body, init.signal, limit);
      const location = answer.headers.find(([k]) => k === 'location')?.[1];
      if (REDIRECTS.has(answer.status) && location !== undefined && init.redirect !== 'manual') {
        if (init.redirect === 'error') throw new TypeError(`redirected to ${location}, and redirects are not allowed`);
        if (redirects >= MAX_REDIRECTS) throw new TypeError(`more than ${MAX_REDIRECTS} redirects from ${input.href}`);
        if (answer.status === 303 || ((answer.status === 301 || answer.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        const next = new URL(location, url);
        // Fetch standard (HTTP-redirect fetch, step 13): credentials are not sent to another origin.
        if (next.origin !== url.origin) delete headers.authorization;
        url = next;
        continue;
      }
      const nullBody = answer.status === 204 || answer.status === 304 || method === 'HEAD';
      return {
        url: url.href,
        status: answer.status,
        statusText: answer.statusText,
        headers: new PairHeaders(answer.headers),
        body: nullBody ? Buffer.alloc(0) : answer.body,
      };
    }
  };
}

/** A fetch-compatible function backed by node:http(s) keep-alive agents. */
export function createNodeFetch(options: NodeFetchOptions = {}): typeof fetch {
  const transport = createNodeTransport(options);
  return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const answer = await transport(url, {
      method: init.method ?? 'GET',
      headers: toHeaderRecord(init.headers),
      ...(init.body !== undefined && init.body !== null ? { body: init.body as string | Uint8Array } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
      ...(init.redirect ? { redirect: init.redirect } : {}),
    });
    const nullBody = answer.status === 204 || answer.status === 304 || (init.method ?? 'GET').toUpperCase() === 'HEAD';
    const headers = (answer.headers as PairHeaders).pairs;
    const response = new Response(nullBody ? null : answer.body, { status: answer.status, statusText: answer.statusText, headers });
    // A constructed Response has no URL; fetch reports the final one (after redirects).
    Object.defineProperty(response, 'url', { value: answer.url });
    return response;
  }) as typeof fetch;
}
