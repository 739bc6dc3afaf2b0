/**
 * `PythonIndexClient` against real index servers on loopback: PEP 691 JSON, a PEP 503 HTML-only index,
 * PEP 658 metadata, wheel METADATA through HTTP range requests, sdist PKG-INFO, the HTTP cache (fresh
 * entries cost no request, stale ones are revalidated with ETag), retries, and `index.unreachable`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PythonIndexClient } from '../../src/ecosystems/python/index-client/python-index.js';
import { resolvePython } from '../../src/ecosystems/python/resolver/resolve-python.js';
import { isEnvsealError } from '../../src/core/errors.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { buildSdist, buildWheel } from '../lab/wheel.js';

const noWait = { sleep: async () => undefined, retries: 2 };

describe('PythonIndexClient on a PEP 691 index', () => {
  let index: LabIndex;
  let cacheDir: string;
  const withMeta = buildWheel({ name: 'Seal.Utils', version: '1.0.0', requiresDist: ['tinyconfig>=1.1'] });
  const big = buildWheel({
    name: 'seal-utils',
    version: '1.1.0',
    requiresDist: ['tinyconfig>=1.2'],
    files: { 'seal_utils/blob.bin': Buffer.alloc(600 * 1024, 1), 'seal_utils/__init__.py': '' },
  });
  const sdist = buildSdist({ name: 'seal-utils', version: '0.9.0', requiresDist: ['tinyconfig'] });

  before(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'envseal-index-cache-'));
    index = await startIndex({
      projects: {
        'seal-utils': [
          { filename: withMeta.filename, bytes: withMeta.bytes, uploadTime: '2024-01-01T00:00:00.000000Z' },
          { filename: big.filename, bytes: big.bytes, metadata: false, yanked: 'oops' },
          { filename: sdist.filename, bytes: sdist.bytes, requiresPython: '>=3.8' },
        ],
      },
    });
  });
  after(async () => {
    await index.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('reads the JSON page with hashes, sizes, upload times, yanked and metadata flags', async () => {
    const client = new PythonIndexClient({ http: noWait });
    const project = await client.getProject(index.url, 'seal-utils');
    assert.ok(project);
    assert.equal(index.requests.at(-1)!.accept?.startsWith('application/vnd.pypi.simple.v1+json'), true);
    const byName = Object.fromEntries(project.files.map((f) => [f.filename, f]));
    assert.equal(byName[withMeta.filename]!.hashes.sha256, withMeta.sha256);
    assert.equal(byName[withMeta.filename]!.size, withMeta.bytes.length);
    assert.equal(byName[withMeta.filename]!.uploadTime, '2024-01-01T00:00:00.000000Z');
    assert.ok(byName[withMeta.filename]!.coreMetadata);
    assert.equal(byName[big.filename]!.yanked, 'oops');
    assert.equal(byName[big.filename]!.coreMetadata, false);
    assert.equal(byName[sdist.filename]!.requiresPython, '>=3.8');
  });

  it('returns null for a project the index does not have (404)', async () => {
    const client = new PythonIndexClient({ http: noWait });
    assert.equal(await client.getProject(index.url, 'no-such-project'), null);
  });

  it('reads metadata from PEP 658 files, from wheels by range requests, and from sdists', async () => {
    const client = new PythonIndexClient({ http: noWait });
    const project = (await client.getProject(index.url, 'seal-utils'))!;
    const file = (name: string) => project.files.find((f) => f.filename === name)!;

    const start = index.requests.length;
    const pep658 = await client.getCoreMetadata(project, file(withMeta.filename));
    assert.equal(pep658.source, 'pep658');
    assert.equal(pep658.text, withMeta.metadata);
    assert.ok(index.requests.slice(start).every((r) => r.path.endsWith('.metadata')));

    const before658 = index.requests.length;
    const ranged = await client.getCoreMetadata(project, file(big.filename));
    assert.equal(ranged.source, 'wheel');
    assert.equal(ranged.text, big.metadata);
    const rangeRequests = index.requests.slice(before658);
    assert.ok(rangeRequests.length >= 1 && rangeRequests.length <= 2, `${rangeRequests.length} requests`);
    assert.ok(
      rangeRequests.every((r) => r.range !== undefined && r.status === 206),
      'only partial answers were needed',
    );

    const pkgInfo = await client.getCoreMetadata(project, file(sdist.filename));
    assert.equal(pkgInfo.source, 'sdist');
    assert.equal(pkgInfo.text, sdist.pkgInfo);
  });

  it('answers from the cache without requests while fresh, and revalidates with ETag when stale', async () => {
    let now = Date.parse('2024-05-01T00:00:00Z');
    const clock = { now: () => new Date(now) };
    const cold = new PythonIndexClient({ cacheDir, clock, http: noWait });
    const project = (await cold.getProject(index.url, 'seal-utils'))!;
    await cold.getCoreMetadata(
      project,
      project.files.find((f) => f.filename === big.filename)!,
    );
    await cold.flush();
    assert.ok(cold.stats.requests >= 2);

    const requestsBefore = index.requests.length;
    const warm = new PythonIndexClient({ cacheDir, clock, http: noWait });
    const again = (await warm.getProject(index.url, 'seal-utils'))!;
    await warm.getCoreMetadata(
      again,
      again.files.find((f) => f.filename === big.filename)!,
    );
    await warm.getCoreMetadata(
      again,
      again.files.find((f) => f.filename === withMeta.filename)!,
    );
    await warm.flush();
    // The first client never fetched this PEP 658 file, so exactly one request is allowed.
    assert.deepEqual(
      index.requests.slice(requestsBefore).map((r) => r.path),
      [`/files/seal-utils/${withMeta.filename}.metadata`],
    );
    assert.equal(warm.stats.requests, 1);

    now += 11 * 60_000; // past the page's max-age=600
    const stale = new PythonIndexClient({ cacheDir, clock, http: noWait });
    const revalidatedBefore = index.requests.length;
    await stale.getProject(index.url, 'seal-utils');
    const sent = index.requests.slice(revalidatedBefore);
    assert.equal(sent.length, 1);
    assert.ok(sent[0]!.ifNoneMatch, 'a conditional request');
    assert.equal(sent[0]!.status, 304);
    assert.equal(stale.stats.revalidated, 1);
  });

  it('retries 5xx answers and dropped connections, then succeeds', async () => {
    const client = new PythonIndexClient({ http: noWait });
    index.setFault({ path: /\/simple\/seal-utils\//, status: 503, times: 1 });
    assert.ok(await client.getProject(index.url, 'seal-utils'));
    const client2 = new PythonIndexClient({ http: noWait });
    index.setFault({ path: /\/simple\/seal-utils\//, reset: true, times: 1 });
    assert.ok(await client2.getProject(index.url, 'seal-utils'));
  });

  it('gives up with index.unreachable (exit 3) when the index keeps failing', async () => {
    const client = new PythonIndexClient({ http: noWait });
    index.setFault({ path: /\/simple\/seal-utils\//, status: 502 });
    try {
      await assert.rejects(client.getProject(index.url, 'seal-utils'), (err: unknown) => {
        assert.ok(isEnvsealError(err));
        assert.equal(err.code, 'index.unreachable');
        assert.equal(err.exitCode, 3);
        assert.match(err.message, /failed 3 times/);
        assert.match(err.message, /HTTP 502/);
        return true;
      });
    } finally {
      index.setFault(null);
    }
  });
});

describe('PythonIndexClient on a PEP 503 HTML-only index', () => {
  let server: Server;
  let url: string;
  const wheel = buildWheel({ name: 'tinyconfig', version: '1.1.0', requiresPython: '>=3.8' });

  before(async () => {
    // A static-file style index: HTML whatever the Accept header says, relative links, no PEP 658 files.
    server = createServer((req, res) => {
      if (req.url === '/simple/tinyconfig/') {
        res.setHeader('Content-Type', 'text/html');
        res.end(
          `<html><body><a href="../../packages/${wheel.filename}#sha256=${wheel.sha256}" data-requires-python="&gt;=3.8">${wheel.filename}</a></body></html>`,
        );
      } else if (req.url === `/packages/${wheel.filename}`) {
        // No range support: the whole file is the answer.
        res.setHeader('Content-Type', 'application/octet-stream');
        res.end(wheel.bytes);
      } else {
        res.statusCode = 404;
        res.end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('falls back to HTML and reads METADATA from the whole wheel when ranges are ignored', async () => {
    const client = new PythonIndexClient({ http: noWait });
    const project = (await client.getProject(url, 'tinyconfig'))!;
    assert.equal(project.files.length, 1);
    const file = project.files[0]!;
    assert.equal(file.url, `${url.replace('/simple', '')}/packages/${wheel.filename}`);
    assert.equal(file.requiresPython, '>=3.8');
    assert.equal(file.hashes.sha256, wheel.sha256);
    const meta = await client.getCoreMetadata(project, file);
    assert.equal(meta.text, wheel.metadata);
  });

  it('reports a closed port as index.unreachable after retrying', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const client = new PythonIndexClient({ http: noWait });
    await assert.rejects(client.getProject(`http://127.0.0.1:${port}/simple`, 'x'), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'index.unreachable');
      assert.equal(err.exitCode, 3);
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
  });
});

describe('resolvePython against real indexes', () => {
  const declared = (requirement: string) => [
    { requirement, hashes: [], source: 'requirements.txt', kind: 'requirement' as const, targets: ['deploy' as const, 'dev' as const] },
  ];

  it('python.not-found when every index answers 404, naming the indexes asked', async () => {
    const first = await startIndex({ projects: {} });
    const second = await startIndex({ projects: { other: [] } });
    try {
      const client = new PythonIndexClient({ http: noWait });
      await assert.rejects(
        resolvePython(
          { requirements: declared('ghost-project>=1'), indexes: [first.url, second.url], target: BOOKWORM_TARGET, options: {} },
          { index: client },
        ),
        (err: unknown) => {
          assert.ok(isEnvsealError(err));
          assert.equal(err.code, 'python.not-found');
          assert.equal(err.exitCode, 2);
          assert.ok(err.message.includes(first.url) && err.message.includes(second.url), err.message);
          return true;
        },
      );
      assert.ok(first.requests.some((r) => r.path === '/simple/ghost-project/' && r.status === 404));
      assert.ok(second.requests.some((r) => r.path === '/simple/ghost-project/' && r.status === 404));
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('index.unreachable (exit 3) after retries when the index is down', async () => {
    const index = await startIndex({ projects: {} });
    const url = index.url;
    await index.close();
    const client = new PythonIndexClient({ http: noWait });
    await assert.rejects(
      resolvePython({ requirements: declared('anything'), indexes: [url], target: BOOKWORM_TARGET, options: {} }, { index: client }),
      (err: unknown) => {
        assert.ok(isEnvsealError(err));
        assert.equal(err.code, 'index.unreachable');
        assert.equal(err.exitCode, 3);
        assert.ok(err.hint);
        return true;
      },
    );
  });
});
