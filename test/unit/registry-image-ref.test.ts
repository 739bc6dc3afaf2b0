import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { formatImageName, formatImageRef, formatPinnedImageRef, isSha256Digest, parseImageRef } from '../../src/core/image-ref.js';

const D = `sha256:${'ab'.repeat(32)}`;

describe('parseImageRef: Docker normalisation', () => {
  const table: [string, { registry: string; repository: string; tag?: string; digest?: string }][] = [
    ['python', { registry: 'docker.io', repository: 'library/python', tag: 'latest' }],
    ['python:3.11', { registry: 'docker.io', repository: 'library/python', tag: '3.11' }],
    ['python:3.11-slim-bookworm', { registry: 'docker.io', repository: 'library/python', tag: '3.11-slim-bookworm' }],
    ['pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime', { registry: 'docker.io', repository: 'pytorch/pytorch', tag: '2.3.1-cuda12.1-cudnn8-runtime' }],
    ['docker.io/python:3.11', { registry: 'docker.io', repository: 'library/python', tag: '3.11' }],
    ['docker.io/library/python:3.11', { registry: 'docker.io', repository: 'library/python', tag: '3.11' }],
    ['index.docker.io/library/python', { registry: 'docker.io', repository: 'library/python', tag: 'latest' }],
    ['ghcr.io/org/img:tag', { registry: 'ghcr.io', repository: 'org/img', tag: 'tag' }],
    ['ghcr.io/org/team/img', { registry: 'ghcr.io', repository: 'org/team/img', tag: 'latest' }],
    ['nvcr.io/nvidia/pytorch:24.01-py3', { registry: 'nvcr.io', repository: 'nvidia/pytorch', tag: '24.01-py3' }],
    ['127.0.0.1:5000/python:bookworm', { registry: '127.0.0.1:5000', repository: 'python', tag: 'bookworm' }],
    ['localhost:5000/x', { registry: 'localhost:5000', repository: 'x', tag: 'latest' }],
    ['localhost/x:1', { registry: 'localhost', repository: 'x', tag: '1' }],
    ['[::1]:5000/img:v1', { registry: '[::1]:5000', repository: 'img', tag: 'v1' }],
    ['GHCR.io/org/img', { registry: 'ghcr.io', repository: 'org/img', tag: 'latest' }],
    [`python@${D}`, { registry: 'docker.io', repository: 'library/python', digest: D }],
    [`python:3.11@${D}`, { registry: 'docker.io', repository: 'library/python', tag: '3.11', digest: D }],
    [`127.0.0.1:5000/python@${D}`, { registry: '127.0.0.1:5000', repository: 'python', digest: D }],
    ['my_org/my-img.v2__x:T_1.0-rc', { registry: 'docker.io', repository: 'my_org/my-img.v2__x', tag: 'T_1.0-rc' }],
    ['a---b/c', { registry: 'docker.io', repository: 'a---b/c', tag: 'latest' }],
    // Without a "/" the colon is a tag, exactly as Docker reads it.
    ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000' }],
  ];
  for (const [text, expected] of table) {
    it(text, () => {
      assert.deepEqual(parseImageRef(text), { ...expected, original: text });
    });
  }

  it('adds latest only when neither tag nor digest is given', () => {
    assert.equal(parseImageRef('python').tag, 'latest');
    assert.equal(parseImageRef(`python@${D}`).tag, undefined);
  });

  it('leaves the tag out when asked, so a caller can tell "python" from "python:latest"', () => {
    assert.equal(parseImageRef('127.0.0.1:5000/python', { addDefaultTag: false }).tag, undefined);
    assert.equal(parseImageRef('127.0.0.1:5000/python:latest', { addDefaultTag: false }).tag, 'latest');
  });
});

describe('parseImageRef: invalid references say why', () => {
  const table: [string, RegExp][] = [
    ['', /is empty/],
    ['python :3.11', /whitespace/],
    ['Python:3.11', /repository name "Python" must be lowercase/],
    ['MyOrg/img', /must be lowercase/],
    ['ghcr.io/Org/img', /"Org\/img" must be lowercase/],
    ['python@sha256:abc', /64 hex digits, this one has 3/],
    [`python@sha256:${'AB'.repeat(32)}`, /lowercase hex/],
    [`python@sha256:${'zz'.repeat(32)}`, /not hex digits/],
    [`python@md5:${'ab'.repeat(16)}`, /algorithm "md5" is not supported/],
    ['python@', /digest after "@" is empty/],
    [`python@${D}@${D}`, /more than one "@"/],
    ['python@abc', /no algorithm/],
    ['python:', /tag after ":" is empty/],
    ['python:-bad', /must not start with/],
    ['python:.bad', /must not start with/],
    ['python:a+b', /may only contain/],
    [`python:${'a'.repeat(129)}`, /129 characters long \(at most 128/],
    ['org//img', /empty path component/],
    ['org/img/', /empty path component/],
    ['ghcr.io/', /repository name is missing/],
    [':tag', /repository name is missing/],
    ['-org/img', /path component "-org"/],
    ['org/img-', /path component "img-"/],
    ['org/a..b', /path component "a..b"/],
    ['my_host.-x.io/img', /registry host "my_host.-x.io" is not a valid host name/],
    ['registry.io:port/img', /port "port" is not a number/],
    ['[::1/img', /unclosed "\["/],
    [`a/${'b'.repeat(260)}`, /at most 255 allowed/],
  ];
  for (const [text, why] of table) {
    it(JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text), () => {
      assert.throws(
        () => parseImageRef(text),
        (err: unknown) => {
          assert.ok(err instanceof EnvsealError);
          assert.equal(err.code, 'spec.base.invalid');
          assert.equal(err.exitCode, 2);
          assert.match(err.message, why);
          assert.ok(err.message.includes(JSON.stringify(text)), 'the message quotes the reference');
          assert.match(err.hint ?? '', /registry\/\]repository/);
          return true;
        },
      );
    });
  }
});

describe('formatting', () => {
  it('uses the familiar short form for Docker Hub', () => {
    assert.equal(formatImageRef(parseImageRef('docker.io/library/python:3.11')), 'python:3.11');
    assert.equal(formatImageRef(parseImageRef('index.docker.io/org/img:tag')), 'org/img:tag');
    assert.equal(formatImageRef(parseImageRef('ghcr.io/org/img:tag')), 'ghcr.io/org/img:tag');
    assert.equal(formatImageRef(parseImageRef('127.0.0.1:5000/python:bookworm')), '127.0.0.1:5000/python:bookworm');
    assert.equal(formatImageRef(parseImageRef('python')), 'python:latest');
  });

  it('spells everything out when asked', () => {
    assert.equal(formatImageRef(parseImageRef('python:3.11'), { fullyQualified: true }), 'docker.io/library/python:3.11');
  });

  it('keeps library/ for nested Docker Hub paths that only start with it', () => {
    assert.equal(formatImageName({ registry: 'docker.io', repository: 'library/a/b' }), 'library/a/b');
  });

  it('round-trips what it formats', () => {
    for (const text of ['python:3.11', 'org/img:tag', 'ghcr.io/org/img:tag', `python:3.11@${D}`, `127.0.0.1:5000/python@${D}`]) {
      const ref = parseImageRef(text);
      const again = parseImageRef(formatImageRef(ref));
      assert.deepEqual({ ...again, original: '' }, { ...ref, original: '' });
    }
  });

  it('gives the pinned form name:tag@digest', () => {
    assert.equal(formatPinnedImageRef(parseImageRef('docker.io/library/python:3.11'), D), `python:3.11@${D}`);
    assert.equal(formatPinnedImageRef(parseImageRef('org/img:tag'), D), `org/img:tag@${D}`);
    assert.equal(formatPinnedImageRef(parseImageRef('ghcr.io/org/img:tag'), D), `ghcr.io/org/img:tag@${D}`);
    assert.equal(formatPinnedImageRef(parseImageRef('127.0.0.1:5000/python:bookworm'), D), `127.0.0.1:5000/python:bookworm@${D}`);
    assert.equal(formatPinnedImageRef(parseImageRef(`python@${D}`), D), `python@${D}`);
    assert.equal(formatPinnedImageRef(parseImageRef(`python:3.11@${D}`), D), `python:3.11@${D}`);
  });

  it('refuses to pin to something that is not a sha256 digest, or to another digest', () => {
    assert.throws(() => formatPinnedImageRef(parseImageRef('python:3.11'), 'sha256:abc'), /not a sha256 digest/);
    const other = `sha256:${'cd'.repeat(32)}`;
    assert.throws(
      () => formatPinnedImageRef(parseImageRef(`python@${D}`), other),
      (err: unknown) => err instanceof EnvsealError && err.exitCode === 70 && /different digest/.test(err.message),
    );
  });

  it('recognises sha256 digests', () => {
    assert.equal(isSha256Digest(D), true);
    assert.equal(isSha256Digest(D.toUpperCase()), false);
    assert.equal(isSha256Digest(`sha512:${'ab'.repeat(32)}`), false);
  });
});
