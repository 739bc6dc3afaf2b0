/**
 * Parsing index pages: PEP 691 JSON and PEP 503 HTML (with the PEP 592 / 658 / 714 / 629 / 700 attributes),
 * as PyPI and simple static indexes write them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  IndexPageError,
  parseHtmlProjectPage,
  parseJsonProjectPage,
  buildProjectPageUrl,
  unescapeHtml,
} from '../../src/ecosystems/python/index-client/python-index.js';

const SHA = 'a'.repeat(64);
const META_SHA = 'b'.repeat(64);

describe('PEP 691 JSON project pages', () => {
  it('reads files with hashes, requires-python, yanked, metadata, size and upload time', () => {
    const page = JSON.stringify({
      meta: { 'api-version': '1.1' },
      name: 'demo',
      versions: ['1.0', '2.0'],
      files: [
        {
          filename: 'demo-1.0-py3-none-any.whl',
          url: '../../files/demo/demo-1.0-py3-none-any.whl',
          hashes: { sha256: SHA.toUpperCase(), md5: 'abc' },
          'requires-python': '>=3.8',
          'core-metadata': { sha256: META_SHA },
          yanked: false,
          size: 1234,
          'upload-time': '2024-01-02T03:04:05.000000Z',
        },
        {
          filename: 'demo-2.0.tar.gz',
          url: 'https://files.example/demo-2.0.tar.gz#sha256=' + SHA,
          hashes: {},
          yanked: 'broken build',
          'dist-info-metadata': true,
        },
        { filename: 'junk-without-url' },
      ],
    });
    const files = parseJsonProjectPage(page, 'http://127.0.0.1:9/simple/demo/');
    assert.equal(files.length, 2);
    assert.deepEqual(files[0], {
      filename: 'demo-1.0-py3-none-any.whl',
      url: 'http://127.0.0.1:9/files/demo/demo-1.0-py3-none-any.whl',
      hashes: { sha256: SHA, md5: 'abc' },
      requiresPython: '>=3.8',
      yanked: false,
      coreMetadata: { sha256: META_SHA },
      size: 1234,
      uploadTime: '2024-01-02T03:04:05.000000Z',
    });
    assert.equal(files[1]!.url, 'https://files.example/demo-2.0.tar.gz');
    assert.deepEqual(files[1]!.hashes, { sha256: SHA });
    assert.equal(files[1]!.yanked, 'broken build');
    assert.deepEqual(files[1]!.coreMetadata, {});
  });

  it('refuses an API major version it does not know (PEP 629) and pages that are not JSON objects', () => {
    assert.throws(() => parseJsonProjectPage(JSON.stringify({ meta: { 'api-version': '2.0' }, files: [] }), 'http://x/'), IndexPageError);
    assert.throws(() => parseJsonProjectPage('not json', 'http://x/'), /invalid JSON/);
    assert.throws(() => parseJsonProjectPage('{"meta": {}}', 'http://x/'), /no "files" list/);
  });
});

describe('PEP 503 HTML project pages', () => {
  it('reads anchors, fragments, escaped attributes and the metadata flags', () => {
    const html = `<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.0"><title>Links for demo</title></head>
<body>
<a href="/files/demo/demo-1.0-py3-none-any.whl#sha256=${SHA}" data-requires-python="&gt;=3.8,&lt;4" data-dist-info-metadata="sha256=${META_SHA}">demo-1.0-py3-none-any.whl</a><br/>
<a href='demo-1.1.tar.gz#sha256=${SHA}' data-yanked="">demo-1.1.tar.gz</a>
<A HREF="https://cdn.example/demo-2.0-cp311-cp311-manylinux_2_17_x86_64.whl" data-yanked="bad &amp; broken" data-core-metadata="true" data-dist-info-metadata="sha256=${SHA}">x</A>
<a name="anchor-without-href">nothing</a>
</body></html>`;
    const files = parseHtmlProjectPage(html, 'http://127.0.0.1:8000/simple/demo/');
    assert.equal(files.length, 3);
    assert.deepEqual(files[0], {
      filename: 'demo-1.0-py3-none-any.whl',
      url: 'http://127.0.0.1:8000/files/demo/demo-1.0-py3-none-any.whl',
      hashes: { sha256: SHA },
      requiresPython: '>=3.8,<4',
      yanked: false,
      coreMetadata: { sha256: META_SHA },
    });
    assert.equal(files[1]!.url, 'http://127.0.0.1:8000/simple/demo/demo-1.1.tar.gz');
    assert.equal(files[1]!.yanked, true);
    assert.deepEqual(files[1]!.coreMetadata, false);
    // PEP 714: data-core-metadata wins over data-dist-info-metadata.
    assert.deepEqual(files[2]!.coreMetadata, {});
    assert.equal(files[2]!.yanked, 'bad & broken');
    assert.equal(files[2]!.filename, 'demo-2.0-cp311-cp311-manylinux_2_17_x86_64.whl');
  });

  it('resolves relative links against <base href>', () => {
    const files = parseHtmlProjectPage('<base href="http://mirror.local/pkgs/"><a href="demo-1.0.tar.gz">demo-1.0.tar.gz</a>', 'http://127.0.0.1/simple/demo/');
    assert.equal(files[0]!.url, 'http://mirror.local/pkgs/demo-1.0.tar.gz');
  });

  it('refuses an unknown repository API major version', () => {
    assert.throws(() => parseHtmlProjectPage('<meta name="pypi:repository-version" content="2.0"><a href="x.whl">x</a>', 'http://x/'), /API version 2\.0/);
  });

  it('decodes character references', () => {
    assert.equal(unescapeHtml('&lt;3 &amp; &#62;=2 &#x3c; &quot;q&quot; &unknown;'), '<3 & >=2 < "q" &unknown;');
  });
});

describe('project page URLs', () => {
  it('joins the index and the normalised name with one slash and a trailing slash', () => {
    assert.equal(buildProjectPageUrl('http://127.0.0.1:5080/simple', 'seal-utils'), 'http://127.0.0.1:5080/simple/seal-utils/');
    assert.equal(buildProjectPageUrl('http://127.0.0.1:5080/simple/', 'a'), 'http://127.0.0.1:5080/simple/a/');
  });
});
