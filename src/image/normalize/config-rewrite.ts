/**
 * Rewriting a built image's config into its canonical form: build-only fields dropped, times set to
 * SOURCE_DATE_EPOCH, serialised as canonical JSON (the bytes are the image ID).
 */
import { describeError, externalError, inputError } from '../../core/errors.js';
import { canonicalJsonCompact } from '../../core/canonical-json.js';

/**
 * Top-level config fields dropped, and why. All are written by the classic builder and describe the build,
 * not the image; none is read when a container starts (image-spec config.md does not define them; Docker
 * ≥ 25 with BuildKit no longer writes them).
 */
export const DROPPED_CONFIG_FIELDS: Readonly<Record<string, string>> = {
  container: 'ID of the container that ran the last build step: random on every build',
  container_config: "that build container's settings (its Cmd is the last step, its Hostname the container ID)",
  docker_version: 'version of the engine that built the image: the same lock would give other IDs on other engines',
};

/** Fields of `config` (the runtime settings) dropped, and why. */
export const DROPPED_RUNTIME_CONFIG_FIELDS: Readonly<Record<string, string>> = {
  Image: "ID of the intermediate image the last step started from; it contains earlier steps' timestamps and is never used at run time",
};

/** RFC 3339 UTC without fractional seconds, e.g. 2023-11-14T22:13:20Z (what BuildKit writes for SOURCE_DATE_EPOCH). */
export function formatEpoch(sourceDateEpoch: number): string {
  return new Date(sourceDateEpoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Rewrites an image config (pure): `created` and every `history[].created` set to the epoch, the fields in
 * DROPPED_CONFIG_FIELDS / DROPPED_RUNTIME_CONFIG_FIELDS removed, `rootfs.diff_ids` replaced, and the result
 * serialised as canonical JSON (sorted keys, no whitespace). Everything else is kept as it is.
 */
export function rewriteImageConfig(config: Buffer | string, options: { sourceDateEpoch: number; diffIds: readonly string[] }): Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof config === 'string' ? config : config.toString('utf8'));
  } catch (err) {
    throw externalError('normalize.config', `the image config is not JSON: ${describeError(err)}`, { hint: 'export the image again' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw externalError('normalize.config', 'the image config is not a JSON object', { hint: 'export the image again' });
  }
  const out: Record<string, unknown> = { ...(parsed as Record<string, unknown>) };
  const created = formatEpoch(checkEpoch(options.sourceDateEpoch));
  for (const field of Object.keys(DROPPED_CONFIG_FIELDS)) delete out[field];
  out.created = created;
  if (typeof out.config === 'object' && out.config !== null && !Array.isArray(out.config)) {
    const runtime: Record<string, unknown> = { ...(out.config as Record<string, unknown>) };
    for (const field of Object.keys(DROPPED_RUNTIME_CONFIG_FIELDS)) delete runtime[field];
    out.config = runtime;
  }
  if (Array.isArray(out.history)) {
    out.history = out.history.map((entry: unknown) =>
      typeof entry === 'object' && entry !== null && !Array.isArray(entry) && 'created' in entry ? { ...entry, created } : entry,
    );
  }
  const rootfs = typeof out.rootfs === 'object' && out.rootfs !== null ? (out.rootfs as Record<string, unknown>) : {};
  out.rootfs = { ...rootfs, type: 'layers', diff_ids: [...options.diffIds] };
  return Buffer.from(canonicalJsonCompact(out), 'utf8');
}

/** SOURCE_DATE_EPOCH as the config can carry it: whole seconds from 1970 to the end of year 9999. */
export function checkEpoch(epoch: number): number {
  // Year 9999 is the last instant RFC 3339 timestamps (config `created`) can carry.
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > 253402300799) {
    throw inputError('normalize.epoch', `SOURCE_DATE_EPOCH must be whole seconds between 0 and 253402300799, got ${epoch}`, {
      hint: 'the epoch comes from the lock: run `envseal lock` again',
    });
  }
  return epoch;
}
