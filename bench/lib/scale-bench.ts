/**
 * `lock` time against the number of packages (bench/lib/scale-index.ts: N small projects, served by a separate
 * process), and, on the largest lock, `verify` without an engine (lock and Dockerfile checks) and
 * `lock --check`, each a fresh `node bin/envseal.js` process as a user runs it.
 *
 * Each lock is timed from a lock that already pins the base image and holds the target probe (a first lock
 * with one requirement made it), after the requirements grew to all N: so it resolves N packages, with an
 * empty cache, and writes the lock.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_BASE_IMAGE } from '../../test/lab/lab.js';
import { startServer } from '../resolve.js';
import { envseal, median } from './proc.js';

export interface ScaleResult {
  /** Packages → median `lock` ms (cold cache). */
  lockMs: Record<number, number>;
  packages: number;
  verifyMs: number[];
  lockCheckMs: number[];
}

export async function measureScale(work: string, sizes: number[], runs: { lock: number; check: number }): Promise<ScaleResult> {
  const result: ScaleResult = { lockMs: {}, packages: 0, verifyMs: [], lockCheckMs: [] };
  for (const size of sizes) {
    const { served, stop } = await startServer(0, ['--scale', String(size)]);
    try {
      const project = join(work, `scale-${size}`);
      mkdirSync(project, { recursive: true });
      const env = { ...process.env, NO_COLOR: '1' };
      writeFileSync(
        join(project, 'envseal.yaml'),
        `version: 1\nname: scale${size}\nbase: ${LAB_BASE_IMAGE}\npython:\n  index: ${served.url}\n  requirements: [requirements.txt]\n`,
      );
      writeFileSync(join(project, 'requirements.txt'), `${served.requirements[0]}\n`);
      envseal(['lock', '--quiet'], project, { ...env, ENVSEAL_CACHE_DIR: join(work, `cache-${size}-setup`) });
      copyFileSync(join(project, 'envseal.lock'), join(work, `tiny-${size}.lock`));
      writeFileSync(join(project, 'requirements.txt'), `${served.requirements.join('\n')}\n`);
      const times: number[] = [];
      for (let run = 0; run < runs.lock; run++) {
        copyFileSync(join(work, `tiny-${size}.lock`), join(project, 'envseal.lock'));
        times.push(envseal(['lock', '--quiet'], project, { ...env, ENVSEAL_CACHE_DIR: join(work, `cache-${size}-${run}`) }).ms);
      }
      result.lockMs[size] = median(times);
      if (size === Math.max(...sizes)) {
        result.packages = size;
        envseal(['generate', '--quiet'], project, env);
        // One untimed run of each fills the page cache, as on a developer's machine.
        envseal(['verify', '--quiet'], project, env);
        for (let run = 0; run < runs.check; run++) {
          result.verifyMs.push(envseal(['verify', '--quiet'], project, env).ms);
          result.lockCheckMs.push(envseal(['lock', '--check', '--quiet'], project, env).ms);
        }
      }
    } finally {
      stop();
    }
  }
  return result;
}
