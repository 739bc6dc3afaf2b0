import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { negotiateContentType, parseRange, startDirectoryIndex, startIndex, type LabIndex } from '../lab/index-server.js';
import { buildSdist, buildWheel, sha256Hex } from '../lab/wheel.js';

const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';

const alpha1 = buildWheel({ name: 'alpha', version: '1.0', requiresPython: '>=3.8' });
const alpha2 = buildWheel({ name: 'alpha', version: '2.0' });
const beta = buildWheel({ name: 'Beta_Pkg', version: '0.1', requiresDist: ['alpha<2; python_version >= "3.8"'] });
const betaSdist = buildSdist({ name: 'Beta_Pkg', version: '0.1' });

interface JsonFile {
  filename: string;
  url: string;
  hashes: { sha256: string };
  'requires-python'?: string;
  'core-metadata'?: { sha256: string } | false;
  'dist-info-metadata'?: unknown;
  yanked: boolean | string;
  size: number;
  'upload-time'?: string;
}
interface JsonProject {
  meta: { 'api-version': string };
  name: string;
  versions: string[];
  files: JsonFile[];
}

describe('lab index server (in memory)', () => {
  let index: LabIndex;
  before(async () => {
    index = await startIndex({
      projects: {
        alpha: [
          { ...alpha1, uploadTime: '2024-01-02T03:04:05.000000Z' },
          { ...alpha2, yanked: 'broken "build" <2.0>' },
        ],
        Beta_Pkg: [
          { ...beta },
          { ...betaSdist, bytes: betaSdist.bytes },
          { filename: 'beta_pkg-0.0.1-py3-none-any.whl', bytes: Buffer.from('not a zip'), yanked: true },
        ],
        gamma: [{ ...buildWheel({ name: 'gamma', version: '1', requiresPython: '<4' }), metadata: false, requiresPython: '>=3.9,<4' }],
      },
    });
  });
  after(() => index.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${index.origin}${path}`, { headers, redirect: 'manual' });

  it('serves the PEP 503 root and project pages as HTML by default', async () => {
    const root = await get('/simple/');
    assert.equal(root.status, 200);
    assert.equal(root.headers.get('content-type'), 'text/html; charset=utf-8');
    const html = await root.text();
    assert.match(html, /<meta name="pypi:repository-version" content="1.1">/);
    assert.match(html, /<a href="\/simple\/alpha\/">alpha<\/a>/);
    assert.match(html, /<a href="\/simple\/beta-pkg\/">Beta_Pkg<\/a>/);

    const page = await (await get('/simple/alpha/')).text();
    const anchors = page.match(/<a [^>]*>[^<]*<\/a>/g) ?? [];
    assert.equal(anchors.length, 2);
    assert.equal(
      anchors[0],
      `<a href="${index.origin}/files/alpha/alpha-1.0-py3-none-any.whl#sha256=${alpha1.sha256}" data-requires-python="&gt;=3.8" ` +
        `data-dist-info-metadata="sha256=${sha256Hex(alpha1.metadata)}" data-core-metadata="sha256=${sha256Hex(alpha1.metadata)}">alpha-1.0-py3-none-any.whl</a>`,
    );
    assert.match(anchors[1]!, /data-yanked="broken &quot;build&quot; &lt;2.0&gt;"/);
    assert.doesNotMatch(anchors[1]!, /data-requires-python/);
  });

  it('marks yanked-without-reason as data-yanked="" and offers no metadata for sdists or unreadable wheels', async () => {
    const page = await (await get('/simple/beta-pkg/')).text();
    const anchors = page.match(/<a [^>]*>[^<]*<\/a>/g) ?? [];
    assert.equal(anchors.length, 3);
    assert.match(anchors[0]!, /data-core-metadata="sha256=/);
    assert.doesNotMatch(anchors[1]!, /metadata/);
    assert.match(anchors[2]!, /data-yanked=""/);
    assert.doesNotMatch(anchors[2]!, /metadata/);
  });

  it('serves PEP 691 JSON when asked, with PEP 700 fields and PEP 714 core-metadata', async () => {
    const res = await get('/simple/alpha/', { Accept: JSON_TYPE });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), JSON_TYPE);
    assert.equal(res.headers.get('vary'), 'Accept');
    const body = (await res.json()) as JsonProject;
    assert.deepEqual(body.meta, { 'api-version': '1.1' });
    assert.equal(body.name, 'alpha');
    assert.deepEqual(body.versions, ['1.0', '2.0']);
    assert.deepEqual(body.files[0], {
      filename: alpha1.filename,
      url: `${index.origin}/files/alpha/${alpha1.filename}`,
      hashes: { sha256: alpha1.sha256 },
      'requires-python': '>=3.8',
      'core-metadata': { sha256: sha256Hex(alpha1.metadata) },
      yanked: false,
      size: alpha1.bytes.length,
      'upload-time': '2024-01-02T03:04:05.000000Z',
    });
    assert.equal(body.files[1]!.yanked, 'broken "build" <2.0>');
    // PEP 714: the old JSON key crashes pip 22.3-23.1, so it is not sent.
    assert.ok(!('dist-info-metadata' in body.files[0]!));

    const gamma = (await (await get('/simple/gamma/', { Accept: JSON_TYPE })).json()) as JsonProject;
    assert.equal(gamma.files[0]!['core-metadata'], false);
    assert.equal(gamma.files[0]!['requires-python'], '>=3.9,<4', 'an explicit requiresPython wins over METADATA');
  });

  it('lists projects in the JSON root', async () => {
    const body = (await (await get('/simple/', { Accept: JSON_TYPE })).json()) as { meta: unknown; projects: { name: string }[] };
    assert.deepEqual(body, { meta: { 'api-version': '1.1' }, projects: [{ name: 'alpha' }, { name: 'Beta_Pkg' }, { name: 'gamma' }] });
  });

  it('negotiates with q-values like pip does, and answers 406 when nothing fits', async () => {
    const pip = await get('/simple/alpha/', { Accept: PIP_ACCEPT });
    assert.equal(pip.headers.get('content-type'), JSON_TYPE);
    const htmlPreferred = await get('/simple/alpha/', { Accept: `${JSON_TYPE}; q=0.5, application/vnd.pypi.simple.v1+html` });
    assert.equal(htmlPreferred.headers.get('content-type'), 'application/vnd.pypi.simple.v1+html; charset=utf-8');
    const none = await get('/simple/alpha/', { Accept: 'application/xml' });
    assert.equal(none.status, 406);
    assert.match(await none.text(), /offers application\/vnd.pypi.simple.v1\+json/);
  });

  it('negotiateContentType follows q-values, client order on ties, wildcards and offered formats', () => {
    assert.deepEqual(negotiateContentType(undefined), { format: 'html', contentType: 'text/html' });
    assert.equal(negotiateContentType('text/html, application/vnd.pypi.simple.v1+json')?.format, 'html');
    assert.equal(negotiateContentType('application/vnd.pypi.simple.v1+json, text/html')?.format, 'json');
    assert.equal(negotiateContentType('text/html;q=0.2, application/vnd.pypi.simple.latest+json;q=0.9')?.contentType, JSON_TYPE);
    assert.equal(negotiateContentType('application/vnd.pypi.simple.v1+json;q=0, text/html;q=0.1')?.format, 'html');
    assert.equal(negotiateContentType('*/*')?.contentType, 'text/html');
    assert.equal(negotiateContentType('application/*')?.format, 'json');
    assert.equal(negotiateContentType(PIP_ACCEPT, ['html'])?.contentType, 'application/vnd.pypi.simple.v1+html');
    assert.equal(negotiateContentType('application/vnd.pypi.simple.v1+json', ['html']), null);
    assert.equal(negotiateContentType('*/*', ['json'])?.format, 'json');
    assert.equal(negotiateContentType('image/png'), null);
  });

  it('redirects non-normalized names and missing slashes like PyPI, and 404s unknown projects', async () => {
    for (const [path, location] of [
      ['/simple/Beta_Pkg/', '/simple/beta-pkg/'],
      ['/simple/BETA.pkg', '/simple/beta-pkg/'],
      ['/simple/alpha', '/simple/alpha/'],
      ['/simple', '/simple/'],
    ] as const) {
      const res = await get(path);
      assert.equal(res.status, 301, path);
      assert.equal(res.headers.get('location'), location, path);
    }
    const missing = await get('/simple/nope/');
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /no project named nope/);
    assert.equal((await get('/files/alpha/nope.whl')).status, 404);
    assert.equal((await get('/elsewhere')).status, 404);
    assert.equal((await fetch(`${index.origin}/simple/`, { method: 'POST' })).status, 405);
  });

  it('sends ETag and Cache-Control on pages and answers 304 to If-None-Match', async () => {
    const first = await get('/simple/alpha/', { Accept: JSON_TYPE });
    const etag = first.headers.get('etag');
    assert.match(etag ?? '', /^"[0-9a-f]{32}"$/);
    assert.equal(first.headers.get('cache-control'), 'max-age=600, public');
    const again = await get('/simple/alpha/', { Accept: JSON_TYPE, 'If-None-Match': etag! });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    const weak = await get('/simple/alpha/', { Accept: JSON_TYPE, 'If-None-Match': `"other", W/${etag}` });
    assert.equal(weak.status, 304);
    // The HTML representation is a different entity: its own ETag.
    const html = await get('/simple/alpha/', { 'If-None-Match': etag! });
    assert.equal(html.status, 200);
    assert.notEqual(html.headers.get('etag'), etag);
  });

  it('serves files and PEP 658 metadata with the advertised hashes', async () => {
    const file = await get(`/files/alpha/${alpha1.filename}`);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('accept-ranges'), 'bytes');
    assert.equal(sha256Hex(Buffer.from(await file.arrayBuffer())), alpha1.sha256);
    const metadata = await get(`/files/alpha/${alpha1.filename}.metadata`);
    assert.equal(metadata.status, 200);
    assert.equal(await metadata.text(), alpha1.metadata);
    assert.equal((await get(`/files/gamma/gamma-1-py3-none-any.whl.metadata`)).status, 404, 'metadata: false offers none');
    const head = await fetch(`${index.origin}/files/alpha/${alpha1.filename}`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(alpha1.bytes.length));
  });

  it('answers byte ranges with 206 and unsatisfiable ones with 416', async () => {
    const url = `/files/alpha/${alpha1.filename}`;
    const size = alpha1.bytes.length;
    const mid = await get(url, { Range: 'bytes=10-19' });
    assert.equal(mid.status, 206);
    assert.equal(mid.headers.get('content-range'), `bytes 10-19/${size}`);
    assert.deepEqual(Buffer.from(await mid.arrayBuffer()), alpha1.bytes.subarray(10, 20));
    const tail = await get(url, { Range: 'bytes=-22' });
    assert.equal(tail.status, 206);
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), alpha1.bytes.subarray(size - 22), 'the ZIP end record');
    const open = await get(url, { Range: `bytes=${size - 5}-` });
    assert.equal((await open.arrayBuffer()).byteLength, 5);
    const beyond = await get(url, { Range: `bytes=${size}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${size}`);
    const stale = await get(url, { Range: 'bytes=0-9', 'If-Range': '"not-the-etag"' });
    assert.equal(stale.status, 200, 'a stale If-Range gets the whole file');
  });

  it('parseRange handles the RFC 9110 forms', () => {
    assert.deepEqual(parseRange('bytes=0-0', 10), [0, 0]);
    assert.deepEqual(parseRange('bytes=5-100', 10), [5, 9]);
    assert.deepEqual(parseRange('bytes=-100', 10), [0, 9]);
    assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-1,3-4', 10), undefined);
    assert.equal(parseRange('bytes=5-2', 10), undefined);
    assert.equal(parseRange('items=0-1', 10), undefined);
  });

  it('injects faults a given number of times and logs every request', async () => {
    index.requests.length = 0;
    index.setFault({ path: /^\/simple\/alpha\/$/, status: 503, times: 2 });
    assert.equal((await get('/simple/alpha/')).status, 503);
    assert.equal((await get('/simple/beta-pkg/')).status, 200, 'other paths are not hit');
    assert.equal((await get('/simple/alpha/')).status, 503);
    assert.equal((await get('/simple/alpha/', { Accept: JSON_TYPE })).status, 200, 'the fault is used up');
    assert.deepEqual(
      index.requests.map((r) => [r.method, r.path, r.status]),
      [
        ['GET', '/simple/alpha/', 503],
        ['GET', '/simple/beta-pkg/', 200],
        ['GET', '/simple/alpha/', 503],
        ['GET', '/simple/alpha/', 200],
      ],
    );
    assert.equal(index.requests[3]!.accept, JSON_TYPE);
  });

  it('can drop connections and delay answers', async () => {
    index.setFault({ reset: true, times: 1 });
    await assert.rejects(get('/simple/alpha/'), /fetch failed/);
    assert.equal((await get('/simple/alpha/')).status, 200);

    index.setFault({ delayMs: 300 });
    const start = Date.now();
    assert.equal((await get('/simple/alpha/')).status, 200);
    assert.ok(Date.now() - start >= 280, 'the answer was delayed');
    index.setFault(null);
  });

  it('serves new projects after setProjects, with a new ETag', async () => {
    const before = await get('/simple/alpha/', { Accept: JSON_TYPE });
    const etag = before.headers.get('etag')!;
    const alpha3 = buildWheel({ name: 'alpha', version: '3.0' });
    index.setProjects({ alpha: [alpha1, alpha2, alpha3] });
    const after = await get('/simple/alpha/', { Accept: JSON_TYPE, 'If-None-Match': etag });
    assert.equal(after.status, 200);
    assert.deepEqual(((await after.json()) as JsonProject).versions, ['1.0', '2.0', '3.0']);
    assert.equal((await get('/simple/gamma/')).status, 404);
  });

  it('rejects inconsistent project definitions', async () => {
    await assert.rejects(startIndex({ projects: { a_b: [], 'A-B': [] } }), /normalize to the same name/);
    await assert.rejects(startIndex({ projects: { alpha: [alpha1, alpha1] } }), /twice/);
    await assert.rejects(startIndex({ projects: { beta: [alpha1] } }), /belongs to project alpha/);
    await assert.rejects(startIndex({ projects: { x: [{ filename: 'x-1-py3-none-any.whl', bytes: Buffer.from('no'), metadata: true }] } }), /not a ZIP/);
  });
});

describe('lab index server options', () => {
  it('relative file URLs, legacy JSON metadata key, HTML-only', async () => {
    const index = await startIndex({
      projects: { alpha: [alpha1] },
      fileUrls: 'relative',
      legacyJsonMetadataKey: true,
      formats: ['html'],
    });
    try {
      const html = await (await fetch(`${index.url}/alpha/`)).text();
      assert.match(html, new RegExp(`href="\\.\\./\\.\\./files/alpha/${alpha1.filename}#sha256=`));
      const json = await fetch(`${index.url}/alpha/`, { headers: { Accept: JSON_TYPE } });
      assert.equal(json.status, 406);
      const pip = await fetch(`${index.url}/alpha/`, { headers: { Accept: PIP_ACCEPT } });
      assert.equal(pip.headers.get('content-type'), 'application/vnd.pypi.simple.v1+html; charset=utf-8');
    } finally {
      await index.close();
    }
    const legacy = await startIndex({ projects: { alpha: [alpha1] }, legacyJsonMetadataKey: true });
    try {
      const body = (await (await fetch(`${legacy.url}/alpha/`, { headers: { Accept: JSON_TYPE } })).json()) as JsonProject;
      assert.deepEqual(body.files[0]!['dist-info-metadata'], { sha256: sha256Hex(alpha1.metadata) });
    } finally {
      await legacy.close();
    }
  });
});

describe('lab index server (directory)', () => {
  it('groups files by project, reads wheel METADATA, honours .yanked sidecars and sees new files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'envseal-index-'));
    const index = await startDirectoryIndex({ dir });
    try {
      writeFileSync(join(dir, alpha1.filename), alpha1.bytes);
      writeFileSync(join(dir, alpha2.filename), alpha2.bytes);
      writeFileSync(join(dir, `${alpha2.filename}.yanked`), 'bad release\n');
      writeFileSync(join(dir, betaSdist.filename), betaSdist.bytes);
      writeFileSync(join(dir, 'notes.txt'), 'ignored');
      const root = (await (await fetch(`${index.url}/`, { headers: { Accept: JSON_TYPE } })).json()) as { projects: { name: string }[] };
      assert.deepEqual(root.projects, [{ name: 'alpha' }, { name: 'beta-pkg' }]);
      const alpha = (await (await fetch(`${index.url}/alpha/`, { headers: { Accept: JSON_TYPE } })).json()) as JsonProject;
      assert.deepEqual(
        alpha.files.map((f) => [f.filename, f.yanked, f['requires-python'], f['core-metadata']]),
        [
          [alpha1.filename, false, '>=3.8', { sha256: sha256Hex(alpha1.metadata) }],
          [alpha2.filename, 'bad release', undefined, { sha256: sha256Hex(alpha2.metadata) }],
        ],
      );
      assert.equal(await (await fetch(`${index.origin}/files/alpha/${alpha1.filename}.metadata`)).text(), alpha1.metadata);

      writeFileSync(join(dir, beta.filename), beta.bytes);
      const betaPage = (await (await fetch(`${index.url}/beta-pkg/`, { headers: { Accept: JSON_TYPE } })).json()) as JsonProject;
      assert.deepEqual(betaPage.files.map((f) => f.filename).sort(), [beta.filename, betaSdist.filename].sort());
    } finally {
      await index.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
