/**
 * `envseal run -- CMD`: runs a command in a container of the image whose fingerprint matches the lock, and
 * writes a run record for every run (also when the command fails, cannot start, or is interrupted).
 */
import { access, chmod, chown, constants, mkdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Clock, ContainerEngine, EngineInfo, GpuRequest, ImageInfo, Logger } from '../core/ports.js';
import { EnvsealError, describeError, inputError, isEnvsealError } from '../core/errors.js';
import type { TargetName } from '../core/image-contract.js';
import { lockDigest } from '../lock/lock-file.js';
import type { Lock } from '../lock/schema.js';
import { lockPins } from './lock-summary.js';
import { buildRunRecord } from '../record/build-record.js';
import { digestPath, type DataDigest } from '../record/data-digest.js';
import type { GitCapture } from '../record/git.js';
import type { HostFacts } from '../record/host.js';
import type { RunRecord, SlurmFacts } from '../record/schema.js';
import { writeRunRecord } from '../record/store.js';
import { computeSourceDigest, defaultImageTag } from './build-image.js';
import { loadLockFile } from './generate-dockerfile.js';
import { toRel, type ProjectPaths } from './load-inputs.js';
import { decideRunReasons, gatherRunFacts, refuseIfStrict } from './run-checks.js';
import { checkDriverCuda, cudaFacts, cudaNeeds } from './gpu-check.js';
import { queryGpuDriver, type GpuDriver, type NvidiaSmiRunner } from '../record/gpu-driver.js';
import { readImageCuda } from '../core/cuda.js';

export const RUNS_DIR = '.envseal/runs';

/**
 * Environment variables envseal sets in every run with a seed. PYTHONHASHSEED must be set before the
 * interpreter starts; CUBLAS_WORKSPACE_CONFIG before the first cuBLAS handle (needed by torch's deterministic
 * mode on CUDA ≥ 10.2); TF_DETERMINISTIC_OPS/TF_CUDNN_DETERMINISTIC for TensorFlow before 2.9. The image's
 * seed hook reads ENVSEAL_SEED and seeds random, NumPy, PyTorch and TensorFlow when they are imported.
 */
export function seedEnvironment(seed: number): Record<string, string> {
  return {
    ENVSEAL_SEED: String(seed),
    PYTHONHASHSEED: String(seed % 4294967296),
    CUBLAS_WORKSPACE_CONFIG: ':4096:8',
    TF_DETERMINISTIC_OPS: '1',
    TF_CUDNN_DETERMINISTIC: '1',
  };
}

export interface RunRequest {
  target: TargetName;
  /** Run this image instead of the lock's default tag (it must still carry the lock's fingerprint). */
  image?: string;
  seed?: number;
  gpus?: string;
  network: string;
  env: Record<string, string>;
  inputs: string[];
  outputs: string[];
  noBuild: boolean;
  command: string[];
  stdin?: Readable;
  tty?: boolean;
  stdout: Writable;
  stderr: Writable;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Host user to run as for the dev target (`uid:gid`), so files written to the mounted project are the user's. */
  hostUser?: string;
  /** Refuse to run when the lock is stale, the image does not match, the work tree is dirty, or the build was not reproducible. */
  strict?: boolean;
  /** The run ID this run re-creates (`envseal reproduce`). */
  reproduces?: string;
  /** Where the run record goes (default: the project's .envseal/runs). */
  recordsDir?: string;
  /** The Slurm job this run is (read from SLURM_* by the CLI), for the record. */
  slurm?: SlurmFacts;
}

export interface RunDeps {
  engine: ContainerEngine;
  clock: Clock;
  logger: Logger;
  toolVersion: string;
  newRunId: () => string;
  newSeed: () => number;
  captureGit: (dir: string) => Promise<GitCapture>;
  captureHost: (engine: EngineInfo | undefined) => Promise<HostFacts>;
  /** Builds the target's image (used when it is missing and building is allowed). */
  build: (target: TargetName) => Promise<{ imageId: string }>;
  /**
   * nvidia-smi on the host, asked by `--gpus` for the driver's CUDA version before a container starts; null
   * when the engine is not on this host (its driver cannot be checked from here: the check is skipped).
   */
  runNvidiaSmi: NvidiaSmiRunner | null;
}

export interface RunOutcome {
  exitCode: number;
  record: RunRecord;
  recordPath: string;
}

/**
 * `--gpus` as docker run takes it (docker/cli opts/gpus.go): `all`, a count, or `device=ID[,ID…]` (an index
 * or a GPU UUID). Anything else is refused here, before the engine is asked.
 */
export function parseGpus(value: string): GpuRequest {
  if (value === 'all') return { count: -1, capabilities: [['gpu']] };
  if (/^\d{1,4}$/.test(value) && Number(value) > 0) return { count: Number(value), capabilities: [['gpu']] };
  const ids = value.startsWith('device=') ? value.slice('device='.length).split(',') : [];
  if (!ids.length || !ids.every((id) => /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(id))) {
    throw inputError('run.gpus', `--gpus ${JSON.stringify(value)}: expected all, a count, or device=ID[,ID]`, {
      hint: 'e.g. --gpus all, --gpus 2, --gpus device=0,1 or --gpus device=GPU-3a1b…',
    });
  }
  return { deviceIds: ids, capabilities: [['gpu']] };
}

/**
 * W&B's WANDB_DOCKER (what `wandb` records as the run's image): the image's repo digest (`repo@sha256:…`) when
 * it has one, preferring the repository of the reference the run used, else its image ID.
 */
export function wandbDocker(ref: string, info: Pick<ImageInfo, 'id' | 'repoDigests'>): string {
  const digests = [...info.repoDigests].sort();
  const at = ref.indexOf('@');
  const repository = at >= 0 ? ref.slice(0, at) : ref.replace(/:[^:/]+$/, '');
  return digests.find((d) => d.slice(0, d.indexOf('@')) === repository) ?? digests[0] ?? info.id;
}

export async function runCommand(paths: ProjectPaths, request: RunRequest, deps: RunDeps): Promise<RunOutcome> {
  if (!request.command.length) throw inputError('run.no-command', 'no command given', { hint: 'envseal run -- python train.py' });
  const gpus = request.gpus ? parseGpus(request.gpus) : undefined;
  const { lock, text: lockText } = await loadLockFile(paths);
  const digest = lockDigest(lockText);

  // Everything that can be checked before the command runs is checked first, so a bad flag never costs a run.
  const runsDir = request.recordsDir ?? join(paths.dir, RUNS_DIR);
  await ensureWritableDir(runsDir, paths.dir);
  const inputs: { path: string; content: DataDigest }[] = [];
  for (const p of request.inputs)
    inputs.push({ path: projectRelative(paths.dir, p, '--input'), content: await digestPath(resolve(paths.dir, p), { role: 'input' }) });
  const outputPaths = request.outputs.map((p) => projectRelative(paths.dir, p, '--output'));

  const { engineInfo, ref, info, driver } = await prepareImage(lock, { ...request, projectDir: paths.dir }, deps);

  const seed = request.seed ?? lock.declared.seed ?? deps.newSeed();
  const runId = deps.newRunId();
  const envsealEnv = {
    ...seedEnvironment(seed),
    ENVSEAL_RUN_ID: runId,
    ENVSEAL_IMAGE_ID: info.id,
    ENVSEAL_FINGERPRINT: lock.fingerprint,
    ENVSEAL_TARGET: request.target,
    WANDB_DOCKER: wandbDocker(ref, info),
  };
  const git = await deps.captureGit(paths.dir);
  const reasons = decideRunReasons(await gatherRunFacts(paths, lock, request.target, { ref, info }, git));
  for (const reason of reasons) deps.logger.warn(`${reason.code}: ${reason.message}`);
  refuseIfStrict(reasons, Boolean(request.strict));
  const host = await deps.captureHost(engineInfo);

  const workdir = lock.workdir;
  const binds = await containerBinds(paths.dir, lock, request.target, inputs, outputPaths, deps.logger);

  const startedAt = deps.clock.now();
  let exitCode: number | null = null;
  let interrupted: 'signal' | 'timeout' | null = null;
  let failure: EnvsealError | null = null;
  try {
    const result = await deps.engine.runContainer({
      image: info.id,
      cmd: request.command,
      env: { ...envsealEnv, ...request.env },
      workdir,
      networkMode: request.network,
      binds,
      ...(request.target === 'dev' && request.hostUser ? { user: request.hostUser } : {}),
      ...(gpus ? { gpus } : {}),
      ...(request.stdin ? { stdin: request.stdin } : {}),
      ...(request.tty ? { tty: true } : {}),
      stdout: request.stdout,
      stderr: request.stderr,
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.timeoutMs ? { timeoutMs: request.timeoutMs } : {}),
      labels: { 'dev.envseal.run-id': runId, 'dev.envseal.fingerprint': lock.fingerprint },
    });
    exitCode = result.exitCode;
    interrupted = result.interrupted ?? null;
  } catch (err) {
    failure = isEnvsealError(err) ? err : inputError('run.failed', `could not run the command: ${describeError(err)}`, { cause: err });
  }
  const endedAt = deps.clock.now();

  const outputs: { path: string; content: DataDigest | null }[] = [];
  for (const o of outputPaths) outputs.push({ path: o, content: await digestPath(join(paths.dir, o), { role: 'output', ifMissing: 'null' }) });

  const record = buildRunRecord({
    runId,
    envsealVersion: deps.toolVersion,
    startedAt,
    endedAt,
    outcome: {
      exitCode: interrupted ? null : exitCode,
      signal: interrupted === 'signal' ? 'SIGINT' : interrupted === 'timeout' ? 'SIGKILL' : null,
      interrupted,
      error: failure ? { code: failure.code, message: failure.message } : null,
    },
    command: request.command,
    target: request.target,
    seed,
    env: { envseal: envsealEnv, user: request.env },
    fingerprint: lock.fingerprint,
    lockDigest: digest,
    environment: environmentSummary(lock, request.target),
    network: request.network,
    gpus: request.gpus ?? null,
    image: { reference: ref, info, baseDigest: lock.base.platformDigest },
    git,
    inputs,
    outputs,
    host,
    reasons,
    reproduces: request.reproduces ?? null,
    slurm: request.slurm ?? null,
    cuda: cudaFacts(lock, request.target, info, driver),
  });
  const recordPath = await writeRunRecord(runsDir, record);
  if (failure) {
    throw new EnvsealError(failure.kind, failure.code, failure.message, {
      ...(failure.hint ? { hint: failure.hint } : {}),
      details: [...failure.details, `run record: ${toRel(paths.dir, recordPath)}`],
      cause: failure,
    });
  }
  const code = interrupted === 'signal' ? 130 : interrupted === 'timeout' ? 124 : (exitCode ?? 1);
  return { exitCode: code, record, recordPath };
}

/**
 * The engine, the image to run (built when missing) and, with `--gpus`, the host driver checked against the
 * lock's CUDA needs before anything is built, then against the image's (it may say more than a lock written
 * before envseal read CUDA versions). Nothing has started yet.
 */
async function prepareImage(lock: Lock, request: RunRequest & { projectDir: string }, deps: RunDeps) {
  const driver = request.gpus ? await checkGpuDriver(lock, request.target, request.gpus, deps) : null;
  const engineInfo = await deps.engine.info();
  const { ref, info } = await findImage(lock, request, deps);
  if (driver) checkDriverCuda(driver, cudaNeeds(lock, request.target, readImageCuda(info)), request.gpus!);
  return { engineInfo, ref, info, driver };
}

/** `--gpus`: the host driver against the lock's CUDA needs, before anything is built or started. */
async function checkGpuDriver(lock: Lock, target: TargetName, gpus: string, deps: RunDeps): Promise<GpuDriver | null> {
  if (!deps.runNvidiaSmi) {
    deps.logger.warn(`--gpus ${gpus}: the Docker engine is not on this host, so its NVIDIA driver is not checked against the image's CUDA`);
    return null;
  }
  const driver = await queryGpuDriver(deps.runNvidiaSmi, gpus);
  checkDriverCuda(driver, cudaNeeds(lock, target), gpus);
  return driver;
}

/**
 * What the container mounts: the dev target the whole project at the workdir; the deploy image has the project
 * baked in, so only the named inputs (read-only) and outputs (created, writable for the image's user).
 */
async function containerBinds(
  projectDir: string,
  lock: Lock,
  target: TargetName,
  inputs: { path: string }[],
  outputPaths: string[],
  logger: Logger,
): Promise<{ source: string; target: string; readOnly?: boolean }[]> {
  const workdir = lock.workdir;
  if (target === 'dev') return [{ source: projectDir, target: workdir }];
  const binds: { source: string; target: string; readOnly?: boolean }[] = [];
  for (const i of inputs) binds.push({ source: join(projectDir, i.path), target: `${workdir}/${i.path}`, readOnly: true });
  for (const o of outputPaths) {
    const dir = join(projectDir, o);
    await mkdir(dir, { recursive: true });
    await makeWritableFor(dir, lock.targets.deploy.uid, logger);
    binds.push({ source: dir, target: `${workdir}/${o}` });
  }
  return binds;
}

/** The lock's pins for one target, as plain maps (what a run record keeps for `envseal diff`). */
export function environmentSummary(lock: Lock, target: TargetName): Omit<RunRecord['environment'], 'fingerprint' | 'lockDigest'> {
  const env = { ...lock.env, ...(target === 'dev' ? lock.targets.dev.env : lock.targets.deploy.env) };
  return { base: lock.base.pinned, packages: lockPins(lock, target), env };
}

async function findImage(lock: Lock, request: RunRequest & { projectDir: string }, deps: RunDeps): Promise<{ ref: string; info: ImageInfo }> {
  const sourceDigest = request.target === 'deploy' ? await computeSourceDigest(request.projectDir, lock.targets.deploy.copy) : undefined;
  const ref = request.image ?? defaultImageTag(lock, request.target, sourceDigest);
  let info = await deps.engine.inspectImage(ref);
  // An image given by digest names exactly one image: pull it (a record made elsewhere names one anyone can pull).
  if (!info && request.image && /@sha256:[0-9a-f]{64}$/.test(request.image)) {
    deps.logger.info(`image ${ref} is not local: pulling it`);
    await deps.engine.pullImage(ref, { platform: lock.base.platform });
    info = await deps.engine.inspectImage(ref);
  }
  if (!info) {
    if (request.image || request.noBuild) {
      throw inputError('run.image-missing', `image ${ref} does not exist${request.noBuild ? ' (and --no-build was given)' : ''}`, {
        hint: `build it with \`envseal build --target ${request.target}\``,
      });
    }
    deps.logger.info(`image ${ref} is missing: building it`);
    const built = await deps.build(request.target);
    info = await deps.engine.inspectImage(built.imageId);
    if (!info) throw inputError('run.image-missing', `image ${ref} is still missing after the build`);
  }
  // A fingerprint label other than the lock's is reported as `image-mismatch` by the run checks.
  return { ref, info };
}

/**
 * The deploy image runs as its non-root user, which must be able to write the mounted output directory:
 * hand it over when we may (running as root), otherwise open it up and say so.
 */
async function makeWritableFor(dir: string, uid: number, logger: Logger): Promise<void> {
  try {
    await chown(dir, uid, uid);
  } catch {
    await chmod(dir, 0o777);
    logger.warn(`made ${dir} world-writable so the deploy user (uid ${uid}) can write its outputs`);
  }
}

/**
 * Checks that the record directory can be made and written, without creating it: a run that fails before it
 * starts (engine down, image missing) leaves the project as it was. The record writer creates it.
 */
async function ensureWritableDir(dir: string, project: string): Promise<void> {
  try {
    let probe = dir;
    for (;;) {
      const info = await stat(probe).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (info) {
        if (!info.isDirectory()) throw Object.assign(new Error(`${probe} is not a directory`), { code: probe === dir ? 'EEXIST' : 'ENOTDIR' });
        await access(probe, constants.W_OK);
        break;
      }
      const parent = dirname(probe);
      if (parent === probe) break;
      probe = parent;
    }
  } catch (err) {
    // EEXIST/ENOTDIR from mkdir: a file stands where the directory (or one of its parents) should be, which
    // no permission change fixes.
    const code = (err as NodeJS.ErrnoException).code;
    const fileInTheWay = code === 'EEXIST' || code === 'ENOTDIR';
    throw inputError(
      'record.unwritable',
      `cannot write run records to ${toRel(project, dir)}: ${fileInTheWay ? 'a file is in the way of the directory' : describeError(err)}`,
      {
        hint: fileInTheWay
          ? `move or delete the file at ${toRel(project, dir)} (or its parent) so envseal can create the directory (the run was not started)`
          : 'make the directory writable (the run was not started)',
      },
    );
  }
}

function projectRelative(dir: string, p: string, flag: string): string {
  const abs = resolve(dir, p);
  const rel = relative(dir, abs);
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) {
    throw inputError('run.path-outside', `${flag} ${p} is not inside the project directory`, {
      hint: 'inputs and outputs are recorded relative to the project; move or link them inside it',
    });
  }
  return rel.split(sep).join('/');
}
