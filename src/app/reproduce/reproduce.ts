/**
 * `envseal reproduce <record>`: re-creates a recorded run and says whether its result came out the same.
 * Read the record → check it is usable and its inputs unchanged → get its exact image → rerun the command
 * (same seed, target, GPU request, network and environment; secrets by name from the caller) in a scratch
 * copy of the project, so the original outputs stay to compare with → compare every output → report, and a
 * run record of its own (`reproduces: <original run ID>`).
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Writable } from 'node:stream';
import { inputError } from '../../core/errors.js';
import { lockDigest } from '../../lock/lock-file.js';
import { digestPath, type DataDigest } from '../../record/data-digest.js';
import { isRunId } from '../../record/run-id.js';
import type { RunRecord } from '../../record/schema.js';
import { readRunRecord } from '../../record/store.js';
import { toRel, type ProjectPaths } from '../load-inputs.js';
import { RUNS_DIR, runCommand, type RunDeps } from '../run-command.js';
import { compareDigests, diffTrees, type OutputComparison } from './compare.js';
import { obtainImage, type ImageDeps } from './image.js';
import { assertUsable, changedInputs, planUserEnv, refuseChangedInputs, reportExitCode, type ReproduceReport } from './plan.js';

export interface ReproduceRequest {
  /** A record file (relative to `cwd`) or a run ID in the project's .envseal/runs. */
  record: string;
  cwd: string;
  /** The caller's environment, for the secrets a record keeps by name only. */
  lookupEnv: (name: string) => string | undefined;
  stdout: Writable;
  stderr: Writable;
  signal?: AbortSignal;
  hostUser?: string;
}

export type ReproduceDeps = ImageDeps & { run: Omit<RunDeps, 'build'> };

export async function reproduceRun(paths: ProjectPaths, request: ReproduceRequest, deps: ReproduceDeps): Promise<{ report: ReproduceReport; exitCode: 0 | 1 }> {
  const file = locateRecord(paths, request.record, request.cwd);
  const original = await readRunRecord(file);
  const shown = toRel(request.cwd, file);
  assertUsable(original, shown);
  const env = planUserEnv(original, request.lookupEnv);

  const current = new Map<string, DataDigest | null>();
  for (const input of original.inputs) current.set(input.path, await digestPath(join(paths.dir, input.path), { role: 'input', ifMissing: 'null' }));
  refuseChangedInputs(changedInputs(original.inputs, current));

  const image = await obtainImage(paths, original, deps);
  const notes = await notesAbout(original, paths.dir, deps);
  const scratch = await mkdtemp(join(deps.tmpDir, 'envseal-reproduce-run-'));
  try {
    const copy = await copyProject(paths, original, join(scratch, 'project'), deps, notes);
    const outcome = await runCommand(
      copy,
      {
        target: original.target,
        image: image.imageId,
        ...(original.seed !== null ? { seed: original.seed } : {}),
        ...(original.gpus ? { gpus: original.gpus } : {}),
        network: original.network,
        env,
        inputs: original.inputs.map((i) => i.path),
        outputs: original.outputs.map((o) => o.path),
        noBuild: true,
        command: [original.command, ...original.args],
        stdout: request.stdout,
        stderr: request.stderr,
        ...(request.signal ? { signal: request.signal } : {}),
        ...(request.hostUser ? { hostUser: request.hostUser } : {}),
        reproduces: original.runId,
        recordsDir: join(paths.dir, RUNS_DIR),
      },
      {
        ...deps.run,
        // The git state that matters is the project's, not the scratch copy's.
        captureGit: async () => deps.run.captureGit(paths.dir),
        build: async () => {
          throw inputError('reproduce.no-build', 'reproduce never builds through run');
        },
      },
    );
    const outputs: OutputComparison[] = [];
    for (const recorded of original.outputs) {
      const rerun = outcome.record.outputs.find((o) => o.path === recorded.path)?.content ?? null;
      outputs.push(await compareOutput(paths.dir, copy.dir, recorded, rerun));
    }
    const partial = { exitCode: { original: original.outcome.exitCode, rerun: outcome.exitCode }, outputs };
    const exitCode = reportExitCode(partial);
    const report: ReproduceReport = {
      ok: exitCode === 0,
      original: original.runId,
      runId: outcome.record.runId,
      record: toRel(request.cwd, outcome.recordPath),
      image: { id: image.imageId, source: image.source },
      originalDirty: Boolean(original.git?.dirty),
      ...partial,
      notes,
    };
    return { report, exitCode };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A path to a record file, or a run ID of the project. Nothing found is exit 2. */
function locateRecord(paths: ProjectPaths, arg: string, cwd: string): string {
  const direct = resolve(cwd, arg);
  if (existsSync(direct)) return direct;
  if (isRunId(arg)) {
    const byId = join(paths.dir, RUNS_DIR, `${arg}.json`);
    if (existsSync(byId)) return byId;
  }
  throw inputError('reproduce.record-not-found', `no run record ${arg} (neither a file nor a run ID in ${toRel(cwd, join(paths.dir, RUNS_DIR))})`, {
    hint: 'give a record file, e.g. .envseal/runs/<run-id>.json, or its run ID',
  });
}

/** What the reader of the report should know about the original run. */
async function notesAbout(original: RunRecord, dir: string, deps: ReproduceDeps): Promise<string[]> {
  const notes: string[] = [];
  if (original.git?.dirty) {
    const n = original.git.changedFiles + original.git.untrackedFiles;
    notes.push(`the original run was made from a dirty work tree (${n} uncommitted change${n === 1 ? '' : 's'}): the rerun uses the files as they are now`);
  }
  for (const reason of original.reasons) if (reason.code !== 'git-dirty') notes.push(`the original run was flagged ${reason.code}: ${reason.message}`);
  const now = await deps.run.captureGit(dir);
  if (original.git?.commit && now.state?.commit && now.state.commit !== original.git.commit) {
    notes.push(`the work tree is at commit ${now.state.commit.slice(0, 12)}, the run was made at ${original.git.commit.slice(0, 12)}`);
  }
  return notes;
}

/**
 * A scratch copy of the project without git metadata, run records and the recorded outputs (so the rerun
 * makes them afresh), with the lock the run used when git still has it and the project's has changed.
 */
async function copyProject(paths: ProjectPaths, original: RunRecord, target: string, deps: ReproduceDeps, notes: string[]): Promise<ProjectPaths> {
  const skip = ['.git', '.envseal', ...original.outputs.map((o) => o.path)];
  await cp(paths.dir, target, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => {
      const rel = relative(paths.dir, src).split(sep).join('/');
      return !skip.some((s) => rel === s || rel.startsWith(`${s}/`));
    },
  });
  const copy = { dir: target, spec: join(target, relative(paths.dir, paths.spec)), lock: join(target, relative(paths.dir, paths.lock)) };
  const lockText = await readFile(copy.lock, 'utf8').catch(() => null);
  if (lockText !== null && lockDigest(lockText) === original.environment.lockDigest) return copy;
  const rel = relative(paths.dir, paths.lock);
  const recorded =
    original.git?.commit && !isAbsolute(rel) ? await deps.runGit(['show', `${original.git.commit}:./${rel.split(sep).join('/')}`], { cwd: paths.dir }) : null;
  if (recorded?.exitCode === 0 && lockDigest(recorded.stdout.toString('utf8')) === original.environment.lockDigest) {
    await writeFile(copy.lock, recorded.stdout);
    notes.push(`the lock has changed since the run: the rerun uses the lock of commit ${original.git!.commit!.slice(0, 12)}`);
  } else {
    notes.push('the lock has changed since the run and the one it used is not in git: the rerun uses the current lock');
  }
  return copy;
}

async function compareOutput(projectDir: string, copyDir: string, recorded: RunRecord['outputs'][number], rerun: DataDigest | null): Promise<OutputComparison> {
  const result = compareDigests(recorded.path, recorded.content, rerun);
  if (result.status !== 'changed') return result;
  const onDisk = await digestPath(join(projectDir, recorded.path), { role: 'output', ifMissing: 'null' });
  if (onDisk?.digest !== recorded.content?.digest) {
    return { ...result, note: `the original ${recorded.path} is no longer on disk as recorded, so the files cannot be compared one by one` };
  }
  return { ...result, files: await diffTrees(join(projectDir, recorded.path), join(copyDir, recorded.path), recorded.path) };
}
