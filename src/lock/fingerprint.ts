/**
 * The environment fingerprint: sha256 of the canonical resolved environment. It is what ties a lock to the
 * images built from it and to every run record.
 *
 * In: everything that decides what is inside the image: the base manifest digest for the platform, the target
 * interpreter, each ecosystem's pins as its wing says (every Python file hash, apt version and which targets
 * get them, the npm lockfile hash), env vars, workdir and the deploy user. Out: text and provenance that do not
 * change the environment: how the base was written (tag vs digest), resolution time, tool version, input
 * hashes, `via` chains, download URLs and index names (the same sha256 from another mirror is the same file),
 * and the order of anything.
 */
import { digestOf } from '../core/canonical-json.js';
import type { LockedBase, TargetProbe } from '../core/ground.js';
import { ECOSYSTEMS, isPerPlatform, unusedValue } from '../ecosystems/registry.js';
import type { LockWithoutFingerprint, PlatformEntry } from './schema.js';

export const FINGERPRINT_VERSION = 1;

export function fingerprintInput(lock: LockWithoutFingerprint): unknown {
  const sections = Object.fromEntries(
    ECOSYSTEMS.map((w) => {
      const section = (lock as Record<string, unknown>)[w.id];
      return [w.id, section ? w.fingerprint(section) : unusedValue(w)];
    }),
  );
  return {
    fingerprintVersion: FINGERPRINT_VERSION,
    ...groundInput(lock.base, lock.target),
    ...sections,
    // Only in locks of several platforms, so a one-platform fingerprint is what it always was.
    ...(lock.platforms ? { platforms: platformsInput(lock.platforms) } : {}),
    env: lock.env,
    workdir: lock.workdir,
    targets: {
      dev: { env: lock.targets.dev.env },
      deploy: { env: lock.targets.deploy.env, user: lock.targets.deploy.user, uid: lock.targets.deploy.uid },
    },
  };
}

function groundInput(base: LockedBase, target: TargetProbe): { base: unknown; target: unknown } {
  return {
    base: { platformDigest: base.platformDigest, platform: base.platform },
    target: {
      architecture: target.architecture,
      libc: target.libc,
      python: target.python ? { version: target.python.version, implementation: target.python.implementation } : null,
    },
  };
}

function platformsInput(platforms: Record<string, PlatformEntry>): unknown {
  return Object.fromEntries(
    Object.entries(platforms).map(([name, entry]) => [
      name,
      {
        ...groundInput(entry.base, entry.target),
        ...Object.fromEntries(
          ECOSYSTEMS.filter(isPerPlatform).map((w) => {
            const section = (entry as Record<string, unknown>)[w.id];
            return [w.id, section ? w.fingerprint(section) : null];
          }),
        ),
      },
    ]),
  );
}

export function computeFingerprint(lock: LockWithoutFingerprint): string {
  return digestOf(fingerprintInput(lock));
}
