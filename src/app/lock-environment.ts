/**
 * `envseal lock` and `envseal lock --check`: inputs → resolution through the ports → canonical lock.
 *
 * Read → plan → apply. Stability: a lock whose input hash matches the current inputs is fresh and is not
 * touched (no byte changes) unless an upgrade is asked for. When inputs changed, only the parts they affect are
 * resolved again (lock/plan.ts decides which, per wing; previous pins seed the rest). Writes are atomic: a
 * failing or interrupted lock leaves the previous lock intact.
 */
import type { Clock, ContainerEngine, FileFetcher, GitSources, ImageRegistry, Logger, PackageIndex } from '../core/ports.js';
import { ensureVcsArchives } from './vcs-archives.js';
import { checkFailed, inputError, isEnvsealError } from '../core/errors.js';
import { describeWriteFailure, writeFileAtomic } from '../core/atomic-write.js';
import { readTextFile } from '../core/read-text-file.js';
import { canonicalJson } from '../core/canonical-json.js';
import { displayPath } from '../core/paths.js';
import type { DriftEntry } from '../core/drift.js';
import { diffDeclared } from '../lock/drift.js';
import { finalizeLock, parseLock, serializeLock } from '../lock/lock-file.js';
import { keepsEverything, planBase, planEnvironment } from '../lock/plan.js';
import { LOCK_VERSION, type DeclaredInputs, type Lock, type LockWithoutFingerprint, type PlatformEntry } from '../lock/schema.js';
import { platformList } from '../lock/platforms.js';
import type { Ground } from '../core/ground.js';
import { resolveBase } from '../ecosystems/base/resolve-base.js';
import { probeTarget } from '../ecosystems/base/probe-target.js';
import { probePlatformTarget } from '../ecosystems/base/probe-platform.js';
import { ensurePlatformImage } from '../core/platform-image.js';
import { ECOSYSTEMS, isPerPlatform, unusedValue, type WingId } from '../ecosystems/registry.js';
import type { ResolveOptions } from '../ecosystems/types.js';
import type { CredentialStore } from '../core/url-credentials.js';
import { loadInputs, normalizeDeclared, toRel, type LoadedInputs, type ProjectPaths } from './load-inputs.js';

export interface LockDeps {
  registry: ImageRegistry;
  engine: ContainerEngine;
  index: PackageIndex;
  /** Remote files by URL, for the files wing. */
  files?: FileFetcher;
  /** Git repositories, for git+ Python requirements. */
  git?: GitSources;
  clock: Clock;
  logger: Logger;
  toolVersion: string;
  /** The store `index` authenticates from: the inputs' inline credentials are added to it. */
  indexCredentials?: CredentialStore;
  /** Ctrl-C: stops (and removes) running containers and pulls; nothing is written once it fires. */
  signal?: AbortSignal;
}

export interface LockOptions {
  /** Ignore Python files uploaded after this instant (overrides the spec's python.excludeNewer). */
  excludeNewer?: string;
  /** Re-resolve everything, ignoring previous pins. */
  upgrade?: boolean;
  /** Re-resolve these Python projects (and anything that must move with them). */
  upgradePackages?: string[];
}

export interface LockResult {
  lock: Lock;
  /** The lock file was (re)written. */
  written: boolean;
  /** What changed in the resolved environment compared to the previous lock. */
  status: 'created' | 'updated' | 'unchanged';
  previousFingerprint?: string;
}

export async function readExistingLock(path: string): Promise<{ lock: Lock; text: string } | null> {
  let text: string;
  try {
    text = await readTextFile(path, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return { lock: parseLock(text, pathLabel(path)), text };
}

export async function lockEnvironment(paths: ProjectPaths, deps: LockDeps, options: LockOptions = {}): Promise<LockResult> {
  const inputs = await loadInputs(paths);
  deps.indexCredentials?.addAll(inputs.credentials);
  let previous: Lock | null = null;
  try {
    previous = (await readExistingLock(paths.lock))?.lock ?? null;
  } catch (err) {
    // A broken previous lock is replaced, not fatal: it only seeds preferences.
    if (!isEnvsealError(err)) throw err;
    deps.logger.warn(`ignoring the existing lock: ${err.message}`);
  }
  const resolveOptions: ResolveOptions = {
    upgradeAll: Boolean(options.upgrade),
    ...(options.upgradePackages?.length ? { upgradePackages: options.upgradePackages } : {}),
    ...(options.excludeNewer !== undefined ? { excludeNewer: options.excludeNewer } : {}),
  };
  // Sections are compared in canonical form: the previous lock stores them sorted, the inputs come as read.
  const current = normalizeDeclared(inputs.declared);
  const prev = previous ? { lock: previous, declared: normalizeDeclared(previous.declared) } : null;
  if (previous && previous.inputHash === inputs.inputHash && planBase(current, previous, resolveOptions) === 'keep') {
    if (keepsEverything(planEnvironment(current, prev, previous.base, resolveOptions))) {
      deps.logger.info(`${toRel(paths.dir, paths.lock)} is up to date (fingerprint ${previous.fingerprint})`);
      await ensureVcsArchives(paths.dir, previous, deps.git, deps.logger, deps.signal);
      return { lock: previous, written: false, status: 'unchanged', previousFingerprint: previous.fingerprint };
    }
  }

  const lock = await resolveLock(inputs, current, prev, deps, resolveOptions);
  deps.signal?.throwIfAborted();
  const text = serializeLock(lock);
  const written = await writeFileAtomic(paths.lock, text).catch((err: unknown) => {
    throw describeWriteFailure(err, displayPath(paths.dir, paths.lock));
  });
  await ensureVcsArchives(paths.dir, lock, deps.git, deps.logger, deps.signal);
  const status = !previous ? 'created' : previous.fingerprint === lock.fingerprint ? 'unchanged' : 'updated';
  return { lock, written, status, ...(previous ? { previousFingerprint: previous.fingerprint } : {}) };
}

/** Applies the plan: base, probe, then each wing's section, kept or resolved through the ports. */
async function resolveLock(
  inputs: LoadedInputs,
  current: DeclaredInputs,
  previous: { lock: Lock; declared: DeclaredInputs } | null,
  deps: LockDeps,
  options: ResolveOptions,
): Promise<Lock> {
  const { declared, spec } = inputs;
  const [primary = 'linux/amd64', ...others] = platformList(declared.platform);
  const keepBase = previous !== null && planBase(current, previous.lock, options) === 'keep';
  const base = keepBase ? previous.lock.base : await resolveBase(deps.registry, deps.logger, declared.base, primary);
  const plan = planEnvironment(current, previous, base, options);
  if (plan.needsImage) await ensureImage(deps, base.pinned, primary);
  let target = previous?.lock.target;
  if (plan.reprobe || !target) {
    deps.logger.progress(`probing ${base.pinned}`);
    target = await probeTarget(deps.engine, base.pinned, plan.interpreter, deps.signal);
  }
  const ground = { base, target };
  const sections: Record<string, unknown> = {};
  for (const wing of ECOSYSTEMS) {
    const wingDeclared = (declared as Record<string, unknown>)[wing.id];
    const previousSection = ((previous?.lock as Record<string, unknown> | undefined)?.[wing.id] ?? null) as unknown;
    if (!wingDeclared) {
      sections[wing.id] = unusedValue(wing);
      continue;
    }
    wing.check?.(wingDeclared, ground);
    sections[wing.id] =
      plan.wings[wing.id as WingId] === 'keep'
        ? previousSection
        : await wing.resolve(wingDeclared, inputs.states[wing.id as WingId], wingContext(deps, ground, options, previousSection));
  }
  refuseEmpty(inputs, sections);
  const platforms: Record<string, PlatformEntry> = {};
  for (const platform of others) {
    const prevEntry = keepBase ? previous.lock.platforms?.[platform] : undefined;
    const platformBase = prevEntry?.base ?? (await resolveBase(deps.registry, deps.logger, declared.base, platform));
    // A target probed in the platform's own image is kept like the primary probe; a derived one is tried again.
    const probed =
      prevEntry && !plan.reprobe && prevEntry.targetDerivedFrom === platform
        ? { target: prevEntry.target, derivedFrom: platform }
        : await probePlatformTarget(deps.engine, deps.logger, {
            base: platformBase,
            interpreter: plan.interpreter,
            primary: { platform: primary, target },
            ...(deps.signal ? { signal: deps.signal } : {}),
          });
    const ground = { base: platformBase, target: probed.target };
    platforms[platform] = await resolvePlatformSections(inputs, ground, probed.derivedFrom, sections, prevEntry, plan.wings, deps, options);
  }
  const draft = {
    lockVersion: LOCK_VERSION,
    tool: { name: 'envseal', version: deps.toolVersion },
    name: spec.name,
    resolvedAt: deps.clock
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z'),
    inputHash: inputs.inputHash,
    inputFiles: inputs.files,
    declared,
    base,
    target,
    ...sections,
    ...(others.length ? { platforms } : {}),
    env: declared.env,
    workdir: declared.workdir,
    targets: declared.targets,
  } as LockWithoutFingerprint;
  // Nothing resolved changed (the same base, probe and sections; e.g. only targets.deploy.copy, env or a comment
  // in a manifest did): keep the previous resolution time. It is SOURCE_DATE_EPOCH in the Dockerfile's first
  // lines, so moving it would invalidate every cached layer of the next build (issue 11).
  const old = previous?.lock;
  if (old && sameResolution(old, { base, target, ...sections, platforms: others.length ? platforms : undefined }))
    return finalizeLock({ ...draft, resolvedAt: old.resolvedAt });
  return finalizeLock(draft);
}

/** Whether the base, the target probe and every wing's section are those of the previous lock. */
function sameResolution(old: Lock, resolved: Record<string, unknown>): boolean {
  const oldRecord = old as unknown as Record<string, unknown>;
  return Object.entries(resolved).every(([key, value]) => canonicalJson(oldRecord[key] ?? null) === canonicalJson(value ?? null));
}

/**
 * A platform after the primary one: the per-platform wings (Python) resolve again for its base manifest and its
 * target (probed in its image, or derived from the primary's: `derivedFrom`), seeded with the primary platform's
 * pins so versions agree wherever the same release fits. Kept as they were when the primary section is kept
 * and the platform's base manifest and target did not move.
 */
async function resolvePlatformSections(
  inputs: LoadedInputs,
  ground: Ground,
  derivedFrom: string,
  primarySections: Record<string, unknown>,
  previous: PlatformEntry | undefined,
  plan: Partial<Record<WingId, 'keep' | 'resolve'>>,
  deps: LockDeps,
  options: ResolveOptions,
): Promise<PlatformEntry> {
  const entry: Record<string, unknown> = { base: ground.base, target: ground.target, targetDerivedFrom: derivedFrom };
  for (const wing of ECOSYSTEMS.filter(isPerPlatform)) {
    const wingDeclared = (inputs.declared as Record<string, unknown>)[wing.id];
    const previousSection = (previous as Record<string, unknown> | undefined)?.[wing.id] ?? null;
    if (!wingDeclared) {
      entry[wing.id] = null;
      continue;
    }
    wing.check?.(wingDeclared, ground);
    const keep =
      plan[wing.id as WingId] === 'keep' &&
      previousSection !== null &&
      previous?.base.platformDigest === ground.base.platformDigest &&
      canonicalJson(previous.target) === canonicalJson(ground.target);
    deps.logger.progress(`${keep ? 'keeping' : 'resolving'} ${wing.id} for ${ground.base.platform}`);
    entry[wing.id] = keep
      ? previousSection
      : await wing.resolve(
          wingDeclared,
          inputs.states[wing.id as WingId],
          wingContext(deps, ground, options, previousSection ?? primarySections[wing.id] ?? null),
        );
  }
  return entry as PlatformEntry;
}

/** What a wing's resolve gets: the ground it resolves for, the ports, the options and the section it may keep pins from. */
function wingContext(deps: LockDeps, ground: Ground, options: ResolveOptions, previous: unknown) {
  return {
    ground,
    engine: deps.engine,
    index: deps.index,
    ...(deps.files ? { files: deps.files } : {}),
    ...(deps.git ? { git: deps.git } : {}),
    clock: deps.clock,
    logger: deps.logger,
    options,
    previous,
    ...(deps.signal ? { signal: deps.signal } : {}),
  };
}

/** Manifests were read but nothing came of them: a lock with zero packages is a mistake, not a success. */
function refuseEmpty(inputs: LoadedInputs, sections: Record<string, unknown>): void {
  const manifests = inputs.files.filter((f) => f !== inputs.files[0]);
  if (!manifests.length) return;
  const pinned = ECOSYSTEMS.reduce((n, w) => n + (sections[w.id] ? w.count(sections[w.id], 'dev') : 0), 0);
  if (pinned > 0) return;
  throw inputError(
    'lock.empty',
    `${manifests.join(', ')} ${manifests.length === 1 ? 'was' : 'were'} read but declare no packages: the lock would pin nothing`,
    {
      hint: 'check that the manifests list the dependencies (and that the spec names the right files), or remove them from the spec',
    },
  );
}

/** The primary platform's image under `ref` (after a build of another platform, the engine may hold that one). */
async function ensureImage(deps: LockDeps, ref: string, platform: string): Promise<void> {
  await ensurePlatformImage(deps.engine, deps.logger, { ref, platform, ...(deps.signal ? { signal: deps.signal } : {}) });
}

/** Drift between the lock and the current inputs; empty when the lock is fresh. */
export async function checkLock(paths: ProjectPaths): Promise<{ lock: Lock; lockText: string; drift: DriftEntry[]; inputs: LoadedInputs }> {
  const inputs = await loadInputs(paths);
  const existing = await readExistingLock(paths.lock);
  if (!existing) {
    throw checkFailed('lock.missing', `${toRel(paths.dir, paths.lock)} does not exist`, { hint: 'run `envseal lock`' });
  }
  const { lock, text: lockText } = existing;
  if (lock.inputHash === inputs.inputHash) return { lock, lockText, drift: [], inputs };
  const drift = diffDeclared(lock.declared, inputs.declared, toRel(paths.dir, paths.spec));
  return {
    lock,
    lockText,
    drift: drift.length ? drift : [{ file: toRel(paths.dir, paths.spec), kind: 'changed', subject: 'inputs', before: lock.inputHash, after: inputs.inputHash }],
    inputs,
  };
}

function pathLabel(path: string): string {
  return path.split('/').pop() ?? path;
}
