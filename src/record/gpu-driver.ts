/**
 * The host's NVIDIA driver as `run --gpus` needs it: the highest CUDA version it supports. nvidia-smi prints it
 * in the header of its default output ("Driver Version: 535.104.05   CUDA Version: 12.2"), the same number
 * NVIDIA's container toolkit compares with an image's `NVIDIA_REQUIRE_CUDA` before it starts a container.
 */
import { describeError, externalError, inputError } from '../core/errors.js';
import type { ProcessResult } from './exec.js';

export interface GpuDriver {
  /** "Driver Version" as nvidia-smi prints it; null when the header has none. */
  driverVersion: string | null;
  /** "CUDA Version": the highest CUDA the driver supports, e.g. `12.2`. */
  cuda: string;
}

/** Runs `nvidia-smi <args>`; resolves null when nvidia-smi is not installed (see exec.ts runProcess). */
export type NvidiaSmiRunner = (args: string[]) => Promise<ProcessResult | null>;

/** Parses the default output's header. Throws (a plain Error) when it names no CUDA version. */
export function parseNvidiaSmiHeader(text: string): GpuDriver {
  const cuda = /CUDA Version\s*:\s*(\d+\.\d+(?:\.\d+)?)/.exec(text);
  if (!cuda) {
    const first = text.split('\n').find((l) => l.trim()) ?? '';
    throw new Error(`nvidia-smi printed no "CUDA Version: X.Y"${first ? ` (its output began: ${first.trim().slice(0, 120)})` : ' (its output was empty)'}`);
  }
  const driver = /Driver Version\s*:\s*([0-9][0-9.]*)/.exec(text);
  return { driverVersion: driver ? driver[1]! : null, cuda: cuda[1]! };
}

/**
 * Asks nvidia-smi on the host. Not installed: exit 2 (GPUs asked for where no NVIDIA driver is installed).
 * Failing, hanging or printing no CUDA version: exit 3 (the driver is there but does not answer).
 */
export async function queryGpuDriver(runNvidiaSmi: NvidiaSmiRunner, gpus: string): Promise<GpuDriver> {
  let result: ProcessResult | null;
  try {
    result = await runNvidiaSmi([]);
  } catch (err) {
    throw externalError('run.gpu-driver-query', `--gpus ${gpus}: nvidia-smi could not be started: ${describeError(err)}`, {
      hint: 'check that nvidia-smi works on this host',
    });
  }
  if (result === null) {
    throw inputError(
      'run.gpu-no-driver',
      `--gpus ${gpus}: nvidia-smi is not installed on this host, so there is no NVIDIA driver to check the image's CUDA against`,
      {
        hint: 'install the NVIDIA driver (it brings nvidia-smi) and the NVIDIA Container Toolkit, or run without --gpus',
      },
    );
  }
  const stdout = result.stdout.toString('utf8');
  if (result.timedOut || result.exitCode !== 0) {
    const why = result.timedOut ? 'did not answer in time' : `failed (exit ${result.exitCode ?? result.signal})`;
    const text = (result.stderr.trim() || stdout.trim()).split('\n')[0] ?? '';
    throw externalError('run.gpu-driver-query', `--gpus ${gpus}: nvidia-smi ${why}${text ? `: ${text}` : ''}`, {
      hint: 'check that the NVIDIA driver is loaded (`nvidia-smi` must work on this host)',
    });
  }
  try {
    return parseNvidiaSmiHeader(stdout);
  } catch (err) {
    throw externalError('run.gpu-driver-query', `--gpus ${gpus}: ${describeError(err)}`, { hint: 'check that `nvidia-smi` works on this host' });
  }
}
