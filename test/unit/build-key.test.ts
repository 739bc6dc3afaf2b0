/**
 * The key a repeat reproducible build is recognised by (app/build-key.ts): it must change with anything the
 * image is made from, and with nothing else.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { computeBuildKey, type BuildKeyInputs } from '../../src/app/build-key.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'envseal-build-key-'));
  await mkdir(join(dir, 'src'));
  await writeFile(join(dir, 'src', 'main.py'), 'print(1)\n');
  await writeFile(join(dir, 'notes.txt'), 'not copied\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const inputs = (over: Partial<BuildKeyInputs> = {}): BuildKeyInputs => ({
  dockerfile: 'FROM base\nCOPY ["src", "/workspace/src"]\n',
  target: 'deploy',
  platform: null,
  network: 'host',
  buildArgs: {},
  sourceDigest: `sha256:${'1'.repeat(64)}`,
  copy: ['src/'],
  context: { dir, dockerfile: { path: 'envseal.Dockerfile', content: 'FROM base\n' }, mtime: 0 },
  ...over,
});

describe('computeBuildKey', () => {
  it('is the same for the same inputs, and ignores files the image does not copy', async () => {
    const first = await computeBuildKey(inputs());
    assert.match(first, /^sha256:[0-9a-f]{64}$/);
    await writeFile(join(dir, 'notes.txt'), 'changed, still not copied\n');
    assert.equal(await computeBuildKey(inputs()), first);
  });

  it('changes with the Dockerfile, the target, the build args, the network and the content digest', async () => {
    const base = await computeBuildKey(inputs());
    const others = await Promise.all([
      computeBuildKey(inputs({ dockerfile: 'FROM base\n' })),
      computeBuildKey(inputs({ target: 'dev' })),
      computeBuildKey(inputs({ buildArgs: { ENVSEAL_REVISION: 'abc' } })),
      computeBuildKey(inputs({ network: 'bridge' })),
      computeBuildKey(inputs({ sourceDigest: `sha256:${'2'.repeat(64)}` })),
      computeBuildKey(inputs({ platform: 'linux/arm64' })),
    ]);
    assert.equal(new Set([base, ...others]).size, others.length + 1);
  });

  it('changes with what the context makes of the copied paths: modes, new entries, symlinks, .dockerignore', async () => {
    const seen = new Set([await computeBuildKey(inputs())]);
    const step = async (what: string, change: () => Promise<void>) => {
      await change();
      const key = await computeBuildKey(inputs());
      assert.ok(!seen.has(key), `${what} changes the key`);
      seen.add(key);
    };
    // A group-executable file is sent as 0755 by the context (the content digest only looks at the owner's bit).
    await step('an execute bit', () => chmod(join(dir, 'src', 'main.py'), 0o654));
    await step('an empty directory', () => mkdir(join(dir, 'src', 'empty')));
    await step('a symlink', () => symlink('main.py', join(dir, 'src', 'link.py')));
    await step('a .dockerignore that leaves a copied file out', () => writeFile(join(dir, '.dockerignore'), 'src/main.py\n'));
  });
});
