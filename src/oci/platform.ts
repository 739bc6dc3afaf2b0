/**
 * Platforms of image index entries: Docker's normalisation, matching and the choice of the entry for a
 * platform (OCI image-spec image-index.md: the first matching entry wins).
 */
import type { Platform } from '../core/ports.js';

/** One entry of an index's `manifests` array (only the fields used). */
export interface IndexEntry {
  mediaType?: string;
  digest: string;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/**
 * Docker's platform normalisation (containerd platforms.Normalize): uname-style architecture names to
 * Go's, and the default variants dropped (`arm64` is `v8` unless said otherwise, `amd64` is `v1`).
 */
export function normalisePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase();
  let architecture = platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase() || undefined;
  switch (architecture) {
    case 'x86_64':
    case 'x86-64':
      architecture = 'amd64';
      break;
    case 'aarch64':
      architecture = 'arm64';
      break;
    case 'armhf':
      architecture = 'arm';
      variant ??= 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant ??= 'v6';
      break;
    case 'i386':
    case 'i686':
      architecture = '386';
      break;
  }
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  if (architecture === 'arm' && variant !== undefined && /^\d+$/.test(variant)) variant = `v${variant}`;
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

export function formatPlatform(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''}`;
}

/**
 * Picks the index entry for a platform (go-containerregistry's matchesPlatform rules): os and
 * architecture must be equal; the variant is compared only when one is asked for, and otherwise an entry
 * without a variant is preferred. Entries without a platform count as linux/amd64; BuildKit attestation
 * manifests (`unknown/unknown`) are never picked. The first of equally good entries wins (image-index.md).
 */
export function selectPlatformManifest(entries: IndexEntry[], platform: Platform): IndexEntry | undefined {
  const want = normalisePlatform(platform);
  let fallback: IndexEntry | undefined;
  for (const entry of entries) {
    if (isAttestation(entry)) continue;
    const have = entryPlatform(entry);
    if (have.os !== want.os || have.architecture !== want.architecture) continue;
    if (want.variant !== undefined) {
      if (have.variant === want.variant) return entry;
      continue;
    }
    if (have.variant === undefined) return entry;
    fallback ??= entry;
  }
  return fallback;
}

/** The platforms an index offers, in index order, without duplicates and attestations ("linux/arm64"). */
export function listPlatforms(entries: IndexEntry[]): string[] {
  const seen: string[] = [];
  for (const entry of entries) {
    if (isAttestation(entry)) continue;
    const text = formatPlatform(entryPlatform(entry));
    if (!seen.includes(text)) seen.push(text);
  }
  return seen;
}

function entryPlatform(entry: IndexEntry): Platform {
  return normalisePlatform(entry.platform ?? { os: 'linux', architecture: 'amd64' });
}

function isAttestation(entry: IndexEntry): boolean {
  if (entry.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return true;
  return entry.platform?.os === 'unknown' && entry.platform.architecture === 'unknown';
}

export function platformMatches(have: Platform, want: Platform): boolean {
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  return want.variant === undefined || have.variant === want.variant;
}
