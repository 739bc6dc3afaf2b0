import type { ImageInfo } from '../core/ports.js';
import { LABEL_FINGERPRINT } from '../core/image-contract.js';
import { internalError } from '../core/errors.js';
import type { DataDigest } from './data-digest.js';
import type { GitCapture } from './git.js';
import type { HostFacts } from './host.js';
import { redactEnv } from './redact.js';
import { RECORD_VERSION, formatIssuePath, runRecordSchema, type CudaFacts, type RunReason, type RunRecord, type SlurmFacts } from './schema.js';

/** Everything a run captured, in the shapes the capture functions return. */
export interface RunRecordInput {
  runId: string;
  envsealVersion: string;
  startedAt: Date;
  endedAt: Date;
  outcome: {
    exitCode: number | null;
    signal?: string | null;
    /** Set when envseal stopped the run (ContainerRunResult.interrupted). */
    interrupted?: 'signal' | 'timeout' | null;
    /** Set when the command could not be run at all. */
    error?: { code: string; message: string } | null;
  };
  /** argv: program first. */
  command: string[];
  target: 'dev' | 'deploy';
  seed: number | null;
  /** Unredacted; redaction happens here so no caller can forget it. */
  env: { envseal: Record<string, string>; user: Record<string, string> };
  fingerprint: string;
  lockDigest: string;
  /** What the lock pinned, for the target that ran. */
  environment: { base: string; python: Record<string, string>; apt: Record<string, string>; env: Record<string, string> };
  network: string;
  gpus: string | null;
  image: { reference: string; info: ImageInfo; baseDigest: string };
  git: GitCapture;
  inputs: { path: string; content: DataDigest }[];
  outputs: { path: string; content: DataDigest | null }[];
  host: HostFacts;
  /** What made the run possibly not reproducible (default: nothing). */
  reasons?: RunReason[];
  /** The run ID this run re-creates (`envseal reproduce`). */
  reproduces?: string | null;
  /** The Slurm job and array task the run was (default: none). */
  slurm?: SlurmFacts | null;
  /** The CUDA and cuDNN the container saw (default: none declared, nothing checked). */
  cuda?: CudaFacts;
}

/**
 * Assembles a run record from captured facts. Pure: no clock, no I/O. Lists are put into canonical order
 * (inputs and outputs by path, repo digests sorted) so the record does not depend on flag order.
 * An input that does not fit the schema is a bug in the caller, reported as an internal error listing
 * every problem.
 */
export function buildRunRecord(input: RunRecordInput): RunRecord {
  const [command, ...args] = input.command;
  const record: RunRecord = {
    recordVersion: RECORD_VERSION,
    runId: input.runId,
    envsealVersion: input.envsealVersion,
    startedAt: input.startedAt.toISOString(),
    endedAt: input.endedAt.toISOString(),
    durationMs: Math.max(0, input.endedAt.getTime() - input.startedAt.getTime()),
    outcome: {
      exitCode: input.outcome.exitCode,
      signal: input.outcome.signal ?? null,
      interrupted: Boolean(input.outcome.interrupted),
      interruptReason: input.outcome.interrupted ?? null,
      error: input.outcome.error ?? null,
    },
    command: command ?? '',
    args,
    target: input.target,
    seed: input.seed,
    env: { envseal: redactEnv(input.env.envseal), user: redactEnv(input.env.user) },
    environment: { fingerprint: input.fingerprint, lockDigest: input.lockDigest, ...input.environment },
    network: input.network,
    gpus: input.gpus,
    image: {
      id: input.image.info.id,
      reference: input.image.reference,
      repoDigests: [...input.image.info.repoDigests].sort(),
      diffIds: input.image.info.layers,
      fingerprintLabel: input.image.info.labels[LABEL_FINGERPRINT] ?? null,
      baseDigest: input.image.baseDigest,
    },
    git: input.git.state,
    gitUnavailable: input.git.unavailable,
    inputs: [...input.inputs].sort((a, b) => comparePaths(a.path, b.path)),
    outputs: [...input.outputs].sort((a, b) => comparePaths(a.path, b.path)),
    host: input.host,
    reasons: input.reasons ?? [],
    reproduces: input.reproduces ?? null,
    slurm: input.slurm ?? null,
    cuda: input.cuda ?? { version: null, cudnn: null, wheels: {}, driver: null },
  };
  const checked = runRecordSchema.safeParse(record);
  if (!checked.success) {
    throw internalError('record.invalid', `the run record for ${input.runId} does not match the record schema`, {
      details: checked.error.issues.map((i) => `${formatIssuePath(i.path)}: ${i.message}`),
    });
  }
  return checked.data;
}

function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
