/**
 * CUDA builds of wheels: a `+cuXYZ` local version (PyTorch's `torch 2.1.0+cu121`, also `+cu117.with.pypi.cudnn`)
 * says which CUDA the wheel was built for. Checked at lock time against the CUDA the base image declares
 * (`target.cuda`): a wheel that needs a newer CUDA than the base has is an error (exit 2). A base that
 * declares no CUDA is only warned about: PyTorch's CUDA wheels bring their CUDA runtime as pip packages
 * (nvidia-*-cu12) and run on a plain Python base with a recent enough driver, which `run --gpus` checks. CPU
 * builds (`+cpu`) and ROCm builds need no CUDA. Pure.
 */
import { inputError } from '../../core/errors.js';
import { compareCudaVersions, formatCudaVersion, majorMinor, parseCudaVersion, type CudaVersion } from '../../core/cuda.js';
import type { Ground } from '../../core/ground.js';
import type { Logger } from '../../core/ports.js';

export interface CudaWheel {
  name: string;
  version: string;
  /** `major.minor` from the local version. */
  cuda: CudaVersion;
}

/**
 * The CUDA a version's local segment names: `2.1.0+cu121` → 12.1, `+cu92` → 9.2, `+cu117.with.pypi.cudnn` →
 * 11.7; the last digit is the minor version (PyTorch's convention since cu80). null without one (`+cpu`).
 */
export function wheelCudaVersion(version: string): CudaVersion | null {
  const plus = version.indexOf('+');
  if (plus < 0) return null;
  for (const segment of version
    .slice(plus + 1)
    .toLowerCase()
    .split(/[._-]/)) {
    const m = /^cu(\d{2,3})$/.exec(segment);
    if (m) return [Number(m[1]!.slice(0, -1)), Number(m[1]!.slice(-1))];
  }
  return null;
}

/** The packages built for a CUDA version, by name. */
export function cudaWheels(packages: readonly { name: string; version: string }[]): CudaWheel[] {
  return packages.flatMap((p) => {
    const cuda = wheelCudaVersion(p.version);
    return cuda ? [{ name: p.name, version: p.version, cuda }] : [];
  });
}

/**
 * Refuses (exit 2) wheels built for a newer CUDA than the base image declares, naming every one; warns when
 * CUDA wheels are locked on a base that declares no CUDA.
 */
export function checkCudaWheels(packages: readonly { name: string; version: string }[], ground: Ground, logger: Pick<Logger, 'warn'>): void {
  const wheels = cudaWheels(packages);
  if (!wheels.length) return;
  const base = ground.base.reference;
  const declared = ground.target.cuda;
  const baseCuda = declared ? parseCudaVersion(declared.version) : null;
  if (!declared || !baseCuda) {
    const names = wheels.map((w) => `${w.name} ${w.version}`).join(', ');
    logger.warn(
      `${names}: built for CUDA, but the base image ${base} declares no CUDA version (no CUDA_VERSION env or com.nvidia.cuda.version label); ` +
        'the wheels must bring their own CUDA runtime (as PyTorch’s do), and `envseal run --gpus` checks the host driver against them',
    );
    return;
  }
  const tooNew = wheels.filter((w) => compareCudaVersions(w.cuda, majorMinor(baseCuda)) > 0);
  if (!tooNew.length) return;
  const describe = (w: CudaWheel) => `${w.name} ${w.version} needs CUDA ${formatCudaVersion(w.cuda)}`;
  const newest = tooNew.reduce((a, b) => (compareCudaVersions(a.cuda, b.cuda) >= 0 ? a : b));
  const have = `CUDA ${declared.version} (${declared.source})`;
  const first = tooNew[0]!;
  const tag = `cu${formatCudaVersion(majorMinor(baseCuda)).replace('.', '')}`;
  throw inputError(
    'python.cuda-too-new',
    tooNew.length === 1
      ? `${describe(first)}, but the base image ${base} (${ground.base.platform}) has ${have}`
      : `${tooNew.length} wheels need a newer CUDA than the base image ${base} (${ground.base.platform}) has: ${have}`,
    {
      details: tooNew.map(describe),
      hint:
        `pin builds for CUDA ${formatCudaVersion(majorMinor(baseCuda))} or older (e.g. ${first.name}==${first.version.split('+')[0]}+${tag}, from the ` +
        `project's ${tag} index through python.packageIndexes), or use a base image with CUDA ${formatCudaVersion(newest.cuda)} or newer`,
      data: {
        baseCuda: declared.version,
        platform: ground.base.platform,
        packages: tooNew.map((w) => ({ name: w.name, version: w.version, cuda: formatCudaVersion(w.cuda) })),
      },
    },
  );
}
