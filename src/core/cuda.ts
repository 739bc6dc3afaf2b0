/**
 * CUDA versions: what an image declares (NVIDIA's CUDA images set the `CUDA_VERSION` env and the
 * `com.nvidia.cuda.version` label; cuDNN images `CUDNN_VERSION`/`NV_CUDNN_VERSION` and `com.nvidia.cudnn.version`),
 * and comparing versions. Pure: the lock reads it from the base image, `run --gpus` from the image it runs.
 */

/** The CUDA toolkit an image declares. */
export interface ImageCuda {
  /** As the image writes it, e.g. `11.8.0`. */
  version: string;
  /** The cuDNN version it declares, or null. */
  cudnn: string | null;
  /** Where the version was read: `env CUDA_VERSION` or `label com.nvidia.cuda.version`. */
  source: string;
}

/** A CUDA version as numbers: `12.1.1` → [12, 1, 1]. */
export type CudaVersion = number[];

const CUDA_ENV = ['CUDA_VERSION'];
const CUDA_LABELS = ['com.nvidia.cuda.version'];
const CUDNN_ENV = ['CUDNN_VERSION', 'NV_CUDNN_VERSION'];
const CUDNN_LABELS = ['com.nvidia.cudnn.version'];

/**
 * `11.8`, `11.8.0`, `12.2.140`: null for anything else (an empty env, `N/A`). A `-1` package revision
 * (`8.9.0.131-1`, as apt-style cuDNN versions are written) is dropped.
 */
export function parseCudaVersion(text: string): CudaVersion | null {
  const m = /^v?(\d+(?:\.\d+){0,3})(?:-\d+)?$/.exec(text.trim());
  return m ? m[1]!.split('.').map(Number) : null;
}

/** Negative when a < b, 0 when equal, positive when a > b; missing parts count as 0 (`12.1` = `12.1.0`). */
export function compareCudaVersions(a: CudaVersion, b: CudaVersion): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** `major.minor` of a version: what a wheel's `+cu121` or a driver's "CUDA Version: 12.2" can say. */
export function majorMinor(version: CudaVersion): CudaVersion {
  return [version[0] ?? 0, version[1] ?? 0];
}

export function formatCudaVersion(version: CudaVersion): string {
  return version.join('.');
}

/**
 * The CUDA an image declares, from its config's env (what a container sees, so it wins) and labels; null when
 * it declares none. A value that is not a version is ignored (and reported by the caller's absence of CUDA).
 */
export function readImageCuda(image: { env: readonly string[]; labels: Readonly<Record<string, string>> }): ImageCuda | null {
  const env = new Map<string, string>();
  for (const entry of image.env) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  const pick = (envNames: string[], labelNames: string[]): { value: string; source: string } | null => {
    for (const name of envNames) {
      const value = env.get(name)?.trim();
      if (value && parseCudaVersion(value)) return { value, source: `env ${name}` };
    }
    for (const name of labelNames) {
      const value = image.labels[name]?.trim();
      if (value && parseCudaVersion(value)) return { value, source: `label ${name}` };
    }
    return null;
  };
  const cuda = pick(CUDA_ENV, CUDA_LABELS);
  if (!cuda) return null;
  return { version: cuda.value, cudnn: pick(CUDNN_ENV, CUDNN_LABELS)?.value ?? null, source: cuda.source };
}
