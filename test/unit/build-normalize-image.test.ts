/**
 * normalizeImage's flow against an in-memory ContainerEngine (the real engine is in test/e2e): what gets
 * loaded and tagged, what happens when a step fails (nothing tagged, temp files gone), Ctrl-C, reuse of
 * an image the engine already has, and base layers kept byte for byte.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { readImageArchive } from '../../src/image/normalize/image-archive.js';
import { normalizeImage } from '../../src/image/normalize/normalize-image.js';
import { externalError, isEnvsealError } from '../../src/core/errors.js';
import { FakeEngine, layerTar, legacySaveArchive, listDir, makeTempRoot, sha256, type EntrySpec } from './build-normalize-fixture.js';

const EPOCH = 1_700_000_000;

let temp: Awaited<ReturnType<typeof makeTempRoot>>;
before(async () => {
  temp = await makeTempRoot('envseal-normalize-image-');
});
after(async () => {
  await temp.cleanup();
});

const baseLayer = layerTar([
  { name: './', type: 'directory', mtime: 1_600_000_000 },
  { name: './bin/', type: 'directory', mtime: 1_600_000_000 },
  { name: './bin/sh', body: 'elf', mtime: 1_600_000_000, uname: 'root' },
  { name: './etc/issue.net', body: 'Debian', mtime: 1_800_000_000 },
]);

function appLayer(mtime: number, reverse = false, content = 'print(1)\n'): Buffer {
  const entries: EntrySpec[] = [
    { name: 'app/', type: 'directory', mtime },
    { name: 'app/main.py', body: content, mtime },
    { name: 'app/__pycache__/', type: 'directory', mtime },
    { name: 'etc/.wh.issue.net', body: '', mtime },
  ];
  return layerTar(reverse ? entries.reverse() : entries);
}

function buildConfig(created: string, container: string): Record<string, unknown> {
  return {
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['python3'], Env: ['SOURCE_DATE_EPOCH=1700000000'], Image: `sha256:${container}` },
    container,
    container_config: { Cmd: ['/bin/sh', '-c', 'build'] },
    created,
    docker_version: '20.10.24',
    history: [
      { created: '2020-09-13T12:26:40Z', comment: 'Imported from -' },
      { created, created_by: '/bin/sh -c build' },
    ],
  };
}

async function setup(options: { build?: 'first' | 'second'; content?: string } = {}): Promise<{ engine: FakeEngine; workDir: string }> {
  const dir = await temp.fresh();
  const engine = new FakeEngine(join(dir, 'engine'));
  const second = options.build === 'second';
  const archive = await legacySaveArchive({
    config: buildConfig(second ? '2026-11-28T10:00:00.5Z' : '2026-11-27T23:02:50.9Z', second ? 'b'.repeat(64) : 'a'.repeat(64)),
    layers: [baseLayer, appLayer(second ? 1_795_900_000 : 1_795_800_000, second, options.content)],
    repoTags: ['scratch:build'],
  });
  engine.addExport('scratch:build', archive);
  return { engine, workDir: join(dir, 'work') };
}

async function expectError(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isEnvsealError(err), `expected an EnvsealError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.exitCode, 3);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('normalizeImage', () => {
  it('loads the normalised image, checks it and tags it; the temp files are gone', async () => {
    const { engine, workDir } = await setup();
    const result = await normalizeImage(engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['team/app:1', 'team/app:latest'], workDir });
    assert.equal(result.imageId, result.configDigest);
    assert.equal(engine.tags.get('team/app:1'), result.imageId);
    assert.equal(engine.tags.get('team/app:latest'), result.imageId);
    assert.equal(result.stats.layers, 2);
    assert.equal(result.stats.entries, 8);
    assert.equal(result.stats.reused, false);
    assert.deepEqual(await listDir(workDir), [], 'the work directory is cleaned up');

    // What was loaded: the rewritten config (its bytes are the ID) and layers whose digests are the diff_ids.
    const loaded = await readImageArchive(Readable.from([engine.loadedArchives[0]!]), { spoolDir: await temp.fresh() });
    assert.equal(loaded.configDigest, result.configDigest);
    assert.deepEqual(
      loaded.layers.map((l) => l.diffId),
      result.diffIds,
    );
    const config = JSON.parse(loaded.config.toString()) as Record<string, unknown>;
    assert.equal(config.created, '2023-11-14T22:13:20Z');
    assert.ok(!('container' in config));
    const layer = await readFile(loaded.layers[1]!.file!);
    assert.equal(sha256(layer), result.diffIds[1]);
  });

  it('gives the same image ID for two builds that differ in times, order and build containers', async () => {
    const first = await setup({ build: 'first' });
    const second = await setup({ build: 'second' });
    const a = await normalizeImage(first.engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir: first.workDir });
    const b = await normalizeImage(second.engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir: second.workDir });
    assert.equal(a.imageId, b.imageId);
    assert.deepEqual(a.diffIds, b.diffIds);
    const changed = await setup({ content: 'print(2)\n' });
    const c = await normalizeImage(changed.engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir: changed.workDir });
    assert.notEqual(c.imageId, a.imageId);
    assert.equal(c.diffIds[0], a.diffIds[0]);
    assert.notEqual(c.diffIds[1], a.diffIds[1]);
  });

  it('does not load again when the engine already has the normalised image', async () => {
    const { engine, workDir } = await setup();
    const first = await normalizeImage(engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir });
    const second = await normalizeImage(engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:2'], workDir });
    assert.equal(second.imageId, first.imageId);
    assert.equal(second.stats.reused, true);
    assert.equal(engine.calls.filter((c) => c === 'load').length, 1);
    assert.equal(engine.tags.get('t:2'), first.imageId);
  });

  it('keeps preserved (base) layers byte for byte', async () => {
    const { engine, workDir } = await setup();
    const result = await normalizeImage(engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir, preserveLayers: [sha256(baseLayer)] });
    assert.equal(result.diffIds[0], sha256(baseLayer), 'its mtime after the epoch and its ./ names are left alone');
    assert.equal(result.stats.preservedLayers, 1);
    const unpreserved = await setup();
    const other = await normalizeImage(unpreserved.engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir: unpreserved.workDir });
    assert.notEqual(other.diffIds[0], sha256(baseLayer));
  });

  it('fails with normalize.export when the image cannot be exported, and tags nothing', async () => {
    const { engine, workDir } = await setup();
    await expectError(
      normalizeImage(engine, 'missing:tag', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir }),
      'normalize.export',
      /cannot export image missing:tag.*does not exist/,
    );
    assert.equal(engine.tags.size, 0);
    assert.deepEqual(await listDir(workDir), []);
  });

  it('fails with normalize.export when the export is not an image archive', async () => {
    const { engine, workDir } = await setup();
    engine.addExport('broken:1', Buffer.alloc(2048, 0x41));
    await expectError(normalizeImage(engine, 'broken:1', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir }), 'normalize.export', /not a usable image archive/);
    assert.deepEqual(await listDir(workDir), []);
  });

  it('fails with normalize.layer-unreadable (exit 2) for a layer with an entry it cannot rewrite', async () => {
    const { engine, workDir } = await setup();
    // A GNU sparse entry (typeflag 'S'), which Docker's own extraction refuses too.
    const sparse = Buffer.concat([
      layerTar([{ name: 'ok', body: 'x' }]).subarray(0, 1024),
      layerTar([{ name: 'holes.img', body: '' }]).subarray(0, 512),
      Buffer.alloc(1024),
    ]);
    sparse[1024 + 156] = 'S'.charCodeAt(0);
    sparse.fill(0x20, 1024 + 148, 1024 + 156);
    let sum = 0;
    for (let i = 1024; i < 1536; i++) sum += sparse[i]!;
    sparse.write(`${sum.toString(8).padStart(6, '0')}\0 `, 1024 + 148, 8, 'latin1');
    engine.addExport('sparse:1', await legacySaveArchive({ config: buildConfig('2026-01-01T00:00:00Z', 'c'.repeat(64)), layers: [baseLayer, sparse] }));
    await assert.rejects(normalizeImage(engine, 'sparse:1', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir }), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'normalize.layer-unreadable');
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /layer 2 of sparse:1 cannot be normalised: .*holes\.img.*type 'S'/);
      return true;
    });
    assert.equal(engine.tags.size, 0);
    assert.deepEqual(await listDir(workDir), []);
  });

  it('fails with normalize.load when the engine refuses the archive; nothing is tagged', async () => {
    const { engine, workDir } = await setup();
    engine.failLoad = externalError('docker.load-failed', 'loading the image failed: unexpected EOF');
    await expectError(normalizeImage(engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir }), 'normalize.load', /unexpected EOF/);
    assert.equal(engine.tags.size, 0);
  });

  it("reports the engine's own disk-full during load as normalize.disk-full", async () => {
    const { engine, workDir } = await setup();
    engine.failLoad = externalError('docker.load-failed', 'loading the image failed: write /var/lib/docker/tmp/x: no space left on device');
    await expectError(
      normalizeImage(engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir }),
      'normalize.disk-full',
      /engine ran out of disk space/,
    );
  });

  it('fails with normalize.load-mismatch and removes the image when the engine reports another ID', async () => {
    const { engine, workDir } = await setup();
    engine.reportLoaded = () => [`sha256:${'e'.repeat(64)}`];
    await expectError(
      normalizeImage(engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir }),
      'normalize.load-mismatch',
      /instead of the normalised image/,
    );
    assert.equal(engine.tags.size, 0);
    assert.ok(
      engine.calls.some((c) => c.startsWith('remove sha256:')),
      'the loaded image is removed again',
    );
    assert.equal([...engine.images.keys()].filter((id) => id.startsWith('sha256:')).length, 0);
  });

  it('puts tags back when a later tag fails, and removes the image it loaded', async () => {
    const { engine, workDir } = await setup();
    engine.addExport('older:image', Buffer.alloc(0));
    engine.tags.set('team/app:latest', 'older:image');
    engine.failTag = (tag) => (tag === 'team/app:bad' ? externalError('docker.api-error', 'invalid reference format') : undefined);
    await expectError(
      normalizeImage(engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['team/app:latest', 'team/app:new', 'team/app:bad'], workDir }),
      'normalize.tag',
      /as team\/app:bad: invalid reference format/,
    );
    assert.equal(engine.tags.get('team/app:latest'), 'older:image', 'the moved tag points where it did before');
    assert.ok(!engine.tags.has('team/app:new'), 'the new tag is removed');
    assert.equal([...engine.images.keys()].filter((id) => id.startsWith('sha256:')).length, 0);
  });

  it('stops with normalize.aborted on Ctrl-C, leaving no files and no tags', async () => {
    const { engine, workDir } = await setup();
    const controller = new AbortController();
    const exportImage = engine.exportImage.bind(engine);
    engine.exportImage = async (ref: string) => {
      const stream = await exportImage(ref);
      controller.abort(new Error('SIGINT'));
      return stream;
    };
    await expectError(
      normalizeImage(engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir, signal: controller.signal }),
      'normalize.aborted',
      /cancelled; nothing was tagged/,
    );
    assert.equal(engine.tags.size, 0);
    assert.deepEqual(await listDir(workDir), []);
  });

  it('fails with normalize.work-dir when the work directory cannot be created', async () => {
    const { engine } = await setup();
    const file = join(await temp.fresh(), 'a-file');
    await (await import('node:fs/promises')).writeFile(file, 'x');
    await expectError(
      normalizeImage(engine, 'scratch:build', { sourceDateEpoch: EPOCH, tags: ['t:1'], workDir: join(file, 'sub') }),
      'normalize.work-dir',
      /cannot use the work directory/,
    );
  });
});
