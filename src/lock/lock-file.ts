import { inputError } from '../core/errors.js';
import { canonicalJson, sha256Hex } from '../core/canonical-json.js';
import { sortedUnique } from '../core/order.js';
import { ECOSYSTEMS, isPerPlatform, unusedValue } from '../ecosystems/registry.js';
import type { TargetProbe } from '../core/ground.js';
import { computeFingerprint } from './fingerprint.js';
import { parseExact } from '../core/zod-exact.js';
import { LOCK_VERSION, READABLE_LOCK_VERSIONS, lockSchema, type Lock, type LockWithoutFingerprint, type PlatformEntry } from './schema.js';

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
    declared[w.id] = d ? w.canonicalDeclared(d) : unusedValue(w);
    sections[w.id] = s ? w.canonicalize(s) : unusedValue(w);
  }
  // A later wing's unused key is absent, not present as undefined: the lock parses back to the same value.
  const platforms = lock.platforms ? canonicalPlatforms(lock.platforms) : undefined;
  const sorted = {
    ...lock,
    // Version 1 for what format 1 can say (the bytes it always had), 2 when it needs `platforms` or a later wing,
    // 3 when a target has `cuda`, 4 when a wing says so (Python sdists built into wheels).
    lockVersion: requiredVersion({ ...lock, ...sections, platforms }),
    inputFiles: sortedUnique(lock.inputFiles),
    declared,
    ...sections,
    ...(platforms ? { platforms } : {}),
  } as LockWithoutFingerprint;
  for (const record of [sorted as Record<string, unknown>, declared]) for (const w of ECOSYSTEMS) if (record[w.id] === undefined) delete record[w.id];
  return { ...sorted, fingerprint: computeFingerprint(sorted) };
}

/**
 * The oldest format that holds the lock: 4 when a wing's section needs it (Python sdists built at lock time), 3 when a target has `cuda`, 2 when it has `platforms`, a section of a
 * wing added after format 1 or a section its wing says needs version 2 (Python wheels required by URL), else 1.
 * An older envseal would refuse the unknown keys with a schema error; the version makes it say "upgrade
 * envseal" instead.
 */
function requiredVersion(lock: object): 1 | 2 | 3 | 4 {
  const record = lock as Record<string, unknown>;
  const platforms = (record.platforms ?? {}) as Record<string, PlatformEntry>;
  const sections = (w: (typeof ECOSYSTEMS)[number]) =>
    [record[w.id], ...Object.values(platforms).map((p) => (p as Record<string, unknown>)[w.id])].filter(Boolean);
  if (ECOSYSTEMS.some((w) => w.needsLockVersion4 && sections(w).some((s) => w.needsLockVersion4!(s)))) return LOCK_VERSION;
  const targets = [record.target as TargetProbe | undefined, ...Object.values(platforms).map((p) => p.target)];
  if (targets.some((t) => t?.cuda)) return 3;
  const v2 = (w: (typeof ECOSYSTEMS)[number]) => (w.addedLater && record[w.id]) || (record[w.id] && w.needsLockVersion2?.(record[w.id]));
  return record.platforms || ECOSYSTEMS.some(v2) ? 2 : 1;
}

const VERSION_CONTENT: Record<1 | 2 | 3 | 4, string> = {
  1: 'a lock without platforms, sections of wings added later, Python wheels required by URL or target.cuda',
  2: `a lock with platforms, sections of wings added later (${ECOSYSTEMS.filter((w) => w.addedLater)
    .map((w) => w.id)
    .join(', ')}) or Python wheels required by URL, and no target.cuda`,
  3: 'a lock with target.cuda (a base image that declares its CUDA version) and no Python sdists built into wheels',
  4: 'a lock with Python sdists built into wheels (python.packages[].build)',
};

function canonicalPlatforms(platforms: Record<string, PlatformEntry>): Record<string, PlatformEntry> {
  return Object.fromEntries(
    Object.entries(platforms).map(([name, entry]) => {
      const out: Record<string, unknown> = { ...entry };
      for (const w of ECOSYSTEMS) {
        const s = (entry as Record<string, unknown>)[w.id];
        if (isPerPlatform(w)) out[w.id] = s ? w.canonicalize(s) : null;
      }
      return [name, out as PlatformEntry];
    }),
  );
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
  if (typeof version === 'number' && !READABLE_LOCK_VERSIONS.includes(version)) {
    throw inputError('lock.version', `${file} has lockVersion ${version}; this envseal reads versions ${READABLE_LOCK_VERSIONS.join(', ')}`, {
      hint: version > LOCK_VERSION ? 'upgrade envseal' : 'regenerate it with `envseal lock`',
    });
  }
  // Most locks are exactly what zod accepts: checked without zod's copies and issue paths (core/zod-exact.ts);
  // anything else is parsed by zod, which reports the problems.
  const exact = parseExact(lockSchema, raw);
  const result = exact ? { success: true as const, data: exact } : lockSchema.safeParse(raw, { jitless: true });
  if (!result.success) {
    const details = result.error.issues.map((i) => `${file}: ${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
    throw inputError('lock.invalid', `${file} is not a valid envseal lock`, {
      details,
      hint: 'regenerate it with `envseal lock` (it is a generated file: do not edit it by hand)',
    });
  }
  const lock = result.data;
  const required = requiredVersion(lock);
  if (required !== lock.lockVersion) {
    throw inputError('lock.invalid', `${file} is not a valid envseal lock`, {
      details: [`${file}: lockVersion: must be ${required} for ${VERSION_CONTENT[required]}`],
      hint: 'regenerate it with `envseal lock` (it is a generated file: do not edit it by hand)',
    });
  }
  const { fingerprint, ...rest } = lock;
  const expected = computeFingerprint(rest);
  if (expected !== fingerprint) {
    throw inputError('lock.tampered', `${file}: fingerprint ${fingerprint} does not match its content (${expected})`, {
      hint: 'the lock was edited by hand; regenerate it with `envseal lock`',
    });
  }
  return lock;
}
