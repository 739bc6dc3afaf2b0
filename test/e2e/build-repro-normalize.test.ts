/**
 * Reproducible images on the real engine (issue 5): the same Dockerfile built twice with --no-cache gives
 * two image IDs; normalised, both give one ID and the same diff_ids, and the image runs. One changed byte
 * in a source file gives another ID, and diffImages names the file. The RUN step makes the unusual entries
 * the issue lists (device file, FIFO, long and non-UTF-8 names, hard links across directories, an xattr,
 * a whiteout) so the test also proves the engine loads them back intact.
 * Needs the lab (`bash .ci/lab-up`); never skips.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBuildContext } from '../../src/image/context/context.js';
import { diffImages, explainImageDiff } from '../../src/image/normalize/image-diff.js';
import { normalizeImage, type NormalizeImageResult } from '../../src/image/normalize/normalize-image.js';
import { DockerodeEngine } from '../../src/engines/docker/dockerode-engine.js';
import { captureContainerOutput } from '../../src/core/container-output.js';
import { LAB_LOCAL_BASE_IMAGE, requireLab } from '../lab/lab.js';

const EPOCH = 1_700_000_000;
const engine = new DockerodeEngine({ socketPath: '/var/run/docker.sock' });
const work = mkdtempSync(join(tmpdir(), 'envseal-repro-e2e-'));
const suffix = randomBytes(4).toString('hex');
const createdTags: string[] = [];

const LONG_DIR = 'd'.repeat(120);
const DOCKERFILE = `FROM ${LAB_LOCAL_BASE_IMAGE}
ENV SOURCE_DATE_EPOCH=${EPOCH}
COPY app /app
RUN python3 -m compileall -q /app \\
 && mkdir -p /data/${LONG_DIR}/x /data/other \\
 && printf 'built\\n' > /data/${LONG_DIR}/x/f \\
 && ln /app/pkg/mod.py /data/other/mod-link \\
 && mkfifo /data/fifo \\
 && mknod /data/null c 1 3 \\
 && touch "/data/$(printf 'caf\\351')" \\
 && python3 -c "import os; os.setxattr('/data/${LONG_DIR}/x/f', 'security.capability', bytes.fromhex('0100000200200000000000000000000000000000'))" \\
 && rm /etc/issue.net
CMD ["python3", "-c", "import sys; sys.path.insert(0, '/app'); import pkg.mod as m; print(m.VALUE)"]
`;

function tag(name: string): string {
  const t = `envseal-test/${name}:${suffix}`;
  createdTags.push(t);
  return t;
}

function project(name: string, value: number): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'app', 'pkg'), { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  writeFileSync(join(dir, 'app', 'pkg', '__init__.py'), '');
  writeFileSync(join(dir, 'app', 'pkg', 'mod.py'), `VALUE = ${value}\n`);
  return dir;
}

async function buildRaw(dir: string, name: string): Promise<string> {
  const context = createBuildContext({ dir, mtime: EPOCH });
  const result = await engine.build(context.stream, { dockerfile: 'Dockerfile', tags: [tag(name)], noCache: true, networkMode: 'host' });
  await context.done;
  return result.imageId;
}

async function normalize(ref: string, name: string, preserveLayers?: string[]): Promise<{ result: NormalizeImageResult; tag: string }> {
  const target = tag(name);
  const result = await normalizeImage(engine, ref, {
    sourceDateEpoch: EPOCH,
    tags: [target],
    workDir: join(work, 'normalize'),
    ...(preserveLayers ? { preserveLayers } : {}),
  });
  return { result, tag: target };
}

before(async () => {
  await requireLab();
});
after(async () => {
  for (const t of createdTags) await engine.removeImage(t, { force: true }).catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

describe('reproducible images through normalisation (real engine)', () => {
  const state: { rawA?: string; rawB?: string; a?: { result: NormalizeImageResult; tag: string }; b?: { result: NormalizeImageResult; tag: string } } = {};

  it('two --no-cache builds of the same Dockerfile give two image IDs, normalised ones give one', async () => {
    const dir = project('same', 42);
    state.rawA = await buildRaw(dir, 'raw-a');
    // Tar mtimes have one-second resolution: the second build must start in a later second for its files
    // to differ (the last test compares the two raw builds' mtimes).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    state.rawB = await buildRaw(dir, 'raw-b');
    assert.notEqual(state.rawA, state.rawB, 'the classic builder is not reproducible by itself');

    state.a = await normalize(state.rawA, 'norm-a');
    state.b = await normalize(state.rawB, 'norm-b');
    assert.equal(state.b.result.imageId, state.a.result.imageId);
    assert.deepEqual(state.b.result.diffIds, state.a.result.diffIds);
    assert.equal(state.a.result.imageId, state.a.result.configDigest, 'classic store: the image ID is the config digest');

    const inspected = await engine.inspectImage(state.a.tag);
    assert.ok(inspected);
    assert.equal(inspected.id, state.a.result.imageId);
    assert.deepEqual(inspected.layers, state.a.result.diffIds);
    assert.equal(inspected.created, '2023-11-14T22:13:20Z');
    assert.equal((await engine.inspectImage(state.b.tag))?.id, state.a.result.imageId);
  });

  it('the normalised image runs, with every unusual entry intact', async () => {
    assert.ok(state.a, 'needs the previous test');
    const run = await captureContainerOutput(engine, { image: state.a.tag, cmd: [] });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.stdout.trim(), '42');

    const check = await captureContainerOutput(engine, {
      image: state.a.tag,
      cmd: [
        'python3',
        '-c',
        [
          'import os, stat',
          `d = "/data/${LONG_DIR}/x/f"`,
          'print(open(d).read().strip())',
          'print(os.getxattr(d, "security.capability").hex())',
          'a, b = os.stat("/app/pkg/mod.py"), os.stat("/data/other/mod-link")',
          'print("hardlink", a.st_ino == b.st_ino, a.st_nlink)',
          's = os.stat("/data/null"); print("chr", stat.S_ISCHR(s.st_mode), os.major(s.st_rdev), os.minor(s.st_rdev))',
          'print("fifo", stat.S_ISFIFO(os.stat("/data/fifo").st_mode))',
          'print("latin1", b"caf\\xe9" in os.listdir(b"/data"))',
          'print("whiteout", os.path.exists("/etc/issue.net"))',
          'print("mtime", os.stat("/app/pkg/mod.py").st_mtime, os.stat("/data/fifo").st_mtime)',
        ].join('\n'),
      ],
    });
    assert.equal(check.exitCode, 0, check.stderr);
    assert.deepEqual(check.stdout.trim().split('\n'), [
      'built',
      '0100000200200000000000000000000000000000',
      'hardlink True 2',
      'chr True 1 3',
      'fifo True',
      'latin1 True',
      'whiteout False',
      `mtime ${EPOCH}.0 ${EPOCH}.0`,
    ]);
  });

  it('keeps preserved base layers byte for byte and is still reproducible', async () => {
    assert.ok(state.rawA && state.rawB && state.a, 'needs the first test');
    const base = await engine.inspectImage(LAB_LOCAL_BASE_IMAGE);
    assert.ok(base);
    const p1 = await normalize(state.rawA, 'preserve-a', base.layers);
    const p2 = await normalize(state.rawB, 'preserve-b', base.layers);
    assert.equal(p1.result.imageId, p2.result.imageId);
    assert.deepEqual(p1.result.diffIds.slice(0, base.layers.length), base.layers, 'the base layers are shared with the base image');
    assert.deepEqual(
      p1.result.diffIds.slice(base.layers.length),
      state.a.result.diffIds.slice(base.layers.length),
      'the build layers are rewritten the same way',
    );
    assert.equal(p1.result.stats.preservedLayers, base.layers.length);
  });

  it('one changed byte in a source file gives another image ID, and diffImages names the file', async () => {
    assert.ok(state.a, 'needs the first test');
    const raw = await buildRaw(project('changed', 43), 'raw-changed');
    const changed = await normalize(raw, 'norm-changed');
    assert.notEqual(changed.result.imageId, state.a.result.imageId);

    const diff = await diffImages(engine, state.a.tag, changed.tag, { workDir: join(work, 'diff') });
    assert.equal(diff.identical, false);
    // The classic builder names the COPY source by a hash of its content in the history.
    assert.deepEqual(
      diff.config.map((c) => c.path),
      ['history[2].created_by'],
    );
    assert.match(diff.config[0]!.a!, /COPY dir:\w+ in \/app/);
    const copyLayer = diff.layers.find((l) => l.label.startsWith('COPY'));
    assert.ok(copyLayer, `a COPY layer differs: ${JSON.stringify(diff.layers.map((l) => l.label))}`);
    assert.deepEqual(
      copyLayer.files.map((f) => [f.path, f.kind]),
      [['app/pkg/mod.py', 'content']],
    );
    const runLayer = diff.layers.find((l) => l.label.startsWith('RUN'));
    assert.ok(runLayer, 'the RUN layer differs too');
    // The .pyc of the changed file, and mod.py itself: linking it from /data copied it up into this layer.
    assert.deepEqual(
      runLayer.files.map((f) => [f.path, f.kind]),
      [
        ['app/pkg/__pycache__/mod.cpython-311.pyc', 'content'],
        ['app/pkg/mod.py', 'content'],
      ],
    );

    const lines = explainImageDiff(diff);
    assert.ok(
      lines.some((l) => /^layer \d+\/\d+ \(COPY .*\): app\/pkg\/mod\.py: content sha256:\w{12} → sha256:\w{12}$/.test(l)),
      lines.join('\n'),
    );
  });

  it('diffImages explains two raw builds: timestamps in the config and mtimes in the layer', async () => {
    assert.ok(state.rawA && state.rawB, 'needs the first test');
    const diff = await diffImages(engine, state.rawA, state.rawB, { workDir: join(work, 'diff') });
    const paths = diff.config.map((c) => c.path);
    assert.ok(paths.includes('created') && paths.includes('container'), paths.join(', '));
    const runLayer = diff.layers.find((l) => l.label.startsWith('RUN'));
    assert.ok(runLayer);
    const fifo = runLayer.files.find((f) => f.path === 'data/fifo');
    assert.ok(fifo, 'the FIFO made in the RUN step differs');
    assert.deepEqual(
      fifo.changes.map((c) => c.field),
      ['mtime'],
    );
    assert.ok(Number(fifo.changes[0]!.b) > Number(fifo.changes[0]!.a));
    assert.ok(explainImageDiff(diff).some((l) => /: data\/fifo: mtime \d+ → \d+$/.test(l)));
  });
});
