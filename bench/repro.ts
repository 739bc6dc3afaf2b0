/**
 * bench/repro: reproducibility of image IDs, envseal against plain `docker build`, in one run.
 *
 * The example project (examples/iris: 72 apt packages from Debian's archive, Python wheels from the lab index)
 * is copied to a temp dir, locked and generated once. Then N times, alternating:
 *   - envseal: `envseal build --target deploy --no-cache --json` after removing the previous envseal image, so
 *     every round builds and normalises from scratch; the build and normalisation times come from its output;
 *   - docker:  `docker build --no-cache --network host -f envseal.Dockerfile --target deploy .` (the same
 *     Dockerfile, built by the same engine, without envseal's normalisation).
 * Prints the distinct image IDs of each (goal: envseal 1 of N, docker N of N) and the normalisation time as a
 * share of the build time (goal: under 15% for the example). Timings move with the machine's load.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireLab, requireLabIndex } from '../test/lab/lab.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENVSEAL = join(ROOT, 'bin', 'envseal.js');
const N = Math.max(2, Number(process.argv[2] ?? 3));

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const started = Date.now();
  const res = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = Date.now() - started;
  if (res.status !== 0) {
    console.error(`${cmd} ${args.join(' ')} failed (exit ${res.status}):\n${(res.stderr || '').split('\n').slice(-30).join('\n')}`);
    process.exit(1);
  }
  return { ms, stdout: res.stdout, stderr: res.stderr };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

async function main(): Promise<void> {
  await requireLab();
  await requireLabIndex();
  const dir = mkdtempSync(join(tmpdir(), 'envseal-bench-repro-'));
  const env = { ...process.env, ENVSEAL_CACHE_DIR: join(dir, '.cache'), NO_COLOR: '1' };
  const created: string[] = [];
  try {
    cpSync(join(ROOT, 'examples', 'iris'), dir, { recursive: true });
    run(process.execPath, [ENVSEAL, 'lock', '--quiet'], dir, env);
    run(process.execPath, [ENVSEAL, 'generate', '--quiet'], dir, env);
    console.log(`bench/repro: ${N} clean builds of examples/iris (deploy target), envseal vs plain docker build`);

    const ours: { id: string; buildMs: number; normalizeMs: number; totalMs: number }[] = [];
    const theirs: { id: string; ms: number }[] = [];
    for (let i = 1; i <= N; i++) {
      const res = run(process.execPath, [ENVSEAL, 'build', '--target', 'deploy', '--no-cache', '--json'], dir, env);
      const out = JSON.parse(res.stdout) as { imageId: string; tags: string[]; timings: { buildMs: number; normalizeMs: number } };
      ours.push({ id: out.imageId, buildMs: out.timings.buildMs, normalizeMs: out.timings.normalizeMs, totalMs: res.ms });
      console.log(`  envseal #${i}: ${out.imageId.slice(0, 19)}  build ${secs(out.timings.buildMs)} + normalise ${secs(out.timings.normalizeMs)}`);
      // Nothing of this round stays for the next one to reuse.
      spawnSync('docker', ['rmi', '-f', out.imageId], { encoding: 'utf8' });

      const tag = `envseal-bench/repro-docker:${i}`;
      const d = run('docker', ['build', '-q', '--no-cache', '--network', 'host', '-f', 'envseal.Dockerfile', '--target', 'deploy', '-t', tag, '.'], dir);
      const id = d.stdout.trim().split('\n').pop()!;
      theirs.push({ id, ms: d.ms });
      created.push(tag);
      console.log(`  docker  #${i}: ${id.slice(0, 19)}  build ${secs(d.ms)}`);
    }

    const distinctOurs = new Set(ours.map((o) => o.id)).size;
    const distinctTheirs = new Set(theirs.map((t) => t.id)).size;
    const share = ours.map((o) => o.normalizeMs / o.buildMs);
    console.log('');
    console.log(`  distinct image IDs: envseal ${distinctOurs} of ${N} (goal 1), plain docker build ${distinctTheirs} of ${N}`);
    console.log(`  build (median): envseal ${secs(median(ours.map((o) => o.buildMs)))}, docker ${secs(median(theirs.map((t) => t.ms)))}`);
    console.log(
      `  normalisation (median): ${secs(median(ours.map((o) => o.normalizeMs)))} = ${(median(share) * 100).toFixed(1)}% of the build time (goal < 15%)`,
    );
  } finally {
    if (created.length) spawnSync('docker', ['rmi', '-f', ...created], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
