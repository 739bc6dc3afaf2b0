/**
 * Builds through the real CLI against plain `docker build` of the same envseal.Dockerfile, on one engine:
 *   - full:    `envseal build --target deploy --no-cache` vs `docker build --no-cache --target deploy`;
 *   - repeat:  `envseal build --target deploy` again with nothing changed (cache hit + no-op normalisation);
 *   - edit:    the same after editing one copied source file (only the copy layer and what follows should run);
 *   - context: a data directory the deploy target copies (mixed sizes) changes, then `envseal build` vs
 *              `docker build`, both with their cache (each sees a changed file, so both send the whole context
 *              and rebuild the copy layer).
 * The project is a small one (two wheels from the lab index) in quick mode, examples/iris (72 apt packages)
 * otherwise. Everything this creates in the engine is tagged or recorded and removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { dockerConfigDir } from '../../src/cli/deps.js';
import { DockerodeEngine } from '../../src/engines/docker/dockerode-engine.js';
import { resolveDockerEndpoint } from '../../src/engines/docker/endpoint.js';
import { normalizeImage } from '../../src/image/normalize/normalize-image.js';
import { LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_LOCAL_BASE_IMAGE } from '../../test/lab/lab.js';
import { writeDataTree } from './data-hash.js';
import { ROOT, envseal, median, timed } from './proc.js';

export interface BuildResult {
  project: string;
  fullMs: number;
  /** `build --json` timings.buildMs of the full build: up to the end of the engine's build (normalisation follows). */
  engineMs: number;
  normalizeMs: number;
  dockerFullMs: number;
  repeatMs: number;
  editMs: number;
  context: { mb: number; files: number; envsealMs: number; dockerMs: number };
}

function writeSmallProject(dir: string, name: string): void {
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(
    join(dir, 'envseal.yaml'),
    [
      'version: 1',
      `name: ${name}`,
      `base: ${LAB_BASE_IMAGE}`,
      'workdir: /workspace',
      'python:',
      `  index: ${LAB_INDEX_URL}`,
      '  requirements: [requirements.txt]',
      'targets:',
      '  deploy:',
      '    copy: [src/, data/]',
      '    command: [python3, src/main.py]',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'requirements.txt'), 'seal-metrics>=1.0\ntinyconfig~=1.1\n');
  writeFileSync(join(dir, 'src', 'main.py'), 'print("bench")\n');
  writeFileSync(join(dir, 'src', 'util.py'), 'VALUE = 1\n');
}

function writeIrisProject(dir: string, name: string): void {
  cpSync(join(ROOT, 'examples', 'iris'), dir, { recursive: true });
  const spec = readFileSync(join(dir, 'envseal.yaml'), 'utf8');
  writeFileSync(
    join(dir, 'envseal.yaml'),
    spec.replace(/^name: .*$/m, `name: ${name}`).replace('copy: [train.py, params.cfg]', 'copy: [train.py, params.cfg, data/]'),
  );
}

export function measureBuilds(work: string, options: { quick: boolean; contextMb: number }, run = 0): BuildResult {
  const dir = join(work, 'build-project');
  const name = `bench-${process.pid}-${run}`;
  if (options.quick) writeSmallProject(dir, name);
  else writeIrisProject(dir, name);
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data', 'stamp'), '0\n');
  const edited = options.quick ? join(dir, 'src', 'main.py') : join(dir, 'train.py');
  const env = { ...process.env, ENVSEAL_CACHE_DIR: join(work, 'build-cache'), NO_COLOR: '1' };
  const images = new Set<string>();
  const dockerTag = `envseal-bench/${name}:docker`;
  const build = (args: string[]) => {
    const res = envseal(['build', '--target', 'deploy', '--json', ...args], dir, env);
    const out = JSON.parse(res.stdout) as { imageId: string; tags: string[]; timings?: { buildMs?: number; normalizeMs?: number } };
    images.add(out.imageId);
    for (const tag of out.tags) images.add(tag);
    return { ms: res.ms, engineMs: out.timings?.buildMs ?? 0, normalizeMs: out.timings?.normalizeMs ?? 0 };
  };
  const dockerBuild = (args: string[]) =>
    timed('docker', ['build', '-q', ...args, '--network', 'host', '-f', 'envseal.Dockerfile', '--target', 'deploy', '-t', dockerTag, '.'], dir).ms;
  try {
    envseal(['lock', '--quiet'], dir, env);
    envseal(['generate', '--quiet'], dir, env);
    const full = build(['--no-cache']);
    const dockerFullMs = dockerBuild(['--no-cache']);
    const repeatMs = build([]).ms;
    appendFileSync(edited, '# edited by bench/all\n');
    const editMs = build([]).ms;
    writeDataTree(join(dir, 'data', 'tree'), options.contextMb);
    const files = Number(spawnSync('sh', ['-c', 'find data -type f | wc -l'], { cwd: dir, encoding: 'utf8' }).stdout.trim());
    writeFileSync(join(dir, 'data', 'stamp'), '1\n');
    const contextEnvseal = build([]).ms;
    writeFileSync(join(dir, 'data', 'stamp'), '2\n');
    const contextDocker = dockerBuild([]);
    return {
      project: options.quick ? 'small (2 wheels)' : 'examples/iris',
      fullMs: full.ms,
      engineMs: full.engineMs,
      normalizeMs: full.normalizeMs,
      dockerFullMs,
      repeatMs,
      editMs,
      context: { mb: options.contextMb, files, envsealMs: contextEnvseal, dockerMs: contextDocker },
    };
  } finally {
    spawnSync('docker', ['rmi', '-f', dockerTag, `envseal-cache/${name}:deploy`, ...images], { encoding: 'utf8' });
  }
}

/** `runs` times measureBuilds (a fresh project each), each figure the median of its runs. */
export function measureBuildRuns(work: string, options: { quick: boolean; contextMb: number }, runs: number): BuildResult {
  const all: BuildResult[] = [];
  for (let i = 0; i < runs; i++) all.push(measureBuilds(join(work, `run-${i}`), options, i));
  const med = (pick: (r: BuildResult) => number) => median(all.map(pick));
  return {
    project: all[0]!.project,
    fullMs: med((r) => r.fullMs),
    engineMs: med((r) => r.engineMs),
    normalizeMs: med((r) => r.normalizeMs),
    dockerFullMs: med((r) => r.dockerFullMs),
    repeatMs: med((r) => r.repeatMs),
    editMs: med((r) => r.editMs),
    context: { mb: all[0]!.context.mb, files: all[0]!.context.files, envsealMs: med((r) => r.context.envsealMs), dockerMs: med((r) => r.context.dockerMs) },
  };
}

export interface NormalizeScalePoint {
  /** MiB of data in the one layer above the base (1 MiB files of random bytes, so nothing compresses or dedupes). */
  layerMb: number;
  /** Bytes of the whole image as the engine exports it (base included: `docker save` always writes the base). */
  imageBytes: number;
  ms: number;
  stageMs: { export: number; rewrite: number; load: number };
}

/**
 * Normalisation vs image size (issue 11): for each size, an image of the lab base plus one layer of `size` MiB
 * (random 1 MiB files) is built with `docker build --no-cache`, then normalised through normalizeImage exactly
 * as `envseal build` does (base layers preserved and held by the engine), each point the median of `runs`.
 * Every image this makes is removed at the end.
 */
export async function measureNormalizeScaling(work: string, sizesMb: readonly number[], runs: number): Promise<NormalizeScalePoint[]> {
  const engine = new DockerodeEngine({
    locate: () => resolveDockerEndpoint({ env: process.env, configDir: dockerConfigDir(process.env), home: homedir() }),
  });
  const base = await engine.inspectImage(LAB_LOCAL_BASE_IMAGE);
  if (!base) throw new Error(`bench: the lab engine has no ${LAB_LOCAL_BASE_IMAGE} (bash .ci/lab-up)`);
  const dir = join(work, 'normalize-scale');
  mkdirSync(dir, { recursive: true });
  const created: string[] = [];
  const points: NormalizeScalePoint[] = [];
  try {
    for (const [i, mb] of sizesMb.entries()) {
      const samples: NormalizeScalePoint[] = [];
      for (let run = 0; run < runs; run++) {
        const raw = `envseal-bench/normalize-${process.pid}:raw-${i}-${run}`;
        const normalized = `envseal-bench/normalize-${process.pid}:norm-${i}-${run}`;
        writeFileSync(
          join(dir, 'Dockerfile'),
          `FROM ${LAB_LOCAL_BASE_IMAGE}\nRUN mkdir /opt/bench && for i in $(seq 1 ${mb}); do head -c 1048576 /dev/urandom > /opt/bench/f$i; done\n`,
        );
        timed('docker', ['build', '-q', '--no-cache', '-t', raw, '.'], dir);
        created.push(raw, normalized);
        const result = await normalizeImage(engine, raw, {
          sourceDateEpoch: 1_700_000_000,
          tags: [normalized],
          workDir: join(dir, 'work'),
          preserveLayers: base.layers,
        });
        created.push(result.imageId);
        const imageBytes = Number(spawnSync('docker', ['image', 'inspect', '-f', '{{.Size}}', raw], { encoding: 'utf8' }).stdout.trim());
        samples.push({ layerMb: mb, imageBytes, ms: result.stats.ms, stageMs: result.stats.stageMs });
      }
      const med = (pick: (p: NormalizeScalePoint) => number) => median(samples.map(pick));
      points.push({
        layerMb: mb,
        imageBytes: samples[0]!.imageBytes,
        ms: med((p) => p.ms),
        stageMs: { export: med((p) => p.stageMs.export), rewrite: med((p) => p.stageMs.rewrite), load: med((p) => p.stageMs.load) },
      });
    }
    return points;
  } finally {
    spawnSync('docker', ['rmi', '-f', ...new Set(created)], { encoding: 'utf8' });
  }
}
