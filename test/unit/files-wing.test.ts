import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEnvsealError } from '../../src/core/errors.js';
import { silentLogger, type FileFetcher } from '../../src/core/ports.js';
import { CredentialStore } from '../../src/core/url-credentials.js';
import { filesWing } from '../../src/ecosystems/files/index.js';
import type { FilesDeclared, FilesSection } from '../../src/ecosystems/files/schema.js';
import type { ResolveContext } from '../../src/ecosystems/types.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const loadCtx = {
  specFile: 'envseal.yaml',
  readManifest: async () => '',
  readOptional: async () => null,
  credentials: new CredentialStore(),
};

function fetcher(bodies: Record<string, string>): FileFetcher & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async digest(url) {
      calls.push(url);
      const sha = bodies[url];
      if (!sha) throw new Error(`unexpected fetch of ${url}`);
      return { sha256: sha, size: 10 };
    },
  };
}

function ctx(files: FileFetcher, previous: FilesSection | null = null, upgradeAll = false): ResolveContext<FilesSection> {
  return {
    ground: { base: {} as never, target: BOOKWORM_TARGET },
    engine: {} as never,
    index: {} as never,
    files,
    clock: { now: () => new Date(0) },
    logger: silentLogger,
    options: { upgradeAll },
    previous,
  };
}

const expectError = async (fn: () => Promise<unknown>, code: string, exit: number, message: RegExp) => {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(isEnvsealError(err));
    assert.equal(err.code, code);
    assert.equal(err.exitCode, exit);
    assert.match(err.message, message);
    return true;
  });
};

test('files: the spec refuses credentials in a URL, a "$", a path listed twice and an empty list', async () => {
  const load = (spec: unknown) => filesWing.load(filesWing.schemas.spec.parse(spec), undefined, loadCtx);
  await expectError(() => load([{ url: 'http://u:p@h/x', path: '/m/x' }]), 'files.credentials', 2, /files\[0\]\.url carries credentials/);
  await expectError(() => load([{ url: 'http://h/$HOME', path: '/m/x' }]), 'files.dollar', 2, /files\[0\] has a "\$"/);
  await expectError(
    () =>
      load([
        { url: 'http://h/a', path: '/m/x' },
        { url: 'http://h/b', path: '/m/x' },
      ]),
    'files.duplicate',
    2,
    /files lists \/m\/x twice/,
  );
  assert.equal(filesWing.schemas.spec.safeParse([]).success, false);
  assert.equal(filesWing.schemas.spec.safeParse([{ url: 'http://h/a', path: 'rel/x' }]).success, false);
  assert.equal(filesWing.schemas.spec.safeParse([{ url: 'http://h/a', path: '/m/' }]).success, false);
  const ok = await load([
    { url: 'http://h/b', path: '/m/y' },
    { url: 'http://h/a', path: '/m/x', sha256: SHA_A },
  ]);
  assert.deepEqual(
    ok?.declared.map((f) => f.path),
    ['/m/x', '/m/y'],
  );
});

test('files: lock pins what the URL serves, checks a given sha256, and does not fetch a pinned file again', async () => {
  const declared: FilesDeclared = [
    { url: 'http://h/a', path: '/m/a', sha256: SHA_A },
    { url: 'http://h/b', path: '/m/b' },
  ];
  const f = fetcher({ 'http://h/a': SHA_A, 'http://h/b': SHA_B });
  const first = await filesWing.resolve(declared, undefined, ctx(f));
  assert.deepEqual(first, [
    { path: '/m/a', url: 'http://h/a', sha256: SHA_A, size: 10 },
    { path: '/m/b', url: 'http://h/b', sha256: SHA_B, size: 10 },
  ]);
  assert.equal(f.calls.length, 2);
  const again = fetcher({});
  assert.deepEqual(await filesWing.resolve(declared, undefined, ctx(again, first)), first);
  assert.deepEqual(again.calls, [], 'pinned files are not fetched again');
  const moved = fetcher({ 'http://h/a': SHA_A, 'http://h/b': SHA_A });
  const upgraded = await filesWing.resolve(declared, undefined, ctx(moved, first, true));
  assert.equal(upgraded![1]!.sha256, SHA_A, '--upgrade pins what the URL serves now');
  await expectError(
    () => filesWing.resolve(declared, undefined, ctx(fetcher({ 'http://h/a': SHA_B, 'http://h/b': SHA_B }))),
    'files.hash-mismatch',
    2,
    /http:\/\/h\/a has sha256 b{64}, envseal\.yaml says a{64} \(for \/m\/a\)/,
  );
});

test('files: the Dockerfile fetches with ADD and checks every sha256 before use; verify and drift name the file', () => {
  const section: FilesSection = [
    { path: "/m/it's.bin", url: 'http://h/a', sha256: SHA_A, size: 1 },
    { path: '/m/b', url: 'http://h/b', sha256: SHA_B, size: 2 },
  ];
  const text = filesWing.render(section, { ...ctx(fetcher({})).ground, assets: {} }).deps!;
  assert.match(text, /^ADD \["http:\/\/h\/a","\/m\/it's\.bin"\]$/m);
  assert.match(text, /^ADD \["http:\/\/h\/b","\/m\/b"\]$/m);
  assert.ok(text.includes(`RUN printf '%s\\n' '${SHA_A}  /m/it'\\''s.bin' '${SHA_B}  /m/b' | sha256sum -c - \\\n && chmod 0644 '/m/it'\\''s.bin' /m/b`), text);
  assert.deepEqual(filesWing.fingerprint(section), [
    { path: "/m/it's.bin", sha256: SHA_A },
    { path: '/m/b', sha256: SHA_B },
  ]);
  const contents = filesWing.contents!;
  assert.deepEqual(contents.compare(section, 'deploy', `${SHA_A}  /m/it's.bin\n${SHA_B}  /m/b\n`, null), []);
  assert.deepEqual(contents.compare(section, 'deploy', `${SHA_B}  /m/it's.bin\nsha256sum: /m/b: No such file or directory\n`, null), [
    `files: /m/it's.bin has sha256 ${SHA_B}, the lock says ${SHA_A}`,
    'files: missing /m/b',
  ]);
  const drift = filesWing.drift(
    [{ url: 'http://h/a', path: '/m/a' }],
    [
      { url: 'http://mirror/a', path: '/m/a' },
      { url: 'http://h/c', path: '/m/c' },
    ],
    'envseal.yaml',
  );
  assert.deepEqual(
    drift.map((d) => `${d.kind} ${d.subject}`),
    ['changed file /m/a url', 'added file /m/c'],
  );
});
