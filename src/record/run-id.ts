import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import type { Clock } from '../core/ports.js';
import { internalError } from '../core/errors.js';

/**
 * Run IDs: `<UTC time to the millisecond>-<80 random bits>`, e.g. `20261127T225501.123Z-7ZKQ3M9X2D4F8H1J`.
 *
 * - Sortable: the time part is fixed-width, so plain string order (and `ls`) is start-time order.
 * - Unique under concurrent runs: 80 random bits (Crockford base32, 16 characters, as in ULID). Two processes
 *   that each make k IDs in the same millisecond clash only if their random starts lie within k of each other:
 *   probability about 2k / 2^80.
 * - Monotonic within a process: when the clock has not moved past the last ID's millisecond (same ms, or
 *   the clock stepped back), the next ID keeps the last time and adds one to the random part, the ULID
 *   "monotonic" rule (github.com/ulid/spec). IDs from one generator are therefore strictly increasing.
 * The name stays a valid file name on every OS (no ':'), which is why this is not plain ISO 8601 with colons.
 */
export const RUN_ID_PATTERN = /^\d{8}T\d{6}\.\d{3}Z-[0-9A-HJKMNP-TV-Z]{16}$/;

const CROCKFORD_BASE32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_BITS = 80n;
const RANDOM_LIMIT = 1n << RANDOM_BITS;

export interface RunIdSources {
  clock: Clock;
  /** Cryptographic randomness by default; tests pass a fixed source. */
  randomBytes?: (size: number) => Uint8Array;
}

/** Returns a generator of run IDs; keep one per process so the monotonic rule holds. */
export function createRunIdGenerator(sources: RunIdSources): () => string {
  const randomBytes = sources.randomBytes ?? ((size: number) => cryptoRandomBytes(size));
  let lastMs = -Infinity;
  let lastRandom = 0n;
  return () => {
    const nowMs = sources.clock.now().getTime();
    if (!Number.isFinite(nowMs)) throw internalError('run-id.clock', 'the clock returned an invalid date');
    if (nowMs > lastMs) {
      lastMs = nowMs;
      lastRandom = readRandom80(randomBytes);
    } else {
      lastRandom += 1n;
      if (lastRandom >= RANDOM_LIMIT) {
        // 2^80 IDs in one millisecond cannot happen in practice; move to the next millisecond rather than wrap.
        lastMs += 1;
        lastRandom = readRandom80(randomBytes);
      }
    }
    return `${formatRunIdTime(lastMs)}-${encodeBase32(lastRandom)}`;
  };
}

export function isRunId(value: string): boolean {
  return RUN_ID_PATTERN.test(value);
}

/** The start time encoded in a run ID, or null when the text is not a run ID. */
export function runIdTime(runId: string): Date | null {
  if (!isRunId(runId)) return null;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z/.exec(runId)!;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as number[];
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!));
  return Number.isNaN(date.getTime()) ? null : date;
}

function formatRunIdTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-27T22:55:01.123Z
  if (!/^\d{4}-/.test(iso)) throw internalError('run-id.clock', `the clock is outside years 0000-9999: ${iso}`);
  return iso.replace(/[-:]/g, '');
}

function readRandom80(randomBytes: (size: number) => Uint8Array): bigint {
  const bytes = randomBytes(10);
  if (bytes.length < 10) throw internalError('run-id.random', `randomness source returned ${bytes.length} bytes, expected 10`);
  let value = 0n;
  for (let i = 0; i < 10; i += 1) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}

function encodeBase32(value: bigint): string {
  let out = '';
  for (let i = 0; i < 16; i += 1) {
    out = CROCKFORD_BASE32[Number(value & 31n)]! + out;
    value >>= 5n;
  }
  return out;
}
