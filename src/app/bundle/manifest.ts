/**
 * The offline bundle's manifest (`manifest.json`, the archive's last entry): what the bundle holds and the
 * sha256 and size of every other entry, so that `envseal load` can check the whole archive before it loads
 * anything. Canonical JSON, versioned, parsed strictly. The checks here are pure: they take what was read
 * from the archive and return the first problem, naming the entry (docs/bundles.md).
 */
import { z } from 'zod';
import { hex64Schema, sha256DigestSchema } from '../../core/ground.js';
import { canonicalJson } from '../../core/canonical-json.js';
import { inputError } from '../../core/errors.js';
import { TARGET_NAMES } from '../../core/image-contract.js';
import type { Lock } from '../../lock/schema.js';
import { lockedPythonFiles } from '../../ecosystems/python/schema.js';

/** 2 added `apt` entries (what apt fetched for the lock's packages); version 1 bundles are still read. */
export const BUNDLE_FORMAT_VERSION = 2;
const READABLE_VERSIONS = [1, 2] as const;
export const MANIFEST_ENTRY = 'manifest.json';
export const IMAGE_ENTRY = 'image.tar';
export const LOCK_ENTRY = 'envseal.lock';
export const DOCKERFILE_ENTRY = 'envseal.Dockerfile';

/** Archive paths: relative, '/'-separated, no '.', '..' or empty segments. */
const entryPathSchema = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), 'must be a relative path without . or ..');

export const bundleEntrySchema = z.strictObject({
  path: entryPathSchema,
  kind: z.enum(['image', 'lock', 'dockerfile', 'python', 'npm', 'apt', 'sbom', 'source']),
  size: z.number().int().nonnegative(),
  sha256: hex64Schema,
  /** Where a package file was fetched from (python, npm, apt). */
  url: z.string().optional(),
  /** The npm lockfile's `integrity` (SRI) for npm tarballs. */
  integrity: z.string().optional(),
  /** Source files the deploy image copies in: whether the context sends them with mode 0755. */
  executable: z.literal(true).optional(),
});
export type BundleEntry = z.infer<typeof bundleEntrySchema>;

export const bundleManifestSchema = z.strictObject({
  bundleVersion: z.union(READABLE_VERSIONS.map((v) => z.literal(v))),
  /** The envseal version that wrote it (a rebuild renders the Dockerfile with the running version). */
  envseal: z.string(),
  name: z.string(),
  target: z.enum(TARGET_NAMES),
  /** The lock's fingerprint and the sha256 of its bytes (the image's lock-digest label). */
  fingerprint: sha256DigestSchema,
  lockDigest: sha256DigestSchema,
  /** Project-relative paths of the lock and the Dockerfile (the Dockerfile names the lock's path). */
  lockPath: entryPathSchema,
  image: z.strictObject({
    id: sha256DigestSchema,
    tags: z.array(z.string()),
    /** The deploy image's org.opencontainers.image.revision label (a build arg: a rebuild passes it again). */
    revision: z.string().nullable(),
  }),
  entries: z.array(bundleEntrySchema),
});
export type BundleManifest = z.infer<typeof bundleManifestSchema>;

export function serializeManifest(manifest: BundleManifest): string {
  const sorted = { ...manifest, entries: [...manifest.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
  return canonicalJson(bundleManifestSchema.parse(sorted));
}

/** Parses manifest.json strictly; anything else is a damaged bundle (exit 2). */
export function parseManifest(text: string, bundle: string): BundleManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw damaged(bundle, MANIFEST_ENTRY, `is not JSON (${(err as Error).message})`);
  }
  const parsed = bundleManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const version = (raw as { bundleVersion?: unknown } | null)?.bundleVersion;
    if (typeof version === 'number' && !(READABLE_VERSIONS as readonly number[]).includes(version)) {
      throw inputError(
        'bundle.version',
        `${bundle}: bundle format version ${version} is not supported (this envseal reads versions ${READABLE_VERSIONS.join(' and ')})`,
        {
          hint: 'load it with the envseal version that wrote it',
        },
      );
    }
    throw damaged(bundle, MANIFEST_ENTRY, `is not a valid manifest: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  const seen = new Set<string>();
  for (const e of parsed.data.entries) {
    if (e.path === MANIFEST_ENTRY || seen.has(e.path)) throw damaged(bundle, MANIFEST_ENTRY, `lists ${e.path} twice`);
    seen.add(e.path);
  }
  return parsed.data;
}

/** What reading the archive found for one entry. */
export interface ScannedEntry {
  size: number;
  sha256: string;
}

/**
 * Compares the archive with its manifest: every listed entry present with its size and sha256, nothing
 * unlisted, the image, lock and Dockerfile entries there. Throws `bundle.damaged` (exit 2) naming the entry.
 */
export function checkEntries(manifest: BundleManifest, scanned: ReadonlyMap<string, ScannedEntry>, bundle: string): void {
  for (const entry of manifest.entries) {
    const found = scanned.get(entry.path);
    if (!found) throw damaged(bundle, entry.path, 'is listed in manifest.json but missing from the archive');
    if (found.size !== entry.size) throw damaged(bundle, entry.path, `has ${found.size} bytes, manifest.json says ${entry.size}`);
    if (found.sha256 !== entry.sha256) throw damaged(bundle, entry.path, `has sha256 ${found.sha256}, manifest.json says ${entry.sha256}`);
  }
  const listed = new Set(manifest.entries.map((e) => e.path));
  for (const path of scanned.keys()) {
    if (path !== MANIFEST_ENTRY && !listed.has(path)) throw damaged(bundle, path, 'is in the archive but not listed in manifest.json');
  }
  for (const [kind, path] of [
    ['image', IMAGE_ENTRY],
    ['lock', LOCK_ENTRY],
    ['dockerfile', DOCKERFILE_ENTRY],
  ] as const) {
    if (!manifest.entries.some((e) => e.kind === kind && e.path === path)) throw damaged(bundle, path, `(the ${kind}) is not listed in manifest.json`);
  }
}

/**
 * The manifest against the lock inside the bundle: the same fingerprint and lock digest, and every Python
 * file the lock names bundled under the lock's sha256.
 */
export function checkManifestAgainstLock(manifest: BundleManifest, lock: Lock, lockDigest: string, bundle: string): void {
  if (lock.fingerprint !== manifest.fingerprint) {
    throw damaged(bundle, LOCK_ENTRY, `has fingerprint ${lock.fingerprint}, manifest.json says ${manifest.fingerprint}`);
  }
  if (lockDigest !== manifest.lockDigest) throw damaged(bundle, LOCK_ENTRY, `has digest ${lockDigest}, manifest.json says ${manifest.lockDigest}`);
  const python = new Map(manifest.entries.filter((e) => e.kind === 'python').map((e) => [e.path, e]));
  for (const p of lockedPythonFiles(lock.python)) {
    const path = pythonEntryPath(p.file.filename);
    const entry = python.get(path);
    if (!entry) throw damaged(bundle, path, `(${p.name} ${p.version}, in the lock) is not in the bundle`);
    if (entry.sha256 !== p.file.sha256) throw damaged(bundle, path, `has sha256 ${entry.sha256}, the lock says ${p.file.sha256}`);
  }
}

/** `apt/<host>/<path>`: where apt fetched the file from, readable in `tar -tvf`. */
export function aptEntryPath(url: string): string {
  const u = new URL(url);
  // Decoded (jq_1.6-2.1+deb12u2_amd64.deb, not %2b), as the archive names the file; the schema refuses `..`.
  return `apt/${u.host}${decodeURIComponent(u.pathname)}`.replace(/\/+$/, '');
}

export function pythonEntryPath(filename: string): string {
  return `python/${filename}`;
}

export function damaged(bundle: string, entry: string, what: string) {
  return inputError('bundle.damaged', `${bundle}: ${entry} ${what}`, {
    hint: 'the bundle is truncated or was modified: copy it again from where it was written (nothing was loaded)',
    data: { bundle, entry },
  });
}
