/**
 * Incremental normalisation (issue 11): layers the engine holds already (the base, and the layers of an image
 * normalised before) are neither rewritten nor sent when the engine's load skips them (the classic image
 * store), and the result is the same image a full normalisation gives.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { normalizeImage, type NormalizeImageOptions } from '../../src/image/normalize/normalize-image.js';
import { isEnvsealError } from '../../src/core/errors.js';
import { readTarEntries } from '../../src/tar/tar-stream-codec.js';
import { FakeEngine, layerTar, legacySaveArchive, listDir, makeTempRoot, sha256 } from './build-normalize-fixture.js';

const EPOCH = 1_700_000_000;

let temp: Awaited<ReturnType<typeof makeTempRoot>>;
before(async () => {
  temp = await makeTempRoot('envseal-normalize-held-');
});
after(async () => {
  await temp.cleanup();
});

const baseLayer = layerTar([
  { name: './', type: 'directory', mtime: 1_600_000_000 },
  { name: './bin/sh', body: 'elf', mtime: 1_600_000_000 },
]);

/** A layer the build cache gives back unchanged (the same raw bytes in both builds). */
const depsLayer = layerTar([
  { name: 'venv/', type: 'directory', mtime: 1_795_800_000 },
  { name: 'venv/lib.py', body: 'x = 1\n', mtime: 1_795_800_000 },
]);

function appLayer(content: string, mtime: number): Buffer {
  return layerTar([
    { name: 'app/', type: 'directory', mtime },
    { name: 'app/main.py', body: content, mtime },
  ]);
}

async function rawImage(engine: FakeEngine, ref: string, content: string, mtime: number): Promise<void> {
  const layers = [baseLayer, depsLayer, appLayer(content, mtime)];
  const config = { architecture: 'amd64', os: 'linux', config: { Cmd: ['python3'] }, created: '2026-11-27T23:02:50.9Z', history: [] };
  engine.addExport(ref, await legacySaveArchive({ config, layers }), layers.map(sha256));
}

/** The names of the files in a loaded archive. */
async function archiveFiles(bytes: Buffer): Promise<string[]> {
  const names: string[] = [];
  await readTarEntries(Readable.from([bytes]), async ({ header, body }) => {
    for await (const _ of body) void _;
    if (header.type === 'file') names.push(header.name);
  });
  return names;
}

async function normalize(engine: FakeEngine, ref: string, extra: Partial<NormalizeImageOptions> = {}) {
  return normalizeImage(engine, ref, {
    sourceDateEpoch: EPOCH,
    tags: [`${ref}-out`],
    workDir: await temp.fresh(),
    preserveLayers: [sha256(baseLayer)],
    ...extra,
  });
}

/** The image a full normalisation gives, on an engine of its own. */
async function fullResult(content: string, mtime: number) {
  const engine = new FakeEngine(await temp.fresh());
  await rawImage(engine, 'raw', content, mtime);
  return normalize(engine, 'raw');
}

describe('normalizeImage on an engine that holds layers already', () => {
  it('does not send the base to a classic store, and gives the image a full load gives', async () => {
    const engine = new FakeEngine(await temp.fresh());
    engine.imageStore = 'classic';
    await rawImage(engine, 'raw', 'print(1)\n', 1_795_800_000);
    const result = await normalize(engine, 'raw');
    const full = await fullResult('print(1)\n', 1_795_900_000);
    assert.equal(result.imageId, full.imageId);
    assert.equal(result.stats.heldLayers, 1);
    const files = await archiveFiles(engine.loadedArchives[0]!);
    assert.ok(!files.includes(`blobs/sha256/${sha256(baseLayer).slice(7)}`), 'the base is not sent');
    assert.ok(!files.includes('index.json'), 'no OCI layout for an incomplete archive');
    assert.equal(files.filter((f) => f.startsWith('blobs/')).length, 3, 'the config and two layers');
    assert.deepEqual(
      result.rewrittenLayers.map((l) => l.raw),
      [sha256(depsLayer), sha256(appLayer('print(1)\n', 1_795_800_000))],
    );
  });

  it('after an edit, rewrites and sends only the layers that changed', async () => {
    const engine = new FakeEngine(await temp.fresh());
    engine.imageStore = 'classic';
    await rawImage(engine, 'raw1', 'print(1)\n', 1_795_800_000);
    const first = await normalize(engine, 'raw1');
    await rawImage(engine, 'raw2', 'print(2)\n', 1_795_900_000);
    const knownLayers = new Map(first.rewrittenLayers.map((l) => [l.raw, l.normalized]));
    const asked: string[][] = [];
    const heldLayers = async (diffIds: readonly string[]) => {
      asked.push([...diffIds]);
      return diffIds.filter((d, i) => first.diffIds[i] === d).length;
    };
    const second = await normalize(engine, 'raw2', { knownLayers, heldLayers });
    const full = await fullResult('print(2)\n', 1_795_700_000);
    assert.equal(second.imageId, full.imageId, 'the same image as a full normalisation');
    assert.deepEqual(second.diffIds, full.diffIds);
    assert.equal(second.stats.heldLayers, 2);
    assert.equal(second.stats.entries, 2, 'only the app layer was rewritten');
    assert.deepEqual(asked, [first.diffIds.slice(0, 2)]);
    const files = await archiveFiles(engine.loadedArchives[1]!);
    assert.deepEqual(
      files.filter((f) => f.startsWith('blobs/')).sort(),
      [`blobs/sha256/${second.configDigest.slice(7)}`, `blobs/sha256/${second.diffIds[2]!.slice(7)}`].sort(),
    );
  });

  it('sends every layer to a containerd store, whatever it holds', async () => {
    const engine = new FakeEngine(await temp.fresh());
    engine.imageStore = 'containerd';
    await rawImage(engine, 'raw', 'print(1)\n', 1_795_800_000);
    const result = await normalize(engine, 'raw', { heldLayers: async (ids) => ids.length });
    assert.equal(result.stats.heldLayers, 0);
    const files = await archiveFiles(engine.loadedArchives[0]!);
    assert.ok(files.includes('index.json'));
    assert.equal(files.filter((f) => f.startsWith('blobs/')).length, 5, 'config, OCI manifest and three layers');
  });

  it('sends every layer after all when a held layer is gone by the time of the load', async () => {
    const engine = new FakeEngine(await temp.fresh());
    engine.imageStore = 'classic';
    await rawImage(engine, 'raw1', 'print(1)\n', 1_795_800_000);
    const first = await normalize(engine, 'raw1');
    await engine.removeImage(first.imageId);
    await rawImage(engine, 'raw2', 'print(2)\n', 1_795_900_000);
    const knownLayers = new Map(first.rewrittenLayers.map((l) => [l.raw, l.normalized]));
    const workDir = await temp.fresh();
    // The caller saw the first image (it is gone now): the deps layer is not in the engine.
    const second = await normalize(engine, 'raw2', { knownLayers, heldLayers: async () => 2, workDir });
    assert.equal(second.imageId, (await fullResult('print(2)\n', 1_795_600_000)).imageId);
    assert.equal(engine.calls.filter((c) => c === 'load').length, 3, 'one load for the first image, two for the second');
    assert.deepEqual(await listDir(workDir), []);
  });

  it('fails with normalize.memo-mismatch (exit 70) when a remembered layer does not normalise to what was remembered', async () => {
    const engine = new FakeEngine(await temp.fresh());
    engine.imageStore = 'classic';
    await rawImage(engine, 'raw', 'print(1)\n', 1_795_800_000);
    const knownLayers = new Map([[sha256(depsLayer), `sha256:${'e'.repeat(64)}`]]);
    await assert.rejects(normalize(engine, 'raw', { knownLayers, heldLayers: async () => 2 }), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'normalize.memo-mismatch');
      assert.equal(err.exitCode, 70);
      assert.match(err.message, /layer 2 of raw normalises to sha256:[0-9a-f]{64}, remembered as sha256:e{64}/);
      assert.match(err.hint ?? '', /remove the normalised-image memo/);
      return true;
    });
    assert.equal(engine.tags.size, 0, 'nothing tagged');
  });
});

describe('normalizeImage reading past layers it does not need', () => {
  // Larger than the archive reader keeps in memory, so that they would be spooled.
  const bigBase = layerTar([
    { name: './', type: 'directory', mtime: 1_600_000_000 },
    { name: './lib.so', body: Buffer.alloc(1_500_000, 7), mtime: 1_600_000_000 },
  ]);
  const bigDeps = layerTar([{ name: 'venv/big.py', body: Buffer.alloc(1_200_000, 1), mtime: 1_795_800_000 }]);

  async function bigImage(engine: FakeEngine, ref: string, content: string): Promise<void> {
    const layers = [bigBase, bigDeps, appLayer(content, 1_795_800_000)];
    const config = { architecture: 'amd64', os: 'linux', config: {}, created: '2026-11-27T23:02:50.9Z', history: [] };
    engine.addExport(ref, await legacySaveArchive({ config, layers }), layers.map(sha256));
  }

  function spoolLog(): { logger: NormalizeImageOptions['logger']; spooled: string[] } {
    const spooled: string[] = [];
    const logger = { info() {}, warn() {}, progress() {}, debug: (m: string) => void (/spooling/.test(m) && spooled.push(m)) };
    return { logger, spooled };
  }

  it('reads past the base (the bottom layer of a legacy export) and layers known from an earlier export', async () => {
    const engine = new FakeEngine(await temp.fresh());
    engine.imageStore = 'classic';
    await bigImage(engine, 'raw1', 'print(1)\n');
    const first = spoolLog();
    const one = await normalize(engine, 'raw1', { preserveLayers: [sha256(bigBase)], logger: first.logger });
    assert.equal(first.spooled.length, 1, `only the deps layer is spooled: ${first.spooled.join('; ')}`);
    await bigImage(engine, 'raw2', 'print(2)\n');
    const second = spoolLog();
    const two = await normalize(engine, 'raw2', {
      preserveLayers: [sha256(bigBase)],
      logger: second.logger,
      knownLayers: new Map(one.rewrittenLayers.map((l) => [l.raw, l.normalized])),
      knownArchivePaths: new Map(one.archivePaths.map((p) => [p.path, p.diffId])),
      heldLayers: async (ids) => ids.filter((d, i) => one.diffIds[i] === d).length,
    });
    assert.deepEqual(second.spooled, [], 'nothing spooled: the app layer is small, the others known');
    assert.equal(two.stats.heldLayers, 2);
    const full = new FakeEngine(await temp.fresh());
    await bigImage(full, 'raw', 'print(2)\n');
    assert.equal(two.imageId, (await normalize(full, 'raw', { preserveLayers: [sha256(bigBase)] })).imageId);
  });

  it('exports again in full when a layer it read past is needed after all', async () => {
    const engine = new FakeEngine(await temp.fresh());
    engine.imageStore = 'classic';
    await bigImage(engine, 'raw1', 'print(1)\n');
    const one = await normalize(engine, 'raw1', { preserveLayers: [sha256(bigBase)] });
    await engine.removeImage(one.imageId);
    await bigImage(engine, 'raw2', 'print(2)\n');
    const two = await normalize(engine, 'raw2', {
      preserveLayers: [sha256(bigBase)],
      knownLayers: new Map(one.rewrittenLayers.map((l) => [l.raw, l.normalized])),
      knownArchivePaths: new Map(one.archivePaths.map((p) => [p.path, p.diffId])),
      heldLayers: async () => 0,
    });
    assert.equal(two.imageId, (await fullResultOf(bigImage, 'print(2)\n', sha256(bigBase))).imageId);
    assert.equal(engine.calls.filter((c) => c === 'export raw2').length, 2);
  });
});

async function fullResultOf(make: (engine: FakeEngine, ref: string, content: string) => Promise<void>, content: string, base: string) {
  const engine = new FakeEngine(await temp.fresh());
  await make(engine, 'raw', content);
  return normalize(engine, 'raw', { preserveLayers: [base] });
}
