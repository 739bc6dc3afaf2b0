import { z } from 'zod';
import { inputError } from '../core/errors.js';
import type { DataDigest } from './data-digest.js';
import type { GitState } from './git.js';
import type { HostFacts } from './host.js';
import { locateJsonSyntaxError } from './json-syntax.js';
import { RUN_ID_PATTERN } from './run-id.js';

/**
 * The run record: one JSON file per `envseal run`, `.envseal/runs/<run-id>.json`, written even when the
 * command fails. Strict (unknown keys are errors) and versioned by `recordVersion`: a change that makes an
 * old reader misread a record bumps the version. Absent facts are `null`, never missing keys, so every
 * record has the same shape. The published JSON Schema is generated from `runRecordSchema`
 * (`z.toJSONSchema`); cross-field rules (the `superRefine` below) are enforced by `parseRunRecord` only.
 */
export const RECORD_VERSION = 4;

/**
 * Why a run may not be reproducible, found before it started (`envseal run` warns, `--strict` refuses):
 * the lock is stale against its inputs, the image's fingerprint label is not the lock's, the git work tree
 * has uncommitted changes, or the image was built without the normalisation that makes its ID reproducible.
 */
const RUN_REASON_CODES = ['lock-stale', 'image-mismatch', 'git-dirty', 'not-reproducible-build'] as const;

const sha256Digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected "sha256:" and 64 lowercase hex digits');
/** ISO 8601 in UTC with a "Z", as `Date.prototype.toISOString` writes it. */
const utcTime = z.iso.datetime({ offset: false, local: false });
const count = z.number().int().nonnegative();
const envName = z.string().regex(/^[^=\0]+$/, 'expected an environment variable name (no "=")');
const envMap = z.record(envName, z.string());

const dataDigestSchema = z.strictObject({
  type: z.enum(['file', 'directory', 'symlink', 'other']),
  digest: sha256Digest,
  files: count,
  directories: count,
  symlinks: count,
  others: count,
  bytes: count,
});

const gitStateSchema = z.strictObject({
  commit: z
    .string()
    .regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'expected a full SHA-1 or SHA-256 object name')
    .nullable(),
  branch: z.string().min(1).nullable(),
  dirty: z.boolean(),
  diffDigest: sha256Digest.nullable(),
  changedFiles: count,
  untrackedFiles: count,
  projectPath: z.string().min(1),
  remote: z.strictObject({ name: z.string().min(1), url: z.string().min(1) }).nullable(),
});

const hostSchema = z.strictObject({
  os: z.strictObject({
    platform: z.string().min(1),
    arch: z.string().min(1),
    kernel: z.string(),
    kernelVersion: z.string(),
    distribution: z.string().nullable(),
  }),
  cpu: z.strictObject({ model: z.string().nullable(), count: z.number().int().positive() }),
  memoryBytes: count,
  hostnameHash: sha256Digest,
  engine: z
    .strictObject({
      version: z.string().min(1),
      apiVersion: z.string().min(1),
      os: z.string(),
      architecture: z.string(),
      kernelVersion: z.string().nullable(),
      operatingSystem: z.string().nullable(),
    })
    .nullable(),
  gpus: z.array(
    z.strictObject({
      index: count,
      uuid: z.string(),
      name: z.string(),
      driverVersion: z.string(),
      memoryMiB: count.nullable(),
    }),
  ),
  gpuQueryError: z.string().nullable(),
});

const reasonSchema = z.strictObject({
  code: z.enum(RUN_REASON_CODES),
  message: z.string().min(1),
  /** The files concerned: drifted inputs for lock-stale, changed and untracked paths for git-dirty. */
  files: z.array(z.string().min(1)),
});
export type RunReason = z.infer<typeof reasonSchema>;

/** Where a run ran when Slurm started it (`envseal submit`): the job, the array task, the node. */
const slurmSchema = z.strictObject({
  /** SLURM_ARRAY_JOB_ID for an array task (the ID `envseal submit` printed), else SLURM_JOB_ID. */
  jobId: z.string().regex(/^\d+$/, 'expected a numeric Slurm job ID'),
  /** SLURM_ARRAY_TASK_ID; null for a job that is not an array task. */
  arrayTaskId: count.nullable(),
  /** SLURMD_NODENAME; null when Slurm did not say. */
  node: z.string().min(1).nullable(),
});
export type SlurmFacts = z.infer<typeof slurmSchema>;

/**
 * The CUDA the container saw. `version`/`cudnn`: what the image declares (its `CUDA_VERSION`, `CUDNN_VERSION` or
 * `NV_CUDNN_VERSION` env, else NVIDIA's `com.nvidia.cuda.version`/`com.nvidia.cudnn.version` labels; null when
 * it declares none). `wheels`: the packages of the run's target built for a CUDA version (`+cuXYZ`), name → that
 * CUDA (`torch.version.cuda` of a `torch 2.1.0+cu121` is `12.1`). `driver`: the highest CUDA the host driver
 * supports (nvidia-smi's "CUDA Version") when `--gpus` had it checked, else null.
 */
const cudaSchema = z.strictObject({
  version: z.string().min(1).nullable(),
  cudnn: z.string().min(1).nullable(),
  wheels: z.record(z.string(), z.string()),
  driver: z.string().min(1).nullable(),
});
export type CudaFacts = z.infer<typeof cudaSchema>;

const runIdSchema = z.string().regex(RUN_ID_PATTERN, 'expected a run ID like 20261127T225501.123Z-7ZKQ3M9X2D4F8H1J');

export const runRecordSchema = z
  .strictObject({
    recordVersion: z.literal(RECORD_VERSION),
    runId: runIdSchema,
    envsealVersion: z.string().min(1),
    startedAt: utcTime,
    endedAt: utcTime,
    durationMs: count,
    outcome: z.strictObject({
      /** The command's exit status; null when it never started or was ended by a signal. */
      exitCode: z.number().int().nullable(),
      signal: z.string().min(1).nullable(),
      /** True when envseal stopped the run (Ctrl-C, abort, timeout) instead of the command ending on its own. */
      interrupted: z.boolean(),
      interruptReason: z.enum(['signal', 'timeout']).nullable(),
      /** Why envseal could not run the command at all (container not created, engine gone). */
      error: z.strictObject({ code: z.string().min(1), message: z.string() }).nullable(),
    }),
    command: z.string().min(1),
    args: z.array(z.string()),
    target: z.enum(['dev', 'deploy']),
    seed: z.number().int().nonnegative().nullable(),
    env: z.strictObject({
      /** Set by envseal (seed, hash seed, determinism knobs), secret-looking values redacted. */
      envseal: envMap,
      /** Passed by the user (`--env`), secret-looking values redacted. */
      user: envMap,
    }),
    /**
     * The environment the run used: its fingerprint and lock digest, plus a summary of what the lock pinned
     * (so `envseal diff` can compare two records without the images or the locks at hand).
     */
    environment: z.strictObject({
      fingerprint: sha256Digest,
      lockDigest: sha256Digest,
      base: z.string().min(1),
      python: z.record(z.string(), z.string()),
      apt: z.record(z.string(), z.string()),
      env: envMap,
    }),
    /** Container network mode and GPU request the run used. */
    network: z.string().min(1),
    gpus: z.string().nullable(),
    image: z.strictObject({
      id: sha256Digest,
      reference: z.string().min(1),
      repoDigests: z.array(z.string().min(1)),
      /** rootfs.diff_ids: the layer digests (with the image ID, what a reproducible rebuild must match). */
      diffIds: z.array(sha256Digest),
      /** The `dev.envseal.fingerprint` label the image carried; null when it had none. */
      fingerprintLabel: z.string().nullable(),
      baseDigest: sha256Digest,
    }),
    git: gitStateSchema.nullable(),
    gitUnavailable: z.strictObject({ reason: z.enum(['not-a-repository', 'git-not-installed']), message: z.string() }).nullable(),
    inputs: z.array(z.strictObject({ path: z.string().min(1), content: dataDigestSchema })),
    /** `content: null`: the command did not produce this output. */
    outputs: z.array(z.strictObject({ path: z.string().min(1), content: dataDigestSchema.nullable() })),
    host: hostSchema,
    /** What made this run possibly not reproducible, checked before it started (empty: nothing found). */
    reasons: z.array(reasonSchema),
    /** Set by `envseal reproduce`: the run ID of the record this run re-creates. */
    reproduces: runIdSchema.nullable(),
    /** Set when the run was a Slurm job (an `envseal submit` array task); null otherwise. */
    slurm: slurmSchema.nullable(),
    /** The CUDA and cuDNN the container saw; null only in records written before recordVersion 4. */
    cuda: cudaSchema.nullable(),
  })
  .superRefine((record, ctx) => {
    if (Date.parse(record.endedAt) < Date.parse(record.startedAt)) {
      ctx.addIssue({ code: 'custom', path: ['endedAt'], message: 'is before startedAt' });
    }
    if ((record.git === null) === (record.gitUnavailable === null)) {
      ctx.addIssue({ code: 'custom', path: ['git'], message: 'exactly one of git and gitUnavailable must be null' });
    }
    if (record.git && record.git.dirty !== (record.git.diffDigest !== null)) {
      ctx.addIssue({ code: 'custom', path: ['git', 'diffDigest'], message: 'must be set exactly when dirty is true' });
    }
    if (record.outcome.interrupted !== (record.outcome.interruptReason !== null)) {
      ctx.addIssue({ code: 'custom', path: ['outcome', 'interruptReason'], message: 'must be set exactly when interrupted is true' });
    }
  });

export type RunRecord = z.infer<typeof runRecordSchema>;

/**
 * Parses a run record strictly. A JSON syntax error names the line and column; a schema violation lists
 * every problem at once as `<file>: <dotted.path>: <message>` in the error's details.
 */
export function parseRunRecord(text: string, file: string): RunRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const at = locateJsonSyntaxError(text);
    const where = at ? `${file}:${at.line}:${at.column}` : file;
    throw inputError('record.malformed', `${where}: not valid JSON: ${at?.message ?? (err as Error).message}`, {
      hint: 'run records are written by envseal; restore this file from version control or delete it',
      data: { file, ...(at ? { line: at.line, column: at.column } : {}) },
    });
  }
  raw = migrateRunRecord(raw);
  const version = (raw as { recordVersion?: unknown } | null)?.recordVersion;
  if (typeof version === 'number' && version !== RECORD_VERSION) {
    throw inputError('record.version', `${file}: recordVersion ${version} is not supported; this envseal reads version ${RECORD_VERSION}`, {
      hint: version > RECORD_VERSION ? 'the record was written by a newer envseal: upgrade envseal to read it' : 'this record predates the current format',
      data: { file, recordVersion: version },
    });
  }
  const result = runRecordSchema.safeParse(raw);
  if (!result.success) {
    const details = result.error.issues.map((issue) => `${file}: ${formatIssuePath(issue.path)}: ${issue.message}`);
    throw inputError('record.malformed', `${file} is not a valid envseal run record (${details.length} problem${details.length === 1 ? '' : 's'})`, {
      details,
      hint: 'run records are written by envseal; restore this file from version control or delete it',
      data: { file },
    });
  }
  return result.data;
}

/**
 * Older records read as the current version: version 1 had no `reasons` (nothing was checked before a run)
 * and no `reproduces`; version 2 had no `slurm` (no run was a Slurm task); version 3 had no `cuda` (not
 * recorded: null, unlike a version 4 record's `{ version: null, ... }`, which says the image declared none).
 * Anything else is returned as it is, for the checks above to report.
 */
function migrateRunRecord(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  let record = raw as Record<string, unknown>;
  if (record.recordVersion === 1) record = { ...record, recordVersion: 2, reasons: record.reasons ?? [], reproduces: record.reproduces ?? null };
  if (record.recordVersion === 2) record = { ...record, recordVersion: 3, slurm: record.slurm ?? null };
  if (record.recordVersion === 3) record = { ...record, recordVersion: 4, cuda: record.cuda ?? null };
  return record;
}

/** Dotted path as `inputs.0.content.digest`; "(top level)" for the record itself. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

// The capture modules define their results as plain interfaces; these lines fail to compile when they and
// the schema drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesCapture: [
  Same<z.infer<typeof dataDigestSchema>, DataDigest>,
  Same<z.infer<typeof gitStateSchema>, GitState>,
  Same<z.infer<typeof hostSchema>, HostFacts>,
] = [true, true, true];
void schemaMatchesCapture;
