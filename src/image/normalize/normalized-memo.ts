/**
 * Memory of normalisations already done, in two parts:
 *  - images: raw image ID + SOURCE_DATE_EPOCH → the normalised image. The raw ID is the digest of the raw
 *    image's config (which names every layer's diff ID), and normalising is a function of that image and the
 *    epoch alone, so a repeat build whose steps all came from the build cache gives the same raw ID and can
 *    reuse the image normalised last time instead of exporting, rewriting and loading it again (issue 11: a
 *    repeat build of an unchanged lock in a fraction of a full one);
 *  - layers: raw diff ID + epoch → normalised diff ID. Rewriting a layer is a function of its bytes and the
 *    epoch alone, so after a one-file edit the layers below the edited COPY (which the build cache gave back
 *    unchanged) need not be rewritten again, nor sent to the engine when it holds them (normalize-image.ts);
 *  - archive paths: where a layer was in an export → its raw diff ID, so that the next export of an image
 *    with that layer can read past it instead of spooling and hashing it (the base, above all).
 * A result is used only while the engine still has what it names; the file is a cache: unreadable or
 * damaged, it is started afresh.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../core/atomic-write.js';

export interface NormalizedImage {
  imageId: string;
  diffIds: string[];
}

/** A reproducible build's image, and how many steps its build had. */
export interface BuiltImage extends NormalizedImage {
  steps: number;
}

/** Images kept (the newest): one per raw image a project's targets built recently. */
const MAX_ENTRIES = 256;
/** Layers kept (the newest). */
const MAX_LAYERS = 4096;

interface MemoFile {
  version: 2;
  entries: { key: string; imageId: string; diffIds: string[] }[];
  layers: { key: string; diffId: string }[];
  paths: { path: string; diffId: string }[];
  /** Reproducible builds by the key of their inputs (app/build-key.ts). */
  builds: { key: string; imageId: string; diffIds: string[]; steps: number }[];
}

const keyOf = (rawId: string, sourceDateEpoch: number) => `${rawId}@${sourceDateEpoch}`;
const isDigest = (value: unknown): value is string => typeof value === 'string' && /^sha256:[0-9a-f]{64}$/.test(value);

async function readMemo(file: string): Promise<MemoFile> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as MemoFile;
    if (parsed.version === 2 && Array.isArray(parsed.entries) && Array.isArray(parsed.layers) && Array.isArray(parsed.paths) && Array.isArray(parsed.builds))
      return parsed;
  } catch {
    // Missing or damaged: a cache starts afresh.
  }
  return { version: 2, entries: [], layers: [], paths: [], builds: [] };
}

function isImage(entry: { imageId?: unknown; diffIds?: unknown }): boolean {
  return isDigest(entry.imageId) && Array.isArray(entry.diffIds) && entry.diffIds.every(isDigest);
}

/** The memo as read once: what a build asks before normalising. */
export class NormalizedMemo {
  private constructor(private readonly memo: MemoFile) {}

  static async open(file: string): Promise<NormalizedMemo> {
    return new NormalizedMemo(await readMemo(file));
  }

  /** The image normalised from `rawImageId` with this epoch, if any. */
  image(rawImageId: string, sourceDateEpoch: number): NormalizedImage | null {
    const key = keyOf(rawImageId, sourceDateEpoch);
    const hit = this.memo.entries.find((e) => e.key === key);
    return hit && isImage(hit) ? { imageId: hit.imageId, diffIds: hit.diffIds } : null;
  }

  /** Raw diff ID → normalised diff ID of every layer remembered for this epoch. */
  layers(sourceDateEpoch: number): Map<string, string> {
    const suffix = `@${sourceDateEpoch}`;
    const known = new Map<string, string>();
    for (const { key, diffId } of this.memo.layers) {
      if (typeof key === 'string' && key.endsWith(suffix) && isDigest(diffId)) known.set(key.slice(0, -suffix.length), diffId);
    }
    return known;
  }

  /** The image a reproducible build with this key gave. */
  build(key: string): BuiltImage | null {
    const hit = this.memo.builds.find((e) => e.key === key);
    return hit && isImage(hit) && Number.isSafeInteger(hit.steps) ? { imageId: hit.imageId, diffIds: hit.diffIds, steps: hit.steps } : null;
  }

  /** Archive path → raw diff ID of the layers seen in earlier exports. */
  archivePaths(): Map<string, string> {
    const known = new Map<string, string>();
    for (const { path, diffId } of this.memo.paths) if (typeof path === 'string' && isDigest(diffId)) known.set(path, diffId);
    return known;
  }

  /** Remembered images that share leading layers with `diffIds`, the most shared first. */
  imagesSharing(diffIds: readonly string[]): (NormalizedImage & { shared: number })[] {
    const seen = new Set<string>();
    const found: (NormalizedImage & { shared: number })[] = [];
    for (const entry of this.memo.entries) {
      if (!isImage(entry) || seen.has(entry.imageId)) continue;
      seen.add(entry.imageId);
      const shared = sharedPrefix(entry.diffIds, diffIds);
      if (shared) found.push({ imageId: entry.imageId, diffIds: entry.diffIds, shared });
    }
    return found.sort((a, b) => b.shared - a.shared);
  }
}

/** How many leading entries two lists have in common. */
export function sharedPrefix(a: readonly string[], b: readonly string[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** Remembers an image and (optionally) the raw → normalised diff ID of each layer it rewrote. */
export async function rememberNormalized(
  file: string,
  rawImageId: string,
  sourceDateEpoch: number,
  result: NormalizedImage & {
    rewrittenLayers?: readonly { raw: string; normalized: string }[];
    archivePaths?: readonly { path: string; diffId: string }[];
  },
  /** The mtime the layers were clamped to, when not `sourceDateEpoch` (NormalizeImageOptions.layerEpoch). */
  layerEpoch: number = sourceDateEpoch,
): Promise<void> {
  const key = keyOf(rawImageId, sourceDateEpoch);
  const memo = await readMemo(file);
  const entries = [{ key, imageId: result.imageId, diffIds: result.diffIds }, ...memo.entries.filter((e) => e.key !== key)].slice(0, MAX_ENTRIES);
  const fresh = (result.rewrittenLayers ?? []).map((l) => ({ key: keyOf(l.raw, layerEpoch), diffId: l.normalized }));
  const freshKeys = new Set(fresh.map((l) => l.key));
  const layers = [...fresh, ...memo.layers.filter((l) => !freshKeys.has(l.key))].slice(0, MAX_LAYERS);
  const seenPaths = (result.archivePaths ?? []).map((p) => ({ path: p.path, diffId: p.diffId }));
  const seenKeys = new Set(seenPaths.map((p) => p.path));
  const paths = [...seenPaths, ...memo.paths.filter((p) => !seenKeys.has(p.path))].slice(0, MAX_LAYERS);
  await writeMemo(file, { ...memo, entries, layers, paths });
}

async function writeMemo(file: string, memo: MemoFile): Promise<void> {
  // Private like the rest of envseal's cache (files 0600, directories 0700).
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(memo)}\n`, { mode: 0o600 });
}

/** Remembers the image a reproducible build with this key gave. */
export async function rememberBuild(file: string, key: string, image: BuiltImage): Promise<void> {
  const memo = await readMemo(file);
  const builds = [{ key, imageId: image.imageId, diffIds: image.diffIds, steps: image.steps }, ...memo.builds.filter((b) => b.key !== key)].slice(
    0,
    MAX_ENTRIES,
  );
  await writeMemo(file, { ...memo, builds });
}

/**
 * Normalised config bytes by their digest, for building on a reused image (image/normalize/compose-image.ts):
 * `<dir>/<hex>.json`. Read back only when the bytes still hash to the digest asked for; else undefined.
 */
export async function readImageConfig(dir: string, digest: string): Promise<Buffer | undefined> {
  if (!isDigest(digest)) return undefined;
  const bytes = await readFile(join(dir, `${digest.slice('sha256:'.length)}.json`)).catch(() => undefined);
  return bytes && `sha256:${createHash('sha256').update(bytes).digest('hex')}` === digest ? bytes : undefined;
}

export async function writeImageConfig(dir: string, digest: string, config: Buffer): Promise<void> {
  if (!isDigest(digest)) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, `${digest.slice('sha256:'.length)}.json`), config, { mode: 0o600 });
}
