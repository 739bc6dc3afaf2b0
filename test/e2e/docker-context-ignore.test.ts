/**
 * Conformance: the files envseal's build context sends are the files `docker build` sends, for the same
 * directory and .dockerignore. The docker CLI (legacy builder, which walks the context on the client with
 * moby's pattern matcher) builds one image, DockerodeEngine with createBuildContext another; both list what
 * COPY put in. Needs the lab (`bash .ci/lab-up`) and the docker CLI; never skips.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBuildContext, walkBuildContext } from '../../src/image/context/context.js';
import { DockerodeEngine } from '../../src/engines/docker/dockerode-engine.js';

const BASE = 'local/python:bookworm';
const engine = new DockerodeEngine({ socketPath: '/var/run/docker.sock' });
const work = mkdtempSync(join(tmpdir(), 'envseal-ignore-e2e-'));
const images: string[] = [];

const FILES = [
  'README.md',
  'docs/a.md',
  'docs/keep.txt',
  'docs/sub/b.md',
  'src/x.py',
  'src/y.tmp',
  'src/sub/z.tmp',
  'src/README.md',
  'a/node_modules/m.js',
  'build/out.o',
  'Build/Out.o',
  '#hash',
  'file1.txt',
  'file10.txt',
  'vendor/important.txt',
  'vendor/lib.py',
  'data/a.csv',
  'data/x/y.csv',
  'data/keep.json',
  'other/data/a.csv',
  'deep/dir/keep/me.txt',
  'deep/dir/drop.txt',
  '.env',
  '.git/HEAD',
];

const DOCKERIGNORE = [
  '# a comment line',
  'docs',
  '!docs/keep.txt',
  '*.md',
  'src/*.tmp',
  '/build',
  ' #hash',
  'file?.txt',
  'vendor',
  '!**/important.txt',
  'data/**/*.csv',
  'deep',
  '!deep/dir/keep',
  'Dockerfile',
  '.dockerignore',
  '',
].join('\n');

const LIST = 'cd /ctx && find . -mindepth 1 | LC_ALL=C sort';

before(async () => {
  try {
    await engine.info();
  } catch (err) {
    assert.fail(`the Docker engine is not reachable (${(err as Error).message}): run \`bash .ci/lab-up\` first`);
  }
  if (!(await engine.inspectImage(BASE))) assert.fail(`the base image ${BASE} is missing: run \`bash .ci/lab-up\` first`);
  for (const path of FILES) {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), `${path}\n`);
  }
  writeFileSync(join(work, '.dockerignore'), DOCKERIGNORE);
  writeFileSync(join(work, 'Dockerfile'), `FROM ${BASE}\nCOPY . /ctx\n`);
});

after(async () => {
  for (const image of images) await engine.removeImage(image, { force: true }).catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

async function listImage(image: string): Promise<string[]> {
  const result = await engine.captureContainerOutput(image, ['sh', '-c', LIST], { networkMode: 'none' });
  assert.equal(result.exitCode, 0, result.stderr);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => line.replace(/^\.\//, ''));
}

describe('build context vs docker build', () => {
  it('sends exactly the files the docker CLI sends (without envseal default excludes)', async () => {
    let cliImage: string;
    try {
      cliImage = execFileSync('docker', ['build', '-q', '--network', 'none', work], {
        encoding: 'utf8',
        env: { ...process.env, DOCKER_BUILDKIT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim();
    } catch (err) {
      assert.fail(`docker build with the docker CLI failed (is the docker client installed? run \`bash .ci/lab-up\`): ${(err as Error).message}`);
    }
    images.push(cliImage);
    const ours = await engine.build(createBuildContext({ dir: work, defaultExcludes: false }).stream, {
      dockerfile: 'Dockerfile',
      tags: [],
      networkMode: 'none',
    });
    images.push(ours.imageId);

    const cliFiles = await listImage(cliImage);
    const ourFiles = await listImage(ours.imageId);
    assert.deepEqual(ourFiles, cliFiles);

    // The expectation spelled out, so a change on either side shows up here. " #hash" is a pattern (only a
    // '#' in the first column starts a comment). Dockerfile and .dockerignore are sent, but the daemon drops
    // them from the COPY source because .dockerignore excludes them (moby builder/remotecontext).
    assert.deepEqual(cliFiles, [
      '.env',
      '.git',
      '.git/HEAD',
      'Build',
      'Build/Out.o',
      'a',
      'a/node_modules',
      'a/node_modules/m.js',
      'data',
      'data/keep.json',
      'data/x',
      'deep',
      'deep/dir',
      'deep/dir/keep',
      'deep/dir/keep/me.txt',
      'docs',
      'docs/keep.txt',
      'file10.txt',
      'other',
      'other/data',
      'other/data/a.csv',
      'src',
      'src/README.md',
      'src/sub',
      'src/sub/z.tmp',
      'src/x.py',
    ]);

    // walkBuildContext (what a dry run lists) agrees on the files, plus the two the daemon drops.
    const walked: string[] = [];
    for await (const entry of walkBuildContext({ dir: work, defaultExcludes: false })) if (entry.kind !== 'directory') walked.push(entry.path);
    const expected = [...cliFiles.filter((path) => FILES.includes(path)), '.dockerignore', 'Dockerfile'];
    assert.deepEqual(
      walked,
      expected.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
  });

  it('with the defaults, leaves out .env, .git and node_modules as well', async () => {
    const ours = await engine.build(createBuildContext({ dir: work }).stream, { dockerfile: 'Dockerfile', tags: [], networkMode: 'none' });
    images.push(ours.imageId);
    const files = await listImage(ours.imageId);
    for (const path of ['.env', '.git', 'a/node_modules']) assert.ok(!files.includes(path), path);
    assert.ok(files.includes('src/x.py'));
  });
});
