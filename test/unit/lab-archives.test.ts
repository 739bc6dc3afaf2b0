import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { computeCrc32, readZip, writeZip } from '../lab/zip.js';
import { FIXED_MTIME, readTar, writeTar, writeTarGz } from '../lab/tar.js';

describe('lab zip writer', () => {
  it('computes the standard CRC-32 check value', () => {
    // The CRC-32/ISO-HDLC check value of "123456789" (the catalogue value every implementation must give).
    assert.equal(computeCrc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(computeCrc32(Buffer.alloc(0)), 0);
  });

  it('round-trips stored and deflated entries with their CRCs and modes', () => {
    const big = 'abc'.repeat(5000);
    const zip = writeZip([
      { name: 'pkg/__init__.py', data: 'x = 1\n' },
      { name: 'pkg/data.txt', data: big, method: 'deflate' },
      { name: 'pkg/bin.dat', data: new Uint8Array([0, 1, 2, 255]) },
      { name: 'pkg/ünïcode.txt', data: 'utf-8 name' },
    ]);
    const entries = readZip(zip);
    assert.deepEqual(
      entries.map((e) => [e.name, e.method]),
      [
        ['pkg/__init__.py', 'stored'],
        ['pkg/data.txt', 'deflate'],
        ['pkg/bin.dat', 'stored'],
        ['pkg/ünïcode.txt', 'stored'],
      ],
    );
    assert.equal(entries[0]!.data.toString(), 'x = 1\n');
    assert.equal(entries[1]!.data.toString(), big);
    assert.ok(entries[1]!.compressedSize < big.length / 10, 'deflate actually compresses');
    assert.deepEqual([...entries[2]!.data], [0, 1, 2, 255]);
    for (const e of entries) assert.equal(e.unixMode, 0o100644);
  });

  it('is deterministic and stamps every entry with 1980-01-01 00:00', () => {
    const input = [
      { name: 'a.txt', data: 'a' },
      { name: 'b.txt', data: 'b'.repeat(100), method: 'deflate' as const },
    ];
    const first = writeZip(input);
    assert.ok(first.equals(writeZip(input)));
    // Local header of the first entry: time at offset 10, date at 12 (APPNOTE 4.3.7).
    assert.equal(first.readUInt16LE(10), 0);
    assert.equal(first.readUInt16LE(12), (1 << 5) | 1);
  });

  it('rejects names a wheel must not contain', () => {
    assert.throws(() => writeZip([{ name: '/abs', data: '' }]), /invalid entry name/);
    assert.throws(() => writeZip([{ name: 'a/../b', data: '' }]), /invalid entry name/);
    assert.throws(
      () =>
        writeZip([
          { name: 'a', data: '' },
          { name: 'a', data: '' },
        ]),
      /duplicate entry a/,
    );
  });

  it('the reader fails on corrupted data instead of returning garbage', () => {
    const zip = writeZip([{ name: 'a.txt', data: 'hello world' }]);
    const corrupt = Buffer.from(zip);
    const at = 30 + 'a.txt'.length; // first byte of the stored data, after the local header and name
    corrupt.writeUInt8(corrupt.readUInt8(at) ^ 0xff, at);
    assert.throws(() => readZip(corrupt), /CRC mismatch for a.txt/);
    assert.throws(() => readZip(Buffer.from('not a zip at all, just text padding it out')), /not a ZIP file/);
  });
});

describe('lab tar writer', () => {
  it('round-trips files and directories with fixed metadata', () => {
    const entries = readTar(
      writeTarGz([{ name: 'proj-1.0/' }, { name: 'proj-1.0/PKG-INFO', data: 'Metadata-Version: 2.2\n' }, { name: 'proj-1.0/empty.txt', data: '' }]),
    );
    assert.deepEqual(
      entries.map((e) => [e.name, e.type, e.mode, e.mtime, e.data.toString()]),
      [
        ['proj-1.0/', 'directory', 0o755, FIXED_MTIME, ''],
        ['proj-1.0/PKG-INFO', 'file', 0o644, FIXED_MTIME, 'Metadata-Version: 2.2\n'],
        ['proj-1.0/empty.txt', 'file', 0o644, FIXED_MTIME, ''],
      ],
    );
  });

  it('splits long paths into the ustar prefix field', () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(90)}.py`;
    const [entry] = readTar(writeTar([{ name: long, data: 'x' }]));
    assert.equal(entry!.name, long);
    assert.throws(() => writeTar([{ name: 'x'.repeat(300), data: '' }]), /too long/);
  });

  it('is deterministic and detects a damaged header', () => {
    const input = [{ name: 'a/b.txt', data: 'content' }];
    assert.ok(writeTarGz(input).equals(writeTarGz(input)));
    const tar = writeTar(input);
    tar[0] = 'z'.charCodeAt(0);
    assert.throws(() => readTar(tar), /bad header checksum/);
  });

  it('is read back by the system tar (an independent implementation)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'envseal-tar-'));
    try {
      const archive = join(dir, 'x.tar.gz');
      const long = `${'d'.repeat(120)}/file.txt`;
      writeFileSync(archive, writeTarGz([{ name: 'top/' }, { name: 'top/hello.txt', data: 'hi\n' }, { name: long, data: 'deep' }]));
      // tar -v prints times in local time; UTC makes the fixed 1980-01-01 00:00 visible as such.
      const list = spawnSync('tar', ['-tvzf', archive], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /^drwxr-xr-x 0\/0 .* 1980-01-01 00:00 top\/$/m);
      assert.match(list.stdout, /^-rw-r--r-- 0\/0 +3 1980-01-01 00:00 top\/hello.txt$/m);
      const extract = spawnSync('tar', ['-xzf', archive, '-C', dir], { encoding: 'utf8' });
      assert.equal(extract.status, 0, extract.stderr);
      assert.equal(readFileSync(join(dir, 'top/hello.txt'), 'utf8'), 'hi\n');
      assert.equal(readFileSync(join(dir, long), 'utf8'), 'deep');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
