/**
 * The index HTTP cache (RFC 9111): freshness from max-age / Expires / Age, no-cache and no-store,
 * revalidation with ETag, damaged entries, the request flow through `fetchWithCache`, and the resolution memo
 * that rests on it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HttpCache,
  cacheKey,
  conditionalHeaders,
  currentAge,
  fetchWithCache,
  freshnessLifetime,
  isFresh,
  isStorable,
  parseCacheControl,
} from '../../src/http/http-cache.js';
import { HttpClient } from '../../src/http/http.js';
import { PythonIndexClient } from '../../src/ecosystems/python/index-client/python-index.js';

const T0 = Date.parse('2024-05-01T12:00:00Z');

describe('cache rules', () => {
  it('parses Cache-Control directives', () => {
    const cc = parseCacheControl('max-age=600, public, no-cache="set-cookie", Immutable');
    assert.equal(cc.get('max-age'), '600');
    assert.equal(cc.get('public'), true);
    assert.equal(cc.get('no-cache'), 'set-cookie');
    assert.equal(cc.get('immutable'), true);
  });

  it('computes freshness from max-age, then Expires - Date, else zero', () => {
    assert.equal(freshnessLifetime({ 'cache-control': 'max-age=600' }), 600);
    assert.equal(freshnessLifetime({ expires: new Date(T0 + 60_000).toUTCString(), date: new Date(T0).toUTCString() }), 60);
    assert.equal(freshnessLifetime({ expires: '0' }), 0);
    assert.equal(freshnessLifetime({}), 0);
  });

  it('ages an entry by the Age header and the time it has been stored', () => {
    const entry = { headers: { 'cache-control': 'max-age=600', age: '100', date: new Date(T0).toUTCString() }, storedAt: T0 };
    assert.equal(currentAge(entry, T0 + 200_000), 300);
    assert.equal(isFresh(entry, T0 + 400_000), true);
    assert.equal(isFresh(entry, T0 + 500_001), false);
    assert.equal(isFresh({ headers: { 'cache-control': 'max-age=600, no-cache' }, storedAt: T0 }, T0), false);
  });

  it('stores only complete 200 answers that allow it', () => {
    assert.equal(isStorable(200, {}), true);
    assert.equal(isStorable(206, {}), false);
    assert.equal(isStorable(404, { 'cache-control': 'max-age=60' }), false);
    assert.equal(isStorable(200, { 'cache-control': 'no-store' }), false);
    assert.equal(isStorable(200, { vary: 'Accept, *' }), false);
  });

  it('builds validators and keys that depend on the negotiated headers, not on the fragment', () => {
    assert.deepEqual(conditionalHeaders({ headers: { etag: '"x"', 'last-modified': 'Wed, 01 May 2024 00:00:00 GMT' } }), {
      'If-None-Match': '"x"',
      'If-Modified-Since': 'Wed, 01 May 2024 00:00:00 GMT',
    });
    assert.equal(cacheKey('http://a/simple/x/#frag', { Accept: 'j' }), cacheKey('http://a/simple/x/', { accept: 'j' }));
    assert.notEqual(cacheKey('http://a/simple/x/', { Accept: 'j' }), cacheKey('http://a/simple/x/', { Accept: 'h' }));
  });
});

describe('HttpCache on disk and fetchWithCache', () => {
  it('serves fresh entries without a request, revalidates stale ones with ETag, and refetches damaged ones', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-cache-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    let now = T0;
    const clock = { now: () => new Date(now) };
    const cache = new HttpCache({ dir, clock });
    const seen: { url: string; headers: Record<string, string> }[] = [];
    let body = 'v1';
    const fakeFetch = (async (url: URL | string, init?: RequestInit) => {
      const headers = Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>));
      seen.push({ url: String(url), headers });
      if (headers['If-None-Match'] === `"${body}"`) return new Response(null, { status: 304, headers: { 'cache-control': 'max-age=60', etag: `"${body}"` } });
      return new Response(body, { status: 200, headers: { 'cache-control': 'max-age=60', etag: `"${body}"`, 'content-type': 'text/html' } });
    }) as typeof fetch;
    const http = new HttpClient({ fetch: fakeFetch, retries: 0 });
    const ctx = { target: 'test index', codePrefix: 'index' };
    const get = () =>
      fetchWithCache(http, cache, { url: 'http://127.0.0.1:1/simple/a/', headers: { Accept: 'text/html' }, varyOn: { Accept: 'text/html' } }, ctx, () => now);

    const first = await get();
    await cache.flush();
    assert.equal(first.from, 'network');
    assert.equal(first.response.body.toString(), 'v1');
    const second = await get();
    assert.equal(second.from, 'fresh');
    assert.equal(seen.length, 1, 'a fresh entry makes no request');

    now += 61_000;
    const third = await get();
    await cache.flush();
    assert.equal(third.from, 'revalidated');
    assert.equal(seen[1]!.headers['If-None-Match'], '"v1"');
    assert.equal(third.response.body.toString(), 'v1');
    assert.equal((await get()).from, 'fresh', 'a 304 makes the entry fresh again');

    now += 61_000;
    body = 'v2';
    const changed = await get();
    await cache.flush();
    assert.equal(changed.from, 'network');
    assert.equal(changed.response.body.toString(), 'v2');

    // Damage the stored body: the entry is ignored and fetched again.
    const [entryFile] = await readdir(join(dir, 'entries'));
    const stored = await readFile(join(dir, 'entries', entryFile!), 'utf8');
    await writeFile(join(dir, 'entries', entryFile!), stored.replace(/v2$/, 'v3'));
    const repaired = await get();
    assert.equal(repaired.from, 'network');
    assert.equal(repaired.response.body.toString(), 'v2');
  });

  it('does not store answers marked no-store or non-200 answers', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-cache-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const cache = new HttpCache({ dir, clock: { now: () => new Date(T0) } });
    let status = 200;
    const fakeFetch = (async () =>
      new Response('x', { status, headers: { 'cache-control': status === 200 ? 'no-store' : 'max-age=60' } })) as unknown as typeof fetch;
    const http = new HttpClient({ fetch: fakeFetch, retries: 0 });
    const ctx = { target: 'test index', codePrefix: 'index' };
    await fetchWithCache(http, cache, { url: 'http://127.0.0.1:1/a' }, ctx, () => T0);
    status = 404;
    const res = await fetchWithCache(http, cache, { url: 'http://127.0.0.1:1/b' }, ctx, () => T0);
    await cache.flush();
    assert.equal(res.response.status, 404);
    assert.deepEqual(await readdir(dir), []);
  });

  it('carries on without caching when the cache directory cannot be written', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-cache-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'file'), 'not a directory');
    const warnings: string[] = [];
    const logger = { info() {}, debug() {}, progress() {}, warn: (m: string) => warnings.push(m) };
    const cache = new HttpCache({ dir: join(dir, 'file'), clock: { now: () => new Date(T0) }, logger });
    await cache.putBlob('a', Buffer.from('x'));
    await cache.putBlob('b', Buffer.from('y'));
    await cache.flush();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /continuing without caching/);
  });

  it('writes queued entries once the current turn is done, private, without temp files, flush or not', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-cache-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const cache = new HttpCache({ dir: join(dir, 'c'), clock: { now: () => new Date(T0) } });
    const entry = { url: 'http://127.0.0.1:1/simple/a/', finalUrl: 'http://127.0.0.1:1/simple/a/', status: 200, headers: {}, storedAt: T0 };
    for (let i = 0; i < 50; i++) await cache.put(`k${i}`, { ...entry, body: Buffer.from(`body ${i}`) });
    await cache.putBlob('metadata-x', Buffer.from('Name: x\n'));
    await new Promise((resolve) => setImmediate(resolve));
    const entries = (await readdir(join(dir, 'c', 'entries'))).sort();
    assert.equal(entries.length, 50);
    assert.ok(
      entries.every((name) => /^k\d+$/.test(name)),
      'no temp file is left behind',
    );
    assert.equal((await cache.get('k7'))?.body.toString(), 'body 7');
    assert.equal((await cache.getBlob('metadata-x'))?.toString(), 'Name: x\n');
    for (const path of [join(dir, 'c'), join(dir, 'c', 'entries'), join(dir, 'c', 'blobs')]) assert.equal((await stat(path)).mode & 0o777, 0o700, path);
    assert.equal((await stat(join(dir, 'c', 'entries', 'k7'))).mode & 0o777, 0o600);
  });

  it('keeps derived blobs by name', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-cache-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const cache = new HttpCache({ dir, clock: { now: () => new Date(T0) } });
    assert.equal(await cache.getBlob('metadata-x'), undefined);
    await cache.putBlob('metadata-x', Buffer.from('Name: x\n'));
    await cache.flush();
    assert.equal((await cache.getBlob('metadata-x'))?.toString(), 'Name: x\n');
  });
});

describe('the resolution memo of PythonIndexClient', () => {
  const page = (version: string) =>
    JSON.stringify({
      meta: { 'api-version': '1.1' },
      name: 'demo',
      files: [{ filename: `demo-${version}-py3-none-any.whl`, url: `http://i/files/demo-${version}-py3-none-any.whl`, hashes: { sha256: 'ab' } }],
    });

  async function setUp(t: { after(fn: () => Promise<void>): void }) {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-memo-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const state = { now: T0, version: '1.0', requests: 0 };
    const fakeFetch = (async (url: URL | string) => {
      state.requests += 1;
      if (String(url).includes('/missing/')) return new Response('no', { status: 404 });
      return new Response(page(state.version), {
        status: 200,
        headers: { 'cache-control': 'max-age=600', 'content-type': 'application/vnd.pypi.simple.v1+json' },
      });
    }) as typeof fetch;
    const client = () => new PythonIndexClient({ cacheDir: dir, clock: { now: () => new Date(state.now) }, http: { fetch: fakeFetch, sleep: async () => {} } });
    return { state, client };
  }

  it('recalls a result while every answer it read is fresh and unchanged, and not after', async (t) => {
    const { state, client } = await setUp(t);
    const first = client();
    await first.getProject('http://i/simple', 'demo');
    await first.resolutionMemo!.remember('k', '["result"]');
    await first.flush();
    assert.equal(await client().resolutionMemo!.recall('k'), '["result"]');
    assert.equal(await client().resolutionMemo!.recall('other'), undefined, 'another request');
    state.now = T0 + 601_000;
    assert.equal(await client().resolutionMemo!.recall('k'), undefined, 'the page is stale: resolve again (revalidating it)');
    state.version = '2.0';
    const second = client();
    await second.getProject('http://i/simple', 'demo');
    await second.flush();
    assert.equal(await client().resolutionMemo!.recall('k'), undefined, 'the page changed');
  });

  it('remembers nothing when something was read that the HTTP cache does not hold', async (t) => {
    const { client } = await setUp(t);
    const c = client();
    await c.getProject('http://i/simple', 'demo');
    assert.equal(await c.getProject('http://i/simple', 'missing'), null);
    await c.resolutionMemo!.remember('k', '["result"]');
    await c.flush();
    assert.equal(await client().resolutionMemo!.recall('k'), undefined);
  });
});
