/**
 * What `envseal run` checks before it starts a container, so that a result which could not be re-created is
 * flagged when it is made: the lock against its inputs (as `lock --check` does, offline: the input hash and
 * the drift it explains), the image's fingerprint label against the lock, the git work tree, and whether the
 * image was built without normalisation (its ID then differs on every build, so `reproduce` cannot rebuild it).
 * By default each reason is a warning and goes into the run record; `--strict` refuses to run.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { checkFailed, isEnvsealError } from '../core/errors.js';
import type { DriftEntry } from '../core/drift.js';
import type { ImageInfo } from '../core/ports.js';
import { LABEL_FINGERPRINT, type TargetName } from '../core/image-contract.js';
import type { Lock } from '../lock/schema.js';
import type { GitCapture } from '../record/git.js';
import type { RunReason } from '../record/schema.js';
import { checkLock } from './lock-environment.js';
import type { ProjectPaths } from './load-inputs.js';

/** The facts the reasons are decided from (gathered by `gatherRunFacts`; plain data for tests). */
export interface RunFacts {
  lockFile: string;
  /** Drift between the lock and the inputs; a string when the inputs could not be read at all. */
  drift: DriftEntry[] | string;
  lockFingerprint: string;
  image: { ref: string; id: string; fingerprintLabel: string | null };
  git: GitCapture;
  /** The last build record of the target, when it is of this image. */
  build: { reproducible: boolean } | null;
}

/** At most this many file names in a warning line (the record keeps them all). */
const SHOWN_FILES = 5;

export function decideRunReasons(facts: RunFacts): RunReason[] {
  const reasons: RunReason[] = [];
  if (typeof facts.drift === 'string') {
    reasons.push({ code: 'lock-stale', message: `the inputs of ${facts.lockFile} cannot be read: ${facts.drift}`, files: [] });
  } else if (facts.drift.length) {
    const files = [...new Set(facts.drift.map((d) => d.file))].sort();
    const n = facts.drift.length;
    reasons.push({ code: 'lock-stale', message: `${facts.lockFile} is stale: ${n} input change${n === 1 ? '' : 's'} (${listFiles(files)})`, files });
  }
  if (facts.image.fingerprintLabel !== facts.lockFingerprint) {
    reasons.push({
      code: 'image-mismatch',
      message: `image ${facts.image.ref} has fingerprint ${facts.image.fingerprintLabel ?? '(none)'}, the lock has ${facts.lockFingerprint}`,
      files: [],
    });
  }
  if (facts.git.state?.dirty) {
    const files = facts.git.changedPaths ?? [];
    const n = facts.git.state.changedFiles + facts.git.state.untrackedFiles;
    reasons.push({
      code: 'git-dirty',
      message: `the git work tree has ${n} uncommitted change${n === 1 ? '' : 's'}${files.length ? ` (${listFiles(files)})` : ''}`,
      files,
    });
  }
  if (facts.build && !facts.build.reproducible) {
    reasons.push({
      code: 'not-reproducible-build',
      message: `image ${facts.image.id} was built with --no-reproducible: a rebuild gives another image ID`,
      files: [],
    });
  }
  return reasons;
}

function listFiles(files: string[]): string {
  const shown = files.slice(0, SHOWN_FILES).join(', ');
  return files.length > SHOWN_FILES ? `${shown} and ${files.length - SHOWN_FILES} more` : shown;
}

export async function gatherRunFacts(
  paths: ProjectPaths,
  lock: Lock,
  target: TargetName,
  image: { ref: string; info: ImageInfo },
  git: GitCapture,
): Promise<RunFacts> {
  let drift: DriftEntry[] | string;
  try {
    drift = (await checkLock(paths)).drift;
  } catch (err) {
    if (!isEnvsealError(err)) throw err;
    drift = err.message;
  }
  return {
    lockFile: 'envseal.lock',
    drift,
    lockFingerprint: lock.fingerprint,
    image: { ref: image.ref, id: image.info.id, fingerprintLabel: image.info.labels[LABEL_FINGERPRINT] ?? null },
    git,
    build: await readBuildRecord(paths.dir, target, image.info.id),
  };
}

/** `.envseal/builds/<target>.json` (written by `build`), read permissively; null when absent or of another image. */
async function readBuildRecord(dir: string, target: TargetName, imageId: string): Promise<{ reproducible: boolean } | null> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, '.envseal', 'builds', `${target}.json`), 'utf8'));
  } catch {
    return null; // no build record (image pulled or built elsewhere) or an unreadable one: nothing to say
  }
  const record = raw as { imageId?: unknown; reproducible?: unknown } | null;
  if (!record || record.imageId !== imageId || typeof record.reproducible !== 'boolean') return null;
  return { reproducible: record.reproducible };
}

/** `run --strict` / ENVSEAL_STRICT=1: refuses to start when any reason was found. */
export function refuseIfStrict(reasons: RunReason[], strict: boolean): void {
  if (!strict || !reasons.length) return;
  throw checkFailed('run.not-reproducible', `refusing to run (strict): ${reasons.map((r) => r.code).join(', ')}`, {
    details: reasons.map((r) => `${r.code}: ${r.message}`),
    hint: 'fix what is listed (envseal lock, envseal build, git commit) or run without --strict / ENVSEAL_STRICT to record the run with these reasons',
    data: { reasons },
  });
}
