import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as nodeOs from 'node:os';
import type { EngineInfo } from '../core/ports.js';
import { describeError } from '../core/errors.js';
import { runProcess, type ProcessResult } from './exec.js';

/**
 * Facts about the machine a run happened on: what can make the same image behave differently (kernel,
 * CPU, memory, GPU model and driver, engine version).
 *
 * The host name is recorded only as a salted hash (`hostnameHash`). Records get committed and shared, and
 * host names leak internal infrastructure ("gpu-node-17.corp.example.com"); but "did these two runs happen
 * on the same machine?" is worth answering when results differ. The hash answers that without showing the
 * name. It is a pseudonym, not anonymity: anyone who can guess a host name can check a guess.
 */
export interface GpuFacts {
  index: number;
  uuid: string;
  name: string;
  driverVersion: string;
  /** null when nvidia-smi reports "[N/A]". */
  memoryMiB: number | null;
}

export interface EngineFacts {
  version: string;
  apiVersion: string;
  os: string;
  architecture: string;
  /** The kernel the containers see: differs from the host's under Docker Desktop's VM. */
  kernelVersion: string | null;
  operatingSystem: string | null;
}

export interface HostFacts {
  os: {
    /** process.platform: linux, darwin, win32. */
    platform: string;
    arch: string;
    /** Kernel release (`uname -r`). */
    kernel: string;
    /** Kernel build string (`uname -v`). */
    kernelVersion: string;
    /** PRETTY_NAME from /etc/os-release on Linux; null elsewhere or when absent. */
    distribution: string | null;
  };
  cpu: { model: string | null; count: number };
  memoryBytes: number;
  hostnameHash: string;
  engine: EngineFacts | null;
  gpus: GpuFacts[];
  /** Set when nvidia-smi exists but failed: GPUs may be present but could not be listed. */
  gpuQueryError: string | null;
}

/** The parts of `node:os` used here, so tests can stand in for a different machine. */
export interface OsProbe {
  platform(): string;
  arch(): string;
  release(): string;
  version(): string;
  cpus(): { model: string }[];
  availableParallelism(): number;
  totalmem(): number;
  hostname(): string;
  /** Contents of /etc/os-release, or null when it does not exist. */
  readOsRelease(): Promise<string | null>;
}

export interface CaptureHostOptions {
  engine?: EngineInfo;
  /** Runs `nvidia-smi <args>`; resolves null when nvidia-smi is not installed. */
  runNvidiaSmi?: (args: string[]) => Promise<ProcessResult | null>;
  os?: OsProbe;
}

/** The query behind `gpus`: fields supported by every driver since R450 (`nvidia-smi --help-query-gpu`). */
export const NVIDIA_SMI_ARGS = ['--query-gpu=index,uuid,name,driver_version,memory.total', '--format=csv,noheader,nounits'];

const NVIDIA_SMI_TIMEOUT_MS = 15_000;

export const nodeOsProbe: OsProbe = {
  platform: () => nodeOs.platform(),
  arch: () => nodeOs.arch(),
  release: () => nodeOs.release(),
  version: () => nodeOs.version(),
  cpus: () => nodeOs.cpus(),
  availableParallelism: () => nodeOs.availableParallelism(),
  totalmem: () => nodeOs.totalmem(),
  hostname: () => nodeOs.hostname(),
  readOsRelease: async () => {
    try {
      return await readFile('/etc/os-release', 'utf8');
    } catch {
      // Absent on macOS and Windows, optional on minimal Linux systems: "unknown distribution" is the answer.
      return null;
    }
  },
};

export const defaultNvidiaSmiRunner = (args: string[]) => runProcess('nvidia-smi', args, { timeoutMs: NVIDIA_SMI_TIMEOUT_MS });

export async function captureHostFacts(options: CaptureHostOptions = {}): Promise<HostFacts> {
  const os = options.os ?? nodeOsProbe;
  const cpus = os.cpus();
  const { gpus, error } = await queryGpus(options.runNvidiaSmi ?? defaultNvidiaSmiRunner);
  return {
    os: {
      platform: os.platform(),
      arch: os.arch(),
      kernel: os.release(),
      kernelVersion: os.version(),
      distribution: parseOsReleasePrettyName(await os.readOsRelease()),
    },
    // os.cpus() is empty on some ARM kernels; fall back to the scheduler's count then.
    cpu: { model: cpus[0]?.model.trim() || null, count: cpus.length || os.availableParallelism() },
    memoryBytes: os.totalmem(),
    hostnameHash: hashHostname(os.hostname()),
    engine: options.engine ? engineFacts(options.engine) : null,
    gpus,
    gpuQueryError: error,
  };
}

/** Salted so that a table of sha256(hostname) for common names does not apply to records directly. */
export function hashHostname(hostname: string): string {
  return `sha256:${createHash('sha256').update(`envseal-hostname-v1:${hostname.toLowerCase()}`).digest('hex')}`;
}

/**
 * Lists GPUs through nvidia-smi. Not installed → no GPUs (`[]`, no error). Installed but failing (no driver
 * loaded, hung, unexpected output) → `[]` plus the error text, so the record shows that GPUs may be present
 * but could not be listed instead of silently claiming there are none.
 */
export async function queryGpus(runNvidiaSmi: (args: string[]) => Promise<ProcessResult | null>): Promise<{ gpus: GpuFacts[]; error: string | null }> {
  let result: ProcessResult | null;
  try {
    result = await runNvidiaSmi(NVIDIA_SMI_ARGS);
  } catch (err) {
    return { gpus: [], error: `nvidia-smi could not be started: ${describeError(err)}` };
  }
  if (result === null) return { gpus: [], error: null };
  if (result.timedOut) return { gpus: [], error: `nvidia-smi did not answer within ${NVIDIA_SMI_TIMEOUT_MS / 1000} s` };
  if (result.exitCode !== 0) {
    const text = (result.stderr.trim() || result.stdout.toString('utf8').trim()).split('\n')[0] ?? '';
    return { gpus: [], error: `nvidia-smi failed (exit ${result.exitCode ?? result.signal}): ${text}` };
  }
  try {
    return { gpus: parseNvidiaSmiCsv(result.stdout.toString('utf8')), error: null };
  } catch (err) {
    return { gpus: [], error: describeError(err) };
  }
}

/** Parses `--format=csv,noheader,nounits` output for NVIDIA_SMI_ARGS, one GPU per line. */
export function parseNvidiaSmiCsv(text: string): GpuFacts[] {
  const gpus: GpuFacts[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    // nvidia-smi separates fields with ", "; GPU names do not contain commas.
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length !== 5) throw new Error(`unexpected nvidia-smi output line (expected 5 fields): ${line}`);
    const [index, uuid, name, driverVersion, memory] = fields as [string, string, string, string, string];
    if (!/^\d+$/.test(index)) throw new Error(`unexpected GPU index in nvidia-smi output: ${line}`);
    gpus.push({
      index: Number(index),
      uuid,
      name,
      driverVersion,
      memoryMiB: /^\d+$/.test(memory) ? Number(memory) : null,
    });
  }
  return gpus.sort((a, b) => a.index - b.index);
}

/** PRETTY_NAME (os-release(5)), falling back to NAME + VERSION_ID. */
export function parseOsReleasePrettyName(text: string | null): string | null {
  if (text === null) return null;
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) fields.set(m[1]!, unquoteOsReleaseValue(m[2]!));
  }
  const pretty = fields.get('PRETTY_NAME');
  if (pretty) return pretty;
  const name = fields.get('NAME');
  if (!name) return null;
  const version = fields.get('VERSION_ID');
  return version ? `${name} ${version}` : name;
}

function unquoteOsReleaseValue(raw: string): string {
  // os-release values follow shell quoting: "..." or '...' with backslash escapes inside double quotes.
  const m = /^"(.*)"$/.exec(raw) ?? /^'(.*)'$/.exec(raw);
  if (!m) return raw;
  return raw.startsWith('"') ? m[1]!.replace(/\\(["\\$`])/g, '$1') : m[1]!;
}

function engineFacts(engine: EngineInfo): EngineFacts {
  return {
    version: engine.version,
    apiVersion: engine.apiVersion,
    os: engine.os,
    architecture: engine.architecture,
    kernelVersion: engine.kernelVersion ?? null,
    operatingSystem: engine.operatingSystem ?? null,
  };
}
