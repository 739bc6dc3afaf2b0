/**
 * Image comparison (build/image-diff.ts): layer indexes, file-level changes, config changes, history
 * labels, and the explanation lines — plus diffImages over the in-memory engine.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  compareConfigs,
  compareLayerIndexes,
  diffImages,
  createEmptyIndex,
  explainImageDiff,
  indexLayer,
  layerLabelsOf,
  type ImageDiff,
} from '../../src/image/normalize/image-diff.js';
import { isEnvsealError } from '../../src/core/errors.js';
import { FakeEngine, layerTar, legacySaveArchive, makeTempRoot, sha256, type EntrySpec } from './build-normalize-fixture.js';

let temp: Awaited<ReturnType<typeof makeTempRoot>>;
before(async () => {
  temp = await makeTempRoot('envseal-normalize-diff-');
});
after(async () => {
  await temp.cleanup();
});

async function indexOf(entries: EntrySpec[]) {
  const file = join(await temp.fresh(), 'layer.tar');
  await writeFile(file, layerTar(entries));
  return indexLayer(file);
}

describe('compareLayerIndexes', () => {
  it('lists added, removed, content and metadata changes with what changed', async () => {
    const a = await indexOf([
      { name: 'usr/lib/python3/foo.pyc', body: 'pyc', mtime: 1_700_000_000 },
      { name: 'usr/bin/tool', body: 'v1', mode: 0o644 },
      { name: 'app/gone.py', body: 'x' },
      { name: 'app/link', type: 'symlink', linkname: 'a' },
      { name: 'etc/cap', body: 'c', pax: { 'SCHILY.xattr.security.capability': Buffer.from([1, 2]) } },
      { name: Buffer.from([0x63, 0x61, 0x66, 0xe9]), body: 'same', uid: 0 },
    ]);
    const b = await indexOf([
      { name: 'usr/lib/python3/foo.pyc', body: 'pyc', mtime: 1_700_000_123 },
      { name: 'usr/bin/tool', body: 'v2!', mode: 0o755 },
      { name: 'app/new.py', body: 'y' },
      { name: 'app/link', type: 'symlink', linkname: 'b' },
      { name: 'etc/cap', body: 'c' },
      { name: Buffer.from([0x63, 0x61, 0x66, 0xe9]), body: 'same', uid: 1000 },
    ]);
    const result = compareLayerIndexes(a, b, 100);
    assert.deepEqual(result.counts, { added: 1, removed: 1, content: 2, metadata: 3 });
    const byPath = new Map(result.files.map((f) => [f.path, f]));
    assert.equal(byPath.get('app/new.py')!.kind, 'added');
    assert.equal(byPath.get('app/gone.py')!.kind, 'removed');
    assert.deepEqual(byPath.get('usr/lib/python3/foo.pyc')!.changes, [{ field: 'mtime', a: '1700000000', b: '1700000123' }]);
    const tool = byPath.get('usr/bin/tool')!;
    assert.equal(tool.kind, 'content');
    assert.deepEqual(
      tool.changes.map((c) => c.field),
      ['content', 'size', 'mode'],
    );
    assert.deepEqual(tool.changes[2], { field: 'mode', a: '0644', b: '0755' });
    assert.deepEqual(byPath.get('app/link')!.changes, [{ field: 'linkname', a: 'a', b: 'b' }]);
    assert.deepEqual(byPath.get('etc/cap')!.changes, [{ field: 'pax', key: 'SCHILY.xattr.security.capability', a: '0102', b: '(none)' }]);
    assert.deepEqual(byPath.get('caf\\xe9')!.changes, [{ field: 'uid', a: '0', b: '1000' }]);
    assert.deepEqual(
      result.files.map((f) => f.path),
      [...result.files.map((f) => f.path)].sort(),
      'in path order',
    );
  });

  it('caps the listed files but counts all of them', async () => {
    const many = (mtime: number) => Array.from({ length: 30 }, (_, i) => ({ name: `f${String(i).padStart(2, '0')}`, body: 'x', mtime }));
    const result = compareLayerIndexes(await indexOf(many(1)), await indexOf(many(2)), 5);
    assert.equal(result.files.length, 5);
    assert.equal(result.counts.metadata, 30);
  });

  it('says when the files are the same and only the order or the encoding differs', async () => {
    const files: EntrySpec[] = [
      { name: 'a', body: '1' },
      { name: 'b', body: '2' },
    ];
    assert.equal(compareLayerIndexes(await indexOf(files), await indexOf([...files].reverse()), 10).sameFiles, 'entry-order');
    assert.equal(compareLayerIndexes(await indexOf(files), await indexOf(files), 10).sameFiles, 'encoding');
    assert.equal(compareLayerIndexes(createEmptyIndex(), await indexOf(files), 10).counts.added, 2);
  });
});

describe('compareConfigs and layerLabelsOf', () => {
  it('lists differing leaves by JSON path, without rootfs.diff_ids', () => {
    const a = { created: '2026-01-01T00:00:00Z', config: { Env: ['A=1', 'B=2'] }, rootfs: { diff_ids: ['x'] }, container: 'c1' };
    const b = { created: '2026-01-02T00:00:00Z', config: { Env: ['A=1', 'B=3'] }, rootfs: { diff_ids: ['y'] } };
    assert.deepEqual(compareConfigs(a, b), [
      { path: 'config.Env[1]', a: '"B=2"', b: '"B=3"' },
      { path: 'container', a: '"c1"' },
      { path: 'created', a: '"2026-01-01T00:00:00Z"', b: '"2026-01-02T00:00:00Z"' },
    ]);
  });

  it('labels layers with the instruction that created them, skipping empty layers', () => {
    const labels = layerLabelsOf({
      history: [
        { comment: 'Imported from -' },
        { created_by: '/bin/sh -c #(nop)  ENV SOURCE_DATE_EPOCH=1700000000', empty_layer: true },
        { created_by: '/bin/sh -c #(nop) COPY dir:0123abcd in /app ' },
        { created_by: `/bin/sh -c pip install --no-deps ${'pkg '.repeat(30)}` },
        { created_by: 'RUN /bin/sh -c make # buildkit', comment: 'buildkit.dockerfile.v0' },
      ],
    });
    assert.deepEqual(labels, [
      'Imported from -',
      'COPY dir:0123abcd in /app',
      `RUN pip install --no-deps ${'pkg '.repeat(30)}`.slice(0, 59) + '…',
      'RUN /bin/sh -c make # buildkit',
    ]);
  });
});

describe('explainImageDiff', () => {
  const diff: ImageDiff = {
    identical: false,
    a: {
      ref: 'app:built',
      imageId: `sha256:${'a'.repeat(64)}`,
      configDigest: `sha256:${'a'.repeat(64)}`,
      diffIds: ['sha256:base', `sha256:${'1'.repeat(64)}`],
      layerLabels: [],
    },
    b: {
      ref: 'app:rebuilt',
      imageId: `sha256:${'b'.repeat(64)}`,
      configDigest: `sha256:${'b'.repeat(64)}`,
      diffIds: ['sha256:base', `sha256:${'2'.repeat(64)}`, `sha256:${'3'.repeat(64)}`],
      layerLabels: [],
    },
    config: [{ path: 'created', a: '"2023-11-14T22:13:20Z"', b: '"2023-11-15T00:00:00Z"' }],
    layers: [
      {
        index: 1,
        label: 'RUN pip install …',
        diffIdA: `sha256:${'1'.repeat(64)}`,
        diffIdB: `sha256:${'2'.repeat(64)}`,
        counts: { added: 1, removed: 0, content: 1, metadata: 2 },
        files: [
          { path: 'usr/lib/python3/dist-packages/foo.pyc', kind: 'metadata', changes: [{ field: 'mtime', a: '1700000000', b: '1700000123' }] },
          {
            path: 'usr/bin/tool',
            kind: 'content',
            changes: [
              { field: 'content', a: 'c'.repeat(64), b: 'd'.repeat(64) },
              { field: 'mode', a: '0644', b: '0755' },
            ],
          },
          { path: 'app/new.py', kind: 'added', changes: [] },
          { path: 'etc/x', kind: 'metadata', changes: [{ field: 'pax', key: 'SCHILY.xattr.security.capability', a: '01', b: '(none)' }] },
        ],
      },
      { index: 2, label: 'RUN echo extra', diffIdB: `sha256:${'3'.repeat(64)}`, counts: { added: 0, removed: 0, content: 0, metadata: 0 }, files: [] },
    ],
  };

  it('explains config fields, layers and files in words', () => {
    assert.deepEqual(explainImageDiff(diff, { filesPerLayer: 3 }), [
      'images differ: app:built (sha256:aaaaaaaaaaaa) vs app:rebuilt (sha256:bbbbbbbbbbbb)',
      'config: created: "2023-11-14T22:13:20Z" → "2023-11-15T00:00:00Z"',
      'layer 2/3 (RUN pip install …): diff_id sha256:111111111111 → sha256:222222222222',
      'layer 2/3 (RUN pip install …): usr/lib/python3/dist-packages/foo.pyc: mtime 1700000000 → 1700000123',
      'layer 2/3 (RUN pip install …): usr/bin/tool: content sha256:cccccccccccc → sha256:dddddddddddd, mode 0644 → 0755',
      'layer 2/3 (RUN pip install …): app/new.py: added',
      'layer 2/3 (RUN pip install …): … and 1 more (4 in all: 1 added, 0 removed, 1 content, 2 metadata)',
      'layer 3/3 (RUN echo extra): only in app:rebuilt',
    ]);
  });

  it('says so when the images are identical', () => {
    assert.deepEqual(explainImageDiff({ ...diff, identical: true, config: [], layers: [] }), [`images are identical: sha256:${'a'.repeat(64)}`]);
  });
});

describe('diffImages', () => {
  const config = (created: string) => ({ os: 'linux', created, history: [{ comment: 'base' }, { created_by: '/bin/sh -c python3 -m compileall /app' }] });
  const base = layerTar([{ name: 'bin/sh', body: 'elf' }]);

  it('compares only the differing layers, file by file', async () => {
    const engine = new FakeEngine(await temp.fresh());
    const appOne = layerTar([{ name: 'app/m.py', body: 'x=1\n' }]);
    const appTwo = layerTar([{ name: 'app/m.py', body: 'x=2\n' }]);
    engine.addExport('one:1', await legacySaveArchive({ config: config('2026-01-01T00:00:00Z'), layers: [base, appOne] }));
    engine.addExport('two:1', await legacySaveArchive({ config: config('2026-01-02T00:00:00Z'), layers: [base, appTwo] }));
    // What inspectImage reports (rootfs.diff_ids): diffImages decides from it which layers to keep on disk.
    engine.images.get('one:1')!.info.layers = [sha256(base), sha256(appOne)];
    engine.images.get('two:1')!.info.layers = [sha256(base), sha256(appTwo)];
    const result = await diffImages(engine, 'one:1', 'two:1', { workDir: await temp.fresh() });
    assert.equal(result.identical, false);
    assert.deepEqual(
      result.config.map((c) => c.path),
      ['created'],
    );
    assert.equal(result.layers.length, 1);
    assert.equal(result.layers[0]!.index, 1);
    assert.equal(result.layers[0]!.label, 'RUN python3 -m compileall /app');
    assert.deepEqual(
      result.layers[0]!.files.map((f) => [f.path, f.kind]),
      [['app/m.py', 'content']],
    );
    assert.ok(explainImageDiff(result).some((line) => line.includes('app/m.py: content')));
  });

  it('answers identical without exporting when the IDs are equal, and fails for a missing image', async () => {
    const engine = new FakeEngine(await temp.fresh());
    engine.addExport('one:1', Buffer.alloc(0));
    const same = await diffImages(engine, 'one:1', 'one:1', { workDir: await temp.fresh() });
    assert.equal(same.identical, true);
    assert.ok(!engine.calls.some((c) => c.startsWith('export')));
    await assert.rejects(
      diffImages(engine, 'one:1', 'nope:1', { workDir: await temp.fresh() }),
      (err: unknown) => isEnvsealError(err) && err.code === 'diff.image-missing' && err.exitCode === 2,
    );
  });
});
