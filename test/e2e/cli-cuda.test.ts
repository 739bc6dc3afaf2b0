/**
 * CUDA awareness (issue 10) through the real CLI, without a GPU: a fixture base built FROM the lab base with
 * NVIDIA's CUDA env and labels (CUDA 11.8, cuDNN 8.9) pushed to the lab registry, and a Python index on loopback
 * serving one project as `+cu118`, `+cu121` and `+cpu` builds. `lock` records the base's CUDA (lock version 3)
 * and refuses a wheel built for a newer CUDA, leaving the old lock byte for byte; on a base without CUDA the
 * same wheel is a warning. `run --gpus` asks a fake `nvidia-smi` on PATH: a driver too old, or none at all, is
 * refused before anything is built or started; a driver new enough passes the check, and the engine (which has
 * no GPU runtime here) then refuses the device request. The run record holds the CUDA the container saw.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_REGISTRY, requireLab } from '../lab/lab.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { buildWheel } from '../lab/wheel.js';

const RUN = randomBytes(4).toString('hex');
const CUDA_BASE = `${LAB_REGISTRY}/envseal-cuda-${RUN}/python:cuda11.8`;
const NAME = `cuda-e2e-${RUN}`;

/** Records are foreign JSON here: the tests check them field by field. */
type Json = any;

/** A fake nvidia-smi printing the header of a driver that supports CUDA up to `cuda`. */
async function fakeNvidiaSmi(dir: string, driver: string, cuda: string): Promise<string> {
  const bin = join(dir, `smi-${cuda}`);
  await mkdir(bin, { recursive: true });
  const header = [
    'Thu Dec  3 08:00:00 2026',
    '+---------------------------------------------------------------------------------------+',
    `| NVIDIA-SMI ${driver}              Driver Version: ${driver}      CUDA Version: ${cuda}     |`,
    '|-----------------------------------------+----------------------+----------------------+',
  ].join('\n');
  await writeFile(join(bin, 'nvidia-smi'), `#!/bin/sh\ncat <<'EOF'\n${header}\nEOF\n`);
  await chmod(join(bin, 'nvidia-smi'), 0o755);
  return bin;
}

function spec(base: string, indexUrl: string): string {
  return `version: 1\nname: ${NAME}\nbase: ${base}\npython:\n  requirements: [requirements.txt]\n  index: ${indexUrl}\n`;
}

describe('CUDA: the base’s CUDA in the lock, +cuXYZ wheels checked, run --gpus checks the host driver', { concurrency: false }, () => {
  let index: LabIndex;
  let project: TempProject;
  let plain: TempProject;
  let bins: string;
  // The base, and what `run` builds: the dev image and the raw image kept for the builder's cache.
  const tags = new Set<string>([CUDA_BASE, `envseal-cache/${NAME}:dev`]);

  const envseal = (args: string[], env: Record<string, string> = {}, cwd = project.dir) =>
    runEnvseal(args, { cwd, env: { ENVSEAL_CACHE_DIR: join(bins, 'cache'), ...env } });
  const records = async () => (existsSync(project.path('.envseal/runs')) ? (await readdir(project.path('.envseal/runs'))).sort() : []);

  before(async () => {
    await requireLab();
    bins = await mkdtemp(join(tmpdir(), 'envseal-cuda-bin-'));
    const dockerfile = [
      `FROM ${LAB_BASE_IMAGE}`,
      'ENV CUDA_VERSION=11.8.0 NV_CUDNN_VERSION=8.9.0.131',
      'LABEL com.nvidia.cuda.version=11.8.0 com.nvidia.cudnn.version=8.9.0.131',
      '',
    ].join('\n');
    const built = await dockerCli(['build', '-t', CUDA_BASE, '-'], { input: dockerfile });
    assert.equal(built.code, 0, built.stderr);
    const pushed = await dockerCli(['push', CUDA_BASE]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const module = { 'cudakit/__init__.py': 'NAME = "cudakit"\n' };
    index = await startIndex({
      projects: {
        cudakit: ['2.1.0+cu118', '2.1.0+cu121', '2.1.0+cpu'].map((version) => buildWheel({ name: 'cudakit', version, files: module })),
      },
    });
    project = await makeTempProject({ 'envseal.yaml': spec(CUDA_BASE, index.url), 'requirements.txt': 'cudakit==2.1.0+cu118\n' });
    plain = await makeTempProject({ 'envseal.yaml': spec(LAB_BASE_IMAGE, index.url), 'requirements.txt': 'cudakit==2.1.0+cu121\n' });
  });

  after(async () => {
    await dockerCli(['rmi', '-f', ...tags]);
    await index?.close();
    await project?.cleanup();
    await plain?.cleanup();
    if (bins) await rm(bins, { recursive: true, force: true });
  });

  test('lock records the base’s CUDA and cuDNN (lock version 3) and accepts a +cu118 wheel on it', async () => {
    const res = await envseal(['lock']);
    assert.equal(res.code, 0, res.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8')) as Json;
    assert.equal(lock.lockVersion, 3);
    assert.deepEqual(lock.target.cuda, { version: '11.8.0', cudnn: '8.9.0.131', source: 'env CUDA_VERSION' });
    assert.deepEqual(
      lock.python.packages.map((p: Json) => `${p.name}==${p.version}`),
      ['cudakit==2.1.0+cu118'],
    );
    assert.equal((await envseal(['lock', '--check'])).code, 0);
  });

  test('a +cu121 wheel on the CUDA 11.8 base: exit 2 naming the package, both CUDAs and a fix; the old lock stays byte for byte', async () => {
    const before = await readFile(project.path('envseal.lock'));
    await writeFile(project.path('requirements.txt'), 'cudakit==2.1.0+cu121\n');
    try {
      const res = await envseal(['lock']);
      assert.equal(res.code, 2, res.stderr);
      assert.match(
        res.stderr,
        new RegExp(
          `envseal: error: cudakit 2\\.1\\.0\\+cu121 needs CUDA 12\\.1, but the base image ${CUDA_BASE.replace(/[.]/g, '\\.')} \\(linux/amd64\\) has CUDA 11\\.8\\.0 \\(env CUDA_VERSION\\)`,
        ),
      );
      assert.match(res.stderr, /hint: pin builds for CUDA 11\.8 or older \(e\.g\. cudakit==2\.1\.0\+cu118.*or use a base image with CUDA 12\.1 or newer/);
      assert.deepEqual(await readFile(project.path('envseal.lock')), before);
    } finally {
      await writeFile(project.path('requirements.txt'), 'cudakit==2.1.0+cu118\n');
    }
  });

  test('a +cu121 wheel on a base without CUDA: locked with a warning (its runtime may come with it); the lock has no target.cuda', async () => {
    const res = await envseal(['lock'], {}, plain.dir);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /cudakit 2\.1\.0\+cu121: built for CUDA, but the base image .* declares no CUDA version/);
    const lock = JSON.parse(await readFile(plain.path('envseal.lock'), 'utf8')) as Json;
    assert.equal(lock.target.cuda, undefined);
    assert.equal(lock.lockVersion, 1, 'no CUDA: the lock keeps format 1');
  });

  test('run --gpus with a driver too old for the base’s CUDA: exit 2 before anything is built or started, no record', async () => {
    const old = await fakeNvidiaSmi(bins, '470.57.02', '11.4');
    const res = await envseal(['run', '--gpus', 'all', '--', 'true'], { PATH: `${old}:${process.env.PATH}` });
    assert.equal(res.code, 2, res.stderr);
    assert.match(
      res.stderr,
      /envseal: error: --gpus all: the host's NVIDIA driver 470\.57\.02 supports CUDA up to 11\.4, but the environment needs CUDA 11\.8: the image's CUDA 11\.8\.0 \(env CUDA_VERSION\), cudakit 2\.1\.0\+cu118/,
    );
    assert.match(res.stderr, /hint: upgrade the host's NVIDIA driver to one that supports CUDA 11\.8/);
    assert.deepEqual(await records(), []);
    assert.doesNotMatch(res.stderr, /building|build/i, 'refused before a build');
  });

  test('run --gpus on a host without nvidia-smi: exit 2 that says so, no record', async () => {
    const res = await envseal(['run', '--gpus', '1', '--', 'true'], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
    assert.equal(res.code, 2, res.stderr);
    assert.match(
      res.stderr,
      /envseal: error: --gpus 1: nvidia-smi is not installed on this host, so there is no NVIDIA driver to check the image's CUDA against/,
    );
    assert.match(res.stderr, /hint: install the NVIDIA driver/);
    assert.deepEqual(await records(), []);
  });

  test('the run record holds the CUDA the container saw; a new enough driver passes the check and the engine has no GPU runtime', async () => {
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8')) as Json;
    tags.add(`envseal/${NAME}:dev-${lock.fingerprint.slice(7, 19)}`);
    const ran = await envseal(['run', '--json', '--', 'sh', '-c', 'echo "cuda=$CUDA_VERSION cudnn=$NV_CUDNN_VERSION"']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stderr, /cuda=11\.8\.0 cudnn=8\.9\.0\.131/, 'the container sees the base’s CUDA env');
    const first = JSON.parse(await readFile(project.path(JSON.parse(ran.stdout).record), 'utf8')) as Json;
    assert.equal(first.recordVersion, 4);
    assert.deepEqual(first.cuda, { version: '11.8.0', cudnn: '8.9.0.131', wheels: { cudakit: '11.8' }, driver: null });

    const recent = await fakeNvidiaSmi(bins, '535.104.05', '12.2');
    const before = await records();
    const gpu = await envseal(['run', '--gpus', 'all', '--', 'true'], { PATH: `${recent}:${process.env.PATH}` });
    assert.equal(gpu.code, 3, gpu.stderr);
    assert.match(gpu.stderr, /GPUs were requested, but the Docker engine at .* has no GPU runtime/);
    const added = (await records()).filter((f) => !before.includes(f));
    assert.equal(added.length, 1, 'the engine refused the start: the record says so');
    const second = JSON.parse(await readFile(project.path(`.envseal/runs/${added[0]}`), 'utf8')) as Json;
    assert.equal(second.outcome.error.code, 'run.no-gpu');
    assert.deepEqual(second.cuda, { version: '11.8.0', cudnn: '8.9.0.131', wheels: { cudakit: '11.8' }, driver: '12.2' });
  });
});
