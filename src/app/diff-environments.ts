/**
 * `envseal diff A B`: A and B are lock files, run records or images (by reference). Each becomes an
 * EnvironmentView; the comparison itself is pure (verify/diff-environments.ts).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { diffImages, explainImageDiff } from '../image/normalize/image-diff.js';
import type { ContainerEngine } from '../core/ports.js';
import { inputError } from '../core/errors.js';
import { readTextFile } from '../core/read-text-file.js';
import { LABEL_TARGET, LOCK_PATH_IN_IMAGE, type TargetName } from '../core/image-contract.js';
import { parseLock } from '../lock/lock-file.js';
import type { Lock } from '../lock/schema.js';
import { parseRunRecord } from '../record/schema.js';
import { captureContainerOutput } from '../core/container-output.js';
import { diffEnvironments, type EnvironmentDiff, type EnvironmentView } from './environment-diff.js';
import { lockPins } from './lock-summary.js';
import { environmentSummary } from './run-command.js';

export interface DiffResult {
  a: EnvironmentView;
  b: EnvironmentView;
  diff: EnvironmentDiff;
  /** For two images: the file-level explanation of how their layers differ (empty when identical). */
  files?: string[];
}

export async function diffTwo(cwd: string, a: string, b: string, deps: { engine: () => ContainerEngine; tmpDir?: string }): Promise<DiffResult> {
  const [va, vb] = [await loadView(cwd, a, deps), await loadView(cwd, b, deps)];
  // A lock covers both targets; when the other side is one target's image or run, compare that target.
  const target = va.target ?? vb.target;
  const left = va.lock && target ? viewOfLock(va.lock, va.view.label, va.view.kind, target) : va.view;
  const right = vb.lock && target ? viewOfLock(vb.lock, vb.view.label, vb.view.kind, target) : vb.view;
  const diff = diffEnvironments(left, right);
  if (va.view.kind === 'image' && vb.view.kind === 'image') {
    const workDir = await mkdtemp(join(deps.tmpDir ?? tmpdir(), 'envseal-diff-'));
    try {
      const images = await diffImages(deps.engine(), a, b, { workDir });
      // Same environment, different bytes is still a difference (e.g. rebuilt without normalisation).
      if (!images.identical) diff.identical = false;
      return { a: left, b: right, diff, files: images.identical ? [] : explainImageDiff(images) };
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
  return { a: left, b: right, diff };
}

interface Loaded {
  view: EnvironmentView;
  lock?: Lock;
  target?: TargetName;
}

async function loadView(cwd: string, arg: string, deps: { engine: () => ContainerEngine }): Promise<Loaded> {
  const path = resolve(cwd, arg);
  const isFile = await stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
  if (isFile) {
    const text = await readTextFile(path, arg);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw inputError('diff.unknown-file', `${arg} is neither an envseal lock nor a run record (not JSON)`);
    }
    if (raw && typeof raw === 'object' && 'lockVersion' in raw) {
      const lock = parseLock(text, arg);
      return { view: viewOfLock(lock, arg, 'lock', null), lock };
    }
    if (raw && typeof raw === 'object' && 'recordVersion' in raw) {
      const record = parseRunRecord(text, arg);
      return {
        view: {
          label: arg,
          kind: 'record',
          fingerprint: record.environment.fingerprint,
          base: record.environment.base,
          packages: record.environment.packages,
          env: record.environment.env,
        },
        target: record.target,
      };
    }
    throw inputError('diff.unknown-file', `${arg} is neither an envseal lock nor a run record`, {
      hint: 'pass envseal.lock files, .envseal/runs/*.json records or image references',
    });
  }
  if (/^[./]/.test(arg) || arg.endsWith('.lock') || arg.endsWith('.json')) {
    throw inputError('diff.not-found', `${arg}: no such file`);
  }
  const engine = deps.engine();
  const info = await engine.inspectImage(arg);
  if (!info) throw inputError('diff.not-found', `${arg} is not a file and no image of that name exists locally`, { hint: 'build or pull the image first' });
  const run = await captureContainerOutput(engine, { image: info.id, cmd: ['cat', LOCK_PATH_IN_IMAGE], networkMode: 'none', entrypoint: [] });
  if (run.exitCode !== 0) {
    throw inputError('diff.not-envseal-image', `image ${arg} has no ${LOCK_PATH_IN_IMAGE}: it was not built by envseal`);
  }
  const lock = parseLock(run.stdout, `${arg}:${LOCK_PATH_IN_IMAGE}`);
  const target: TargetName = info.labels[LABEL_TARGET] === 'deploy' ? 'deploy' : 'dev';
  return { view: viewOfLock(lock, arg, 'image', target), lock, target };
}

function viewOfLock(lock: Lock, label: string, kind: EnvironmentView['kind'], target: TargetName | null): EnvironmentView {
  if (target) {
    const s = environmentSummary(lock, target);
    return { label, kind, fingerprint: lock.fingerprint, ...s };
  }
  return { label, kind, fingerprint: lock.fingerprint, base: lock.base.pinned, packages: lockPins(lock, null), env: lock.env };
}
