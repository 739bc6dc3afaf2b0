/**
 * Packages an imported lock pins by URL (issue 10, "existing locks are honoured pin for pin"): uv.lock
 * `source = { url = … }` (a wheel, or an sdist whose table gives only the hash), pylock.toml `[packages.archive]`
 * and pylock packages whose files carry a url and name no index. They are followed like `name @ URL`
 * requirements: the lock's sha256 is checked against the bytes the URL serves, the package is recorded `direct`.
 * Whatever cannot be followed is exit 2 naming the lock file and the package.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError, inputError } from '../../src/core/errors.js';
import { silentLogger, type FileFetcher } from '../../src/core/ports.js';
import { importLockedPackages } from '../../src/ecosystems/python/lockfiles/import-lock.js';
import { parseImportedLock } from '../../src/ecosystems/python/lockfiles/read.js';
import type { ImportedLockRef, LockedPythonPackage } from '../../src/ecosystems/python/schema.js';
import { MemoryIndex } from '../fixtures/resolve/memory-index.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';

const INDEX = 'http://index.test/simple';
const H = (c: string) => c.repeat(64);
const WHEEL_URL = 'https://files.test/w/urlwheel-1.0-py3-none-any.whl';
const SDIST_URL = 'https://files.test/s/urlsdist-2.0.tar.gz';

const UV = (extra = '') => `version = 1
requires-python = ">=3.10"

[[package]]
name = "proj"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "urlwheel" }, { name = "urlsdist" }]

[[package]]
name = "urlwheel"
version = "1.0"
source = { url = "${WHEEL_URL}" }
wheels = [{ url = "${WHEEL_URL}", hash = "sha256:${H('a')}" }]

[[package]]
name = "urlsdist"
version = "2.0"
source = { url = "${SDIST_URL}"${extra} }
sdist = { hash = "sha256:${H('b')}" }
`;

const PYLOCK = (pkg: string) => `lock-version = "1.0"\ncreated-by = "hand"\n\n[[packages]]\n${pkg}\n`;

async function rejection(p: Promise<unknown>): Promise<EnvsealError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EnvsealError, String(err));
    return err;
  }
  throw new Error('expected an error');
}

function fetcher(served: Record<string, string | 404>) {
  const asked: string[] = [];
  const files: FileFetcher = {
    digest: async (url) => {
      asked.push(url);
      const sha = served[url];
      if (sha === undefined || sha === 404) throw inputError('files.not-found', `fetching ${url} answered 404 Not Found`);
      return { sha256: sha, size: 42 };
    },
  };
  return { files, asked };
}

async function run(text: string, path: string, files: FileFetcher, previous: LockedPythonPackage[] = []) {
  const kind = path === 'uv.lock' ? 'uv' : 'pylock';
  const ref = { path, kind, sha256: H('0'), groups: [], extras: [] } as ImportedLockRef;
  return importLockedPackages(
    { lock: parseImportedLock(text, path), ref, target: BOOKWORM_TARGET, defaultIndex: INDEX },
    { index: new MemoryIndex({ [INDEX]: {} }), logger: silentLogger, files, previous: { packages: previous } },
  );
}

describe('uv.lock packages from a URL', () => {
  it("are recorded direct with the lock's sha256, checked against the URL; an sdist takes the source URL", async () => {
    const { files, asked } = fetcher({ [WHEEL_URL]: H('a'), [SDIST_URL]: H('b') });
    const packages = await run(UV(), 'uv.lock', files);
    assert.deepEqual(asked.sort(), [SDIST_URL, WHEEL_URL]);
    const byName = Object.fromEntries(packages.map((p) => [p.name, p]));
    assert.deepEqual(byName.urlwheel, {
      name: 'urlwheel',
      version: '1.0',
      file: { filename: 'urlwheel-1.0-py3-none-any.whl', url: WHEEL_URL, sha256: H('a'), size: 42 },
      index: WHEEL_URL,
      direct: true,
      via: ['uv.lock'],
      targets: ['deploy', 'dev'],
    });
    assert.equal(byName.urlsdist!.file.filename, 'urlsdist-2.0.tar.gz');
    assert.equal(byName.urlsdist!.file.url, SDIST_URL);
    assert.equal(byName.urlsdist!.direct, true);
  });

  it('a pin the previous lock holds for the same URL and sha256 is not fetched again', async () => {
    const first = await run(UV(), 'uv.lock', fetcher({ [WHEEL_URL]: H('a'), [SDIST_URL]: H('b') }).files);
    const { files, asked } = fetcher({});
    const again = await run(UV(), 'uv.lock', files, first);
    assert.deepEqual(asked, []);
    assert.deepEqual(again, first);
  });

  it('a sha256 the URL does not serve, a URL that answers 404, a subdirectory: exit 2 naming the lock and package', async () => {
    const mismatch = await rejection(run(UV(), 'uv.lock', fetcher({ [WHEEL_URL]: H('9'), [SDIST_URL]: H('b') }).files));
    assert.equal(mismatch.code, 'python.import-hash-mismatch');
    assert.equal(mismatch.exitCode, 2);
    assert.match(
      mismatch.message,
      new RegExp(`^uv\\.lock: package urlwheel 1\\.0: the lock's sha256 of urlwheel-1\\.0-py3-none-any\\.whl is a{64}, ${WHEEL_URL} gives 9{64}$`),
    );
    const missing = await rejection(run(UV(), 'uv.lock', fetcher({ [WHEEL_URL]: 404, [SDIST_URL]: H('b') }).files));
    assert.equal(missing.code, 'python.import-url-not-found');
    assert.match(missing.message, /^uv\.lock: package urlwheel 1\.0: fetching .* answered 404/);
    const sub = await rejection(run(UV(', subdirectory = "pkg"'), 'uv.lock', fetcher({}).files));
    assert.equal(sub.code, 'python.import-unsupported');
    assert.match(sub.message, /^uv\.lock: package urlsdist comes from a subdirectory of the archive/);
  });

  it('a URL with credentials is refused without showing them (exit 2)', async () => {
    const text = UV().replaceAll(WHEEL_URL, 'https://user:s3cret@files.test/w/urlwheel-1.0-py3-none-any.whl');
    const err = await rejection(run(text, 'uv.lock', fetcher({ [SDIST_URL]: H('b') }).files));
    assert.equal(err.code, 'python.import-unsupported');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^uv\.lock: package urlwheel 1\.0: its URL https:\/\/<redacted>@files\.test\/.* carries credentials/);
    assert.doesNotMatch(`${err.message} ${err.hint}`, /s3cret/);
    assert.match(err.hint ?? '', /netrc/);
  });
});

describe('pylock.toml packages from a URL', () => {
  it('[packages.archive] is followed by URL (a wheel or an sdist)', async () => {
    const { files } = fetcher({ [WHEEL_URL]: H('a') });
    const [p] = await run(
      PYLOCK(`name = "urlwheel"\nversion = "1.0"\narchive = { url = "${WHEEL_URL}", hashes = { sha256 = "${H('a')}" } }`),
      'pylock.toml',
      files,
    );
    assert.equal(p!.direct, true);
    assert.equal(p!.file.filename, 'urlwheel-1.0-py3-none-any.whl');
    const sdist = await run(
      PYLOCK(`name = "urlsdist"\nversion = "2.0"\narchive = { url = "${SDIST_URL}", hashes = { sha256 = "${H('b')}" } }`),
      'pylock.toml',
      fetcher({ [SDIST_URL]: H('b') }).files,
    );
    assert.equal(sdist[0]!.file.filename, 'urlsdist-2.0.tar.gz');
  });

  it('a package without index whose wheel has a url is followed by URL', async () => {
    const { files, asked } = fetcher({ [WHEEL_URL]: H('a') });
    const [p] = await run(
      PYLOCK(`name = "urlwheel"\nversion = "1.0"\nwheels = [{ url = "${WHEEL_URL}", hashes = { sha256 = "${H('a')}" } }]`),
      'pylock.toml',
      files,
    );
    assert.equal(p!.direct, true);
    assert.deepEqual(asked, [WHEEL_URL]);
  });

  it('an archive at a local path or with a subdirectory is refused (exit 2, naming the lock and package)', async () => {
    const local = await rejection(
      run(
        PYLOCK(`name = "urlwheel"\nversion = "1.0"\narchive = { path = "dist/urlwheel-1.0-py3-none-any.whl", hashes = { sha256 = "${H('a')}" } }`),
        'pylock.toml',
        fetcher({}).files,
      ),
    );
    assert.equal(local.code, 'python.import-unsupported');
    assert.match(local.message, /^pylock\.toml: package urlwheel 1\.0: its archive is the local path dist\/urlwheel-1\.0-py3-none-any\.whl/);
    const sub = await rejection(
      run(
        PYLOCK(`name = "urlsdist"\nversion = "2.0"\narchive = { url = "${SDIST_URL}", subdirectory = "a", hashes = { sha256 = "${H('b')}" } }`),
        'pylock.toml',
        fetcher({}).files,
      ),
    );
    assert.match(sub.message, /its archive names a subdirectory \(a\) to build from/);
  });
});
