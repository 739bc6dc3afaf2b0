/**
 * `run --gpus`: the host's NVIDIA driver must support the CUDA the environment needs (the image's CUDA toolkit,
 * and the CUDA the target's `+cuXYZ` wheels were built for), checked before a container starts; and the CUDA
 * facts the run record keeps. Pure apart from nothing: the driver comes in as data (record/gpu-driver.ts).
 */
import { compareCudaVersions, formatCudaVersion, majorMinor, parseCudaVersion, readImageCuda, type CudaVersion, type ImageCuda } from '../core/cuda.js';
import { inputError } from '../core/errors.js';
import type { TargetName } from '../core/image-contract.js';
import type { ImageInfo } from '../core/ports.js';
import { cudaWheels } from '../ecosystems/python/cuda.js';
import type { Lock } from '../lock/schema.js';
import type { GpuDriver } from '../record/gpu-driver.js';
import type { CudaFacts } from '../record/schema.js';

export interface CudaNeed {
  /** What needs it: `the image's CUDA 11.8.0 (env CUDA_VERSION)`, `torch 2.1.0+cu121`. */
  what: string;
  /** `major.minor`. */
  cuda: CudaVersion;
}

function targetPackages(lock: Lock, target: TargetName): { name: string; version: string }[] {
  return (lock.python?.packages ?? []).filter((p) => p.targets.includes(target));
}

/**
 * What needs CUDA in the environment of `target`: the image's declared CUDA (`image`, or the lock's
 * `target.cuda` before the image is at hand) and the target's CUDA wheels.
 */
export function cudaNeeds(lock: Lock, target: TargetName, image?: ImageCuda | null): CudaNeed[] {
  const needs: CudaNeed[] = [];
  const declared = image === undefined ? (lock.target.cuda ?? null) : image;
  const version = declared ? parseCudaVersion(declared.version) : null;
  if (declared && version) needs.push({ what: `the image's CUDA ${declared.version} (${declared.source})`, cuda: majorMinor(version) });
  for (const wheel of cudaWheels(targetPackages(lock, target))) needs.push({ what: `${wheel.name} ${wheel.version}`, cuda: wheel.cuda });
  return needs;
}

/**
 * Refuses (exit 2) a driver whose CUDA is older than any need: CUDA applications need a driver at least as new
 * as their CUDA `major.minor`, the rule NVIDIA's container toolkit applies to an image's NVIDIA_REQUIRE_CUDA.
 */
export function checkDriverCuda(driver: GpuDriver, needs: readonly CudaNeed[], gpus: string): void {
  const supported = parseCudaVersion(driver.cuda);
  if (!supported) return;
  const tooNew = needs.filter((n) => compareCudaVersions(n.cuda, majorMinor(supported)) > 0);
  if (!tooNew.length) return;
  const newest = formatCudaVersion(tooNew.reduce((a, b) => (compareCudaVersions(a.cuda, b.cuda) >= 0 ? a : b)).cuda);
  const driverName = `the host's NVIDIA driver${driver.driverVersion ? ` ${driver.driverVersion}` : ''}`;
  throw inputError(
    'run.gpu-driver-too-old',
    `--gpus ${gpus}: ${driverName} supports CUDA up to ${driver.cuda}, but the environment needs CUDA ${newest}: ${tooNew.map((n) => n.what).join(', ')}`,
    {
      details: tooNew.map((n) => `${n.what} needs CUDA ${formatCudaVersion(n.cuda)} (driver: ${driver.cuda})`),
      hint: `upgrade the host's NVIDIA driver to one that supports CUDA ${newest} (NVIDIA's CUDA compatibility table lists the minimum driver), or lock a base image and wheels for CUDA ${driver.cuda} or older (the run was not started)`,
      data: { driverVersion: driver.driverVersion, driverCuda: driver.cuda, needs: tooNew.map((n) => ({ what: n.what, cuda: formatCudaVersion(n.cuda) })) },
    },
  );
}

/** The run record's `cuda`: what the image declares, the target's CUDA wheels, and the driver when it was asked. */
export function cudaFacts(lock: Lock, target: TargetName, image: Pick<ImageInfo, 'env' | 'labels'>, driver: GpuDriver | null): CudaFacts {
  const declared = readImageCuda(image);
  const wheels = Object.fromEntries(cudaWheels(targetPackages(lock, target)).map((w) => [w.name, formatCudaVersion(w.cuda)]));
  return { version: declared?.version ?? null, cudnn: declared?.cudnn ?? null, wheels, driver: driver?.cuda ?? null };
}
