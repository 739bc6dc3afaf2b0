import { inputError } from '../core/errors.js';
import { canonicalJson, sha256Hex } from '../core/canonical-json.js';
import { sortedUnique } from '../core/order.js';
import { ECOSYSTEMS } from '../ecosystems/registry.js';
import { computeFingerprint } from './fingerprint.js';
import { LOCK_VERSION, lockSchema, type Lock, type LockWithoutFingerprint } from './schema.js';

/**
 * Sorts every list in the lock into its canonical order and adds the fingerprint. Lists are ordered by
 * name (and then by the remaining identity fields) so the same environment always gives the same bytes.
 */
export function finalizeLock(lock: LockWithoutFingerprint): Lock {
  const declared: Record<string, unknown> = { ...lock.declared };
  const sections: Record<string, unknown> = {};
  for (const w of ECOSYSTEMS) {
    const d = (lock.declared as Record<string, unknown>)[w.id];
    const s = (lock as Record<string, unknown>)[w.id];
    declared[w.id] = d ? w.canonicalDeclared(d) : null;
    sections[w.id] = s ? w.canonicalize(s) : null;
  }
  const sorted = { ...lock, inputFiles: sortedUnique(lock.inputFiles), declared, ...sections } as LockWithoutFingerprint;
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
