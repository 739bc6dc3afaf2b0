import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createBuildContext, walkBuildContext, type BuildContextOptions } from '../../src/image/context/context.js';
import { createTarWriter, readTarEntries, type TarHeader } from '../../src/tar/tar-stream-codec.js';
import { EnvsealError } from '../../src/core/errors.js';

const root = mkdtempSync(join(tmpdir(), 'envseal-context-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** Creates a directory from a spec: path → content (string), or null for an empty directory. */
function makeTree(files: Record<string, string | null>): string {
  const dir = join(root, `t${counter++}`);
  mkdirSync(dir);
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    if (content === null) {
      mkdirSync(full, { recursive: true });
    } else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
  }
  return dir;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Entry {
  header: TarHeader;
  content: string;
}

async function entriesOf(tar: Buffer): Promise<Entry[]> {
  const entries: Entry[] = [];
  await readTarEntries(Readable.from([tar]), async ({ header, body }) => {
    entries.push({ header, content: (await readAll(body)).toString('utf8') });
  });
  return entries;
}

async function buildTar(
  options: BuildContextOptions,
): Promise<{ tar: Buffer; sha256: string; entries: Entry[]; names: string[]; summary: Awaited<ReturnType<typeof createBuildContext>['done']> }> {
  const context = createBuildContext(options);
  const tar = await readAll(context.stream);
  const summary = await context.done;
  const entries = await entriesOf(tar);
  return { tar, sha256: createHash('sha256').update(tar).digest('hex'), entries, names: entries.map((e) => e.header.name), summary };
}

const PROJECT: Record<string, string | null> = {
  'Dockerfile': 'FROM scratch\n',
  'README.md': '# demo\n',
  'src/app/main.py': 'print("hi")\n',
  'src/app/__init__.py': '',
  'src/util.py': 'X = 1\n',
  'data/empty': null,
  'scripts/run.sh': '#!/bin/sh\necho run\n',
};

describe('build context determinism', () => {
  it('gives identical bytes for the same files, whatever their mtimes, extra mode bits and creation order', async () => {
    const first = makeTree(PROJECT);
    chmodSync(join(first, 'scripts/run.sh'), 0o755);
    const a = await buildTar({ dir: first });
    const again = await buildTar({ dir: first });
    assert.equal(again.sha256, a.sha256);

    // Touch everything to different times, add group-write bits: nothing changes.
    for (const path of Object.keys(PROJECT)) utimesSync(join(first, path), new Date(), new Date(Date.now() - 1e6 * Math.random()));
    chmodSync(join(first, 'README.md'), 0o664);
    chmodSync(join(first, 'scripts/run.sh'), 0o775);
    assert.equal((await buildTar({ dir: first })).sha256, a.sha256);

    // The same files created in reverse order in another directory.
    const reversed = Object.fromEntries(Object.entries(PROJECT).reverse());
    const second = makeTree(reversed);
    chmodSync(join(second, 'scripts/run.sh'), 0o700);
    assert.equal((await buildTar({ dir: second })).sha256, a.sha256);
  });

  it('changes when a file content, a name or the executable bit changes', async () => {
    const dir = makeTree(PROJECT);
    const base = (await buildTar({ dir })).sha256;
    writeFileSync(join(dir, 'src/util.py'), 'X = 2\n');
    const edited = (await buildTar({ dir })).sha256;
    assert.notEqual(edited, base);
    chmodSync(join(dir, 'src/util.py'), 0o755);
    assert.notEqual((await buildTar({ dir })).sha256, edited);
  });

  it('writes fixed metadata: the given mtime, root owner without names, normalised modes', async () => {
    const dir = makeTree(PROJECT);
    chmodSync(join(dir, 'scripts/run.sh'), 0o4750); // setuid + odd bits: normalised to 0755
    chmodSync(join(dir, 'README.md'), 0o600);
    symlinkSync('src/util.py', join(dir, 'util-link'));
    const { entries } = await buildTar({ dir, mtime: 1700000000 });
    const byName = new Map(entries.map((e) => [e.header.name, e.header]));
    for (const header of byName.values()) {
      assert.equal(header.mtime, 1700000000, header.name);
      assert.equal(header.uid, 0);
      assert.equal(header.gid, 0);
      assert.equal(header.uname, '');
      assert.equal(header.gname, '');
    }
    assert.equal(byName.get('scripts/run.sh')?.mode, 0o755);
    assert.equal(byName.get('README.md')?.mode, 0o644);
    assert.equal(byName.get('src/')?.mode, 0o755);
    assert.equal(byName.get('data/empty/')?.type, 'directory');
    assert.equal(byName.get('util-link')?.mode, 0o777);
    assert.equal((await buildTar({ dir })).entries[0]?.header.mtime, 0, 'default mtime is the epoch');
  });

  it('orders entries by path bytes, directories as "name/"', async () => {
    const dir = makeTree({ 'a/b': '1', 'a-c': '2', 'a.d/e': '3', 'B': '4', 'é': '5', 'z': '6', 'a0': '7' });
    const { names } = await buildTar({ dir });
    const sorted = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(names, sorted);
    assert.deepEqual(names, ['B', 'a-c', 'a.d/', 'a.d/e', 'a/', 'a/b', 'a0', 'z', 'é']);
  });

  it('counts files, directories, symlinks and bytes', async () => {
    const dir = makeTree({ 'a.txt': 'abc', 'd/b.txt': 'de' });
    symlinkSync('a.txt', join(dir, 'l'));
    const { summary, tar } = await buildTar({ dir });
    assert.deepEqual(summary, { files: 2, directories: 1, symlinks: 1, bytes: tar.length, contentBytes: 5, skipped: [], externalSymlinks: [] });
  });
});

describe('build context contents', () => {
  it('applies .dockerignore from the directory and the default excludes', async () => {
    const dir = makeTree({
      ...PROJECT,
      '.dockerignore': '*.md\ndata\n',
      '.git/HEAD': 'ref\n',
      '.env': 'TOKEN=x\n',
      'node_modules/x/i.js': '',
      'src/app/__pycache__/main.cpython-311.pyc': 'x',
    });
    const { names } = await buildTar({ dir });
    assert.deepEqual(names, [
      '.dockerignore',
      'Dockerfile',
      'scripts/',
      'scripts/run.sh',
      'src/',
      'src/app/',
      'src/app/__init__.py',
      'src/app/main.py',
      'src/util.py',
    ]);
  });

  it('uses the ignoreFile option instead of the file on disk', async () => {
    const dir = makeTree({ ...PROJECT, '.dockerignore': 'src\n' });
    const { names } = await buildTar({ dir, ignoreFile: 'README.md\n', defaultExcludes: false });
    assert.ok(names.includes('src/util.py'));
    assert.ok(!names.includes('README.md'));
  });

  it('re-includes a file below an excluded directory without an entry for the directory (as Docker does)', async () => {
    const dir = makeTree({ 'docs/keep.txt': 'k', 'docs/drop.txt': 'd', 'docs/sub/x.txt': 'x', 'vendor/important.txt': 'i' });
    const { names } = await buildTar({ dir, ignoreFile: 'docs\nvendor\n!docs/keep.txt\n!**/important.txt\n' });
    assert.deepEqual(names, ['docs/keep.txt']);
  });

  it('always sends the Dockerfile and .dockerignore', async () => {
    const dir = makeTree({ ...PROJECT, '.dockerignore': '*\n', 'build/Dockerfile': 'FROM x\n' });
    const { names } = await buildTar({ dir, dockerfile: { path: 'build/Dockerfile' } });
    assert.deepEqual(names, ['.dockerignore', 'build/Dockerfile']);
  });

  it('adds generated files (Dockerfile content, extraFiles) that replace files on disk and are never excluded', async () => {
    const dir = makeTree({ ...PROJECT, '.dockerignore': '.envseal\n' });
    const { entries } = await buildTar({
      dir,
      dockerfile: { path: 'Dockerfile', content: 'FROM generated\n' },
      extraFiles: {
        '.envseal/envseal.lock': '{"lockVersion":1}\n',
        'tools/entry.sh': { content: '#!/bin/sh\n', executable: true },
        './README.md': Buffer.from('replaced\n'),
      },
    });
    const byName = new Map(entries.map((e) => [e.header.name, e]));
    assert.equal(byName.get('Dockerfile')?.content, 'FROM generated\n');
    assert.equal(byName.get('README.md')?.content, 'replaced\n');
    assert.equal(byName.get('.envseal/envseal.lock')?.content, '{"lockVersion":1}\n');
    assert.ok(!byName.has('.envseal/'), 'the excluded directory gets no entry of its own');
    assert.equal(byName.get('tools/')?.header.type, 'directory', 'a directory that exists only for generated files gets one');
    assert.equal(byName.get('tools/entry.sh')?.header.mode, 0o755);
    const names = entries.map((e) => e.header.name);
    assert.deepEqual(
      names,
      [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
    );
  });

  it('rejects generated paths that leave the context or collide with a directory', async () => {
    const dir = makeTree(PROJECT);
    for (const path of ['../escape', '/abs', 'dir/', '.']) {
      await assert.rejects(
        buildTar({ dir, extraFiles: { [path]: 'x' } }),
        (err: unknown) => err instanceof EnvsealError && err.code === 'build.context-path' && err.exitCode === 2,
        path,
      );
    }
    await assert.rejects(buildTar({ dir, extraFiles: { src: 'x' } }), (err: unknown) => err instanceof EnvsealError && err.code === 'build.context-conflict');
    await assert.rejects(
      buildTar({ dir, extraFiles: { 'README.md/x': 'x' } }),
      (err: unknown) => err instanceof EnvsealError && err.code === 'build.context-conflict',
    );
    await assert.rejects(
      buildTar({ dir, extraFiles: { 'g/a': 'x', g: 'y' } }),
      (err: unknown) => err instanceof EnvsealError && err.code === 'build.context-conflict',
    );
  });

  it('stores symlinks as links, never following them, and reports the ones that leave the context', async () => {
    const outside = makeTree({ 'secret.txt': 'outside secret\n', 'tree/a.txt': 'a' });
    const dir = makeTree({ 'src/real.txt': 'real', 'inner/x.txt': 'x' });
    symlinkSync(join(outside, 'secret.txt'), join(dir, 'abs-link'));
    symlinkSync('../../' + outside.split('/').pop() + '/tree', join(dir, 'src/rel-out'));
    symlinkSync('../inner', join(dir, 'src/dir-link'));
    symlinkSync('real.txt', join(dir, 'src/file-link'));
    symlinkSync('does-not-exist', join(dir, 'dangling'));
    const { entries, summary } = await buildTar({ dir });
    const links = Object.fromEntries(entries.filter((e) => e.header.type === 'symlink').map((e) => [e.header.name, e.header.linkname]));
    assert.deepEqual(links, {
      'abs-link': join(outside, 'secret.txt'),
      'dangling': 'does-not-exist',
      'src/dir-link': '../inner',
      'src/file-link': 'real.txt',
      'src/rel-out': '../../' + outside.split('/').pop() + '/tree',
    });
    assert.ok(!entries.some((e) => e.content.includes('outside secret')));
    assert.ok(!entries.some((e) => e.header.name.startsWith('src/dir-link/') || e.header.name.startsWith('src/rel-out/')));
    assert.deepEqual(summary.externalSymlinks, ['abs-link', 'src/rel-out']);
  });

  it('stores hard links as regular files', async () => {
    const dir = makeTree({ 'a.txt': 'same' });
    linkSync(join(dir, 'a.txt'), join(dir, 'b.txt'));
    const { entries } = await buildTar({ dir });
    assert.deepEqual(
      entries.map((e) => [e.header.name, e.header.type, e.content]),
      [
        ['a.txt', 'file', 'same'],
        ['b.txt', 'file', 'same'],
      ],
    );
  });

  it('skips sockets and FIFOs and reports them', async () => {
    const dir = makeTree({ 'a.txt': 'a' });
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    const { names, summary } = await buildTar({ dir });
    assert.deepEqual(names, ['a.txt']);
    assert.deepEqual(summary.skipped, ['pipe']);
  });

  it('fails clearly when the directory does not exist or is a file', async () => {
    await assert.rejects(
      buildTar({ dir: join(root, 'nope') }),
      (err: unknown) => err instanceof EnvsealError && err.code === 'build.context-missing' && err.message.includes(join(root, 'nope')),
    );
    const dir = makeTree({ f: 'x' });
    await assert.rejects(buildTar({ dir: join(dir, 'f') }), (err: unknown) => err instanceof EnvsealError && err.code === 'build.context-missing');
  });

  it('the stream errors too, so a consumer that only pipes it learns about the failure', async () => {
    const context = createBuildContext({ dir: join(root, 'nope') });
    await assert.rejects(readAll(context.stream), (err: unknown) => err instanceof EnvsealError && err.code === 'build.context-missing');
    await assert.rejects(context.done);
  });

  it('stops the walk when the reader destroys the stream', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i++) files[`f${String(i).padStart(2, '0')}.bin`] = 'x'.repeat(100_000);
    const context = createBuildContext({ dir: makeTree(files) });
    for await (const _chunk of context.stream) break; // reads one chunk, then destroys the stream
    await assert.rejects(context.done, /closed before it was fully read/);
  });

  it('walkBuildContext lists what createBuildContext sends', async () => {
    const dir = makeTree({ ...PROJECT, '.dockerignore': 'data\n' });
    const listed: string[] = [];
    for await (const entry of walkBuildContext({ dir })) listed.push(entry.kind === 'directory' ? `${entry.path}/` : entry.path);
    assert.deepEqual(listed, (await buildTar({ dir })).names);
  });
});

describe('unreadable files', () => {
  // Root reads everything, so as root the check runs in a child process as user "nobody".
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'image', 'context', 'context.ts');

  it('fail with the path in the message and exit code 2', () => {
    const dir = makeTree({ 'ok.txt': 'ok', 'locked/secret.txt': 's', 'private.txt': 'p' });
    chmodSync(root, 0o755);
    chmodSync(dir, 0o755);
    for (const sub of ['ok.txt', 'locked/secret.txt']) chmodSync(join(dir, sub), 0o644);
    chmodSync(join(dir, 'locked'), 0o755);
    chmodSync(join(dir, 'private.txt'), 0o000);
    const code = `
      const { createBuildContext } = await import(${JSON.stringify(script)});
      const ctx = createBuildContext({ dir: ${JSON.stringify(dir)} });
      ctx.stream.resume();
      ctx.stream.on('error', () => {});
      try { await ctx.done; console.log(JSON.stringify({ ok: true })); }
      catch (err) { console.log(JSON.stringify(err.toJSON ? err.toJSON() : { message: String(err) })); }
    `;
    const asRoot = process.getuid?.() === 0;
    const command = asRoot ? 'setpriv' : process.execPath;
    const args = [
      ...(asRoot ? ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath] : []),
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      code,
    ];
    const result = spawnSync(command, args, { encoding: 'utf8', cwd: join(dirname(script), '..', '..') });
    assert.equal(result.status, 0, result.stderr);
    const reported = JSON.parse(result.stdout.trim().split('\n').pop()!);
    assert.equal(reported.code, 'build.context-unreadable');
    assert.equal(reported.exitCode, 2);
    assert.match(
      reported.message,
      new RegExp(`cannot read ${join(dir, 'private.txt').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} for the build context: .*EACCES`),
    );
    assert.match(reported.hint, /\.dockerignore/);
  });
});

describe('tar writer and reader', () => {
  it('round-trips long and non-ASCII names, links, pax records and large-ish bodies', async () => {
    const writer = createTarWriter();
    const longName = `${'deep/'.repeat(40)}file-${'x'.repeat(120)}.txt`;
    const collected = readAll(writer.stream);
    await writer.add({ name: 'dir', type: 'directory', mtime: 5 });
    await writer.add({ name: longName, type: 'file' }, 'long');
    await writer.add({ name: 'ünïcødé/名前.txt', type: 'file', mode: 0o600, uid: 1000, gid: 1000, uname: 'u', gname: 'g' }, Buffer.from('utf'));
    await writer.add(
      { name: 'cap', type: 'file', pax: { 'SCHILY.xattr.security.capability': 'AQAAAgAgAAAAAAAAAAAAAAAAAAA=', 'SCHILY.xattr.user.a': '1' } },
      '',
    );
    await writer.add({ name: 'hard', type: 'link', linkname: 'cap' });
    await writer.add({ name: 'soft', type: 'symlink', linkname: `${'t/'.repeat(80)}target` });
    await writer.add({ name: 'big', type: 'file', size: 300_000 }, Readable.from([Buffer.alloc(100_000, 1), Buffer.alloc(200_000, 2)]));
    writer.finish();
    const tar = await collected;
    assert.equal(writer.bytesWritten, tar.length);
    const entries = await entriesOf(tar);
    assert.deepEqual(
      entries.map((e) => e.header.name),
      ['dir/', longName, 'ünïcødé/名前.txt', 'cap', 'hard', 'soft', 'big'],
    );
    assert.equal(entries[0]!.header.mtime, 5);
    assert.equal(entries[1]!.content, 'long');
    assert.deepEqual(
      { mode: entries[2]!.header.mode, uid: entries[2]!.header.uid, uname: entries[2]!.header.uname, content: entries[2]!.content },
      { mode: 0o600, uid: 1000, uname: 'u', content: 'utf' },
    );
    assert.deepEqual(entries[3]!.header.pax, { 'SCHILY.xattr.security.capability': 'AQAAAgAgAAAAAAAAAAAAAAAAAAA=', 'SCHILY.xattr.user.a': '1' });
    assert.deepEqual([entries[4]!.header.type, entries[4]!.header.linkname], ['link', 'cap']);
    assert.equal(entries[5]!.header.linkname, `${'t/'.repeat(80)}target`);
    assert.equal(entries[6]!.header.size, 300_000);
    // And GNU tar reads it the same way.
    const listing = execFileSync('tar', ['-tvf', '-'], { input: tar, encoding: 'utf8' });
    assert.match(listing, /hard link to cap/);
    assert.match(listing, /名前\.txt/);
  });

  it('writes pax records in key order whatever the insertion order', async () => {
    async function tarWith(pax: Record<string, string>): Promise<Buffer> {
      const writer = createTarWriter();
      const out = readAll(writer.stream);
      await writer.add({ name: 'f', type: 'file', pax }, 'x');
      writer.finish();
      return out;
    }
    assert.deepEqual(await tarWith({ b: '2', a: '1' }), await tarWith({ a: '1', b: '2' }));
  });

  it('rejects a stream body whose size differs from the header', async () => {
    for (const [size, body] of [
      [10, 'short'],
      [2, 'too long'],
    ] as const) {
      const writer = createTarWriter();
      writer.stream.on('error', () => {});
      writer.stream.resume();
      await assert.rejects(
        writer.add({ name: 'f', type: 'file', size }, Readable.from([Buffer.from(body)])),
        (err: unknown) => err instanceof EnvsealError && err.code === 'tar.size-changed',
      );
    }
  });

  it('fails on a corrupt or truncated archive', async () => {
    const writer = createTarWriter();
    const out = readAll(writer.stream);
    await writer.add({ name: 'f', type: 'file' }, 'x'.repeat(2000));
    writer.finish();
    const tar = await out;
    const corrupt = Buffer.from(tar);
    corrupt[100] = 0x41; // inside the mode field: the header checksum no longer matches
    await assert.rejects(entriesOf(corrupt), (err: unknown) => err instanceof EnvsealError && err.code === 'tar.corrupt');
    await assert.rejects(entriesOf(tar.subarray(0, 1200)), (err: unknown) => err instanceof EnvsealError && err.code === 'tar.corrupt');
  });

  it("passes the visitor's own errors through unchanged", async () => {
    const writer = createTarWriter();
    const out = readAll(writer.stream);
    await writer.add({ name: 'a', type: 'file' }, 'x');
    writer.finish();
    const mine = new Error('visitor says no');
    await assert.rejects(
      readTarEntries(Readable.from([await out]), () => {
        throw mine;
      }),
      (err: unknown) => err === mine,
    );
  });

  it('skips bodies the visitor does not read', async () => {
    const writer = createTarWriter();
    const out = readAll(writer.stream);
    await writer.add({ name: 'a', type: 'file' }, 'x'.repeat(5000));
    await writer.add({ name: 'b', type: 'file' }, 'bee');
    writer.finish();
    const seen: string[] = [];
    await readTarEntries(Readable.from([await out]), async ({ header, body }) => {
      seen.push(header.name === 'b' ? (await readAll(body)).toString() : header.name);
    });
    assert.deepEqual(seen, ['a', 'bee']);
  });
});
