/** Offline bundles (issue 15): npm tarballs from package-lock.json, and the offline index's pages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isEnvsealError } from '../../src/core/errors.js';
import { listNpmTarballs, matchesIntegrity } from '../../src/app/bundle/npm-tarballs.js';
import { normalizeUrl, renderProjectPages, startOfflineIndex } from '../../src/app/bundle/offline-index.js';
import { sampleLock } from '../fixtures/lock/sample-lock.js';

const LOCKFILE = JSON.stringify({
  lockfileVersion: 3,
  packages: {
    '': { name: 'app', dependencies: { a: '1' } },
    'node_modules/a': { version: '1.0.0', resolved: 'https://registry.npmjs.org/a/-/a-1.0.0.tgz', integrity: 'sha512-AAA' },
    'node_modules/a/node_modules/b': { version: '2.0.0', resolved: 'https://registry.npmjs.org/b/-/b-2.0.0.tgz', integrity: 'sha512-BBB' },
    'node_modules/local': { resolved: 'packages/local', link: true },
  },
});

test('listNpmTarballs: every resolved http(s) package with its integrity, links and the root left out', () => {
  const list = listNpmTarballs(LOCKFILE, 'package-lock.json');
  assert.deepEqual(
    list.map((t) => [t.key, t.path, t.integrity]),
    [
      ['node_modules/a', 'npm/node_modules+a.tgz', 'sha512-AAA'],
      ['node_modules/a/node_modules/b', 'npm/node_modules+a+node_modules+b.tgz', 'sha512-BBB'],
    ],
  );
});

test('listNpmTarballs refuses a lockfile without packages, without integrity, or not JSON (exit 2)', () => {
  const refuses = (text: string, pattern: RegExp) =>
    assert.throws(
      () => listNpmTarballs(text, 'package-lock.json'),
      (e: unknown) => isEnvsealError(e) && e.exitCode === 2 && pattern.test(e.message),
    );
  refuses('{"lockfileVersion": 1, "dependencies": {}}', /has no "packages" map/);
  refuses(JSON.stringify({ packages: { 'node_modules/a': { resolved: 'https://r/a.tgz' } } }), /node_modules\/a has no "integrity"/);
  refuses('nope', /is not JSON/);
});

test('matchesIntegrity checks SRI sha512/sha1 and rejects other bytes or unknown algorithms', () => {
  const bytes = Buffer.from('tarball bytes');
  const sri = (alg: string) => `${alg}-${createHash(alg).update(bytes).digest('base64')}`;
  assert.equal(matchesIntegrity(bytes, sri('sha512')), true);
  assert.equal(matchesIntegrity(bytes, `sha1-xxx ${sri('sha1')}`), true);
  assert.equal(matchesIntegrity(Buffer.from('other'), sri('sha512')), false);
  assert.equal(matchesIntegrity(bytes, 'md5-abc'), false);
});

test('the offline index answers the lock pages and files through the proxy form, 404 for anything else', async () => {
  const lock = sampleLock();
  const pages = renderProjectPages(lock);
  const page = pages.get('http://127.0.0.1:5080/simple/seal-metrics');
  assert.ok(page);
  assert.match(
    page,
    /<a href="http:\/\/127\.0\.0\.1:5080\/files\/seal_metrics-1\.2\.0-py3-none-any\.whl#sha256=e{64}">seal_metrics-1\.2\.0-py3-none-any\.whl<\/a>/,
  );
  assert.equal(normalizeUrl('http://u:p@h:1/simple/x/#frag'), 'http://h:1/simple/x');

  const { writeFile, mkdtemp, rm } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'bundle15-idx-'));
  const file = join(dir, 'w.whl');
  await writeFile(file, 'WHEEL');
  const index = await startOfflineIndex(lock, [{ url: lock.python!.packages[1]!.file.url, path: file, size: 5 }]);
  try {
    const { request } = await import('node:http');
    const get = (url: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const proxy = new URL(index.proxyUrl);
        const req = request({ host: proxy.hostname, port: proxy.port, path: url, method: 'GET' }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        });
        req.on('error', reject);
        req.end();
      });
    const pageRes = await get('http://127.0.0.1:5080/simple/seal-metrics/');
    assert.equal(pageRes.status, 200);
    assert.equal(pageRes.body, page);
    const fileRes = await get(lock.python!.packages[1]!.file.url);
    assert.deepEqual(fileRes, { status: 200, body: 'WHEEL' });
    assert.equal((await get('http://deb.debian.org/debian/dists/bookworm/InRelease')).status, 404);
    assert.deepEqual(index.misses, ['GET http://deb.debian.org/debian/dists/bookworm/InRelease']);
  } finally {
    await index.close();
    await rm(dir, { recursive: true, force: true });
  }
});
