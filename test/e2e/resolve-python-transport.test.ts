/**
 * The index client's transport (`createNodeFetch`, fetch over node:http) against a real server on
 * loopback: redirects, content decoding, range requests, bodiless answers, failures and aborts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { BodyTooLargeError, HttpClient } from '../../src/http/http.js';
import { createNodeFetch, createNodeTransport } from '../../src/http/node-http-fetch.js';

describe('createNodeFetch', () => {
  let server: Server;
  let base: string;
  const seen: { url: string; method: string; headers: IncomingHttpHeaders }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', method: req.method ?? '', headers: req.headers });
      switch (req.url) {
        case '/moved':
          res.writeHead(301, { Location: '/simple/demo/' }).end();
          return;
        case '/see-other':
          res.writeHead(303, { Location: '/simple/demo/' }).end();
          return;
        case '/simple/demo/':
          res.writeHead(200, { 'Content-Type': 'text/html' }).end('<a href="demo-1.0.tar.gz">demo</a>');
          return;
        case '/gzip':
          res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Type': 'application/json' }).end(gzipSync('{"files":[]}'));
          return;
        case '/file': {
          const data = Buffer.from('0123456789');
          if (req.headers.range === 'bytes=-4') {
            res.writeHead(206, { 'Content-Range': `bytes 6-9/${data.length}` }).end(data.subarray(6));
          } else {
            res.writeHead(200).end(data);
          }
          return;
        }
        case '/etag':
          res.writeHead(req.headers['if-none-match'] === '"v1"' ? 304 : 200, { ETag: '"v1"' }).end(req.headers['if-none-match'] ? undefined : 'body');
          return;
        case '/big':
          res.writeHead(200, { 'X-Twice': 'a' }).end(Buffer.alloc(64 * 1024, 1));
          return;
        case '/twice':
          res.setHeader('X-Twice', ['a', 'b']);
          res.writeHead(200).end('ok');
          return;
        case '/slow':
          setTimeout(() => res.writeHead(200).end('late'), 2000);
          return;
        default:
          res.writeHead(404).end('no');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('follows redirects and reports the final URL', async () => {
    const fetch = createNodeFetch();
    const res = await fetch(`${base}/moved`);
    assert.equal(res.status, 200);
    assert.equal(res.url, `${base}/simple/demo/`);
    assert.match(await res.text(), /demo-1\.0\.tar\.gz/);
    const other = await fetch(`${base}/see-other`, { method: 'POST', body: 'x' });
    assert.equal(other.status, 200);
    assert.equal(seen.at(-1)!.method, 'GET', '303 turns POST into GET');
  });

  it('asks for compressed answers and hands back the decoded body', async () => {
    const res = await createNodeFetch()(`${base}/gzip`);
    assert.equal(await res.text(), '{"files":[]}');
    assert.equal(res.headers.get('content-encoding'), null);
    assert.match(seen.at(-1)!.headers['accept-encoding'] ?? '', /gzip/);
  });

  it('sends range requests without content negotiation and returns the raw partial body', async () => {
    const res = await createNodeFetch()(`${base}/file`, { headers: { Range: 'bytes=-4' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-range'), 'bytes 6-9/10');
    assert.equal(await res.text(), '6789');
    assert.equal(seen.at(-1)!.headers['accept-encoding'], undefined);
  });

  it('returns 304 answers without a body', async () => {
    const res = await createNodeFetch()(`${base}/etag`, { headers: { 'If-None-Match': '"v1"' } });
    assert.equal(res.status, 304);
    assert.equal(res.body, null);
  });

  it('rejects with the system error when nothing listens, and on abort', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(createNodeFetch()(`http://127.0.0.1:${port}/`), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
    await assert.rejects(createNodeFetch()(`${base}/slow`, { signal: AbortSignal.timeout(100) }), (err: Error) => err.name === 'AbortError');
  });

  it('createNodeTransport: the body read, headers by name, the limit enforced while reading', async () => {
    const transport = createNodeTransport();
    const twice = await transport(new URL(`${base}/twice`), { method: 'GET' });
    assert.equal(twice.body.toString(), 'ok');
    assert.equal(twice.headers.get('X-TWICE'), 'a, b', 'several fields of one name are joined, as Fetch does');
    assert.equal(twice.headers.get('x-missing'), null);
    const moved = await transport(new URL(`${base}/moved`), { method: 'GET' });
    assert.equal(moved.url, `${base}/simple/demo/`);
    await assert.rejects(transport(new URL(`${base}/big`), { method: 'GET', maxBodyBytes: 1000 }), BodyTooLargeError);
    const client = new HttpClient({ transport, maxBodyBytes: 1000, sleep: async () => {} });
    await assert.rejects(
      client.request({ url: `${base}/big` }, { target: 'test server', codePrefix: 'test' }),
      (err: Error & { code?: string }) => err.code === 'test.protocol' && /sent more than 1000 bytes/.test(err.message),
    );
    const slow = new HttpClient({ transport, timeoutMs: 100, retries: 0 });
    await assert.rejects(slow.request({ url: `${base}/slow` }, { target: 'test server', codePrefix: 'test' }), /timed out after 100 ms/);
  });
});
