/**
 * Issue 13's acceptance on the shipped example: examples/iris (scikit-learn from Debian, helpers from the lab
 * index) locked, built and swept over seeds 1-8 on the lab's real Slurm cluster, every seed twice in one array
 * job. Every record names the one fingerprint and the job; `envseal runs --job` says equal seeds agree (the
 * model and metrics are byte-identical for equal seeds) and different seeds differ.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, requireLab, requireLabIndex, requireLabSlurm } from '../lab/lab.js';

type Json = any;

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'iris');

describe('an 8-seed Slurm sweep of examples/iris', { concurrency: false }, () => {
  let project: TempProject;
  let env: Record<string, string>;
  const images = new Set<string>();
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env, timeoutMs: 15 * 60_000 });

  before(async () => {
    await requireLab();
    await requireLabIndex();
    await requireLabSlurm();
    project = await makeTempProject({ '.gitignore': '.envseal/\nout/\n' });
    await cp(EXAMPLE, project.dir, { recursive: true });
    // Whatever a local `npm run example` left in the example is not part of it.
    for (const left of ['envseal.lock', 'envseal.Dockerfile', 'envseal.sbom.cdx.json', '.envseal', 'outputs']) {
      await rm(project.path(left), { recursive: true, force: true });
    }
    env = { ENVSEAL_CACHE_DIR: project.path('.cache') };
    for (const step of [['lock'], ['generate']]) {
      const res = await envseal(step);
      assert.equal(res.code, 0, `${step.join(' ')}: ${res.stderr.slice(-3000)}`);
    }
    const built = await envseal(['build', '--target', 'dev', '--json']);
    assert.equal(built.code, 0, built.stderr.slice(-3000));
    const b = JSON.parse(built.stdout);
    images.add(b.imageId);
    for (const t of b.tags) images.add(t);
  });

  after(async () => {
    if (images.size) await dockerCli(['rmi', '-f', ...images]);
    await project?.cleanup();
  });

  test('submit --seeds 1-8,1-8 --wait: 16 records of one fingerprint; equal seeds agree, different seeds differ', async () => {
    const started = Date.now();
    const res = await envseal([
      'submit',
      '--seeds',
      '1-8,1-8',
      '--wait',
      '--json',
      '--output',
      'out/task-{task}',
      '--',
      'python',
      'train.py',
      'out/task-{task}',
    ]);
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    const out = JSON.parse(res.stdout);
    assert.equal(out.tasks.length, 16);
    assert.ok(out.tasks.every((t: Json) => t.ok && t.exitCode === 0));

    const names = (await readdir(project.path('.envseal/runs'))).filter((n) => n.endsWith('.json'));
    const records: Json[] = await Promise.all(names.map(async (n) => JSON.parse(await readFile(project.path(`.envseal/runs/${n}`), 'utf8'))));
    const mine = records.filter((r) => r.slurm?.jobId === out.jobId);
    assert.equal(mine.length, 16);
    assert.deepEqual([...new Set(mine.map((r) => r.environment.fingerprint))], [out.fingerprint]);
    assert.deepEqual(
      [...new Set(mine.map((r) => r.seed))].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    for (const r of mine) {
      const metrics = JSON.parse(await readFile(project.path(`${r.outputs[0].path}/metrics.json`), 'utf8'));
      assert.equal(metrics.seed, String(r.seed));
      assert.equal(metrics.fingerprint, out.fingerprint, 'the container saw the recorded fingerprint');
    }

    const runs = await envseal(['runs', '--job', out.jobId, '--json']);
    assert.equal(runs.code, 0, runs.stderr);
    const sweep = JSON.parse(runs.stdout).sweep;
    assert.equal(sweep.runs, 16);
    assert.equal(sweep.failed, 0);
    assert.deepEqual(sweep.fingerprints, [out.fingerprint]);
    assert.equal(sweep.equalSeedsAgree, true);
    assert.ok(sweep.seeds.every((s: Json) => s.agree === true && s.runs.length === 2));
    // One digest per seed (over the task's output directory), and eight different ones across seeds.
    const perSeed = sweep.seeds.map((s: Json) => Object.values(s.runs[0].outputs)[0]);
    assert.equal(new Set(perSeed).size, 8, 'different seeds give different models');
    process.stderr.write(`# iris: submit --seeds 1-8,1-8 --wait took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });
});
