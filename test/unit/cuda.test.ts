/**
 * CUDA awareness (issue 10), on plain data: CUDA versions and what an image declares, `+cuXYZ` local versions
 * of wheels, the lock-time check against the base's CUDA, the lock's version 3 (`target.cuda`), nvidia-smi's
 * header, the `run --gpus` driver check and the run record's CUDA facts. The lock use case runs with an
 * in-memory index and a fake engine whose base image declares CUDA 11.8.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareCudaVersions, parseCudaVersion, readImageCuda } from '../../src/core/cuda.js';
import { isEnvsealError, type EnvsealError } from '../../src/core/errors.js';
import type { TargetProbe } from '../../src/core/ground.js';
import type { ContainerRunOptions, ContainerEngine, ImageRegistry, Logger } from '../../src/core/ports.js';
import { silentLogger } from '../../src/core/ports.js';
import { checkCudaWheels, cudaWheels, wheelCudaVersion } from '../../src/ecosystems/python/cuda.js';
import { deriveTarget } from '../../src/ecosystems/base/derive-target.js';
import { finalizeLock, parseLock, serializeLock } from '../../src/lock/lock-file.js';
import { computeFingerprint } from '../../src/lock/fingerprint.js';
import type { Lock } from '../../src/lock/schema.js';
import { lockEnvironment } from '../../src/app/lock-environment.js';
import { checkDriverCuda, cudaFacts, cudaNeeds } from '../../src/app/gpu-check.js';
import { parseNvidiaSmiHeader, queryGpuDriver } from '../../src/record/gpu-driver.js';
import type { ProcessResult } from '../../src/record/exec.js';
import { hostNvidiaSmi } from '../../src/cli/deps.js';
import { MemoryIndex } from '../fixtures/resolve/memory-index.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';
import { sampleDraft } from '../fixtures/lock/sample-lock.js';

const CUDA_118 = { version: '11.8.0', cudnn: '8.9.0.131', source: 'env CUDA_VERSION' };

function thrown(fn: () => unknown): EnvsealError {
  try {
    fn();
  } catch (err) {
    assert.ok(isEnvsealError(err), String(err));
    return err;
  }
  assert.fail('expected an error');
}

async function rejected(promise: Promise<unknown>): Promise<EnvsealError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isEnvsealError(err), String(err));
    return err;
  }
  assert.fail('expected an error');
}

function ground(cuda?: TargetProbe['cuda']) {
  const base = sampleDraft().base;
  return { base, target: { ...BOOKWORM_TARGET, ...(cuda ? { cuda } : {}) } };
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLogger, warnings, warn: (m: string) => void warnings.push(m) };
}

describe('CUDA versions and what an image declares', () => {
  it('parses toolkit, short and cuDNN versions, and refuses what is not one', () => {
    assert.deepEqual(parseCudaVersion('11.8.0'), [11, 8, 0]);
    assert.deepEqual(parseCudaVersion(' 12.2 '), [12, 2]);
    assert.deepEqual(parseCudaVersion('8.9.0.131-1'), [8, 9, 0, 131]);
    assert.equal(parseCudaVersion(''), null);
    assert.equal(parseCudaVersion('N/A'), null);
    assert.equal(parseCudaVersion('12.x'), null);
  });

  it('compares numerically, a missing part counting as 0', () => {
    assert.ok(compareCudaVersions([11, 8], [12, 1]) < 0);
    assert.ok(compareCudaVersions([12, 10], [12, 9]) > 0, 'numbers, not text');
    assert.equal(compareCudaVersions([12, 1], [12, 1, 0]), 0);
  });

  it('reads the env first (what a container sees), then NVIDIA labels; cuDNN from either', () => {
    assert.deepEqual(
      readImageCuda({ env: ['PATH=/usr/bin', 'CUDA_VERSION=11.8.0', 'NV_CUDNN_VERSION=8.9.0.131'], labels: { 'com.nvidia.cuda.version': '12.1.0' } }),
      {
        version: '11.8.0',
        cudnn: '8.9.0.131',
        source: 'env CUDA_VERSION',
      },
    );
    assert.deepEqual(readImageCuda({ env: ['CUDA_VERSION='], labels: { 'com.nvidia.cuda.version': '12.1.0', 'com.nvidia.cudnn.version': '8.9.2' } }), {
      version: '12.1.0',
      cudnn: '8.9.2',
      source: 'label com.nvidia.cuda.version',
    });
    assert.equal(readImageCuda({ env: ['PATH=/usr/bin', 'CUDNN_VERSION=8.9.2'], labels: {} }), null, 'cuDNN alone is no CUDA');
    assert.equal(readImageCuda({ env: ['CUDA_VERSION=latest'], labels: {} }), null, 'a value that is not a version is ignored');
  });
});

describe('+cuXYZ local versions', () => {
  it('gives the CUDA a wheel was built for; CPU, ROCm and plain versions need none', () => {
    assert.deepEqual(wheelCudaVersion('2.1.0+cu121'), [12, 1]);
    assert.deepEqual(wheelCudaVersion('0.16.0+cu118'), [11, 8]);
    assert.deepEqual(wheelCudaVersion('1.4.0+cu92'), [9, 2]);
    assert.deepEqual(wheelCudaVersion('1.7.0+cu110'), [11, 0]);
    assert.deepEqual(wheelCudaVersion('2.0.0+cu117.with.pypi.cudnn'), [11, 7]);
    assert.equal(wheelCudaVersion('2.1.0+cpu'), null);
    assert.equal(wheelCudaVersion('2.1.0+cpu.cxx11.abi'), null);
    assert.equal(wheelCudaVersion('2.1.0+rocm5.6'), null);
    assert.equal(wheelCudaVersion('2.1.0'), null);
    assert.equal(wheelCudaVersion('1.0+cuda'), null);
  });

  it('lists the CUDA wheels of a closure', () => {
    const wheels = cudaWheels([
      { name: 'torch', version: '2.1.0+cu121' },
      { name: 'numpy', version: '1.26.0' },
      { name: 'torchvision', version: '0.16.0+cpu' },
    ]);
    assert.deepEqual(wheels, [{ name: 'torch', version: '2.1.0+cu121', cuda: [12, 1] }]);
  });
});

describe('the lock-time check of CUDA wheels against the base', () => {
  it('refuses a wheel built for a newer CUDA than the base has (exit 2), naming the package, both CUDAs and what to do', () => {
    const err = thrown(() => checkCudaWheels([{ name: 'torch', version: '2.1.0+cu121' }], ground(CUDA_118), silentLogger));
    assert.equal(err.exitCode, 2);
    assert.equal(err.code, 'python.cuda-too-new');
    assert.equal(
      err.message,
      'torch 2.1.0+cu121 needs CUDA 12.1, but the base image 127.0.0.1:5000/python:bookworm (linux/amd64) has CUDA 11.8.0 (env CUDA_VERSION)',
    );
    assert.match(err.hint ?? '', /torch==2\.1\.0\+cu118/);
    assert.match(err.hint ?? '', /base image with CUDA 12\.1 or newer/);
  });

  it('names every offending wheel at once', () => {
    const packages = [
      { name: 'torch', version: '2.1.0+cu121' },
      { name: 'torchvision', version: '0.16.0+cu121' },
      { name: 'torchaudio', version: '2.1.0+cu118' },
    ];
    const err = thrown(() => checkCudaWheels(packages, ground(CUDA_118), silentLogger));
    assert.match(err.message, /^2 wheels need a newer CUDA than the base image .* has: CUDA 11\.8\.0/);
    assert.deepEqual(err.details, ['torch 2.1.0+cu121 needs CUDA 12.1', 'torchvision 0.16.0+cu121 needs CUDA 12.1']);
  });

  it('accepts builds for the base’s CUDA or older, and CPU builds', () => {
    const logger = recordingLogger();
    checkCudaWheels(
      [
        { name: 'torch', version: '2.1.0+cu118' },
        { name: 'old', version: '1.0+cu102' },
        { name: 'cpuonly', version: '2.1.0+cpu' },
      ],
      ground(CUDA_118),
      logger,
    );
    checkCudaWheels([{ name: 'torch', version: '2.1.0+cu121' }], ground({ version: '12.1.0', cudnn: null, source: 'label com.nvidia.cuda.version' }), logger);
    assert.deepEqual(logger.warnings, []);
  });

  it('warns (does not refuse) about CUDA wheels on a base that declares no CUDA', () => {
    const logger = recordingLogger();
    checkCudaWheels([{ name: 'torch', version: '2.1.0+cu121' }], ground(), logger);
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0]!, /torch 2\.1\.0\+cu121: built for CUDA, but the base image .* declares no CUDA version/);
    checkCudaWheels([{ name: 'torch', version: '2.1.0+cpu' }], ground(), logger);
    assert.equal(logger.warnings.length, 1, 'a CPU build on a CPU base is not worth a word');
  });
});

describe('target.cuda in the lock (version 3)', () => {
  const withCuda = () => {
    const draft = sampleDraft();
    return { ...draft, target: { ...draft.target, cuda: CUDA_118 } };
  };

  it('makes the lock version 3; without it the lock stays version 1 with its bytes; the fingerprint ignores it', () => {
    const plain = finalizeLock(sampleDraft());
    const cuda = finalizeLock(withCuda());
    assert.equal(plain.lockVersion, 1);
    assert.equal(cuda.lockVersion, 3);
    assert.equal(cuda.fingerprint, plain.fingerprint, 'the CUDA version follows from the base digest, which the fingerprint has');
    assert.deepEqual(parseLock(serializeLock(cuda)), cuda);
    assert.ok(serializeLock(cuda).includes('"cuda": {\n      "cudnn": "8.9.0.131",\n      "source": "env CUDA_VERSION",\n      "version": "11.8.0"\n    }'));
  });

  it('is version 3 also when only another platform’s target has it, and a derived target keeps it', () => {
    const draft = sampleDraft();
    const arm = deriveTarget({ ...draft.target, cuda: CUDA_118 }, 'linux/amd64', 'linux/arm64');
    assert.deepEqual(arm.cuda, CUDA_118);
    const lock = finalizeLock({
      ...draft,
      declared: { ...draft.declared, platform: ['linux/amd64', 'linux/arm64'] },
      platforms: { 'linux/arm64': { base: { ...draft.base, platform: 'linux/arm64' }, target: arm, targetDerivedFrom: 'linux/amd64', python: draft.python } },
    });
    assert.equal(lock.lockVersion, 3);
  });

  it('refuses a version that does not match (exit 2), and names version 3 to older readers', () => {
    const { fingerprint: _f, ...rest } = { ...finalizeLock(withCuda()), lockVersion: 1 as const };
    const text = serializeLock({ ...rest, fingerprint: computeFingerprint(rest) } as Lock);
    const err = thrown(() => parseLock(text));
    assert.equal(err.code, 'lock.invalid');
    assert.match(err.details.join('\n'), /lockVersion: must be 3 for a lock with target\.cuda/);
    const newer = thrown(() => parseLock('{"lockVersion": 5}'));
    assert.equal(newer.code, 'lock.version');
    assert.match(newer.message, /this envseal reads versions 1, 2, 3, 4/);
  });
});

const INDEX = 'http://index.test/simple';
const DIGEST = (c: string) => `sha256:${c.repeat(64)}`;

/** A fake engine whose base declares CUDA 11.8 in its config; the probe answers for bookworm. */
function cudaFakes() {
  const registry: ImageRegistry = {
    async resolveImage() {
      return { digest: DIGEST('1'), platformDigest: DIGEST('1'), mediaType: 'application/vnd.oci.image.manifest.v1+json', isIndex: false };
    },
  };
  const engine = {
    async inspectImage() {
      return { id: DIGEST('9'), repoTags: [], repoDigests: [], labels: { 'com.nvidia.cuda.version': '11.8.0' }, env: ['CUDA_VERSION=11.8.0'], layers: [] };
    },
    async runContainer(options: ContainerRunOptions) {
      const t = BOOKWORM_TARGET;
      options.stdout!.write(
        [
          `ENVSEAL_OS=${t.os.id}|${t.os.versionId}|${t.os.codename}`,
          `ENVSEAL_MACHINE=${t.machine}`,
          `ENVSEAL_ARCH=${t.architecture}`,
          `ENVSEAL_PY=${JSON.stringify(t.python)}`,
          '',
        ].join('\n'),
      );
      return { exitCode: 0, containerId: 'c' };
    },
  } as unknown as ContainerEngine;
  const index = new MemoryIndex({
    [INDEX]: {
      torch: [{ version: '2.1.0+cu118' }, { version: '2.1.0+cu121' }, { version: '2.1.0+cpu' }],
    },
  });
  return { registry, engine, index, clock: { now: () => new Date('2026-11-27T12:00:00Z') }, logger: silentLogger, toolVersion: '0.1.0' };
}

describe('lock on a CUDA base', () => {
  it('records the base’s CUDA; a +cu121 wheel on it is refused and the lock stays byte for byte', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-cuda-'));
    const paths = { dir, spec: join(dir, 'envseal.yaml'), lock: join(dir, 'envseal.lock') };
    try {
      await writeFile(paths.spec, `version: 1\nname: t\nbase: registry.test/cuda:11.8\npython:\n  requirements: [requirements.txt]\n  index: ${INDEX}\n`);
      await writeFile(join(dir, 'requirements.txt'), 'torch==2.1.0+cu118\n');
      const first = await lockEnvironment(paths, cudaFakes());
      assert.deepEqual(first.lock.target.cuda, { version: '11.8.0', cudnn: null, source: 'env CUDA_VERSION' });
      assert.equal(first.lock.lockVersion, 3);
      assert.equal(first.lock.python!.packages[0]!.version, '2.1.0+cu118');
      const text = await readFile(paths.lock, 'utf8');

      await writeFile(join(dir, 'requirements.txt'), 'torch==2.1.0+cu121\n');
      const err = await rejected(lockEnvironment(paths, cudaFakes()));
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /^torch 2\.1\.0\+cu121 needs CUDA 12\.1, but the base image registry\.test\/cuda:11\.8 \(linux\/amd64\) has CUDA 11\.8\.0/);
      assert.equal(await readFile(paths.lock, 'utf8'), text);

      await writeFile(join(dir, 'requirements.txt'), 'torch==2.1.0+cpu\n');
      assert.equal((await lockEnvironment(paths, cudaFakes())).lock.python!.packages[0]!.version, '2.1.0+cpu');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const SMI_HEADER = `Thu Dec  3 08:00:00 2026
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 470.57.02    Driver Version: 470.57.02    CUDA Version: 11.4     |
|-------------------------------+----------------------+----------------------+
`;

function smi(result: Partial<ProcessResult> | null) {
  const calls: string[][] = [];
  const run = async (args: string[]) => {
    calls.push(args);
    return result === null ? null : { exitCode: 0, signal: null, stdout: Buffer.from(''), stderr: '', timedOut: false, ...result };
  };
  return { calls, run };
}

describe('nvidia-smi and the host driver', () => {
  it('reads the driver and its CUDA version from the header', () => {
    assert.deepEqual(parseNvidiaSmiHeader(SMI_HEADER), { driverVersion: '470.57.02', cuda: '11.4' });
    assert.deepEqual(parseNvidiaSmiHeader('| NVIDIA-SMI 570.86.10              Driver Version: 570.86.10      CUDA Version: 12.8     |'), {
      driverVersion: '570.86.10',
      cuda: '12.8',
    });
    assert.throws(() => parseNvidiaSmiHeader('No devices were found\n'), /printed no "CUDA Version: X\.Y" \(its output began: No devices were found\)/);
  });

  it('asks plain nvidia-smi; missing is exit 2, failing or unreadable exit 3', async () => {
    const ok = smi({ stdout: Buffer.from(SMI_HEADER) });
    assert.deepEqual(await queryGpuDriver(ok.run, 'all'), { driverVersion: '470.57.02', cuda: '11.4' });
    assert.deepEqual(ok.calls, [[]]);

    const missing = await rejected(queryGpuDriver(smi(null).run, 'all'));
    assert.equal(missing.exitCode, 2);
    assert.equal(missing.code, 'run.gpu-no-driver');
    assert.match(missing.message, /^--gpus all: nvidia-smi is not installed on this host/);
    assert.match(missing.hint ?? '', /install the NVIDIA driver .* or run without --gpus/);

    const failing = await rejected(
      queryGpuDriver(smi({ exitCode: 9, stderr: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n" }).run, '2'),
    );
    assert.equal(failing.exitCode, 3);
    assert.equal(failing.code, 'run.gpu-driver-query');
    assert.match(failing.message, /^--gpus 2: nvidia-smi failed \(exit 9\): NVIDIA-SMI has failed/);

    const hung = await rejected(queryGpuDriver(smi({ exitCode: null, signal: 'SIGKILL', timedOut: true }).run, 'all'));
    assert.match(hung.message, /nvidia-smi did not answer in time/);

    const unreadable = await rejected(queryGpuDriver(smi({ stdout: Buffer.from('garbage\n') }).run, 'all'));
    assert.equal(unreadable.exitCode, 3);
    assert.match(unreadable.message, /printed no "CUDA Version/);
  });
});

describe('run --gpus: the driver against the environment’s CUDA', () => {
  const lockWith = (cuda: TargetProbe['cuda'] | undefined, versions: Record<string, string>): Lock => {
    const draft = sampleDraft();
    const python = draft.python!;
    // The first package by name is in both images, the others in the dev image only.
    const first = python.packages.map((p) => p.name).sort()[0];
    const packages = python.packages.map((p) => ({
      ...p,
      version: versions[p.name] ?? p.version,
      targets: p.name === first ? (['deploy', 'dev'] as ('dev' | 'deploy')[]) : (['dev'] as ('dev' | 'deploy')[]),
    }));
    return finalizeLock({ ...draft, target: { ...draft.target, ...(cuda ? { cuda } : {}) }, python: { ...python, packages } });
  };
  const names = (lock: Lock) => lock.python!.packages.map((p) => p.name);

  it('needs the image’s CUDA and the target’s CUDA wheels', () => {
    const plain = lockWith(undefined, {});
    const [first, second] = names(plain);
    const lock = lockWith(CUDA_118, { [first!]: '1.0+cu118', [second!]: '2.0+cu121' });
    assert.deepEqual(
      cudaNeeds(lock, 'dev').map((n) => n.what),
      ["the image's CUDA 11.8.0 (env CUDA_VERSION)", `${first} 1.0+cu118`, `${second} 2.0+cu121`],
    );
    assert.deepEqual(
      cudaNeeds(lock, 'deploy').map((n) => n.what),
      ["the image's CUDA 11.8.0 (env CUDA_VERSION)", `${first} 1.0+cu118`],
      'a dev-only wheel is not in the deploy image',
    );
    assert.deepEqual(
      cudaNeeds(lock, 'deploy', { version: '12.1.0', cudnn: null, source: 'label com.nvidia.cuda.version' }).map((n) => n.what)[0],
      "the image's CUDA 12.1.0 (label com.nvidia.cuda.version)",
      'the image at hand wins over the lock',
    );
    assert.deepEqual(cudaNeeds(plain, 'dev'), []);
  });

  it('refuses a driver older than a need (exit 2), naming the driver, its CUDA and every need; accepts an equal or newer one', () => {
    const lock = lockWith(CUDA_118, {});
    const err = thrown(() => checkDriverCuda({ driverVersion: '470.57.02', cuda: '11.4' }, cudaNeeds(lock, 'dev'), 'all'));
    assert.equal(err.exitCode, 2);
    assert.equal(err.code, 'run.gpu-driver-too-old');
    assert.equal(
      err.message,
      "--gpus all: the host's NVIDIA driver 470.57.02 supports CUDA up to 11.4, but the environment needs CUDA 11.8: the image's CUDA 11.8.0 (env CUDA_VERSION)",
    );
    assert.match(err.hint ?? '', /upgrade the host's NVIDIA driver to one that supports CUDA 11\.8/);
    checkDriverCuda({ driverVersion: '520.61.05', cuda: '11.8' }, cudaNeeds(lock, 'dev'), 'all');
    checkDriverCuda({ driverVersion: '535.104.05', cuda: '12.2' }, cudaNeeds(lock, 'dev'), 'all');
  });

  it('keeps the CUDA, cuDNN, CUDA wheels and driver for the run record', () => {
    const first = names(lockWith(undefined, {}))[0]!;
    const lock = lockWith(CUDA_118, { [first]: '2.1.0+cu118' });
    const image = { env: ['CUDA_VERSION=11.8.0', 'NV_CUDNN_VERSION=8.9.0.131'], labels: {} };
    assert.deepEqual(cudaFacts(lock, 'deploy', image, { driverVersion: '535.104.05', cuda: '12.2' }), {
      version: '11.8.0',
      cudnn: '8.9.0.131',
      wheels: { [first]: '11.8' },
      driver: '12.2',
    });
    assert.deepEqual(cudaFacts(lockWith(undefined, {}), 'deploy', { env: [], labels: {} }, null), { version: null, cudnn: null, wheels: {}, driver: null });
  });

  it('asks the local nvidia-smi for a local engine only', () => {
    const home = tmpdir();
    assert.notEqual(hostNvidiaSmi({ HOME: home, DOCKER_CONFIG: join(home, 'no-such-docker-config'), DOCKER_HOST: 'unix:///var/run/docker.sock' }), null);
    assert.notEqual(hostNvidiaSmi({ HOME: home, DOCKER_CONFIG: join(home, 'no-such-docker-config'), DOCKER_HOST: 'tcp://127.0.0.1:2375' }), null);
    assert.equal(hostNvidiaSmi({ HOME: home, DOCKER_CONFIG: join(home, 'no-such-docker-config'), DOCKER_HOST: 'tcp://10.0.0.5:2375' }), null);
    assert.equal(hostNvidiaSmi({ HOME: home, DOCKER_CONFIG: join(home, 'no-such-docker-config'), DOCKER_HOST: 'ssh://alice@gpu-box' }), null);
  });
});
