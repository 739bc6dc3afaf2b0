/**
 * Layer rewriting (build/normalize-image.ts): order, timestamps, owners, hard links, whiteouts, xattrs,
 * unusual names and entries, and determinism — on synthetic layers written to temp files.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { planLayerRewrite, rewriteLayerFile } from '../../src/image/normalize/layer-rewrite.js';
import { scanRawTarFile, type RawTarEntry } from '../../src/tar/raw-reader.js';
import { layerTar, makeTempRoot, readLayer, sha256, type EntrySpec, type ReadEntry } from './build-normalize-fixture.js';

const EPOCH = 1_700_000_000;
const LATER = 1_800_000_000;

let temp: Awaited<ReturnType<typeof makeTempRoot>>;
before(async () => {
  temp = await makeTempRoot('envseal-normalize-layer-');
});
after(async () => {
  await temp.cleanup();
});

async function rewrite(entries: EntrySpec[], epoch = EPOCH): Promise<{ bytes: Buffer; entries: ReadEntry[]; diffId: string; count: number }> {
  const dir = await temp.fresh();
  const input = join(dir, 'in.tar');
  const output = join(dir, 'out.tar');
  await writeFile(input, layerTar(entries));
  const result = await rewriteLayerFile(input, output, { sourceDateEpoch: epoch });
  const bytes = await readFile(output);
  return { bytes, entries: await readLayer(bytes), diffId: result.diffId, count: result.entries };
}

const names = (entries: ReadEntry[]) => entries.map((e) => e.header.name.toString('latin1'));

describe('rewriteLayerFile', () => {
  it('sorts entries by path byte-wise, parents before their contents', async () => {
    const { entries } = await rewrite([
      { name: 'usr/lib/', type: 'directory' },
      { name: 'a/b', body: '1' },
      { name: 'usr/', type: 'directory' },
      { name: 'a-b', body: '2' },
      { name: 'a/', type: 'directory' },
      { name: 'B', body: '3' },
      { name: 'usr/lib/x.so', body: '4' },
      { name: 'a/.wh..wh..opq', body: '' },
    ]);
    assert.deepEqual(names(entries), ['B', 'a/', 'a-b', 'a/.wh..wh..opq', 'a/b', 'usr/', 'usr/lib/', 'usr/lib/x.so']);
  });

  it('sorts "./"-prefixed names (GNU tar of a directory) the same way and keeps the names as stored', async () => {
    const { entries } = await rewrite([
      { name: './etc/passwd', body: 'root' },
      { name: './', type: 'directory' },
      { name: './bin', type: 'symlink', linkname: 'usr/bin' },
      { name: './etc/', type: 'directory' },
    ]);
    assert.deepEqual(names(entries), ['./', './bin', './etc/', './etc/passwd']);
  });

  it('clamps mtimes to SOURCE_DATE_EPOCH and keeps older ones', async () => {
    const { entries } = await rewrite([
      { name: 'new', body: 'n', mtime: LATER },
      { name: 'old', body: 'o', mtime: 1_600_000_000 },
      { name: 'exact', body: 'e', mtime: EPOCH },
      { name: 'prehistoric', body: 'p', mtime: -5 },
    ]);
    assert.deepEqual(
      entries.map((e) => [e.header.name.toString(), e.header.mtime]),
      [
        ['exact', EPOCH],
        ['new', EPOCH],
        ['old', 1_600_000_000],
        ['prehistoric', -5],
      ],
    );
  });

  it('clears uname/gname, keeps uid/gid/mode, and drops atime/ctime/host inode records but keeps xattrs', async () => {
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    const { entries } = await rewrite([
      {
        name: 'usr/bin/ping',
        body: 'elf',
        uid: 1000,
        gid: 2000,
        uname: 'builder',
        gname: 'staff',
        mode: 0o104755,
        pax: {
          'SCHILY.xattr.security.capability': cap,
          'SCHILY.xattr.user.note': 'kept',
          atime: '1800000000.123',
          ctime: '1800000001',
          'SCHILY.dev': '2049',
          'SCHILY.ino': '12345',
          'SCHILY.nlink': '1',
          'LIBARCHIVE.creationtime': '1800000000',
        },
      },
    ]);
    const [entry] = entries;
    assert.equal(entry!.header.uname, '');
    assert.equal(entry!.header.gname, '');
    assert.equal(entry!.header.uid, 1000);
    assert.equal(entry!.header.gid, 2000);
    assert.equal(entry!.header.mode, 0o104755, 'the stored mode, setuid and type bits included');
    assert.deepEqual(entry!.header.pax, [
      { key: 'SCHILY.xattr.security.capability', value: cap },
      { key: 'SCHILY.xattr.user.note', value: Buffer.from('kept') },
    ]);
  });

  it('keeps whiteouts, devices, fifos and symlinks as they are', async () => {
    const { entries } = await rewrite([
      { name: 'etc/.wh.issue.net', body: '', mode: 0o600 },
      { name: 'usr/share/doc/.wh..wh..opq', body: '' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0 },
      { name: 'run/initctl', type: 'fifo', mode: 0o600 },
      { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
    ]);
    const byName = new Map(entries.map((e) => [e.header.name.toString(), e.header]));
    assert.equal(byName.get('etc/.wh.issue.net')!.mode, 0o600);
    assert.ok(byName.has('usr/share/doc/.wh..wh..opq'));
    assert.deepEqual([byName.get('dev/null')!.type, byName.get('dev/null')!.devmajor, byName.get('dev/null')!.devminor], ['character-device', 1, 3]);
    assert.deepEqual([byName.get('dev/loop0')!.type, byName.get('dev/loop0')!.devmajor], ['block-device', 7]);
    assert.equal(byName.get('run/initctl')!.type, 'fifo');
    assert.equal(byName.get('bin')!.linkname!.toString(), 'usr/bin');
  });

  it('round-trips long and non-UTF-8 names and link targets byte for byte', async () => {
    const latin1 = Buffer.from([0x6f, 0x70, 0x74, 0x2f, 0x63, 0x61, 0x66, 0xe9]); // opt/caf\xe9
    const long = `opt/${'x'.repeat(200)}/${'y'.repeat(120)}`;
    const { entries } = await rewrite([
      { name: latin1, body: 'latin' },
      { name: long, body: 'long' },
      { name: 'opt/to-latin1', type: 'symlink', linkname: latin1 },
    ]);
    assert.deepEqual(names(entries), [latin1.toString('latin1'), 'opt/to-latin1', long]);
    assert.deepEqual(entries[0]!.header.name, latin1);
    assert.equal(entries[0]!.body.toString(), 'latin');
    assert.deepEqual(entries[1]!.header.linkname, latin1);
    assert.equal(entries[2]!.header.name.toString(), long);
    assert.equal(entries[2]!.body.toString(), 'long');
  });

  it('puts a hard-link target before its links, across directories, whatever the walk order was', async () => {
    // The engine walked z/ first, so z/target carries the data and a/link points at it: sorted, a/link comes first.
    const { entries } = await rewrite([
      { name: 'z/', type: 'directory' },
      { name: 'z/target', body: 'shared', mode: 0o755 },
      { name: 'a/', type: 'directory' },
      { name: 'a/link', type: 'link', linkname: 'z/target', mode: 0o755 },
      { name: 'm/second', type: 'link', linkname: 'a/link', mode: 0o755 }, // a link to a link: same file
    ]);
    assert.deepEqual(names(entries), ['a/', 'a/link', 'm/second', 'z/', 'z/target']);
    const [, carrier, second, , former] = entries;
    assert.equal(carrier!.header.type, 'file');
    assert.equal(carrier!.body.toString(), 'shared');
    assert.equal(carrier!.header.mode, 0o755);
    for (const link of [second!, former!]) {
      assert.equal(link.header.type, 'link');
      assert.equal(link.header.linkname!.toString(), 'a/link');
      assert.equal(link.body.length, 0);
    }
  });

  it('gives the same layer for both walk orders of a hard-linked pair', async () => {
    const one = await rewrite([
      { name: 'x/file', body: 'data' },
      { name: 'y/file', type: 'link', linkname: 'x/file' },
    ]);
    const other = await rewrite([
      { name: 'y/file', body: 'data' },
      { name: 'x/file', type: 'link', linkname: 'y/file' },
    ]);
    assert.equal(one.diffId, other.diffId);
  });

  it('keeps a hard link to a file in a lower layer as it is', async () => {
    const { entries } = await rewrite([{ name: 'usr/bin/python3', type: 'link', linkname: 'usr/bin/python3.11' }]);
    assert.equal(entries[0]!.header.type, 'link');
    assert.equal(entries[0]!.header.linkname!.toString(), 'usr/bin/python3.11');
  });

  it('keeps only the last copy of a path stored twice', async () => {
    const { entries } = await rewrite([
      { name: 'etc/motd', body: 'first' },
      { name: 'etc/motd', body: 'second' },
    ]);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.body.toString(), 'second');
  });

  it('copies large bodies exactly (across the write buffer) and reports the diff_id of the bytes it wrote', async () => {
    const big = randomBytes(9 * 1024 * 1024 + 123);
    const { entries, bytes, diffId, count } = await rewrite([
      { name: 'b/big.bin', body: big },
      { name: 'a/small', body: 'x' },
    ]);
    assert.equal(count, 2);
    assert.equal(diffId, sha256(bytes));
    assert.equal(entries[1]!.header.name.toString(), 'b/big.bin');
    assert.ok(entries[1]!.body.equals(big));
  });

  it('is deterministic: inputs that differ only in order, mtimes after the epoch and owner names give identical bytes', async () => {
    const cap = Buffer.from([1, 0, 0, 2]);
    const base: EntrySpec[] = [
      { name: 'app/', type: 'directory' },
      { name: 'app/pkg/', type: 'directory' },
      { name: 'app/pkg/__pycache__/mod.cpython-311.pyc', body: 'pyc' },
      { name: 'app/pkg/mod.py', body: 'x=1\n', pax: { 'SCHILY.xattr.security.capability': cap } },
      { name: 'app/other/zz', type: 'link', linkname: 'app/pkg/mod.py', pax: { 'SCHILY.xattr.security.capability': cap } },
      { name: 'app/fifo', type: 'fifo' },
      { name: 'etc/.wh.issue.net', body: '' },
    ];
    const first = await rewrite(base.map((e, i) => ({ ...e, mtime: LATER + i, uname: 'root' })));
    const shuffled: EntrySpec[] = [base[3]!, base[6]!, base[0]!, base[5]!, base[2]!, base[1]!].map((e, i) => ({
      ...e,
      mtime: LATER + 100 * i,
      uname: 'someone',
      gname: 'else',
      pax: { ...e.pax, atime: String(LATER + i) },
    }));
    // The engine's walk now reached app/other/zz first: it carries the data and mod.py is the link.
    shuffled.unshift({ name: 'app/other/zz', body: 'x=1\n', mtime: LATER, pax: { 'SCHILY.xattr.security.capability': cap } });
    shuffled.push({ name: 'app/pkg/mod.py', type: 'link', linkname: 'app/other/zz', pax: { 'SCHILY.xattr.security.capability': cap } });
    const second = await rewrite(shuffled);
    assert.equal(first.diffId, second.diffId);
    assert.ok(first.bytes.equals(second.bytes));
    assert.deepEqual(names(first.entries), [
      'app/',
      'app/fifo',
      'app/other/zz',
      'app/pkg/',
      'app/pkg/__pycache__/mod.cpython-311.pyc',
      'app/pkg/mod.py',
      'etc/.wh.issue.net',
    ]);
    assert.ok(first.entries.every((e) => e.header.mtime === EPOCH));
  });

  it('changes the diff_id when one byte of content changes', async () => {
    const a = await rewrite([{ name: 'app/main.py', body: 'print(1)\n' }]);
    const b = await rewrite([{ name: 'app/main.py', body: 'print(2)\n' }]);
    assert.notEqual(a.diffId, b.diffId);
  });

  it('is idempotent: rewriting a rewritten layer changes nothing', async () => {
    const once = await rewrite([
      { name: 'b', body: 'b', mtime: LATER, uname: 'x' },
      { name: 'a', type: 'link', linkname: 'b' },
    ]);
    const dir = await temp.fresh();
    await writeFile(join(dir, 'in.tar'), once.bytes);
    const twice = await rewriteLayerFile(join(dir, 'in.tar'), join(dir, 'out.tar'), { sourceDateEpoch: EPOCH });
    assert.equal(twice.diffId, once.diffId);
  });
});

describe('planLayerRewrite', () => {
  it('takes the body of the data-carrying entry for the name that now carries it', async () => {
    const dir = await temp.fresh();
    const file = join(dir, 'in.tar');
    await writeFile(
      file,
      layerTar([
        { name: 'z', body: 'data' },
        { name: 'a', type: 'link', linkname: 'z' },
      ]),
    );
    const scanned: RawTarEntry[] = [];
    await scanRawTarFile(file, (e) => {
      scanned.push(e);
    });
    const plan = planLayerRewrite(scanned, EPOCH);
    assert.deepEqual(
      plan.map((p) => [p.header.name.toString(), p.header.type, p.header.size]),
      [
        ['a', 'file', 4],
        ['z', 'link', 0],
      ],
    );
    assert.equal(plan[0]!.bodyOffset, scanned[0]!.offset);
  });
});
