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
import { ECOSYSTEMS } from '../ecosystems/registry.js';
import type { LockWithoutFingerprint } from './schema.js';

export const FINGERPRINT_VERSION = 1;

export function fingerprintInput(lock: LockWithoutFingerprint): unknown {
  const sections = Object.fromEntries(
    ECOSYSTEMS.map((w) => {
      const section = (lock as Record<string, unknown>)[w.id];
      return [w.id, section ? w.fingerprint(section) : null];
    }),
  );
  return {
    fingerprintVersion: FINGERPRINT_VERSION,
    base: {
      platformDigest: lock.base.platformDigest,
      platform: lock.base.platform,
    },
    target: {
      architecture: lock.target.architecture,
      libc: lock.target.libc,
      python: lock.target.python ? { version: lock.target.python.version, implementation: lock.target.python.implementation } : null,
    },
    ...sections,
    env: lock.env,
    workdir: lock.workdir,
    targets: {
      dev: { env: lock.targets.dev.env },
      deploy: { env: lock.targets.deploy.env, user: lock.targets.deploy.user, uid: lock.targets.deploy.uid },
    },
  };
}

export function computeFingerprint(lock: LockWithoutFingerprint): string {
  return digestOf(fingerprintInput(lock));
}
