/**
 * bin/envseal.js picks what to run: the bundle (dist/bundle/main.cjs, scripts/bundle.mjs) when it is at least as
 * new as the compiled CLI (dist/cli/), the compiled CLI when the bundle is missing or older (only `tsc` ran since),
 * and refuses with exit 70 when nothing is compiled. Checked on a copy of the launcher over stand-in dist/ trees.
 * bin/bundle-loader.js uses the bundle's V8 code cache only when it was made for the same bytes, and a cache that
 * is missing, another bundle's or refused by V8 only costs time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const LAUNCHER = fileURLToPath(new URL('../../bin/envseal.js', import.meta.url));
const LOADER = fileURLToPath(new URL('../../bin/bundle-loader.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'envseal-launcher-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A package root with the real launcher and stand-in entries that print which one ran and exit 0. */
function makeRoot(name: string, entries: { cli?: number; bundle?: number }): string {
  const root = join(work, name);
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(LAUNCHER, join(root, 'bin', 'envseal.js'));
  copyFileSync(LOADER, join(root, 'bin', 'bundle-loader.js'));
  writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
  for (const [dir, at] of [
    ['cli', entries.cli],
    ['bundle', entries.bundle],
  ] as const) {
    if (at === undefined) continue;
    mkdirSync(join(root, 'dist', dir), { recursive: true });
    const body = `async function runCli(argv, io) { io.stdout.write('${dir} ' + argv.join(' ') + '\\n'); return 0; }\n`;
    const file = join(root, 'dist', dir, dir === 'cli' ? 'main.js' : 'main.cjs');
    writeFileSync(file, dir === 'cli' ? `export ${body}` : `${body}exports.runCli = runCli;\n`);
    utimesSync(file, at, at);
  }
  return root;
}

function launch(root: string) {
  return spawnSync(process.execPath, [join(root, 'bin', 'envseal.js'), 'verify', '--json'], { encoding: 'utf8' });
}

describe('bin/envseal.js', () => {
  it('runs the bundle when it is newer than the compiled CLI, with the arguments', () => {
    const res = launch(makeRoot('newer', { cli: 1_700_000_000, bundle: 1_700_000_100 }));
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, 'bundle verify --json\n');
  });

  it('runs the bundle when both have the same time (an archive or image that normalised the times)', () => {
    const res = launch(makeRoot('same', { cli: 1_700_000_000, bundle: 1_700_000_000 }));
    assert.equal(res.stdout, 'bundle verify --json\n');
  });

  it('runs the compiled CLI when the bundle is older (tsc ran after the last bundle)', () => {
    const res = launch(makeRoot('older', { cli: 1_700_000_100, bundle: 1_700_000_000 }));
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, 'cli verify --json\n');
  });

  it('runs the compiled CLI when there is no bundle', () => {
    const res = launch(makeRoot('unbundled', { cli: 1_700_000_000 }));
    assert.equal(res.stdout, 'cli verify --json\n');
  });

  it('exits 70 and says how to build when dist/ is missing', () => {
    const res = launch(makeRoot('empty', { bundle: 1_700_000_000 }));
    assert.equal(res.status, 70);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^envseal: dist\/ is missing; run `npm run build` in the envseal checkout first\n$/);
  });
});

/** bin/bundle-loader.js, a plain JavaScript file. */
interface BundleLoader {
  readBundle(file: string): { source: string; digest: Buffer; cacheFile: string };
  cacheFileContent(digest: Buffer, cachedData: Buffer): Buffer;
  cachedDataFor(content: Buffer | undefined, digest: Buffer): Buffer | undefined;
  compileBundle(file: string, source: string, cachedData?: Buffer): { exports: unknown; script: import('node:vm').Script };
}

describe('bin/bundle-loader.js (the bundle through its V8 code cache)', () => {
  /** A bundle that counts its top-level runs and exports a function, and the loader over it. */
  async function bundleRoot(name: string) {
    const root = makeRoot(name, { cli: 1_700_000_000, bundle: 1_700_000_100 });
    const file = join(root, 'dist', 'bundle', 'main.cjs');
    writeFileSync(file, `${readFileSync(file, 'utf8')}exports.twice = (n) => n * 2;\nexports.dir = __dirname;\n`);
    const loader = (await import(join(root, 'bin', 'bundle-loader.js'))) as BundleLoader;
    return { root, file, loader };
  }

  it('uses a cache made for these bytes, and V8 accepts it', async () => {
    const { file, loader } = await bundleRoot('cache-ok');
    const { source, digest, cacheFile } = loader.readBundle(file);
    writeFileSync(cacheFile, loader.cacheFileContent(digest, loader.compileBundle(file, source).script.createCachedData()));
    const cachedData = loader.cachedDataFor(readFileSync(cacheFile), digest);
    assert.ok(cachedData);
    const { exports, script } = loader.compileBundle(file, source, cachedData);
    assert.equal(script.cachedDataRejected, false);
    assert.equal((exports as { twice(n: number): number }).twice(21), 42);
    assert.equal((exports as { dir: string }).dir, join(file, '..'));
  });

  it("ignores another bundle's cache (V8 itself checks only the length), and the launcher still runs the bundle", async () => {
    const { root, file, loader } = await bundleRoot('cache-other');
    const { source, cacheFile } = loader.readBundle(file);
    const sameLength = source.replace('twice', 'TWICE');
    const otherDigest = Buffer.from(loader.readBundle(file).digest.map((b) => b ^ 1));
    writeFileSync(cacheFile, loader.cacheFileContent(otherDigest, loader.compileBundle(file, sameLength).script.createCachedData()));
    assert.equal(loader.cachedDataFor(readFileSync(cacheFile), loader.readBundle(file).digest), undefined);
    assert.equal(loader.cachedDataFor(undefined, otherDigest), undefined);
    const res = launch(root);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, 'bundle verify --json\n');
  });

  it('runs the bundle when V8 refuses the cache (another Node, a damaged file)', async () => {
    const { root, file, loader } = await bundleRoot('cache-damaged');
    const { source, digest, cacheFile } = loader.readBundle(file);
    writeFileSync(cacheFile, loader.cacheFileContent(digest, Buffer.from('not a V8 code cache, but long enough to be read as one')));
    const { script } = loader.compileBundle(file, source, loader.cachedDataFor(readFileSync(cacheFile), digest));
    assert.equal(script.cachedDataRejected, true);
    const res = launch(root);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, 'bundle verify --json\n');
  });
});
