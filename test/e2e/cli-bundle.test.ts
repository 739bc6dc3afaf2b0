/**
 * Issue 15, offline bundles: a project locked against an index this test starts on a free port is built,
 * bundled, its image removed and the index stopped (so nothing can come from the network), then
 * `envseal load` brings back the same image ID, and `load --rebuild` rebuilds it from the bundled files alone
 * to the same image ID. A bundle with one flipped byte, or cut short, is refused with exit 2 naming the entry,
 * and loads nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, open, readdir, readFile, stat, symlink, truncate, unlink } from 'node:fs/promises';
import { ENVSEAL_BIN, makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { buildFixtureFiles } from '../lab/fixtures-index.js';
import { startIndex, type FileSpec, type LabIndex } from '../lab/index-server.js';
import { dockerCli, LAB_BASE_IMAGE, requireLab } from '../lab/lab.js';

const NAME = 'bundle15-e2e';

/** Offset and size of an entry's body in a plain ustar archive (what `envseal bundle` writes). */
function findEntry(archive: Buffer, name: string): { offset: number; size: number } {
  let pos = 0;
  let longName: string | undefined;
  while (pos + 512 <= archive.length && archive[pos] !== 0) {
    const header = archive.subarray(pos, pos + 512);
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156]!);
    const prefix = header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const short = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const entryName = longName ?? (prefix ? `${prefix}/${short}` : short);
    const body = pos + 512;
    if (type === 'x') {
      const pax = archive.subarray(body, body + size).toString('utf8');
      longName = /\d+ path=(.*)\n/.exec(pax)?.[1];
    } else {
      if (entryName === name) return { offset: body, size };
      longName = undefined;
    }
    pos = body + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${name} is not in the archive`);
}

describe('offline bundles: bundle, load, load --rebuild, refused damage (issue 15)', { concurrency: false, timeout: 30 * 60_000 }, () => {
  let index: LabIndex;
  let project: TempProject;
  let imageId = '';
  let tag = '';
  let projectsServed: Record<string, FileSpec[]> = {};
  const images = new Set<string>();
  const envseal = (args: string[], timeoutMs = 15 * 60_000) =>
    runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') }, timeoutMs });
  const imageExists = async (ref: string) => (await dockerCli(['image', 'inspect', ref])).code === 0;
  const removeImage = async () => {
    const rm = await dockerCli(['rmi', '-f', imageId]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(await imageExists(imageId), false);
  };

  before(async () => {
    await requireLab();
    const wanted = /^(seal_metrics-1\.1\.0|seal_utils-1\.|tinyconfig-1\.1\.0)/;
    const files = buildFixtureFiles({ hostWheelsDir: null }).filter((f) => wanted.test(f.filename) && f.filename.endsWith('.whl'));
    const projects: Record<string, FileSpec[]> = {};
    for (const f of files) {
      (projects[f.filename.split('-')[0]!.replace(/_/g, '-')] ??= []).push({
        filename: f.filename,
        bytes: f.bytes,
        ...(f.yankedReason ? { yanked: f.yankedReason } : {}),
      });
    }
    projectsServed = projects;
    index = await startIndex({ projects });
    project = await makeTempProject({
      'envseal.yaml': `version: 1
name: ${NAME}
base: ${LAB_BASE_IMAGE}
python:
  packages: ["seal-metrics==1.1.0"]
  index: ${index.url}
targets:
  deploy:
    copy: [app.py, conf]
    command: [python, app.py]
`,
      'app.py': 'import seal_metrics\nprint("accuracy", seal_metrics.accuracy([1, 0], [1, 1]))\n',
      'conf/settings.toml': 'threshold = 0.5\n',
      // What `envseal sbom` writes next to the lock: bundled when present.
      'envseal.cdx.json': '{"bomFormat": "CycloneDX", "specVersion": "1.6"}\n',
    });
    for (const step of [['lock'], ['generate']]) {
      const res = await envseal(step);
      assert.equal(res.code, 0, res.stderr);
    }
  });

  after(async () => {
    if (images.size) await dockerCli(['rmi', '-f', ...images]);
    // The tests stop the index on purpose; closing it again here is a no-op, not a failure.
    await index?.close().catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ERR_SERVER_NOT_RUNNING') throw err;
    });
    await project?.cleanup();
  });

  test('bundle without a built image: exit 2 naming the image', async () => {
    const res = await envseal(['bundle', '--target', 'deploy', '-o', 'early.tar']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /there is no image envseal\/bundle15-e2e:deploy-[0-9a-f]{12}-[0-9a-f]{8} in the Docker engine to bundle/);
    await assert.rejects(stat(project.path('early.tar')));
  });

  test('build and bundle: the image, the lock, the Dockerfile, every wheel and the deploy sources', async () => {
    const built = await envseal(['build', '--target', 'deploy', '--json']);
    assert.equal(built.code, 0, built.stderr);
    ({ imageId } = JSON.parse(built.stdout) as { imageId: string });
    tag = (JSON.parse(built.stdout) as { tags: string[] }).tags[0]!;
    images.add(imageId);

    const bundled = await envseal(['bundle', '--target', 'deploy', '-o', 'env.tar', '--json']);
    assert.equal(bundled.code, 0, bundled.stderr);
    const out = JSON.parse(bundled.stdout) as { imageId: string; entries: number };
    assert.equal(out.imageId, imageId);
    const archive = await readFile(project.path('env.tar'));
    const m = findEntry(archive, 'manifest.json');
    const manifest = JSON.parse(archive.subarray(m.offset, m.offset + m.size).toString('utf8'));
    assert.equal(manifest.bundleVersion, 2);
    assert.equal(manifest.image.id, imageId);
    const paths = (manifest.entries as { path: string }[]).map((e) => e.path).sort();
    assert.deepEqual(paths.filter((p) => p.startsWith('python/')).length, 3, paths.join(', '));
    for (const p of ['image.tar', 'envseal.lock', 'envseal.Dockerfile', 'source/app.py', 'source/conf/settings.toml', 'sbom/envseal.cdx.json'])
      assert.ok(paths.includes(p), p);
    assert.equal(out.entries, paths.length + 1);
    // Nothing but the bundle in the project directory: no temp file left behind.
    assert.deepEqual(
      (await readdir(project.dir)).filter((f) => f.includes('.tmp')),
      [],
    );
  });

  const leftovers = async () => (await readdir(project.dir)).filter((f) => f.includes('.tmp') || f.startsWith('bad'));

  test('refused bundles leave nothing behind: wrong target, a symlink to copy, a changed wheel, Ctrl-C', async () => {
    const wrongTarget = await envseal(['bundle', '--target', 'dev', '--image', imageId, '-o', 'bad-target.tar']);
    assert.equal(wrongTarget.code, 2, wrongTarget.stderr);
    assert.match(wrongTarget.stderr, /image sha256:[0-9a-f]{64} is the deploy image, not dev/);

    await symlink('settings.toml', project.path('conf/link.toml'));
    try {
      const linked = await envseal(['bundle', '--target', 'deploy', '--image', imageId, '-o', 'bad-link.tar']);
      assert.equal(linked.code, 2, linked.stderr);
      assert.match(linked.stderr, /conf\/link\.toml \(under targets\.deploy\.copy\) is a symlink, which a bundle does not carry/);
    } finally {
      await unlink(project.path('conf/link.toml'));
    }

    const served = index.requests.length;
    const original = projectsServed;
    index.setProjects({ ...original, tinyconfig: original.tinyconfig!.map((f) => ({ ...f, bytes: Buffer.concat([Buffer.from(f.bytes), Buffer.from('x')]) })) });
    try {
      const changed = await envseal(['bundle', '--target', 'deploy', '-o', 'bad-hash.tar']);
      assert.equal(changed.code, 1, changed.stderr);
      assert.match(
        changed.stderr,
        /tinyconfig-1\.1\.0-py3-none-any\.whl from http:\/\/127\.0\.0\.1:\d+\/\S+ has sha256 [0-9a-f]{64}, the lock says [0-9a-f]{64}/,
      );
    } finally {
      index.setProjects(original);
    }
    assert.ok(index.requests.length > served);

    index.setFault({ path: /\.whl$/, delayMs: 60_000 });
    try {
      const started = Date.now();
      const child = spawn(process.execPath, [ENVSEAL_BIN, 'bundle', '--target', 'deploy', '-o', 'bad-int.tar'], {
        cwd: project.dir,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NO_COLOR: '1',
          ENVSEAL_CACHE_DIR: project.path('.cache'),
          ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await new Promise<void>((resolve) =>
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString('utf8');
          if (stderr.includes('fetching')) resolve();
        }),
      );
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
      assert.ok(Date.now() - started < 30_000, 'Ctrl-C stops the bundle within seconds');
      assert.match(stderr, /interrupted/);
    } finally {
      index.setFault(null);
    }
    assert.deepEqual(await leftovers(), []);
  });

  test('remove the image, stop the index, load: the same image ID', async () => {
    await removeImage();
    await index.close();
    const loaded = await envseal(['load', 'env.tar', '--json']);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal(JSON.parse(loaded.stdout).imageId, imageId);
    const inspect = JSON.parse((await dockerCli(['image', 'inspect', tag], { check: true })).stdout)[0];
    assert.equal(inspect.Id, imageId);
    const run = await dockerCli(['run', '--rm', '--network', 'none', imageId]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /accuracy 0.5/);
  });

  test('load --rebuild with the index stopped: the same image ID from the bundled files alone', async () => {
    await removeImage();
    const rebuilt = await envseal(['load', 'env.tar', '--rebuild', '--json']);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    const out = JSON.parse(rebuilt.stdout) as { imageId: string; rebuilt: boolean };
    assert.equal(out.imageId, imageId);
    assert.equal(out.rebuilt, true);
    assert.equal(JSON.parse((await dockerCli(['image', 'inspect', tag], { check: true })).stdout)[0].Id, imageId);
  });

  const refused = async (file: string, entry: RegExp) => {
    const res = await envseal(['load', file]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, entry);
    assert.match(res.stderr, /nothing was loaded/);
    assert.equal(await imageExists(imageId), false, 'nothing was loaded');
  };

  const flipByte = async (file: string, offset: number) => {
    const handle = await open(file, 'r+');
    try {
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, offset);
      byte[0] = byte[0]! ^ 0x01;
      await handle.write(byte, 0, 1, offset);
    } finally {
      await handle.close();
    }
  };

  test('a flipped byte in a wheel, in the image, or in the lock: exit 2 naming the entry, nothing loaded', async () => {
    await removeImage();
    const archive = await readFile(project.path('env.tar'));
    const wheelName = findWheel(archive);
    for (const [name, pattern] of [
      [wheelName, new RegExp(`env-wheel\\.tar: ${wheelName.replace(/\./g, '\\.')} has sha256 [0-9a-f]{64}, manifest\\.json says`)],
      ['image.tar', /env-image\.tar: image\.tar has sha256 [0-9a-f]{64}, manifest\.json says/],
      ['envseal.lock', /env-lock\.tar: envseal\.lock has sha256/],
    ] as const) {
      const file = `env-${name === wheelName ? 'wheel' : name === 'image.tar' ? 'image' : 'lock'}.tar`;
      await copyFile(project.path('env.tar'), project.path(file));
      const { offset, size } = findEntry(archive, name);
      await flipByte(project.path(file), offset + Math.floor(size / 2));
      await refused(file, pattern);
    }
  });

  test('a truncated bundle: exit 2 naming the entry it breaks off in, nothing loaded', async () => {
    const archive = await readFile(project.path('env.tar'));
    const { offset, size } = findEntry(archive, 'image.tar');
    await copyFile(project.path('env.tar'), project.path('cut.tar'));
    await truncate(project.path('cut.tar'), offset + Math.floor(size / 3));
    await refused('cut.tar', /cut\.tar: image\.tar cannot be read: the archive is truncated or corrupt/);
    await copyFile(project.path('env.tar'), project.path('cut2.tar'));
    await truncate(project.path('cut2.tar'), findEntry(archive, 'manifest.json').offset - 512);
    await refused('cut2.tar', /cut2\.tar: manifest\.json is missing|cut2\.tar: .* cannot be read/);
  });
});

function findWheel(archive: Buffer): string {
  const m = /python\/seal_metrics-1\.1\.0-[^\0]*?\.whl/.exec(archive.toString('latin1'));
  assert.ok(m, 'the seal-metrics wheel is in the bundle');
  return m[0];
}
