/**
 * createNodeTransport (http/node-http-fetch.ts) against a loopback server: content decoding, and the body limit
 * holding for the decoded body too, so a small compressed answer cannot expand in memory past it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
import zlib, { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { BodyTooLargeError } from '../../src/http/http.js';
import { createNodeTransport } from '../../src/http/node-http-fetch.js';

const PLAIN = Buffer.from('{"meta": {"api-version": "1.1"}, "files": []}\n'.repeat(200));
const ENCODERS: Record<string, (b: Buffer) => Buffer> = { gzip: (b) => gzipSync(b), deflate: (b) => deflateSync(b), br: (b) => brotliCompressSync(b) };

describe('createNodeTransport: content decoding within the body limit', () => {
  let server: Server;
  let base = '';
  before(async () => {
    server = createServer((req, res) => {
      const [, coding = 'gzip', kind = 'small'] = (req.url ?? '').split('/');
      const body = kind === 'bomb' ? Buffer.alloc(64 * 1024 * 1024) : PLAIN;
      const encoded = ENCODERS[coding]!(body);
      res.writeHead(200, { 'content-encoding': coding, 'content-length': encoded.length, 'content-type': 'application/json' }).end(encoded);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  for (const coding of Object.keys(ENCODERS)) {
    it(`${coding}: decodes the body and drops the encoding headers`, async () => {
      const transport = createNodeTransport();
      const res = await transport(new URL(`${base}/${coding}/small`), { method: 'GET', maxBodyBytes: PLAIN.length });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, PLAIN);
      assert.equal(res.headers.get('content-encoding'), null);
    });

    it(`${coding}: a body that decodes past the limit is refused as too large (64 MiB from a few KiB)`, async () => {
      const transport = createNodeTransport();
      await assert.rejects(transport(new URL(`${base}/${coding}/bomb`), { method: 'GET', maxBodyBytes: 1024 * 1024 }), (err: unknown) => {
        assert.ok(err instanceof BodyTooLargeError, String(err));
        assert.equal(err.limit, 1024 * 1024);
        return true;
      });
    });
  }
});

describe('createNodeTransport: the limit bounds the decoding itself', () => {
  it('zlib is asked for at most the limit (maxOutputLength), not for the whole expansion first', async () => {
    const server = createServer((_req, res) => {
      const encoded = gzipSync(Buffer.alloc(8 * 1024 * 1024));
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': encoded.length }).end(encoded);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const original = zlib.gunzipSync;
    const asked: (number | undefined)[] = [];
    zlib.gunzipSync = ((buf: Buffer, options?: zlib.ZlibOptions) => {
      asked.push(options?.maxOutputLength);
      return original(buf, options);
    }) as typeof zlib.gunzipSync;
    syncBuiltinESMExports();
    try {
      const transport = createNodeTransport();
      const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await assert.rejects(transport(url, { method: 'GET', maxBodyBytes: 65536 }), BodyTooLargeError);
      assert.deepEqual(asked, [65536], 'the compressed body (~8 KiB) is within the limit; its expansion is not');
    } finally {
      zlib.gunzipSync = original;
      syncBuiltinESMExports();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
