/**
 * The byte-exact tar reader/encoder (src/tar/raw-reader.ts, raw-encoder.ts) that image normalisation uses:
 * names and xattrs as raw bytes, pax/GNU/ustar variants, Go's header-only types, and the errors for damaged
 * archives.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isEnvsealError } from '../../src/core/errors.js';
import { createTarWriter } from '../../src/tar/tar-stream-codec.js';
import { describeRawName, TAR_END_OF_ARCHIVE } from '../../src/tar/header.js';
import { encodeRawTarHeader } from '../../src/tar/raw-encoder.js';
import { readRawTarEntries, scanRawTarFile, type RawTarEntry } from '../../src/tar/raw-reader.js';
import { headerOf, layerTar, makeTempRoot, readLayer, streamToBuffer } from './build-normalize-fixture.js';

let temp: Awaited<ReturnType<typeof makeTempRoot>>;
before(async () => {
  temp = await makeTempRoot('envseal-normalize-tar-');
});
after(async () => {
  await temp.cleanup();
});

const LATIN1_NAME = Buffer.from([0x61, 0x70, 0x70, 0x2f, 0x63, 0x61, 0x66, 0xe9]); // "app/caf\xe9"

/** A hand-made header block (independent of the encoder under test), with a valid checksum. */
function handBlock(fields: {
  name: Buffer | string;
  flag: string;
  size?: number;
  magic?: 'ustar' | 'gnu' | 'v7';
  mode?: string;
  sizeField?: Buffer;
  uidField?: Buffer;
  prefix?: string;
}): Buffer {
  const block = Buffer.alloc(512);
  Buffer.from(fields.name).copy(block, 0, 0, 100);
  block.write(fields.mode ?? '0000644\0', 100, 8, 'latin1');
  if (fields.uidField) fields.uidField.copy(block, 108);
  else block.write('0000000\0', 108, 8, 'latin1');
  block.write('0000000\0', 116, 8, 'latin1');
  if (fields.sizeField) fields.sizeField.copy(block, 124);
  else block.write(`${(fields.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 12, 'latin1');
  block.write('14000000000\0', 136, 12, 'latin1');
  block.write(fields.flag, 156, 1, 'latin1');
  if (fields.magic === 'gnu') block.write('ustar  \0', 257, 8, 'latin1');
  else if (fields.magic !== 'v7') {
    block.write('ustar\0', 257, 6, 'latin1');
    block.write('00', 263, 2, 'latin1');
  }
  if (fields.prefix) block.write(fields.prefix, 345, 155, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

function withBody(body: Buffer): Buffer {
  return Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

async function expectCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isEnvsealError(err), `expected an EnvsealError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('raw tar: encode → read round trip', () => {
  it('keeps names, link targets and pax values byte for byte', async () => {
    const longName = `usr/lib/${'d'.repeat(120)}/${'f'.repeat(150)}.py`; // > 255 bytes: not even ustar prefix+name fits
    const xattr = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x0a, 0x20, 0x3d, 0x00, 0xff]); // NUL, newline, '=', 0xff
    const tar = layerTar([
      { name: LATIN1_NAME, body: 'latin-1 name' },
      { name: Buffer.from('app/\u00e9t\u00e9.txt'), body: 'utf-8 name' },
      { name: longName, body: 'long' },
      { name: 'app/link', type: 'symlink', linkname: Buffer.concat([Buffer.from('../'), LATIN1_NAME]) },
      { name: 'app/hard', type: 'link', linkname: longName },
      { name: 'usr/bin/ping', body: 'elf', pax: { 'SCHILY.xattr.security.capability': xattr } },
      { name: 'usr/bin/odd', body: '', pax: { 'SCHILY.xattr.user.\u00e9': 'v' } }, // key byte 0xe9: not UTF-8
    ]);
    const entries = await readLayer(tar);
    assert.equal(entries.length, 7);
    assert.deepEqual(entries[0]!.header.name, LATIN1_NAME);
    assert.equal(entries[0]!.body.toString(), 'latin-1 name');
    assert.equal(entries[1]!.header.name.toString('utf8'), 'app/\u00e9t\u00e9.txt');
    assert.equal(entries[2]!.header.name.toString(), longName);
    assert.equal(entries[2]!.body.toString(), 'long');
    assert.equal(entries[3]!.header.type, 'symlink');
    assert.deepEqual(entries[3]!.header.linkname, Buffer.concat([Buffer.from('../'), LATIN1_NAME]));
    assert.equal(entries[4]!.header.type, 'link');
    assert.equal(entries[4]!.header.linkname!.toString(), longName);
    assert.deepEqual(entries[5]!.header.pax, [{ key: 'SCHILY.xattr.security.capability', value: xattr }]);
    assert.deepEqual(entries[6]!.header.pax, [{ key: 'SCHILY.xattr.user.\u00e9', value: Buffer.from('v') }]);
    assert.ok(tar.includes(Buffer.from('SCHILY.xattr.user.\xe9=v\n', 'latin1')), 'the key is written as the single byte 0xe9');
  });

  it('moves numbers that do not fit their octal field into pax records and reads them back', async () => {
    const tar = layerTar([{ name: 'big-ids', body: 'x', uid: 3_000_000, gid: 4_000_000, mtime: -86_400, uname: 'a-very-long-user-name-over-32-bytes' }]);
    const [entry] = await readLayer(tar);
    assert.equal(entry!.header.uid, 3_000_000);
    assert.equal(entry!.header.gid, 4_000_000);
    assert.equal(entry!.header.mtime, -86_400);
    assert.equal(entry!.header.uname, 'a-very-long-user-name-over-32-bytes');
    assert.deepEqual(entry!.header.pax, [], 'derived records are folded into the fields');
  });

  it('keeps devices, fifos, directories, the stored mode (type bits included) and whiteouts', async () => {
    const tar = layerTar([
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o20666 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
      { name: 'run/fifo', type: 'fifo' },
      { name: 'etc/', type: 'directory', mode: 0o40755 },
      { name: 'etc/.wh.issue.net', body: '' },
      { name: 'usr/.wh..wh..opq', body: '' },
    ]);
    const entries = await readLayer(tar);
    assert.deepEqual(
      entries.map((e) => [e.header.name.toString(), e.header.type, e.header.mode.toString(8), e.header.devmajor, e.header.devminor]),
      [
        ['dev/null', 'character-device', '20666', 1, 3],
        ['dev/sda', 'block-device', '644', 8, 0],
        ['run/fifo', 'fifo', '644', 0, 0],
        ['etc/', 'directory', '40755', 0, 0],
        ['etc/.wh.issue.net', 'file', '644', 0, 0],
        ['usr/.wh..wh..opq', 'file', '644', 0, 0],
      ],
    );
  });

  it('encodes deterministically: pax records sorted by key whatever the input order', () => {
    const a = headerOf({ name: 'f', body: 'x', pax: { 'SCHILY.xattr.user.b': 'b', 'SCHILY.xattr.user.a': 'a' } });
    const b = headerOf({ name: 'f', body: 'x', pax: { 'SCHILY.xattr.user.a': 'a', 'SCHILY.xattr.user.b': 'b' } });
    const encodedA = encodeRawTarHeader(a);
    assert.deepEqual(encodedA, encodeRawTarHeader(b));
    const text = encodedA.toString('latin1');
    assert.ok(text.indexOf('user.a=a') < text.indexOf('user.b=b'));
  });

  it('marks non-UTF-8 paths with hdrcharset=BINARY (POSIX pax) and UTF-8 ones not', () => {
    assert.match(encodeRawTarHeader(headerOf({ name: LATIN1_NAME, body: '' })).toString('latin1'), /hdrcharset=BINARY/);
    const utf8 = encodeRawTarHeader(headerOf({ name: Buffer.from('caf\u00e9'), body: '' })).toString('latin1');
    assert.match(utf8, / path=/);
    assert.doesNotMatch(utf8, /hdrcharset/);
    assert.equal(encodeRawTarHeader(headerOf({ name: 'plain/ascii', body: '' })).length, 512, 'no pax header when ustar suffices');
  });

  it('refuses pax keys that the header fields derive, names with NUL, and links without a target', () => {
    assert.throws(() => encodeRawTarHeader(headerOf({ name: 'f', pax: { path: 'other' } })), /derived/);
    assert.throws(() => encodeRawTarHeader(headerOf({ name: Buffer.from('a\0b') })), /NUL/);
    assert.throws(() => encodeRawTarHeader(headerOf({ name: 'l', type: 'symlink' })), /link target/);
  });
});

describe('raw tar: reading what other writers produce', () => {
  it('reads tar-stream archives (the tar-stream-codec.ts writer), including pax xattrs and long names', async () => {
    const writer = createTarWriter();
    const long = `${'p'.repeat(90)}/${'q'.repeat(90)}/file.txt`;
    const done = (async () => {
      await writer.add({ name: 'dir', type: 'directory', mtime: 1234 });
      await writer.add({ name: long, type: 'file', uid: 1000, gid: 1000, uname: 'user' }, 'hello');
      await writer.add({ name: 'dir/link', type: 'symlink', linkname: '../x' });
      await writer.add({ name: 'bin/ping', type: 'file', pax: { 'SCHILY.xattr.security.capability': 'cap' } }, 'p');
      writer.finish();
    })();
    const [bytes] = await Promise.all([streamToBuffer(writer.stream), done]);
    const entries = await readLayer(bytes);
    assert.deepEqual(
      entries.map((e) => [e.header.name.toString(), e.header.type, e.body.toString()]),
      [
        ['dir/', 'directory', ''],
        [long, 'file', 'hello'],
        ['dir/link', 'symlink', ''],
        ['bin/ping', 'file', 'p'],
      ],
    );
    assert.equal(entries[0]!.header.mtime, 1234);
    assert.equal(entries[1]!.header.uname, 'user');
    assert.equal(entries[1]!.header.uid, 1000);
    assert.equal(entries[2]!.header.linkname!.toString(), '../x');
    assert.equal(entries[3]!.header.pax.find((r) => r.key === 'SCHILY.xattr.security.capability')?.value.toString(), 'cap');
  });

  it("reads GNU tar's 'L'/'K' long names, its magic, and base-256 numbers", async () => {
    const longName = Buffer.concat([Buffer.from(`./${'n'.repeat(150)}/`), LATIN1_NAME]);
    const longLink = Buffer.from(`./${'t'.repeat(130)}`);
    const base256Uid = Buffer.from([0x80, 0, 0, 0, 0, 0x3d, 0x09, 0x00]); // 4000000
    const tar = Buffer.concat([
      handBlock({ name: '././@LongLink', flag: 'L', size: longName.length + 1, magic: 'gnu' }),
      withBody(Buffer.concat([longName, Buffer.from([0])])),
      handBlock({ name: longName.subarray(0, 100), flag: '0', size: 3, magic: 'gnu', uidField: base256Uid }),
      withBody(Buffer.from('abc')),
      handBlock({ name: '././@LongLink', flag: 'K', size: longLink.length + 1, magic: 'gnu' }),
      withBody(Buffer.concat([longLink, Buffer.from([0])])),
      handBlock({ name: './hl', flag: '1', magic: 'gnu' }),
      TAR_END_OF_ARCHIVE,
    ]);
    const entries = await readLayer(tar);
    assert.equal(entries.length, 2);
    assert.deepEqual(entries[0]!.header.name, longName);
    assert.equal(entries[0]!.header.uid, 4_000_000);
    assert.equal(entries[0]!.body.toString(), 'abc');
    assert.equal(entries[1]!.header.type, 'link');
    assert.deepEqual(entries[1]!.header.linkname, longLink);
  });

  it('joins the ustar prefix and name fields', async () => {
    const tar = Buffer.concat([handBlock({ name: 'file.txt', prefix: 'some/deep/dir', flag: '0', size: 1 }), withBody(Buffer.from('z')), TAR_END_OF_ARCHIVE]);
    const [entry] = await readLayer(tar);
    assert.equal(entry!.header.name.toString(), 'some/deep/dir/file.txt');
  });

  it('treats header-only types as bodiless whatever their size field says (as Go archive/tar does)', async () => {
    const tar = Buffer.concat([
      handBlock({ name: 'link', flag: '1', size: 700 }), // no body follows, although size says 700
      handBlock({ name: 'next', flag: '0', size: 2 }),
      withBody(Buffer.from('ok')),
      TAR_END_OF_ARCHIVE,
    ]);
    const entries = await readLayer(tar);
    assert.deepEqual(
      entries.map((e) => [e.header.name.toString(), e.header.size, e.body.toString()]),
      [
        ['link', 0, ''],
        ['next', 2, 'ok'],
      ],
    );
  });

  it('reads a typeflag NUL with a trailing slash as a directory, and v7 headers without the ustar magic', async () => {
    const tar = Buffer.concat([
      handBlock({ name: 'olddir/', flag: '\0', magic: 'v7' }),
      handBlock({ name: 'oldfile', flag: '\0', magic: 'v7', size: 1 }),
      withBody(Buffer.from('1')),
      TAR_END_OF_ARCHIVE,
    ]);
    const entries = await readLayer(tar);
    assert.deepEqual(
      entries.map((e) => e.header.type),
      ['directory', 'file'],
    );
  });

  it('applies global (g) pax records to every later entry', async () => {
    const record = Buffer.from('30 SCHILY.xattr.user.global=g\n');
    const tar = Buffer.concat([
      handBlock({ name: 'pax_global_header', flag: 'g', size: record.length }),
      withBody(record),
      handBlock({ name: 'a', flag: '0' }),
      handBlock({ name: 'b', flag: '0' }),
      TAR_END_OF_ARCHIVE,
    ]);
    const entries = await readLayer(tar);
    for (const entry of entries) assert.deepEqual(entry.header.pax, [{ key: 'SCHILY.xattr.user.global', value: Buffer.from('g') }]);
  });

  it('scans a file without reading bodies and reports where each body starts', async () => {
    const file = join(await temp.fresh(), 'layer.tar');
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    const tar = layerTar([
      { name: 'a', body: 'first' },
      { name: 'big', body: big },
      { name: 'c', body: 'third' },
    ]);
    await writeFile(file, tar);
    const seen: RawTarEntry[] = [];
    await scanRawTarFile(file, (entry) => {
      seen.push(entry);
    });
    assert.deepEqual(
      seen.map((e) => e.header.name.toString()),
      ['a', 'big', 'c'],
    );
    assert.equal(tar.subarray(seen[0]!.offset, seen[0]!.offset + 5).toString(), 'first');
    assert.deepEqual(tar.subarray(seen[1]!.offset, seen[1]!.offset + big.length), big);
    assert.equal(tar.subarray(seen[2]!.offset, seen[2]!.offset + 5).toString(), 'third');
  });

  it('reports how many bytes it consumed, trailing zero records included', async () => {
    const tar = Buffer.concat([layerTar([{ name: 'a', body: 'x' }]), Buffer.alloc(10240)]);
    const consumed = await readRawTarEntries(Readable.from([tar]), () => {});
    assert.equal(consumed, tar.length);
  });
});

describe('raw tar: damaged archives', () => {
  it('rejects a bad checksum with tar.corrupt', async () => {
    const tar = layerTar([{ name: 'a', body: 'x' }]);
    tar[10] = 0x41;
    await expectCode(readLayer(tar), 'tar.corrupt', /checksum/);
  });

  it('rejects a truncated body with tar.corrupt', async () => {
    const tar = layerTar([{ name: 'a', body: Buffer.alloc(2000, 1) }]);
    await expectCode(readLayer(tar.subarray(0, 1024)), 'tar.corrupt', /ends in the middle/);
    const file = join(await temp.fresh(), 'cut.tar');
    await writeFile(file, tar.subarray(0, 1024));
    await expectCode(
      scanRawTarFile(file, () => {}),
      'tar.corrupt',
      /ends in the middle/,
    );
  });

  it('rejects GNU sparse entries, which Docker cannot extract either', async () => {
    await expectCode(readLayer(Buffer.concat([handBlock({ name: 'sparse', flag: 'S' }), TAR_END_OF_ARCHIVE])), 'tar.unsupported', /type 'S'/);
    const record = Buffer.from('22 GNU.sparse.major=1\n');
    const paxSparse = Buffer.concat([
      handBlock({ name: 'x', flag: 'x', size: record.length }),
      withBody(record),
      handBlock({ name: 'f', flag: '0' }),
      TAR_END_OF_ARCHIVE,
    ]);
    await expectCode(readLayer(paxSparse), 'tar.unsupported', /sparse/);
  });

  it('rejects a malformed pax record', async () => {
    const record = Buffer.from('99 path=x\n');
    const tar = Buffer.concat([
      handBlock({ name: 'x', flag: 'x', size: record.length }),
      withBody(record),
      handBlock({ name: 'f', flag: '0' }),
      TAR_END_OF_ARCHIVE,
    ]);
    await expectCode(readLayer(tar), 'tar.corrupt', /pax/);
  });
});

describe('describeRawName', () => {
  it('shows valid UTF-8 as text and other bytes as \\xNN', () => {
    assert.equal(describeRawName(LATIN1_NAME), 'app/caf\\xe9');
    assert.equal(describeRawName(Buffer.from('caf\u00e9/\u{1F600}')), 'caf\u00e9/\u{1F600}');
    assert.equal(describeRawName(Buffer.from([0xed, 0xa0, 0x80])), '\\xed\\xa0\\x80', 'an encoded surrogate is not UTF-8');
  });
});
