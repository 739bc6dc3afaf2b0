/**
 * Image archives (build/image-archive.ts): reading Docker's legacy save format and the OCI layout (gzip
 * layers, nested indexes), spooling layers to disk, checking diff_ids; writing deterministic, loadable
 * archives.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readImageArchive, writeImageArchive } from '../../src/image/normalize/image-archive.js';
import { createTarWriter, readTarEntries } from '../../src/tar/tar-stream-codec.js';
import { isEnvsealError } from '../../src/core/errors.js';
import { configWithLayers, layerTar, legacySaveArchive, listDir, makeTempRoot, sha256, streamToBuffer } from './build-normalize-fixture.js';

let temp: Awaited<ReturnType<typeof makeTempRoot>>;
before(async () => {
  temp = await makeTempRoot('envseal-normalize-archive-');
});
after(async () => {
  await temp.cleanup();
});

const base = layerTar([
  { name: 'bin/', type: 'directory' },
  { name: 'bin/sh', body: Buffer.alloc(2 * 1024 * 1024, 0x41) },
]); // > 1 MiB: streamed
const app = layerTar([{ name: 'app/main.py', body: 'print(1)\n' }]); // small: kept in memory until the manifest is read
const CONFIG = { architecture: 'amd64', os: 'linux', config: { Cmd: ['python3'] } };

async function tarOf(entries: { name: string; body?: Buffer; link?: string }[]): Promise<Buffer> {
  const writer = createTarWriter();
  const done = (async () => {
    for (const e of entries) {
      if (e.link) await writer.add({ name: e.name, type: 'symlink', linkname: e.link });
      else if (e.body) await writer.add({ name: e.name, type: 'file' }, e.body);
      else await writer.add({ name: e.name, type: 'directory' });
    }
    writer.finish();
  })();
  const [bytes] = await Promise.all([streamToBuffer(writer.stream), done]);
  return bytes;
}

describe('readImageArchive', () => {
  it('reads a legacy docker save archive, resolving the symlink of a repeated layer', async () => {
    const archive = await legacySaveArchive({ config: CONFIG, layers: [base, app, app], repoTags: ['x:1'] });
    const dir = await temp.fresh();
    const read = await readImageArchive(Readable.from([archive]), { spoolDir: dir });
    assert.equal(read.format, 'docker-save');
    assert.deepEqual(read.repoTags, ['x:1']);
    assert.deepEqual(
      read.layers.map((l) => l.diffId),
      [sha256(base), sha256(app), sha256(app)],
    );
    assert.equal(read.layers[1], read.layers[2], 'the same spooled layer');
    assert.equal(read.configDigest, sha256(configWithLayers(CONFIG, [base, app, app])));
    assert.ok((await readFile(read.layers[0]!.file!)).equals(base));
    assert.ok((await readFile(read.layers[1]!.file!)).equals(app));
    assert.equal((await listDir(dir)).length, 2, 'one file per distinct layer');
  });

  it('reads an OCI layout with gzip layers through a nested index', async () => {
    const config = configWithLayers(CONFIG, [base, app]);
    const gzBase = gzipSync(base);
    const gzApp = gzipSync(app);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [gzBase, gzApp].map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l), size: l.length })),
      }),
    );
    const inner = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: sha256(manifest),
            size: manifest.length,
            platform: { os: 'linux', architecture: 'amd64' },
          },
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: `sha256:${'9'.repeat(64)}`,
            size: 1,
            platform: { os: 'linux', architecture: 'arm64' },
          },
        ],
      }),
    );
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.index.v1+json',
            digest: sha256(inner),
            size: inner.length,
            annotations: { 'io.containerd.image.name': 'docker.io/library/x:1' },
          },
        ],
      }),
    );
    const blob = (b: Buffer) => ({ name: `blobs/sha256/${sha256(b).slice(7)}`, body: b });
    const archive = await tarOf([
      { name: 'blobs/' },
      { name: 'blobs/sha256/' },
      blob(config),
      blob(gzApp),
      blob(gzBase),
      blob(inner),
      blob(manifest),
      { name: 'index.json', body: index },
      { name: 'oci-layout', body: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    ]);
    const read = await readImageArchive(Readable.from([archive]), { spoolDir: await temp.fresh() });
    assert.equal(read.format, 'oci-layout');
    assert.deepEqual(read.repoTags, ['docker.io/library/x:1']);
    assert.deepEqual(
      read.layers.map((l) => l.diffId),
      [sha256(base), sha256(app)],
      'diff_ids are of the uncompressed tars',
    );
    assert.ok((await readFile(read.layers[0]!.file!)).equals(base));
  });

  it('deletes layers the caller does not need', async () => {
    const archive = await legacySaveArchive({ config: CONFIG, layers: [base, app] });
    const dir = await temp.fresh();
    const read = await readImageArchive(Readable.from([archive]), { spoolDir: dir, keepLayer: (d) => d === sha256(app) });
    assert.equal(read.layers[0]!.file, undefined);
    assert.ok(read.layers[1]!.file);
    assert.equal((await listDir(dir)).length, 1);
  });

  it('fails with image-archive.invalid when a layer does not match the config, and leaves no spooled file', async () => {
    const archive = await legacySaveArchive({ config: CONFIG, layers: [base, app] });
    const entries: { name: string; body?: Buffer; link?: string }[] = [];
    await readTarEntries(Readable.from([archive]), async ({ header, body }) => {
      const bytes = await streamToBuffer(body);
      if (header.type === 'directory') entries.push({ name: header.name });
      else if (header.type === 'symlink') entries.push({ name: header.name, link: header.linkname! });
      else
        entries.push({
          name: header.name,
          body: header.name.endsWith('layer.tar') && bytes.length < 1e6 ? layerTar([{ name: 'app/main.py', body: 'print(2)\n' }]) : bytes,
        });
    });
    const dir = await temp.fresh();
    await assert.rejects(readImageArchive(Readable.from([await tarOf(entries)]), { spoolDir: dir }), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'image-archive.invalid');
      assert.match(err.message, /layer 2 .* has diff_id sha256:\w+, the config says/);
      return true;
    });
    assert.deepEqual(await listDir(dir), []);
  });

  it('fails with image-archive.invalid when there is no manifest', async () => {
    await assert.rejects(
      readImageArchive(Readable.from([await tarOf([{ name: 'x.json', body: Buffer.from('{}') }])]), { spoolDir: await temp.fresh() }),
      /neither manifest.json nor index.json/,
    );
  });

  it('stops when the signal fires', async () => {
    const controller = new AbortController();
    controller.abort(new Error('user pressed Ctrl-C'));
    const archive = await legacySaveArchive({ config: CONFIG, layers: [base] });
    await assert.rejects(readImageArchive(Readable.from([archive]), { spoolDir: await temp.fresh(), signal: controller.signal }), /Ctrl-C/);
  });
});

describe('writeImageArchive', () => {
  it('writes the same bytes for the same image, and what it writes reads back', async () => {
    const dir = await temp.fresh();
    const first = await readImageArchive(Readable.from([await legacySaveArchive({ config: CONFIG, layers: [base, app] })]), { spoolDir: dir });
    const layers = first.layers.map((l) => ({ diffId: l.diffId, file: l.file! }));
    const one = await writeImageArchive(first.config, layers);
    const two = await writeImageArchive(first.config, layers);
    const [bytesOne] = await Promise.all([streamToBuffer(one.stream), one.done]);
    const [bytesTwo] = await Promise.all([streamToBuffer(two.stream), two.done]);
    assert.ok(bytesOne.equals(bytesTwo));
    assert.equal(one.configDigest, first.configDigest);

    const names: string[] = [];
    await readTarEntries(Readable.from([bytesOne]), ({ header }) => {
      names.push(header.name);
      assert.equal(header.mtime, 0);
      assert.equal(header.uid, 0);
      assert.equal(header.uname, '');
    });
    const blobNames = [first.configDigest, one.manifestDigest!, sha256(base), sha256(app)].map((d) => `blobs/sha256/${d.slice(7)}`).sort();
    assert.deepEqual(names, ['blobs/', 'blobs/sha256/', ...blobNames, 'index.json', 'manifest.json', 'oci-layout']);

    const again = await readImageArchive(Readable.from([bytesOne]), { spoolDir: await temp.fresh() });
    assert.equal(again.format, 'docker-save', 'manifest.json is preferred');
    assert.equal(again.configDigest, first.configDigest);
    assert.deepEqual(again.repoTags, [], 'no tags: the caller tags after checking');
    assert.deepEqual(
      again.layers.map((l) => l.diffId),
      [sha256(base), sha256(app)],
    );
  });

  it('rejects a digest that is not sha256', async () => {
    await assert.rejects(writeImageArchive(Buffer.from('{}'), [{ diffId: 'md5:abc', file: '/nonexistent' }]), /invalid layer digest/);
  });
});
