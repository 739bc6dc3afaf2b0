import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isEnvsealError } from '../../src/core/errors.js';
import { digestPath } from '../../src/record/data-digest.js';

let root: string;
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'envseal-data-digest-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  counter += 1;
  const dir = join(root, `t${counter}`);
  await mkdir(dir);
  return dir;
}

const sha = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A small tree: file, executable file in a subdirectory, empty directory, symlink. */
async function makeTree(dir: string, order: 'forward' | 'reverse' = 'forward'): Promise<void> {
  const steps = [
    () => writeFile(join(dir, 'a.txt'), 'hello\n'),
    async () => {
      await mkdir(join(dir, 'bin'), { recursive: true });
      await writeFile(join(dir, 'bin', 'run.sh'), '#!/bin/sh\necho hi\n');
      await chmod(join(dir, 'bin', 'run.sh'), 0o755);
    },
    () => mkdir(join(dir, 'empty')),
    () => symlink('a.txt', join(dir, 'link')),
  ];
  if (order === 'reverse') steps.reverse();
  for (const step of steps) await step();
}

describe('digestPath', () => {
  it('digests a file as the sha256 of its bytes (what sha256sum prints)', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'f'), 'hello\n');
    assert.deepEqual(await digestPath(join(dir, 'f')), {
      type: 'file',
      digest: 'sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03',
      files: 1,
      directories: 0,
      symlinks: 0,
      others: 0,
      bytes: 6,
    });
  });

  it('digests a directory with the documented Merkle encoding', async () => {
    const dir = await freshDir();
    await makeTree(dir);
    const runSh = sha('#!/bin/sh\necho hi\n');
    const binDigest = sha(`envseal-tree-v1\nfile x ${runSh} run.sh\0`);
    const emptyDigest = sha('envseal-tree-v1\n');
    const expected = sha(
      'envseal-tree-v1\n' +
        `file - ${sha('hello\n')} a.txt\0` +
        `directory - ${binDigest} bin\0` +
        `directory - ${emptyDigest} empty\0` +
        `symlink - ${sha('a.txt')} link\0`,
    );
    assert.deepEqual(await digestPath(dir), {
      type: 'directory',
      digest: expected,
      files: 2,
      directories: 3,
      symlinks: 1,
      others: 0,
      bytes: 6 + 18,
    });
  });

  it('does not depend on creation order, timestamps or where the tree lives', async () => {
    const a = await freshDir();
    const b = await freshDir();
    await makeTree(a, 'forward');
    await makeTree(b, 'reverse');
    await utimes(join(b, 'a.txt'), new Date('2001-01-01'), new Date('2001-01-01'));
    assert.equal((await digestPath(a)).digest, (await digestPath(b)).digest);
  });

  it('changes when an entry is renamed, edited, made executable, or an empty directory appears', async () => {
    const dir = await freshDir();
    await makeTree(dir);
    const seen = new Set<string>([(await digestPath(dir)).digest]);
    const expectChange = async (what: string) => {
      const digest = (await digestPath(dir)).digest;
      assert.ok(!seen.has(digest), `${what} did not change the digest`);
      seen.add(digest);
    };
    await rename(join(dir, 'a.txt'), join(dir, 'b.txt'));
    await expectChange('rename');
    await writeFile(join(dir, 'b.txt'), 'hello!\n');
    await expectChange('content');
    await chmod(join(dir, 'b.txt'), 0o744);
    await expectChange('executable bit');
    await mkdir(join(dir, 'empty', 'deeper'));
    await expectChange('nested empty directory');
    await rm(join(dir, 'link'));
    await symlink('b.txt', join(dir, 'link'));
    await expectChange('symlink text');
  });

  it('ignores mode bits other than the owner-executable bit', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'f'), 'x');
    await chmod(join(dir, 'f'), 0o644);
    const before = (await digestPath(dir)).digest;
    await chmod(join(dir, 'f'), 0o664);
    assert.equal((await digestPath(dir)).digest, before);
  });

  it('does not follow symlinks, even one given as the path itself', async () => {
    const outside = await freshDir();
    await writeFile(join(outside, 'big'), 'original');
    const dir = await freshDir();
    await symlink(outside, join(dir, 'data'));
    const inTree = (await digestPath(dir)).digest;
    const top = await digestPath(join(dir, 'data'));
    assert.equal(top.type, 'symlink');
    assert.equal(top.digest, sha(outside));
    await writeFile(join(outside, 'big'), 'changed');
    assert.equal((await digestPath(dir)).digest, inTree);
  });

  it('streams large files', async () => {
    const dir = await freshDir();
    const content = Buffer.alloc(9 * 1024 * 1024 + 7);
    for (let i = 0; i < content.length; i += 1) content[i] = (i * 31) & 0xff;
    await writeFile(join(dir, 'big.bin'), content);
    const result = await digestPath(join(dir, 'big.bin'));
    assert.equal(result.digest, sha(content));
    assert.equal(result.bytes, content.length);
  });

  it('hashes names as raw bytes (not valid UTF-8 included)', async () => {
    const dir = await freshDir();
    const a = await freshDir();
    await writeFile(Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x66, 0xff])]), 'x');
    await writeFile(join(a, 'f\ufffd'), 'x');
    assert.notEqual((await digestPath(dir)).digest, (await digestPath(a)).digest);
    assert.equal((await digestPath(dir)).files, 1);
  });

  it('records FIFOs without reading them', async () => {
    const dir = await freshDir();
    const made = spawnSync('mkfifo', [join(dir, 'pipe')]);
    assert.equal(made.status, 0, made.stderr?.toString());
    const result = await digestPath(dir);
    assert.equal(result.others, 1);
    assert.equal(result.digest, sha(`envseal-tree-v1\nother - ${sha('envseal-special:fifo')} pipe\0`));
  });

  it('reports a missing path as an input error naming it', async () => {
    const missing = join(root, 'nope', 'data.csv');
    await assert.rejects(digestPath(missing, { role: 'input' }), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'record.data-missing');
      assert.equal(err.exitCode, 2);
      assert.equal(err.message, `input ${missing} does not exist`);
      return true;
    });
  });

  it('returns null for a missing output when asked to', async () => {
    assert.equal(await digestPath(join(root, 'not-produced'), { role: 'output', ifMissing: 'null' }), null);
  });
});
