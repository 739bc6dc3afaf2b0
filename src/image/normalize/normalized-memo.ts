/**
 * Memory of normalisations already done: raw image ID + SOURCE_DATE_EPOCH → the normalised image. The raw ID
 * is the digest of the raw image's config (which names every layer's diff ID), and normalising is a function of
 * that image and the epoch alone, so a repeat build whose steps all came from the build cache gives the same raw
 * ID and can reuse the image normalised last time instead of exporting, rewriting and loading it again (issue 11:
 * a repeat build of an unchanged lock in a fraction of a full one). The result is used only while the engine
 * still has that image; the file is a cache: unreadable or damaged, it is started afresh.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../core/atomic-write.js';

export interface NormalizedImage {
  imageId: string;
  diffIds: string[];
}

/** Entries kept (the newest): one per raw image a project's targets built recently. */
const MAX_ENTRIES = 256;

interface MemoFile {
  version: 1;
  entries: { key: string; imageId: string; diffIds: string[] }[];
}

const keyOf = (rawImageId: string, sourceDateEpoch: number) => `${rawImageId}@${sourceDateEpoch}`;

async function readMemo(file: string): Promise<MemoFile> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as MemoFile;
    if (parsed.version === 1 && Array.isArray(parsed.entries)) return parsed;
  } catch {
    // Missing or damaged: a cache starts afresh.
  }
  return { version: 1, entries: [] };
}

export async function recallNormalized(file: string, rawImageId: string, sourceDateEpoch: number): Promise<NormalizedImage | null> {
  const key = keyOf(rawImageId, sourceDateEpoch);
  const hit = (await readMemo(file)).entries.find((e) => e.key === key);
  return hit && typeof hit.imageId === 'string' && Array.isArray(hit.diffIds) ? { imageId: hit.imageId, diffIds: hit.diffIds } : null;
}

export async function rememberNormalized(file: string, rawImageId: string, sourceDateEpoch: number, result: NormalizedImage): Promise<void> {
  const key = keyOf(rawImageId, sourceDateEpoch);
  const memo = await readMemo(file);
  const entries = [{ key, imageId: result.imageId, diffIds: result.diffIds }, ...memo.entries.filter((e) => e.key !== key)].slice(0, MAX_ENTRIES);
  // Private like the rest of envseal's cache (files 0600, directories 0700).
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify({ version: 1, entries })}\n`, { mode: 0o600 });
}
