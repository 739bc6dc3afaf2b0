/**
 * `envseal lock` and `envseal lock --check`: inputs → resolution through the ports → canonical lock.
 *
 * Stability: a lock whose input hash matches the current inputs is fresh and is not touched (no byte changes)
 * unless an upgrade is asked for. When inputs changed, only the parts they affect are resolved again: the base
 * is re-resolved when `base`/`platform` changed, apt when the apt inputs or the base changed, Python when its
 * inputs or the target changed (keeping previous pins that still satisfy). Writes are atomic: a failing or
 * interrupted lock leaves the previous lock intact.
 */
import { readFile } from 'node:fs/promises';
import type { Clock, DockerEngine, ImageRegistry, Logger, PackageIndex } from '../core/ports.js';
import { checkFailed, inputError, isEnvsealError } from '../core/errors.js';
import { diffDeclared, formatDrift, type DriftEntry } from '../lock/drift.js';
import { finalizeLock, parseLock, serializeLock } from '../lock/lock-file.js';
import type { Lock, LockedBase, LockWithoutFingerprint } from '../lock/schema.js';
import { LOCK_VERSION } from '../lock/schema.js';
import { formatImageName, formatPinnedImageRef, parseImageRef } from '../core/image-ref.js';
import { probeTarget } from '../ecosystems/base/probe-target.js';
import { defaultSnapshotUrl, formatSnapshotTimestamp, snapshotSources } from '../ecosystems/apt/apt-sources.js';
import { resolveApt } from '../ecosystems/apt/resolve-apt.js';
import { resolvePython } from '../ecosystems/python/resolver/resolve-python.js';
import { writeFileAtomic } from '../core/atomic-write.js';
import { canonicalJsonCompact } from '../core/canonical-json.js';
import { maskUrlCredentials, type CredentialStore } from '../core/url-credentials.js';
import { loadInputs, normalizeDeclared, toRel, type LoadedInputs, type ProjectPaths } from './load-inputs.js';

export interface LockDeps {
  registry: ImageRegistry;
  engine: DockerEngine;
  index: PackageIndex;
  clock: Clock;
  logger: Logger;
  toolVersion: string;
  /** The store `index` authenticates from: the inputs' inline credentials are added to it. */
  indexCredentials?: CredentialStore;
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
    text = await readFile(path, 'utf8');
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
  const upgradeAll = Boolean(options.upgrade);
  const upgradeSome = options.upgradePackages?.length ? options.upgradePackages : undefined;
  const excludeChanged = options.excludeNewer !== undefined && options.excludeNewer !== previous?.python?.excludeNewer;
  if (previous && previous.inputHash === inputs.inputHash && !upgradeAll && !upgradeSome && !excludeChanged) {
    deps.logger.info(`${toRel(paths.dir, paths.lock)} is up to date (fingerprint ${previous.fingerprint})`);
    return { lock: previous, written: false, status: 'unchanged', previousFingerprint: previous.fingerprint };
  }

  const lock = await resolveLock(inputs, previous, deps, { upgradeAll, upgradeSome, excludeNewer: options.excludeNewer });
  const text = serializeLock(lock);
  const written = await writeFileAtomic(paths.lock, text);
  const status = !previous ? 'created' : previous.fingerprint === lock.fingerprint ? 'unchanged' : 'updated';
  return { lock, written, status, ...(previous ? { previousFingerprint: previous.fingerprint } : {}) };
}

async function resolveLock(
  inputs: LoadedInputs,
  previous: Lock | null,
  deps: LockDeps,
  options: { upgradeAll: boolean; upgradeSome: string[] | undefined; excludeNewer: string | undefined },
): Promise<Lock> {
  const { declared, spec } = inputs;
  // Sections are compared in canonical form: the previous lock stores them sorted, the inputs come as read.
  const prevDeclared = previous ? normalizeDeclared(previous.declared) : undefined;
  const current = normalizeDeclared(declared);
  const sameJson = (a: unknown, b: unknown) => canonicalJsonCompact(a ?? null) === canonicalJsonCompact(b ?? null);

  // Base image: tag → digest for the platform.
  let base: LockedBase;
  if (previous && prevDeclared && prevDeclared.base === declared.base && prevDeclared.platform === declared.platform && !options.upgradeAll) {
    base = previous.base;
  } else {
    const ref = parseImageRef(declared.base);
    const [os = 'linux', architecture = 'amd64', variant] = declared.platform.split('/');
    deps.logger.progress(`resolving base image ${declared.base} (${declared.platform})`);
    const resolved = await deps.registry.resolveImage(ref, { os, architecture, ...(variant ? { variant } : {}) });
    base = {
      reference: declared.base,
      repository: formatImageName(ref),
      ...(ref.tag ? { tag: ref.tag } : {}),
      digest: resolved.digest,
      mediaType: resolved.mediaType,
      platformDigest: resolved.platformDigest,
      ...(resolved.configDigest ? { configDigest: resolved.configDigest } : {}),
      platform: declared.platform,
      pinned: formatPinnedImageRef(ref, resolved.digest),
    };
  }
  const baseChanged = !previous || previous.base.platformDigest !== base.platformDigest;

  // The engine needs the pinned base for the probe and apt resolution.
  const interpreter = declared.python?.interpreter ?? null;
  const needProbe = baseChanged || !previous || (previous.declared.python?.interpreter ?? null) !== interpreter || options.upgradeAll;
  const aptChanged = !previous || baseChanged || !sameJson(prevDeclared?.apt, current.apt) || options.upgradeAll;
  if (needProbe || (aptChanged && declared.apt?.packages.length)) await ensureImage(deps, base.pinned, declared.platform);

  let target = previous?.target;
  if (needProbe || !target) {
    deps.logger.progress(`probing ${base.pinned}`);
    target = await probeTarget(deps.engine, base.pinned, interpreter);
  }

  // apt closure.
  let apt: Lock['apt'] = null;
  if (declared.apt && declared.apt.packages.length) {
    if (!target.hasApt) {
      throw inputError('apt.unavailable', `the base image ${declared.base} has no apt-get, but the spec lists apt packages`, {
        hint: 'use a Debian or Ubuntu based image, or remove the apt packages',
      });
    }
    if (!aptChanged && previous?.apt) {
      apt = previous.apt;
    } else {
      const main = declared.apt.packages.filter((p) => p.targets.includes('deploy')).map((p) => p.name);
      const dev = declared.apt.packages.filter((p) => !p.targets.includes('deploy')).map((p) => p.name);
      const snapshot = declared.apt.snapshot
        ? {
            timestamp: declared.apt.snapshot === true ? formatSnapshotTimestamp(deps.clock.now()) : declared.apt.snapshot,
            url: declared.apt.snapshotUrl ?? defaultSnapshotUrl(target.os.id),
          }
        : null;
      deps.logger.progress(`resolving ${main.length + dev.length} apt package(s) in ${base.pinned}${snapshot ? ` from snapshot ${snapshot.timestamp}` : ''}`);
      const packages = await resolveApt(deps.engine, base.pinned, {
        main: dedupe(main),
        dev: dedupe(dev),
        installRecommends: declared.apt.installRecommends,
        ...(snapshot ? { sources: snapshotSources(target.os, snapshot) } : {}),
      });
      apt = { snapshot, packages };
    }
  }

  // Python closure.
  let python: Lock['python'] = null;
  if (declared.python) {
    const probePy = target.python;
    if (!probePy) throw inputError('probe.no-python', `the base image ${declared.base} has no Python interpreter`);
    const venv = declared.python.venv === 'auto' ? probePy.externallyManaged : declared.python.venv;
    const excludeNewer = options.excludeNewer ?? declared.python.excludeNewer;
    const pythonInputsSame =
      previous?.python &&
      !baseChanged &&
      !needProbe &&
      sameJson(prevDeclared?.python, current.python) &&
      previous.python.excludeNewer === excludeNewer &&
      !options.upgradeAll &&
      !options.upgradeSome;
    rejectUnsupportedOptions(declared.python.options);
    let packages;
    if (pythonInputsSame) {
      packages = previous!.python!.packages;
    } else {
      const installable = declared.python.requirements.filter((r) => r.kind === 'requirement');
      deps.logger.progress(`resolving ${installable.length} Python requirement(s) for ${probePy.implementation} ${probePy.version} on ${target.machine}`);
      const opts = declared.python.options;
      const result = await resolvePython(
        {
          requirements: declared.python.requirements,
          indexes: declared.python.indexes,
          target,
          ...(Object.keys(declared.python.packageIndexes).length ? { indexPins: declared.python.packageIndexes } : {}),
          options: {
            ...(opts.pre === true ? { pre: true } : {}),
            ...(Array.isArray(opts.onlyBinary) ? { onlyBinary: opts.onlyBinary } : {}),
            ...(excludeNewer ? { excludeNewer } : {}),
          },
          ...(previous?.python ? { previous: previous.python.packages } : {}),
          ...(options.upgradeAll ? { upgrade: true } : options.upgradeSome ? { upgrade: options.upgradeSome } : {}),
        },
        { index: deps.index, logger: deps.logger },
      );
      packages = result.packages;
    }
    python = {
      interpreter: declared.python.interpreter,
      venv: venv ? '/opt/envseal/venv' : null,
      systemSitePackages: declared.python.systemSitePackages,
      indexes: declared.python.indexes,
      ...(excludeNewer ? { excludeNewer } : {}),
      packages,
    };
  }

  const npm: Lock['npm'] =
    declared.npm && inputs.npm
      ? {
          dir: declared.npm.dir,
          target: declared.npm.target,
          lockfile: inputs.npm.lockfile,
          lockfileVersion: inputs.npm.lockfileVersion,
          sha256: inputs.npm.lockfileSha256,
          packages: inputs.npm.packages,
        }
      : null;

  const draft: LockWithoutFingerprint = {
    lockVersion: LOCK_VERSION,
    tool: { name: 'envseal', version: deps.toolVersion },
    name: spec.name,
    resolvedAt: deps.clock.now().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    inputHash: inputs.inputHash,
    inputFiles: inputs.files,
    declared,
    base,
    target,
    python,
    apt,
    npm,
    env: declared.env,
    workdir: declared.workdir,
    targets: declared.targets,
  };
  const lock = finalizeLock(draft);
  // Nothing in the environment changed and the inputs are the same: keep the previous resolution time so the
  // file does not change.
  if (previous && previous.fingerprint === lock.fingerprint && previous.inputHash === lock.inputHash) {
    return finalizeLock({ ...draft, resolvedAt: previous.resolvedAt });
  }
  return lock;
}

async function ensureImage(deps: LockDeps, ref: string, platform: string): Promise<void> {
  if (await deps.engine.inspectImage(ref)) return;
  deps.logger.progress(`pulling ${ref}`);
  await deps.engine.pullImage(ref, { platform });
}

/** Drift between the lock and the current inputs; empty when the lock is fresh. */
export async function checkLock(paths: ProjectPaths): Promise<{ lock: Lock; drift: DriftEntry[]; inputs: LoadedInputs }> {
  const inputs = await loadInputs(paths);
  const existing = await readExistingLock(paths.lock);
  if (!existing) {
    throw checkFailed('lock.missing', `${toRel(paths.dir, paths.lock)} does not exist`, { hint: 'run `envseal lock`' });
  }
  const { lock } = existing;
  if (lock.inputHash === inputs.inputHash) return { lock, drift: [], inputs };
  const drift = diffDeclared(lock.declared, inputs.declared, toRel(paths.dir, paths.spec));
  return { lock, drift: drift.length ? drift : [{ file: toRel(paths.dir, paths.spec), kind: 'changed', subject: 'inputs', before: lock.inputHash, after: inputs.inputHash }], inputs };
}

export { formatDrift };

/** requirements.txt options envseal cannot honour are errors, not silently ignored. */
export function rejectUnsupportedOptions(options: Record<string, unknown>): void {
  if (Array.isArray(options.noBinary) && options.noBinary.length) {
    throw inputError('python.unsupported-option', `--no-binary ${options.noBinary.join(',')} asks pip to build from source, which envseal does not do`, {
      hint: 'envseal locks wheels (and sdists with static metadata that need no build); remove --no-binary',
    });
  }
  if (Array.isArray(options.findLinks) && options.findLinks.length) {
    throw inputError('python.unsupported-option', `--find-links ${maskUrlCredentials(options.findLinks.join(' '))} is not supported`, {
      hint: 'serve the files from a PEP 503 index (any static file server with a simple/ layout works) and use --index-url',
    });
  }
  if (options.noIndex === true) {
    throw inputError('python.unsupported-option', '--no-index leaves no index to resolve from', { hint: 'remove --no-index and name an index' });
  }
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}

function pathLabel(path: string): string {
  return path.split('/').pop() ?? path;
}

