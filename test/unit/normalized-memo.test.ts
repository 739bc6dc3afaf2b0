import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NormalizedMemo, rememberNormalized } from '../../src/image/normalize/normalized-memo.js';

const RAW = `sha256:${'1'.repeat(64)}`;
const OUT = { imageId: `sha256:${'2'.repeat(64)}`, diffIds: [`sha256:${'3'.repeat(64)}`] };

const recallNormalized = async (file: string, raw: string, epoch: number) => (await NormalizedMemo.open(file)).image(raw, epoch);

test('normalised images are recalled by raw image and epoch only; a damaged memo starts afresh', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'envseal-memo-'));
  try {
    const file = join(dir, 'sub', 'memo.json');
    assert.equal(await recallNormalized(file, RAW, 100), null, 'no file: nothing known');
    await rememberNormalized(file, RAW, 100, OUT);
    assert.deepEqual(await recallNormalized(file, RAW, 100), OUT);
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'private like the rest of the cache');
    assert.equal((await stat(join(dir, 'sub'))).mode & 0o777, 0o700);
    assert.equal(await recallNormalized(file, RAW, 101), null, 'another epoch normalises to other bytes');
    assert.equal(await recallNormalized(file, `sha256:${'9'.repeat(64)}`, 100), null);
    for (let i = 0; i < 300; i++) await rememberNormalized(file, `sha256:${String(i).padStart(64, '0')}`, 1, OUT);
    assert.equal(await recallNormalized(file, RAW, 100), null, 'only the newest entries are kept');
    assert.deepEqual(await recallNormalized(file, `sha256:${'299'.padStart(64, '0')}`, 1), OUT);
    await writeFile(file, '{ not json');
    assert.equal(await recallNormalized(file, RAW, 100), null);
    await rememberNormalized(file, RAW, 100, OUT);
    assert.deepEqual(await recallNormalized(file, RAW, 100), OUT);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('layers are recalled per epoch, and images by the leading layers they share', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'envseal-memo-'));
  const d = (c: string) => `sha256:${c.repeat(64)}`;
  try {
    const file = join(dir, 'memo.json');
    await rememberNormalized(file, d('1'), 100, { imageId: d('a'), diffIds: [d('b'), d('c')], rewrittenLayers: [{ raw: d('4'), normalized: d('c') }] });
    await rememberNormalized(file, d('2'), 100, { imageId: d('e'), diffIds: [d('b'), d('c'), d('f')], rewrittenLayers: [{ raw: d('5'), normalized: d('f') }] });
    const memo = await NormalizedMemo.open(file);
    assert.deepEqual([...memo.layers(100)].sort(), [
      [d('4'), d('c')],
      [d('5'), d('f')],
    ]);
    assert.equal(memo.layers(101).size, 0, 'another epoch normalises to other bytes');
    assert.deepEqual(
      memo.imagesSharing([d('b'), d('c'), d('f'), d('9')]).map((i) => [i.imageId, i.shared]),
      [
        [d('e'), 3],
        [d('a'), 2],
      ],
    );
    assert.deepEqual(memo.imagesSharing([d('9')]), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('layers clamped to a fixed epoch are recalled by that epoch, whatever the image epoch', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'envseal-memo-'));
  const d = (c: string) => `sha256:${c.repeat(64)}`;
  try {
    const file = join(dir, 'memo.json');
    // An image normalised at lock time 2000 whose install layers were clamped to 315532800.
    await rememberNormalized(file, d('1'), 2000, { imageId: d('a'), diffIds: [d('b')], rewrittenLayers: [{ raw: d('4'), normalized: d('b') }] }, 315532800);
    const memo = await NormalizedMemo.open(file);
    assert.deepEqual([...memo.layers(315532800)], [[d('4'), d('b')]], 're-lock at another time still finds the layer');
    assert.equal(memo.layers(2000).size, 0, 'not keyed by the image epoch');
    assert.equal(memo.imagesSharing([d('b')])[0]?.imageId, d('a'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
