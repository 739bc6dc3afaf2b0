import { inputError } from '../core/errors.js';
import { canonicalJson, sha256Hex } from '../core/canonical-json.js';
import { computeFingerprint } from './fingerprint.js';
import { LOCK_VERSION, lockSchema, type Lock, type LockWithoutFingerprint } from './schema.js';

/**
 * Sorts every list in the lock into its canonical order and adds the fingerprint. Lists are ordered by
 * name (and then by the remaining identity fields) so the same environment always gives the same bytes.
 */
export function finalizeLock(lock: LockWithoutFingerprint): Lock {
  const sorted: LockWithoutFingerprint = {
    ...lock,
    inputFiles: [...new Set(lock.inputFiles)].sort(cmp),
    declared: {
      ...lock.declared,
      python: lock.declared.python
        ? {
            ...lock.declared.python,
            requirements: [...lock.declared.python.requirements]
              .map((r) => ({ ...r, hashes: [...r.hashes].sort(cmp), targets: sortTargets(r.targets) }))
              .sort((a, b) => cmp(a.kind, b.kind) || cmp(a.requirement, b.requirement) || cmp(a.source, b.source) || cmp(a.targets.join(), b.targets.join())),
          }
        : null,
      apt: lock.declared.apt
        ? {
            ...lock.declared.apt,
            packages: [...lock.declared.apt.packages]
              .map((p) => ({ ...p, targets: sortTargets(p.targets) }))
              .sort((a, b) => cmp(a.name, b.name) || cmp(a.source, b.source)),
          }
        : null,
    },
    python: lock.python
      ? {
          ...lock.python,
          packages: [...lock.python.packages]
            .map((p) => ({ ...p, via: [...new Set(p.via)].sort(cmp), targets: sortTargets(p.targets) }))
            .sort((a, b) => cmp(a.name, b.name)),
        }
      : null,
    apt: lock.apt
      ? {
          snapshot: lock.apt.snapshot,
          packages: [...lock.apt.packages]
            .map((p) => ({ ...p, targets: sortTargets(p.targets) }))
            .sort((a, b) => cmp(a.name, b.name) || cmp(a.architecture, b.architecture)),
        }
      : null,
  };
  return { ...sorted, fingerprint: computeFingerprint(sorted) };
}

export function serializeLock(lock: Lock): string {
  return canonicalJson(lock);
}

/** `sha256:<hex>` of the lock file's bytes: the `dev.envseal.lock-digest` label. */
export function lockDigest(text: string): string {
  return `sha256:${sha256Hex(text)}`;
}

/** Parses a lock file strictly, reporting every problem at once. Checks that the fingerprint is intact. */
export function parseLock(text: string, file = 'envseal.lock'): Lock {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw inputError('lock.syntax', `${file} is not valid JSON: ${(err as Error).message}`, {
      hint: 'regenerate it with `envseal lock` (it is a generated file: do not edit it by hand)',
    });
  }
  const version = (raw as { lockVersion?: unknown } | null)?.lockVersion;
  if (typeof version === 'number' && version !== LOCK_VERSION) {
    throw inputError('lock.version', `${file} has lockVersion ${version}; this envseal reads version ${LOCK_VERSION}`, {
      hint: version > LOCK_VERSION ? 'upgrade envseal' : 'regenerate it with `envseal lock`',
    });
  }
  const result = lockSchema.safeParse(raw);
  if (!result.success) {
    const details = result.error.issues.map((i) => `${file}: ${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
    throw inputError('lock.invalid', `${file} is not a valid envseal lock`, {
      details,
      hint: 'regenerate it with `envseal lock` (it is a generated file: do not edit it by hand)',
    });
  }
  const lock = result.data;
  const { fingerprint, ...rest } = lock;
  const expected = computeFingerprint(rest);
  if (expected !== fingerprint) {
    throw inputError('lock.tampered', `${file}: fingerprint ${fingerprint} does not match its content (${expected})`, {
      hint: 'the lock was edited by hand; regenerate it with `envseal lock`',
    });
  }
  return lock;
}

function sortTargets<T extends string>(targets: T[]): T[] {
  return [...new Set(targets)].sort(cmp);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
