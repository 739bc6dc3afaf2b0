/**
 * Data hashing for run records (src/record/data-digest.ts) against `sha256sum` on the same files: a tree of
 * mixed sizes (a few large files, many medium and small ones) in a temp dir, hashed from the page cache by
 * both (one untimed pass first warms it). envseal is timed in-process around `digestPath`, which also builds
 * the tree digest; sha256sum runs as `find DIR -type f -print0 | xargs -0 sha256sum`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { digestPath } from '../../src/record/data-digest.js';

export interface DataHashResult {
  bytes: number;
  files: number;
  envsealMs: number[];
  sha256sumMs: number[];
}

/** Writes `totalMb` MiB of pseudo-random data: 40% in 2 large files, 40% in 1 MiB files, 20% in 16 KiB files. */
export function writeDataTree(dir: string, totalMb: number): void {
  const mb = 1024 * 1024;
  let seed = 0x9e3779b9;
  const bytesOf = (size: number) => {
    const buf = Buffer.allocUnsafe(size);
    for (let i = 0; i + 4 <= size; i += 4) {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      buf.writeUInt32LE(seed, i);
    }
    return buf;
  };
  const large = Math.max(1, Math.round((totalMb * 0.4) / 2));
  mkdirSync(join(dir, 'large'), { recursive: true });
  for (let i = 0; i < 2; i++) writeFileSync(join(dir, 'large', `part-${i}.bin`), bytesOf(large * mb));
  const medium = Math.round(totalMb * 0.4);
  for (let i = 0; i < medium; i++) {
    mkdirSync(join(dir, 'medium', String(i % 8)), { recursive: true });
    writeFileSync(join(dir, 'medium', String(i % 8), `shard-${i}.npy`), bytesOf(mb + i));
  }
  const small = Math.round((totalMb * 0.2 * mb) / (16 * 1024));
  const block = bytesOf(16 * 1024 + 64);
  for (let i = 0; i < small; i++) {
    mkdirSync(join(dir, 'small', String(i % 32)), { recursive: true });
    writeFileSync(join(dir, 'small', String(i % 32), `img-${i}.png`), block.subarray(i % 64, (i % 64) + 16 * 1024));
  }
}

export async function measureDataHashing(dir: string, runs: number): Promise<DataHashResult> {
  const sha256sum = () => {
    const t0 = performance.now();
    const res = spawnSync('sh', ['-c', 'find "$1" -type f -print0 | xargs -0 sha256sum > /dev/null', 'sh', dir], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`sha256sum failed (exit ${res.status}): ${res.stderr}`);
    return performance.now() - t0;
  };
  const first = await digestPath(dir);
  sha256sum();
  const result: DataHashResult = { bytes: first.bytes, files: first.files, envsealMs: [], sha256sumMs: [] };
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const again = await digestPath(dir);
    result.envsealMs.push(performance.now() - t0);
    if (again.digest !== first.digest) throw new Error(`data digest changed between runs: ${first.digest} then ${again.digest}`);
    result.sha256sumMs.push(sha256sum());
  }
  return result;
}
