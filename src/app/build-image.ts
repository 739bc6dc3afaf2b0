/**
 * `envseal build`: the Dockerfile rendered from the lock, built by the classic builder through the Engine API
 * with a deterministic, streamed context, checked (the image's fingerprint label must equal the lock's),
 * optionally normalised to a reproducible image, tagged, and optionally pushed.
 */
import { lstat, readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { BuildEvent, Clock, ContainerEngine, GitSources, ImageInfo, Logger } from '../core/ports.js';
import { ensureVcsArchives } from './vcs-archives.js';
import { checkFailed, externalError, inputError, internalError } from '../core/errors.js';
import { createBuildContext, type BuildContextOptions } from '../image/context/context.js';
import { computeBuildKey } from './build-key.js';
import { INSTALL_SOURCE_DATE_EPOCH, sourceDateEpoch } from '../dockerfile/render-dockerfile.js';
import {
  buildCacheTag,
  DEFAULT_DOCKERFILE,
  INDEX_CREDENTIALS_ARG,
  LABEL_FINGERPRINT,
  LABEL_LOCK_DIGEST,
  LABEL_SBOM_DIGEST,
  REVISION_ARG,
  scratchTag,
  type TargetName,
} from '../core/image-contract.js';
import { CredentialStore, maskUrlCredentials } from '../core/url-credentials.js';
import { lockDigest } from '../lock/lock-file.js';
import type { Lock } from '../lock/schema.js';
import { digestPath } from '../record/data-digest.js';
import { canonicalJson, sha256Hex } from '../core/canonical-json.js';
import { writeFileAtomic } from '../core/atomic-write.js';
import { BUILDS_DIR, type BuildParameters, type ImageBuildRecord } from '../record/image-build-record.js';
import { renderFromLock, type GenerateDeps } from './generate-dockerfile.js';
import { platformFileName } from './image-sbom.js';
import { ensurePlatformImage } from '../core/platform-image.js';
import { loadInputs, toRel, type ProjectPaths } from './load-inputs.js';
import { attachToPushed, type OpenArtifacts } from './attachments.js';
import { buildComposed, type EngineBuild, type EngineBuilt } from './build-composed.js';
import type { ComposeImageOptions } from '../image/normalize/compose-image.js';
import { generateProvenance } from './provenance.js';

/** Path of the Dockerfile inside the build context. */
const CONTEXT_DOCKERFILE = DEFAULT_DOCKERFILE;

export interface BuildDeps extends GenerateDeps {
  engine: ContainerEngine;
  /** Git repositories: the archives of locked git packages are made from them when missing. */
  git?: GitSources;
  logger: Logger;
  clock: Clock;
  /** Index credentials known outside the project (netrc); the spec's inline ones are added at build time. */
  indexCredentials?: CredentialStore;
  /** Git commit of the project, for the deploy image's revision label (null when unknown). */
  revision: string | null;
  /** This process as `<host>/<pid>`: named in the raw image's scratch tag, so a killed build's can be removed. */
  owner?: string;
  /** The registry's artifacts: with `push`, the SBOM and the provenance are attached to the pushed image. */
  artifacts?: OpenArtifacts;
  /** Post-build normalisation (issue: reproducible images); absent = not available. */
  /** Reproducible builds remembered by the key of their inputs (app/build-key.ts); absent = always build. */
  builds?: {
    /** The image built before with this key, while the engine still has it. */
    /** `withConfig`: with the image's config bytes, when they are still known. */
    recall(key: string, options?: { withConfig?: boolean }): Promise<{ imageId: string; diffIds: string[]; steps: number; config?: Buffer | undefined } | null>;
    remember(key: string, image: { imageId: string; diffIds: string[]; steps: number }): Promise<void>;
  };
  /** `withConfig`: also return the normalised config bytes (a reused image's, when they are still known). */
  normalize?: (
    imageId: string,
    options: { sourceDateEpoch: number; layerEpoch?: number; tags: string[]; preserveLayers?: string[]; withConfig?: boolean; signal?: AbortSignal },
  ) => Promise<{ imageId: string; diffIds: string[]; config?: Buffer | undefined }>;
  /** Writes the deploy image's source layers from the context on top of a normalised prefix (image/normalize/compose-image.ts). */
  compose?: (options: Omit<ComposeImageOptions, 'workDir' | 'classic' | 'logger'>) => Promise<{ imageId: string; diffIds: string[] }>;
}

export interface BuildRequest {
  target: TargetName;
  tags?: string[];
  push?: boolean;
  network?: string;
  noCache?: boolean;
  platform?: string;
  timeoutMs?: number;
  reproducible?: boolean;
  signal?: AbortSignal;
  /** Show RUN output as it scrolls. */
  verbose?: boolean;
  /** Path of the on-disk Dockerfile that must match the lock (default envseal.Dockerfile). */
  dockerfile?: string;
  /** Write `.envseal/builds/<target>.json` (default true; a verification rebuild does not). */
  writeRecord?: boolean;
  /**
   * More build args, for predefined args the Dockerfile never declares (the engine keeps those out of the
   * image, so they cannot change its ID): `load --rebuild` routes pip through its offline index with HTTP_PROXY.
   */
  extraBuildArgs?: Record<string, string>;
}

export interface BuildOutcome {
  imageId: string;
  tags: string[];
  target: TargetName;
  fingerprint: string;
  lockDigest: string;
  diffIds: string[];
  reproducible: boolean;
  pushed: { tag: string; digest: string }[];
  durationMs: number;
  /** Wall time of the engine's build and of the normalisation (0 when not reproducible). */
  timings: { buildMs: number; normalizeMs: number };
  steps: number;
  /** Steps the engine took from its build cache (the classic builder's `---> Using cache`). */
  cachedSteps: number;
}

/**
 * The tag `envseal run` looks for: the spec name, the target and the fingerprint; for deploy also the digest
 * of the source it bakes in, so that changed source never runs in an image built from the old one.
 */
export function defaultImageTag(lock: Lock, target: TargetName, sourceDigest?: string, platform: string | null = null): string {
  const fp = lock.fingerprint.slice('sha256:'.length, 'sha256:'.length + 12);
  const src = target === 'deploy' && sourceDigest ? `-${sourceDigest.slice('sha256:'.length, 'sha256:'.length + 8)}` : '';
  // An image of a platform after the primary one is another image of the same lock: its tag says which.
  const arch = platform ? `-${platform.split('/').slice(1).join('-')}` : '';
  return `envseal/${lock.name}:${target}-${fp}${src}${arch}`;
}

/** Digest of the paths the deploy image copies in (Merkle digests of each, in order). */
export async function computeSourceDigest(dir: string, copy: string[]): Promise<string> {
  const parts: string[] = [];
  for (const p of copy) {
    await assertCopyInsideProject(dir, p);
    const d = await digestPath(join(dir, p.replace(/\/+$/, '')), { role: 'input', ifMissing: 'null' });
    if (!d) {
      throw inputError('build.copy-missing', `${p} (targets.deploy.copy) does not exist in the project`, { hint: 'create it or remove it from envseal.yaml' });
    }
    parts.push(`${p}\u0000${d.digest}`);
  }
  return `sha256:${sha256Hex(parts.join('\n'))}`;
}

/**
 * The builder resolves a COPY source's symlinks inside the context only: a copy entry that is (or passes
 * through) a symlink leading out of the project, or to nothing, fails at that COPY step, minutes into a
 * build. Checked here first. (Symlinks *inside* a copied directory are copied as links and are fine.)
 */
async function assertCopyInsideProject(dir: string, entry: string): Promise<void> {
  const path = join(dir, entry.replace(/\/+$/, ''));
  const link = await lstat(path).catch(() => null);
  if (!link) return; // missing: reported by the caller
  const root = await realpath(dir);
  const real = await realpath(path).catch(() => null);
  if (real === null) {
    throw inputError('build.copy-dangling', `${entry} (targets.deploy.copy) is a symlink to something that does not exist`, {
      hint: 'fix the link or copy the real file',
    });
  }
  const rel = relative(root, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw inputError('build.copy-outside', `${entry} (targets.deploy.copy) leads outside the project through a symlink (to ${real})`, {
      hint: 'the build context is the project directory: copy the file into the project instead of linking to it',
    });
  }
}

/** Build args: the deploy revision label, and the netrc text for the lock's indexes when it has any. */
async function buildArgsFor(paths: ProjectPaths, lock: Lock, target: TargetName, deps: BuildDeps): Promise<Record<string, string>> {
  const buildArgs: Record<string, string> = {};
  if (target === 'deploy' && deps.revision) buildArgs[REVISION_ARG] = deps.revision;
  const netrc = await collectIndexNetrc(paths, lock, deps);
  if (netrc) buildArgs[INDEX_CREDENTIALS_ARG] = netrc;
  return buildArgs;
}

/**
 * The netrc text for the lock's indexes, passed to the build in a build arg the image never keeps (see
 * core/image-contract.ts). Sources, first match wins: userinfo in envseal.yaml / requirements files (read again
 * here, since the lock keeps none), userinfo left in an older lock, then `deps.indexCredentials` (netrc).
 * Inputs that cannot be read now only cost their credentials: `lock` is where they are checked.
 */
async function collectIndexNetrc(paths: ProjectPaths, lock: Lock, deps: BuildDeps): Promise<string> {
  const indexes = lock.python?.indexes ?? [];
  if (!indexes.length || !lock.python?.packages.length) return '';
  const store = new CredentialStore();
  try {
    store.addAll((await loadInputs(paths)).credentials);
  } catch (err) {
    deps.logger.debug(`index credentials: could not read the inputs (${maskUrlCredentials((err as Error).message)}); using netrc only`);
  }
  for (const url of indexes) store.addFromUrl(url);
  if (deps.indexCredentials) store.addAll(deps.indexCredentials);
  return store.toNetrc(indexes);
}

export type Rendered = Awaited<ReturnType<typeof renderFromLock>>;

/** The build context: the project as .dockerignore leaves it, the rendered Dockerfile and the SBOM it copies in. */
function contextOptions(paths: ProjectPaths, rendered: Rendered, epoch: number): BuildContextOptions {
  return {
    dir: paths.dir,
    dockerfile: { path: CONTEXT_DOCKERFILE, content: rendered.text },
    // The SBOM the Dockerfile copies in, as the lock renders it (generate writes the same bytes for `docker build`).
    extraFiles: { [rendered.sbom.contextPath]: rendered.sbom.text },
    mtime: epoch,
  };
}

/** What buildWithEngine works with. */
interface EngineBuildContext {
  paths: ProjectPaths;
  rendered: Rendered;
  request: BuildRequest;
  deps: BuildDeps;
  tags: string[];
  buildArgs: Record<string, string>;
  reproducible: boolean;
  started: number;
  mark: (phase: string) => void;
}

/**
 * Builds with the engine and, for a reproducible build, normalises the result and tags it. A reproducible
 * deploy build has the engine build the Dockerfile up to the source COPYs and writes those layers itself
 * (app/build-composed.ts); where that cannot be done, the whole Dockerfile is built and normalised.
 */
async function buildWithEngine(ctx: EngineBuildContext): Promise<EngineBuild> {
  const composed = await buildComposed({
    dir: ctx.paths.dir,
    rendered: ctx.rendered,
    target: ctx.request.target,
    reproducible: ctx.reproducible,
    tags: ctx.tags,
    signal: ctx.request.signal,
    deps: ctx.deps,
    mark: ctx.mark,
    context: contextOptions(ctx.paths, ctx.rendered, sourceDateEpoch(ctx.rendered.lock)),
    engineBuild: (dockerfile) => engineBuild(ctx, dockerfile),
    normalizeBuilt: (built) => normalizeBuilt(ctx, built, { tags: [], withConfig: true }),
    ...(ctx.deps.builds ? { prefixMemo: prefixMemo(ctx, ctx.deps.builds) } : {}),
  });
  if (composed) return composed;
  const built = await engineBuild(ctx, { text: ctx.rendered.text, tags: ctx.reproducible ? undefined : ctx.tags });
  const builtAt = ctx.deps.clock.now().getTime();
  if (!ctx.reproducible) return { imageId: built.imageId, diffIds: [], builtAt, steps: built.steps, cachedSteps: built.cachedSteps };
  const normalized = await normalizeBuilt(ctx, built, { tags: ctx.tags });
  return { imageId: normalized.imageId, diffIds: normalized.diffIds, builtAt, steps: built.steps, cachedSteps: built.cachedSteps };
}

/** The build memo for composed builds' prefixes: keyed like a whole build (app/build-key.ts), by what the prefix reads. */
function prefixMemo(ctx: EngineBuildContext, builds: NonNullable<BuildDeps['builds']>) {
  const { request, paths, rendered } = ctx;
  return {
    key: async (prefix: string, sources: readonly string[]) => {
      try {
        return await computeBuildKey({
          dockerfile: prefix,
          target: request.target,
          platform: request.platform ?? null,
          network: request.network ?? 'host',
          buildArgs: visibleBuildArgs(ctx.buildArgs),
          sourceDigest: await computeSourceDigest(paths.dir, [...sources]),
          copy: sources,
          context: contextOptions(paths, rendered, sourceDateEpoch(rendered.lock)),
        });
      } catch (err) {
        ctx.deps.logger.debug(`build: no key for the prefix (${(err as Error).message}); building it`);
        return undefined;
      }
    },
    // --no-cache builds the prefix again (and what it builds is remembered).
    recall: async (key: string) => (request.noCache ? null : builds.recall(key, { withConfig: true })),
    remember: (key: string, image: { imageId: string; diffIds: string[]; steps: number }) => builds.remember(key, image),
  };
}

/** Build args the image can see: never the index credentials (they do not change the image and must not be written anywhere). */
function visibleBuildArgs(buildArgs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(buildArgs).filter(([name]) => name !== INDEX_CREDENTIALS_ARG));
}

/** One engine build of `text` (the Dockerfile sent in the context); `tags` undefined = a scratch tag (normalised later). */
async function engineBuild(ctx: EngineBuildContext, dockerfile: { text: string; tags?: string[] | undefined; extraIgnore?: string[] }): Promise<EngineBuilt> {
  const { request, deps, buildArgs, started } = ctx;
  const { lock } = ctx.rendered;
  const epoch = sourceDateEpoch(lock);
  // The classic builder takes FROM's image from the local store whatever its platform: make the pinned index
  // reference this platform's image (another platform's build or probe may have pulled its own under it). Before
  // the context is opened: an interrupted or failed pull must not leave a context stream that nobody closes.
  await ensurePlatformImage(deps.engine, deps.logger, {
    ref: lock.base.pinned,
    platform: lock.base.platform,
    ...(request.signal ? { signal: request.signal } : {}),
  });
  ctx.mark('base image checked');
  const options = { ...contextOptions(ctx.paths, ctx.rendered, epoch), dockerfile: { path: CONTEXT_DOCKERFILE, content: dockerfile.text } };
  const context = createBuildContext(dockerfile.extraIgnore?.length ? { ...options, extraIgnore: dockerfile.extraIgnore } : options);
  const progress = buildProgress(request, deps, started);
  // With normalisation the builder's own tag is a scratch name; the real tags go on the normalised image.
  const buildTags = dockerfile.tags ?? [scratchTag(lock.name, request.target, deps.owner ?? 'unknown/0', started)];
  let result;
  try {
    result = await deps.engine.build(context.stream, {
      dockerfile: CONTEXT_DOCKERFILE,
      tags: buildTags,
      target: request.target,
      networkMode: request.network ?? 'host',
      noCache: request.noCache ?? false,
      ...(request.platform ? { platform: request.platform } : {}),
      ...(Object.keys(buildArgs).length ? { buildArgs } : {}),
      ...(request.timeoutMs ? { timeoutMs: request.timeoutMs } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
      onEvent: progress.onEvent,
    });
  } finally {
    context.stream.destroy();
  }
  const sent = await context.done.catch((err: unknown) => {
    throw inputError('build.context', `could not send the build context: ${(err as Error).message}`);
  });
  ctx.mark(`built (context ${sent.files} files, ${sent.bytes} bytes)`);
  return { imageId: result.imageId, buildTag: buildTags[0]!, steps: progress.steps(), cachedSteps: progress.cachedSteps() };
}

/**
 * Normalises a scratch-tagged build and tags the result with `tags`; `withConfig` also returns the normalised
 * config bytes (for composing on top). The raw image stays as the build cache, under one tag per project and target.
 */
async function normalizeBuilt(
  ctx: EngineBuildContext,
  built: EngineBuilt,
  options: { tags: string[]; withConfig?: boolean },
): Promise<{ imageId: string; diffIds: string[]; config?: Buffer | undefined }> {
  const { request, deps } = ctx;
  const { lock } = ctx.rendered;
  const epoch = sourceDateEpoch(lock);
  deps.logger.progress(`[${request.target}] normalising the image (SOURCE_DATE_EPOCH=${epoch})`);
  // The pinned base's layers are content-addressed already: kept byte for byte, shared with the base on disk.
  const base = await deps.engine.inspectImage(lock.base.pinned);
  try {
    return await deps.normalize!(built.imageId, {
      sourceDateEpoch: epoch,
      layerEpoch: INSTALL_SOURCE_DATE_EPOCH,
      tags: options.tags,
      ...(base ? { preserveLayers: base.layers } : {}),
      ...(options.withConfig ? { withConfig: true } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    });
  } finally {
    // The raw image itself holds the last step's cache: it stays under one tag per project and target.
    await deps.engine.tagImage(built.imageId, buildCacheTag(lock.name, request.target)).catch(() => {});
    // noprune: the classic builder's intermediate images under the raw image are its build cache; pruning
    // them would make the next build of an edited source start from scratch.
    await deps.engine.removeImage(built.buildTag, { force: false, noprune: true }).catch(() => {});
  }
}

export async function buildImage(paths: ProjectPaths, request: BuildRequest, deps: BuildDeps): Promise<BuildOutcome> {
  const started = deps.clock.now().getTime();
  // Where the time goes, for --verbose (issue 11: a repeat build must cost a fraction of a full one).
  const mark = (phase: string) => deps.logger.debug(`build: ${phase} at ${deps.clock.now().getTime() - started} ms`);
  // A platform the lock does not hold is refused here (exit 2), before anything is built: it would fail late,
  // mid-build, with a base digest and wheels for another architecture.
  const rendered = await renderFromLock(paths, deps, { ...(request.platform ? { platform: request.platform } : {}), command: 'build' });
  const { lock } = rendered;
  // The builder stage COPYs the archives of git packages from the context: make any that are missing.
  await ensureVcsArchives(paths.dir, lock, deps.git, deps.logger, request.signal);
  const digest = lockDigest(rendered.lockText);
  await assertDockerfileCurrent(paths, join(paths.dir, request.dockerfile ?? platformFileName(DEFAULT_DOCKERFILE, rendered.platform)), rendered.text);

  // Both targets need the deploy copy paths: the classic builder builds the deploy stage before dev.
  mark('rendered');
  const sourceDigest = await computeSourceDigest(paths.dir, lock.targets.deploy.copy);
  mark('source digest');
  const tags = request.tags?.length ? request.tags : [defaultImageTag(lock, request.target, sourceDigest, rendered.platform)];
  const epoch = sourceDateEpoch(lock);
  const buildArgs = { ...(await buildArgsFor(paths, lock, request.target, deps)), ...request.extraBuildArgs };

  const reproducible = request.reproducible ?? true;
  if (reproducible && !deps.normalize) {
    throw internalError('build.no-normalizer', 'reproducible builds were asked for but no image normaliser is wired in');
  }
  // A reproducible build of inputs built before gives the image built then (app/build-key.ts); --no-cache
  // always builds (and what it builds is remembered).
  const key =
    reproducible && deps.builds
      ? await computeBuildKey({
          dockerfile: rendered.text,
          target: request.target,
          platform: request.platform ?? null,
          network: request.network ?? 'host',
          buildArgs: visibleBuildArgs(buildArgs),
          sourceDigest,
          copy: request.target === 'deploy' ? lock.targets.deploy.copy : [],
          context: contextOptions(paths, rendered, epoch),
        })
      : undefined;
  const remembered = key && !request.noCache ? await deps.builds!.recall(key) : null;
  mark(remembered ? `reusing ${remembered.imageId}, built before from the same inputs` : 'build key');
  let made: EngineBuild;
  if (remembered) {
    for (const tag of tags) await deps.engine.tagImage(remembered.imageId, tag);
    made = { ...remembered, builtAt: deps.clock.now().getTime(), cachedSteps: remembered.steps };
  } else {
    made = await buildWithEngine({ paths, rendered, request, deps, tags, buildArgs, reproducible, started, mark });
  }
  const { builtAt } = made;
  const imageId = made.imageId;
  let diffIds = made.diffIds;

  const normalizeMs = reproducible ? deps.clock.now().getTime() - builtAt : 0;
  mark('normalised');
  const info = await deps.engine.inspectImage(imageId);
  if (!info) throw externalError('build.no-image', `the engine reported image ${imageId} but cannot show it`);
  assertImageMatchesLock(info, lock, digest, request.target);
  if (info.labels[LABEL_SBOM_DIGEST] !== rendered.sbom.digest) {
    throw checkFailed(
      'build.sbom-digest-mismatch',
      `the built ${request.target} image carries SBOM digest ${info.labels[LABEL_SBOM_DIGEST] ?? '(none)'}, the lock's SBOM is ${rendered.sbom.digest}`,
      {
        hint: 'run `envseal generate` and build again',
      },
    );
  }
  if (!diffIds.length) diffIds = info.layers;

  const pushed = request.push ? await pushTags(tags, deps, request.signal) : [];

  const outcome: BuildOutcome = {
    imageId,
    tags,
    target: request.target,
    fingerprint: lock.fingerprint,
    lockDigest: digest,
    diffIds,
    reproducible,
    pushed,
    durationMs: deps.clock.now().getTime() - started,
    timings: { buildMs: builtAt - started, normalizeMs },
    steps: made.steps,
    cachedSteps: made.cachedSteps,
  };
  if (key && !remembered) {
    await deps
      .builds!.remember(key, { imageId, diffIds, steps: made.steps })
      .catch((err: unknown) => deps.logger.debug(`could not remember the build: ${(err as Error).message}`));
  }
  if (request.writeRecord !== false) {
    const parameters = { revision: deps.revision, platform: request.platform ?? lock.base.platform, network: request.network ?? 'host' };
    await writeBuildRecord(paths, outcome, parameters, deps.clock);
  }
  if (pushed.length && deps.artifacts) {
    // The provenance statement is made from the build record just written; without one, only the SBOM goes.
    const provenance = request.writeRecord !== false ? (await generateProvenance(paths, { target: request.target, toolVersion: deps.toolVersion })).text : null;
    await attachToPushed(pushed, { sbom: rendered.sbom.text, provenance }, deps.artifacts, deps.logger);
  }
  return outcome;
}

/** A Dockerfile already on disk must be what the lock renders: the build uses the rendered text, and they must agree. */
async function assertDockerfileCurrent(paths: ProjectPaths, dockerfilePath: string, rendered: string): Promise<void> {
  const onDisk = await readFile(dockerfilePath, 'utf8').catch(() => null);
  if (onDisk !== null && onDisk !== rendered) {
    throw checkFailed('dockerfile.stale', `${toRel(paths.dir, dockerfilePath)} is not what ${toRel(paths.dir, paths.lock)} renders`, {
      hint: 'run `envseal generate` (the Dockerfile is generated from the lock; edit envseal.yaml or the templates instead)',
    });
  }
}

/** Logs build steps (and, verbose, their output) and counts the steps the builder reported. */
function buildProgress(
  request: BuildRequest,
  deps: BuildDeps,
  started: number,
): { onEvent: (event: BuildEvent) => void; steps: () => number; cachedSteps: () => number } {
  let steps = 0;
  let cached = 0;
  const onEvent = (event: BuildEvent) => {
    if (event.kind === 'output' && /^\s*---> Using cache\s*$/.test(event.text)) cached += 1;
    if (event.kind === 'step') {
      steps = event.totalSteps ?? steps;
      const elapsed = ((deps.clock.now().getTime() - started) / 1000).toFixed(1);
      const text = event.text.replace(/\s+/g, ' ');
      deps.logger.progress(`[${request.target}] step ${event.step}/${event.totalSteps} ${elapsed}s  ${text.length > 110 ? `${text.slice(0, 109)}…` : text}`);
    } else if (event.kind === 'output' && request.verbose) {
      deps.logger.info(event.text.replace(/\n$/, ''));
    } else if (event.kind === 'warning') {
      deps.logger.warn(event.text);
    }
  };
  return { onEvent, steps: () => steps, cachedSteps: () => cached };
}

async function pushTags(tags: string[], deps: BuildDeps, signal: AbortSignal | undefined): Promise<{ tag: string; digest: string }[]> {
  const pushed: { tag: string; digest: string }[] = [];
  for (const tag of tags) {
    deps.logger.progress(`pushing ${tag}`);
    const { digest } = await deps.engine.pushImage(tag, signal ? { signal } : {});
    pushed.push({ tag, digest });
  }
  return pushed;
}

/** The image must carry the lock's fingerprint: anything else means the Dockerfile or the image is not ours. */
export function assertImageMatchesLock(info: ImageInfo, lock: Lock, digest: string, target: TargetName): void {
  const label = info.labels[LABEL_FINGERPRINT];
  if (label !== lock.fingerprint) {
    throw checkFailed('build.fingerprint-mismatch', `the built ${target} image carries fingerprint ${label ?? '(none)'}, the lock has ${lock.fingerprint}`, {
      hint: 'the Dockerfile was not generated from this lock: run `envseal generate` and build again',
    });
  }
  const lockLabel = info.labels[LABEL_LOCK_DIGEST];
  if (lockLabel !== digest) {
    throw checkFailed('build.lock-digest-mismatch', `the built ${target} image carries lock digest ${lockLabel ?? '(none)'}, the lock file is ${digest}`, {
      hint: 'run `envseal generate` and build again',
    });
  }
}

/**
 * `.envseal/builds/<target>.json`: the last build of each target (image ID, layers, pushed digests, and the
 * parameters `envseal provenance` reports). Format: record/image-build-record.ts.
 */
async function writeBuildRecord(paths: ProjectPaths, outcome: BuildOutcome, parameters: BuildParameters, clock: Clock): Promise<void> {
  const file = join(paths.dir, BUILDS_DIR, `${outcome.target}.json`);
  // How much came from the build cache says nothing about the image: not recorded.
  const { durationMs: _d, timings: _t, cachedSteps: _c, ...stable } = outcome;
  const record: ImageBuildRecord = { buildRecordVersion: 1, builtAt: clock.now().toISOString(), ...stable, ...parameters };
  await writeFileAtomic(file, canonicalJson(record), { mkdir: true }).catch((err: NodeJS.ErrnoException) => {
    throw inputError('build.record-unwritable', `cannot write ${toRel(paths.dir, file)}: ${err.message}`, {
      hint: 'make the project directory writable',
    });
  });
}
