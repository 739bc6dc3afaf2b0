/**
 * bench/resolve: envseal's Python resolver against pip's, in one run, on the same generated ML-shaped
 * index (bench/lib/ml-index.ts: 80+ projects, 15+ versions each, platform wheels, markers, extras of
 * extras, yanked and pre-releases, one backtracking trap) served on loopback by a separate process.
 *
 * What is timed (wall clock, each repeated `--runs` times, interleaved, medians compared):
 *   - pip cold: `docker run --network host local/python:bookworm python3 -m pip install --dry-run
 *     --ignore-installed --report - --no-cache-dir ...` (pip 23.0.1, the target's own pip);
 *   - pip warm: the same with `--cache-dir` on a host directory that a previous run filled;
 *   - envseal cold / warm: the real CLI, `node bin/envseal.js lock`, in a project whose lock already pins
 *     the base image and holds the target probe, after the Python requirements changed (so `lock`
 *     resolves the whole Python closure again and nothing else), with an empty / a filled
 *     ENVSEAL_CACHE_DIR. Without a built CLI (dist/), `resolvePython` in a fresh process instead.
 * Also shown: the resolver alone (bench/lib/resolve-once.ts, in a fresh process, module loading
 * excluded), the `docker run` start-up inside pip's times, and whether both closures are identical.
 *
 * Scenarios: the index answering at once (loopback), and, with `--latency-ms N` (default 20; 0 to skip),
 * answering every request after N ms, like an index across a network (PyPI behind a CDN is 5-50 ms away).
 *
 * Timings are not tests: the machine's load moves them. Usage: bench/resolve [--runs N] [--latency-ms N]
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { LAB_BASE_IMAGE, LAB_LOCAL_BASE_IMAGE, requireLab } from '../test/lab/lab.js';
import { probeLabTarget } from '../test/fixtures/resolve/pip-oracle.js';
import { isMainModule } from '../test/lab/entry.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENVSEAL = join(ROOT, 'bin', 'envseal.js');

function numberArg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}
export interface Served {
  url: string;
  htmlUrl: string;
  projects: number;
  files: number;
  requirements: string[];
}

export interface Timings {
  pipCold: number[];
  pipWarm: number[];
  cold: number[];
  warm: number[];
  libCold: number[];
  libWarm: number[];
  docker: number[];
  same: boolean;
  ours: string[];
  pip: string[];
}

export function computeMedian(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function runTimed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd = ROOT,
): { ms: number; code: number; stdout: string; stderr: string } {
  const start = performance.now();
  const res = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { ms: performance.now() - start, code: res.status ?? 1, stdout: res.stdout, stderr: res.stderr };
}

function fail(what: string, res: { code: number; stdout: string; stderr: string }): never {
  throw new Error(`${what} failed (exit ${res.code})\n${(res.stderr || res.stdout).trim().split('\n').slice(-15).join('\n')}`);
}

/** The index server in its own process; `extra` selects another index (e.g. `--scale 500`) instead of the trap graph. */
export async function startServer(latencyMs: number, extra: string[] = ['--trap']): Promise<{ served: Served; stop(): void }> {
  const args = ['--import', 'tsx', join(ROOT, 'bench/lib/serve-ml-index.ts'), ...extra, '--latency-ms', String(latencyMs)];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the index server exited (${code})`)));
  });
  return { served: JSON.parse(line) as Served, stop: () => child.kill('SIGTERM') };
}

function buildPipArgs(served: Served, cache: string | null): string[] {
  return [
    'run',
    '--rm',
    '--network',
    'host',
    ...(cache ? ['-v', `${cache}:/pipcache`] : []),
    LAB_LOCAL_BASE_IMAGE,
    'python3',
    '-m',
    'pip',
    'install',
    '--dry-run',
    '--ignore-installed',
    '--report',
    '-',
    '--quiet',
    '--disable-pip-version-check',
    ...(cache ? ['--cache-dir', '/pipcache'] : ['--no-cache-dir']),
    '--index-url',
    served.htmlUrl,
    ...served.requirements,
  ];
}

function readPipClosure(stdout: string): string[] {
  const report = JSON.parse(stdout) as { install: { metadata: { name: string; version: string }; download_info: { url: string } }[] };
  return report.install
    .map((i) => `${i.metadata.name.toLowerCase().replace(/[-_.]+/g, '-')}==${i.metadata.version} ${decodeURIComponent(i.download_info.url.split('/').pop()!)}`)
    .sort();
}

/** One scenario: its own index server, project, caches; every measurement interleaved `runs` times. */
export async function runScenario(
  latencyMs: number,
  work: string,
  viaCli: boolean,
  runs: number,
  /** Also time the resolver alone in a fresh process (bench/lib/resolve-once.ts); bench/all leaves it out. */
  library = true,
): Promise<{ served: Served; t: Timings; cliProblem?: string }> {
  const { served, stop } = await startServer(latencyMs);
  try {
    const dir = join(work, `latency-${latencyMs}`);
    const project = join(dir, 'project');
    mkdirSync(project, { recursive: true });
    writeFileSync(
      join(project, 'envseal.yaml'),
      `version: 1\nname: bench\nbase: ${LAB_BASE_IMAGE}\npython:\n  index: ${served.url}\n  requirements: [requirements.txt]\n`,
    );
    // A first lock with one small requirement pins the base and probes the target; every timed run starts
    // from that lock with the full requirements, so it resolves the Python closure and nothing else.
    writeFileSync(join(project, 'requirements.txt'), 'six\n');
    let cliProblem: string | undefined;
    const tinyLock = join(dir, 'tiny.lock');
    if (viaCli) {
      const first = runTimed(process.execPath, [ENVSEAL, 'lock'], { ...process.env, ENVSEAL_CACHE_DIR: join(dir, 'cache-setup') }, project);
      if (first.code === 0) copyFileSync(join(project, 'envseal.lock'), tinyLock);
      else cliProblem = `\`envseal lock\` failed: ${(first.stderr || first.stdout).trim().split('\n').pop()}`;
    }
    const useCli = viaCli && cliProblem === undefined;
    writeFileSync(join(project, 'requirements.txt'), `${served.requirements.join('\n')}\n`);
    const target = useCli ? (JSON.parse(readFileSync(tinyLock, 'utf8')) as { target: unknown }).target : await probeLabTarget();

    const libraryRun = (cacheDir: string) => {
      const jobFile = join(dir, 'job.json');
      writeFileSync(jobFile, JSON.stringify({ indexUrl: served.url, cacheDir, requirements: served.requirements, target }));
      const res = runTimed(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/lib/resolve-once.ts'), jobFile]);
      if (res.code !== 0) fail('resolve-once', res);
      const out = JSON.parse(res.stdout) as { ms: number; packages: string[] };
      return { ms: out.ms, packages: [...out.packages].sort() };
    };
    const envsealRun = (cacheDir: string): { ms: number; closure: string[] } => {
      if (!useCli) {
        const once = libraryRun(cacheDir);
        return { ms: once.ms, closure: once.packages };
      }
      copyFileSync(tinyLock, join(project, 'envseal.lock'));
      const res = runTimed(process.execPath, [ENVSEAL, 'lock'], { ...process.env, ENVSEAL_CACHE_DIR: cacheDir }, project);
      if (res.code !== 0) fail('envseal lock', res);
      const lock = JSON.parse(readFileSync(join(project, 'envseal.lock'), 'utf8')) as {
        python: { packages: { name: string; version: string; file: { filename: string } }[] };
      };
      return { ms: res.ms, closure: lock.python.packages.map((p) => `${p.name}==${p.version} ${p.file.filename}`).sort() };
    };

    const pipCache = join(dir, 'pip-cache');
    mkdirSync(pipCache);
    const warmup = runTimed('docker', buildPipArgs(served, pipCache));
    if (warmup.code !== 0) fail('pip (warm-up)', warmup);
    const envsealWarmCache = join(dir, 'envseal-warm');
    envsealRun(envsealWarmCache);
    const libWarmCache = join(dir, 'lib-warm');
    if (library) libraryRun(libWarmCache);

    const t: Timings = { pipCold: [], pipWarm: [], cold: [], warm: [], libCold: [], libWarm: [], docker: [], same: false, ours: [], pip: [] };
    for (let run = 0; run < runs; run++) {
      const pc = runTimed('docker', buildPipArgs(served, null));
      if (pc.code !== 0) fail('pip (cold)', pc);
      t.pipCold.push(pc.ms);
      t.pip = readPipClosure(pc.stdout);
      const cold = envsealRun(join(dir, `envseal-cold-${run}`));
      t.cold.push(cold.ms);
      t.ours = cold.closure;
      const pw = runTimed('docker', buildPipArgs(served, pipCache));
      if (pw.code !== 0) fail('pip (warm)', pw);
      t.pipWarm.push(pw.ms);
      t.warm.push(envsealRun(envsealWarmCache).ms);
      if (library) {
        t.libCold.push(libraryRun(join(dir, `lib-cold-${run}`)).ms);
        t.libWarm.push(libraryRun(libWarmCache).ms);
      }
      t.docker.push(runTimed('docker', ['run', '--rm', '--network', 'host', LAB_LOCAL_BASE_IMAGE, 'true']).ms);
    }
    t.same = JSON.stringify(t.pip) === JSON.stringify(t.ours);
    return { served, t, ...(cliProblem ? { cliProblem } : {}) };
  } finally {
    stop();
  }
}

function report(latencyMs: number, served: Served, t: Timings, viaCli: boolean, runs: number): void {
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const row = (label: string, values: number[]) =>
    console.log(
      `    ${label.padEnd(34)} ${values
        .map(s)
        .join('  ')
        .padEnd(runs * 6 + 2)} median ${s(computeMedian(values))} s`,
    );
  const mode = viaCli ? 'CLI' : 'library';
  console.log(
    latencyMs === 0
      ? '\n  index on loopback, answering at once:'
      : `\n  index on loopback, answering every request after ${latencyMs} ms (like an index across a network):`,
  );
  row('pip cold (--no-cache-dir)', t.pipCold);
  row('pip warm (--cache-dir, filled)', t.pipWarm);
  row(`envseal cold (${mode}, empty cache)`, t.cold);
  row(`envseal warm (${mode}, filled cache)`, t.warm);
  row('  resolver alone, cold', t.libCold);
  row('  resolver alone, warm', t.libWarm);
  row('docker run start-up (part of pip)', t.docker);
  const ratio = (a: number[], b: number[]) => (computeMedian(a) / computeMedian(b)).toFixed(1);
  console.log(`    => cold: pip / envseal = ${ratio(t.pipCold, t.cold)}x (goal >= 5x); warm: pip / envseal = ${ratio(t.pipWarm, t.warm)}x (goal >= 20x)`);
  console.log(`       resolver alone: cold ${ratio(t.pipCold, t.libCold)}x, warm ${ratio(t.pipWarm, t.libWarm)}x`);
  console.log(`       closures: ${t.same ? `identical (${t.ours.length} packages, same files)` : 'DIFFERENT'}`);
  if (!t.same) {
    for (const x of t.ours.filter((p) => !t.pip.includes(p))) console.log(`         envseal only: ${x}`);
    for (const x of t.pip.filter((p) => !t.ours.includes(p))) console.log(`         pip only:     ${x}`);
  }
  void served;
}

async function main(): Promise<void> {
  const RUNS = Math.max(1, numberArg('--runs', 3));
  const LATENCY = Math.max(0, numberArg('--latency-ms', 20));
  await requireLab();
  const work = mkdtempSync(join(tmpdir(), 'envseal-bench-'));
  try {
    let viaCli = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));
    let why = viaCli ? '' : 'dist/ is not built (npm run build)';
    const results: { latency: number; served: Served; t: Timings }[] = [];
    for (const latency of LATENCY > 0 ? [0, LATENCY] : [0]) {
      const r = await runScenario(latency, work, viaCli, RUNS);
      if (r.cliProblem) {
        viaCli = false;
        why = r.cliProblem;
        results.length = 0;
        results.push({ latency, ...(await runScenario(latency, work, false, RUNS)) });
      } else {
        results.push({ latency, served: r.served, t: r.t });
      }
    }
    const served = results[0]!.served;
    console.log('bench/resolve: Python resolution, envseal vs pip, on a generated ML-shaped index');
    console.log(`  index: ${served.projects} projects, ${served.files} files; ${served.requirements.length} requirements, with a backtracking trap`);
    console.log(`  pip: 23.0.1 in ${LAB_LOCAL_BASE_IMAGE}: docker run --network host ... pip install --dry-run --ignore-installed --report -`);
    console.log(
      viaCli
        ? '  envseal: timed through the real CLI, `node bin/envseal.js lock` (base and target probe already locked; the Python closure is resolved again)'
        : `  envseal: timed through resolvePython in a fresh process, module loading excluded (not the CLI: ${why})`,
    );
    console.log(`  ${RUNS} runs each, interleaved; wall-clock seconds`);
    for (const r of results) report(r.latency, r.served, r.t, viaCli, RUNS);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (isMainModule(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`bench/resolve: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
