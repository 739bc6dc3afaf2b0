/**
 * Issue 14.1: credentials in URLs are split off before anything is written, kept in memory by origin (or by
 * host, from netrc), sent as Basic authorization only to their own origin, and masked in anything printed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CredentialStore, maskUrlCredentials, parseNetrc, splitUrlCredentials, urlOrigin } from '../../src/core/url-credentials.js';
import { maskUrlCredentials as maskFromRedact } from '../../src/record/redact.js';
import { HttpClient } from '../../src/http/http.js';
import { createNodeFetch } from '../../src/http/node-http-fetch.js';
import { cacheKey, fetchWithCache, HttpCache } from '../../src/http/http-cache.js';
import { computeInputHash, loadInputs } from '../../src/app/load-inputs.js';
import { renderDockerfile } from '../../src/dockerfile/render-dockerfile.js';
import { finalizeLock } from '../../src/lock/lock-file.js';
import { Output } from '../../src/cli/output.js';
import { externalError } from '../../src/core/errors.js';
import { sampleDraft } from '../fixtures/lock/sample-lock.js';

const SECRET = 'S3cr3t-pw';

describe('splitUrlCredentials', () => {
  const cases: [string, string, { username: string; password: string } | undefined][] = [
    ['https://user:S3cr3t-pw@idx.example/simple', 'https://idx.example/simple', { username: 'user', password: SECRET }],
    ['http://tok3n@127.0.0.1:5080/simple/', 'http://127.0.0.1:5080/simple/', { username: 'tok3n', password: '' }],
    ['https://u%40corp:p%3Aw%2F@h/x', 'https://h/x', { username: 'u@corp', password: 'p:w/' }],
    ['https://u:p@ss@h:8443/s', 'https://h:8443/s', { username: 'u', password: 'p@ss' }],
    ['https://pypi.org/simple', 'https://pypi.org/simple', undefined],
    ['https://example.com/path?email=a@b.c', 'https://example.com/path?email=a@b.c', undefined],
    ['not a url', 'not a url', undefined],
  ];
  for (const [input, url, credentials] of cases) {
    it(`splits ${input}`, () => {
      const got = splitUrlCredentials(input);
      assert.equal(got.url, url);
      assert.deepEqual(got.credentials, credentials);
    });
  }

  it('origin ignores userinfo and default ports', () => {
    assert.equal(urlOrigin('https://u:p@H.example:443/simple'), 'https://h.example');
    assert.equal(urlOrigin('http://127.0.0.1:5080/simple'), 'http://127.0.0.1:5080');
    assert.equal(urlOrigin('nope'), undefined);
  });

  it('record/redact re-exports the one masking function', () => {
    assert.equal(maskFromRedact, maskUrlCredentials);
  });
});

describe('CredentialStore and netrc', () => {
  it('applies URL credentials to their origin only (not another port or scheme)', () => {
    const store = new CredentialStore();
    assert.equal(store.addFromUrl(`http://user:${SECRET}@127.0.0.1:5080/simple`), 'http://127.0.0.1:5080/simple');
    assert.deepEqual(store.forUrl('http://127.0.0.1:5080/files/a.whl'), { username: 'user', password: SECRET });
    assert.equal(store.forUrl('http://127.0.0.1:5081/simple'), undefined);
    assert.equal(store.forUrl('https://127.0.0.1:5080/simple'), undefined);
  });

  it('netrc matches by host on any port; inline credentials win; `default` is ignored', () => {
    const store = new CredentialStore();
    store.addFromUrl('https://inline:one@a.example/simple');
    store.addNetrc('machine a.example login n password two\nmachine b.example login nb password three\ndefault login d password every\n');
    assert.equal(store.forUrl('https://a.example/simple')!.password, 'one');
    assert.equal(store.forUrl('https://b.example:8443/x')!.password, 'three');
    assert.equal(store.forUrl('https://c.example/x'), undefined, 'default would send a password to every host');
  });

  it('parses netrc: several entries per line, quoted tokens, comments and macdef bodies', () => {
    const text = [
      '# a comment with machine x password y',
      'machine one.example login u1 password p1 machine two.example',
      '  login u2',
      '  password "with space \\" and quote"',
      'macdef init',
      'machine evil.example password leaked',
      '',
      'machine nopass.example login only',
    ].join('\n');
    const parsed = parseNetrc(text);
    assert.deepEqual(parsed.get('one.example'), { username: 'u1', password: 'p1' });
    assert.deepEqual(parsed.get('two.example'), { username: 'u2', password: 'with space " and quote' });
    assert.equal(parsed.has('evil.example'), false, 'a macdef body is not entries');
    assert.equal(parsed.has('nopass.example'), false);
  });

  it('writes a netrc for the hosts asked for, which reads back the same', () => {
    const store = new CredentialStore();
    store.addFromUrl('http://u:p%20w%22q@127.0.0.1:5080/simple');
    store.addFromUrl('https://x:y@other.example/simple');
    const netrc = store.toNetrc(['http://127.0.0.1:5080/simple', 'https://pypi.org/simple']);
    assert.equal(netrc, 'machine 127.0.0.1 login u password "p w\\"q"\n');
    assert.deepEqual(parseNetrc(netrc).get('127.0.0.1'), { username: 'u', password: 'p w"q' });
    assert.equal(store.toNetrc(['https://pypi.org/simple']), '');
  });
});

async function listen(handler: RequestListener): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('HttpClient and node fetch with credentials', () => {
  it('sends userinfo as Basic authorization, never in the URL, and keeps it out of errors', async () => {
    const seen: { url: string; auth: string | undefined }[] = [];
    const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
      const headers = (init?.headers ?? {}) as Record<string, string>;
      seen.push({ url: String(input), auth: headers.Authorization });
      return new Response('down', { status: 503 });
    }) as typeof fetch;
    const logs: string[] = [];
    const logger = {
      info: (m: string) => logs.push(m),
      warn: (m: string) => logs.push(m),
      debug: (m: string) => logs.push(m),
      progress: (m: string) => logs.push(m),
    };
    const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {}, retries: 1, logger });
    const err = await client
      .request({ url: `http://user:${SECRET}@127.0.0.1:9/simple/x/` }, { target: 'package index', codePrefix: 'index' })
      .catch((e: Error) => e);
    assert.ok(err instanceof Error);
    assert.equal(seen.length, 2);
    for (const s of seen) {
      assert.equal(s.url, 'http://127.0.0.1:9/simple/x/');
      assert.equal(s.auth, `Basic ${Buffer.from(`user:${SECRET}`).toString('base64')}`);
    }
    const everything = [err.message, JSON.stringify((err as { data?: unknown }).data), ...logs].join('\n');
    assert.ok(!everything.includes(SECRET), everything);
  });

  it('uses the store for its origin only, and drops Authorization on a redirect to another origin', async () => {
    const seen: { at: string; auth: string | undefined }[] = [];
    const other = await listen((req, res) => {
      seen.push({ at: 'other', auth: req.headers.authorization });
      res.end('elsewhere');
    });
    const home = await listen((req, res) => {
      seen.push({ at: `home${req.url}`, auth: req.headers.authorization });
      if (req.url === '/away') res.writeHead(302, { Location: `${other.origin}/file` }).end();
      else if (req.url === '/here') res.writeHead(302, { Location: '/final' }).end();
      else res.end('ok');
    });
    try {
      const store = new CredentialStore();
      store.addFromUrl(`${home.origin.replace('http://', `http://u:${SECRET}@`)}/simple`);
      const client = new HttpClient({ fetch: createNodeFetch(), credentials: store, sleep: async () => {} });
      const ctx = { target: 'index', codePrefix: 'index' };
      await client.request({ url: `${home.origin}/here` }, ctx);
      await client.request({ url: `${home.origin}/away` }, ctx);
      await client.request({ url: `${other.origin}/direct` }, ctx);
      const basic = `Basic ${Buffer.from(`u:${SECRET}`).toString('base64')}`;
      assert.deepEqual(seen, [
        { at: 'home/here', auth: basic },
        { at: 'home/final', auth: basic },
        { at: 'home/away', auth: basic },
        { at: 'other', auth: undefined },
        { at: 'other', auth: undefined },
      ]);
    } finally {
      home.server.close();
      other.server.close();
    }
  });
});

describe('the HTTP cache with credentials', () => {
  it('keys and stores entries without userinfo, in 0600 files under 0700 directories', async () => {
    const root = await mkdtemp(join(tmpdir(), 'envseal-cred-cache-'));
    try {
      const dir = join(root, 'http');
      // A cache directory left by an older envseal with the umask's mode is tightened too.
      await mkdir(dir, { mode: 0o755 });
      await chmod(dir, 0o755);
      assert.equal(cacheKey(`https://u:${SECRET}@idx.example/simple/a/`), cacheKey('https://idx.example/simple/a/'));
      const cache = new HttpCache({ dir, clock: { now: () => new Date(0) } });
      const fetchImpl = (async () => new Response('page', { status: 200, headers: { 'cache-control': 'max-age=60' } })) as typeof fetch;
      const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {} });
      await fetchWithCache(client, cache, { url: `https://u:${SECRET}@idx.example/simple/a/` }, { target: 'i', codePrefix: 'index' }, () => 0);
      await cache.putBlob('meta-abc', Buffer.from('x'));
      await cache.flush();
      for (const d of [dir, join(dir, 'entries'), join(dir, 'blobs')]) assert.equal((await stat(d)).mode & 0o777, 0o700, d);
      const entries = await readdir(join(dir, 'entries'));
      assert.deepEqual(entries, [cacheKey('https://idx.example/simple/a/')]);
      for (const file of [join(dir, 'entries', entries[0]!), join(dir, 'blobs', 'meta-abc')]) {
        assert.equal((await stat(file)).mode & 0o777, 0o600, file);
      }
      const stored = await readFile(join(dir, 'entries', entries[0]!), 'utf8');
      assert.ok(!stored.includes(SECRET) && !stored.includes('u:'), stored);
      assert.match(stored, /"url":"https:\/\/idx\.example\/simple\/a\/"/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('inputs, lock and Dockerfile keep no userinfo', () => {
  const spec = (index: string, extra: string, torch: string) =>
    `version: 1\nname: demo\nbase: python:3.12\npython:\n  requirements: [requirements.txt]\n  index: ${index}\n  extraIndexes: ["${extra}"]\n  packageIndexes: { torch: "${torch}" }\n`;
  const load = (files: Record<string, string>) =>
    loadInputs({ dir: '/p', spec: '/p/envseal.yaml', lock: '/p/envseal.lock' }, async (p) => {
      const text = files[p.replace('/p/', '')];
      if (text === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      return text;
    });

  it('declared indexes are the URLs without userinfo; the input hash does not depend on credentials', async () => {
    const withCreds = await load({
      'envseal.yaml': spec(`https://u:${SECRET}@idx.example/simple`, `https://tok@extra.example/simple`, `https://t:${SECRET}@torch.example/whl`),
      'requirements.txt': `--extra-index-url https://r:${SECRET}@req.example/simple\nnumpy==2.0.0\n`,
    });
    const without = await load({
      'envseal.yaml': spec('https://idx.example/simple', 'https://extra.example/simple', 'https://torch.example/whl'),
      'requirements.txt': '--extra-index-url https://req.example/simple\nnumpy==2.0.0\n',
    });
    assert.ok(!JSON.stringify(withCreds.declared).includes(SECRET));
    assert.deepEqual(withCreds.declared.python!.indexes, [
      'https://idx.example/simple',
      'https://req.example/simple',
      'https://extra.example/simple',
      'https://torch.example/whl',
    ]);
    assert.deepEqual(withCreds.declared.python!.packageIndexes, { torch: 'https://torch.example/whl' });
    assert.equal(withCreds.inputHash, without.inputHash);
    assert.equal(computeInputHash(withCreds.declared), computeInputHash(without.declared));
    assert.equal(withCreds.credentials.forUrl('https://req.example/simple/numpy/')!.password, SECRET);
    assert.equal(withCreds.credentials.forUrl('https://extra.example/x')!.username, 'tok');
    assert.equal(withCreds.credentials.forUrl('https://torch.example/whl/torch/')!.username, 't');
    assert.equal(without.credentials.size, 0);
  });

  it('an apt snapshot URL with credentials is refused (exit 2), without printing them', async () => {
    const err = await load({
      'envseal.yaml': `version: 1\nname: demo\nbase: debian:12\napt:\n  packages: [curl]\n  snapshot: true\n  snapshotUrl: https://u:${SECRET}@snap.example/\n`,
    }).catch((e: Error) => e);
    assert.ok(err instanceof Error);
    assert.equal((err as { exitCode?: number }).exitCode, 2);
    assert.match(err.message, /apt\.snapshotUrl: https:\/\/<redacted>@snap\.example\/ carries credentials/);
    assert.ok(!err.message.includes(SECRET));
  });

  it('the Dockerfile of a lock that still holds userinfo (written by an older envseal) carries none', () => {
    const d = sampleDraft();
    d.python!.indexes = [`http://u:${SECRET}@127.0.0.1:5080/simple`, 'https://tok@extra.example/simple'];
    const text = renderDockerfile(finalizeLock(d), {
      template: '{{deps_sections}}\n{{dev_sections}}',
      seedHook: '',
      lockPath: 'envseal.lock',
      lockDigest: `sha256:${'7'.repeat(64)}`,
      toolVersion: '0.1.0',
      sbom: { path: 'envseal.sbom.cdx.json', digest: `sha256:${'5'.repeat(64)}` },
    });
    assert.ok(!text.includes(SECRET) && !text.includes('tok@') && !text.includes('u:'), text);
    assert.match(text, /--index-url http:\/\/127\.0\.0\.1:5080\/simple --extra-index-url https:\/\/extra\.example\/simple/);
    assert.match(text, /export NETRC=\/tmp\/envseal-netrc/, 'credentials come from a netrc at build time');
  });
});

describe('CLI output', () => {
  it('masks URL credentials in logs, errors and JSON', () => {
    let out = '';
    let err = '';
    const sink = (append: (s: string) => void) => new Writable({ write: (c, _e, cb) => (append(String(c)), cb()) });
    const output = new Output({
      json: true,
      quiet: false,
      verbose: true,
      color: false,
      interactive: false,
      stdout: sink((s) => (out += s)),
      stderr: sink((s) => (err += s)),
    });
    output.logger.warn(`GET https://u:${SECRET}@idx.example/simple failed`);
    output.logger.debug(`https://${SECRET}@idx.example/`);
    output.json({ index: `https://u:${SECRET}@idx.example/simple` });
    output.error(externalError('index.protocol', `index https://u:${SECRET}@idx.example answered 401`, { hint: `check https://u:${SECRET}@idx.example` }));
    assert.ok(!out.includes(SECRET) && !err.includes(SECRET), `${out}\n${err}`);
    assert.match(err, /https:\/\/<redacted>@idx\.example answered 401/);
  });
});
