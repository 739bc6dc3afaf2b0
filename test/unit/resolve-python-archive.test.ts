/**
 * Reading METADATA out of wheels through their central directory (few, small reads: what makes range
 * requests worthwhile), and PKG-INFO out of sdists.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArchiveError,
  bufferSource,
  readSdistPkgInfo,
  readWheelMetadata,
  readZipDirectory,
  type ByteSource,
} from '../../src/ecosystems/python/index-client/python-archive.js';
import { buildSdist, buildWheel } from '../lab/wheel.js';
import { writeZip } from '../lab/zip.js';
import { writeTarGz } from '../lab/tar.js';

/** A source that records the ranges read, like range requests would. */
function countingSource(data: Buffer): ByteSource & { reads: [number, number][] } {
  const reads: [number, number][] = [];
  return {
    size: data.length,
    reads,
    read: async (start, end) => {
      reads.push([start, end]);
      return data.subarray(start, end);
    },
  };
}

describe('wheel METADATA', () => {
  for (const compression of ['stored', 'deflate'] as const) {
    it(`reads the METADATA of a ${compression} wheel`, async () => {
      const wheel = buildWheel({ name: 'Demo.Pkg', version: '1.2.3', requiresDist: ['numpy>=1.22'], compression });
      const text = await readWheelMetadata(bufferSource(wheel.bytes), wheel.filename);
      assert.equal(text, wheel.metadata);
    });
  }

  it('reads a large wheel with two small reads: the tail and the one entry', async () => {
    const big = Buffer.alloc(512 * 1024, 7);
    const wheel = buildWheel({ name: 'big', version: '1.0', files: { 'big/data.bin': big, 'big/__init__.py': '' } });
    const source = countingSource(wheel.bytes);
    const text = await readWheelMetadata(source, wheel.filename);
    assert.equal(text, wheel.metadata);
    const bytesRead = source.reads.reduce((n, [s, e]) => n + (e - s), 0);
    assert.ok(source.reads.length <= 2, `reads: ${JSON.stringify(source.reads)}`);
    assert.ok(bytesRead < 80 * 1024, `read ${bytesRead} bytes of ${wheel.bytes.length}`);
  });

  it('lists the central directory entries', async () => {
    const wheel = buildWheel({ name: 'demo', version: '1.0' });
    const entries = await readZipDirectory(bufferSource(wheel.bytes));
    assert.deepEqual(
      entries.map((e) => e.name),
      ['demo/__init__.py', 'demo-1.0.dist-info/METADATA', 'demo-1.0.dist-info/WHEEL', 'demo-1.0.dist-info/RECORD'],
    );
  });

  it('picks the dist-info of the wheel itself when a wheel has several', async () => {
    const zip = writeZip([
      { name: 'other-9.0.dist-info/METADATA', data: 'Name: other\n' },
      { name: 'demo-1.0.dist-info/METADATA', data: 'Name: demo\nVersion: 1.0\n' },
    ]);
    assert.equal(await readWheelMetadata(bufferSource(zip), 'demo-1.0-py3-none-any.whl'), 'Name: demo\nVersion: 1.0\n');
  });

  it('fails clearly on files that are not wheels or have no METADATA', async () => {
    await assert.rejects(readWheelMetadata(bufferSource(Buffer.from('not a zip at all, just text')), 'x-1.0-py3-none-any.whl'), ArchiveError);
    const zip = writeZip([{ name: 'x/__init__.py', data: '' }]);
    await assert.rejects(readWheelMetadata(bufferSource(zip), 'x-1.0-py3-none-any.whl'), /no \*\.dist-info\/METADATA/);
  });
});

describe('sdist PKG-INFO', () => {
  it('reads PKG-INFO from a .tar.gz sdist', async () => {
    const sdist = buildSdist({ name: 'legacy', version: '0.5.0', requiresDist: ['tinyconfig>=1.0'] });
    assert.equal(await readSdistPkgInfo(sdist.bytes, sdist.filename), sdist.pkgInfo);
  });

  it('reads PKG-INFO from a .zip sdist', async () => {
    const zip = writeZip([
      { name: 'legacy-0.5/setup.py', data: '' },
      { name: 'legacy-0.5/PKG-INFO', data: 'Metadata-Version: 2.2\nName: legacy\nVersion: 0.5\n' },
    ]);
    assert.match(await readSdistPkgInfo(zip, 'legacy-0.5.zip'), /Name: legacy/);
  });

  it('fails when there is no top-level PKG-INFO', async () => {
    const tgz = writeTarGz([{ name: 'legacy-0.5/' }, { name: 'legacy-0.5/src/PKG-INFO', data: 'nested' }]);
    await assert.rejects(readSdistPkgInfo(tgz, 'legacy-0.5.tar.gz'), /no top-level PKG-INFO/);
    await assert.rejects(readSdistPkgInfo(Buffer.from('plain'), 'legacy-0.5.tar.gz'), /not a gzip file/);
  });
});
