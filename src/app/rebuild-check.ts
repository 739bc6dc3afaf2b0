/**
 * `envseal verify --rebuild`: builds the image again from the lock with no cache (under a scratch tag),
 * normalises it, and compares image ID and layer digests with the given or current image. When they differ,
 * the file-level explanation says which layer and which files (added/removed/content/metadata).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inputError } from '../core/errors.js';
import { diffImages, explainImageDiff } from '../image/normalize/image-diff.js';
import { LABEL_TARGET, type TargetName } from '../core/image-contract.js';
import type { Lock } from '../lock/schema.js';
import { buildImage, computeSourceDigest, defaultImageTag, type BuildDeps } from './build-image.js';
import type { ProjectPaths } from './load-inputs.js';
import type { VerifyCheck } from './verify-environment.js';

export interface RebuildRequest {
  /** The image to compare with; default: the lock's image for `target`. */
  image?: string;
  target?: TargetName;
  network?: string;
  signal?: AbortSignal;
  tmpDir?: string;
}

export async function checkRebuild(paths: ProjectPaths, lock: Lock, request: RebuildRequest, deps: BuildDeps): Promise<VerifyCheck> {
  let target: TargetName = request.target ?? 'dev';
  let ref = request.image;
  if (ref) {
    const info = await deps.engine.inspectImage(ref);
    if (!info) throw inputError('verify.image-missing', `image ${ref} does not exist locally`, { hint: 'build or pull it first' });
    if (!request.target) target = info.labels[LABEL_TARGET] === 'deploy' ? 'deploy' : 'dev';
  } else {
    const source = target === 'deploy' ? await computeSourceDigest(paths.dir, lock.targets.deploy.copy) : undefined;
    ref = defaultImageTag(lock, target, source);
    if (!(await deps.engine.inspectImage(ref))) {
      throw inputError('verify.image-missing', `there is no ${target} image of this lock to compare with (${ref})`, {
        hint: `build it first: \`envseal build --target ${target}\`, or name one with --image`,
      });
    }
  }
  const original = (await deps.engine.inspectImage(ref))!;
  const scratch = `envseal-rebuild/${lock.name}:${target}-${process.pid}-${deps.clock.now().getTime()}`;
  deps.logger.info(`rebuilding the ${target} image from the lock with no cache to compare with ${ref}`);
  const rebuilt = await buildImage(
    paths,
    {
      target,
      tags: [scratch],
      noCache: true,
      reproducible: true,
      writeRecord: false,
      ...(request.network ? { network: request.network } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    },
    deps,
  );
  const workDir = await mkdtemp(join(request.tmpDir ?? tmpdir(), 'envseal-rebuild-'));
  try {
    const same = rebuilt.imageId === original.id && sameList(rebuilt.diffIds, original.layers);
    if (same) {
      return {
        name: 'rebuild',
        ok: true,
        summary: `a clean rebuild gives the same image ${original.id} (${original.layers.length} layers)`,
        details: [],
      };
    }
    const diff = await diffImages(deps.engine, ref, scratch, { workDir, ...(request.signal ? { signal: request.signal } : {}) });
    return {
      name: 'rebuild',
      ok: false,
      summary: `a clean rebuild gives image ${rebuilt.imageId}, not ${original.id}`,
      details: explainImageDiff(diff),
      fix: 'the differences are listed by layer and file; files that change between builds (timestamps, caches, logs) need removing or pinning in the Dockerfile',
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
    await deps.engine.removeImage(scratch, { force: false }).catch(() => {});
  }
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
