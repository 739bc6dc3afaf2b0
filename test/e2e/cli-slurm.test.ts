/**
 * Issue 13 (Slurm) end to end on the lab's real one-node Slurm cluster (.ci/lab-slurm) and the real engine:
 * `envseal submit --seeds 1-8 --wait` runs eight `envseal run`s of the built image as an array job, each
 * record names the job, its task and the node; `envseal runs --job` summarises the sweep and says equal seeds
 * agree; a failing task makes `--wait` exit 1 naming its seed, with its record marked failed and the others
 * intact. Error paths: image not built (2), bad seeds (2), no sbatch (2), sbatch refusing the job (3).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, requireLab, requireLabSlurm } from '../lab/lab.js';

const NAME = 'slurm-sweep-e2e';
const SPEC = `version: 1
name: ${NAME}
base: ${LAB_BASE_IMAGE}
`;

/** A seed-dependent "result", written atomically (two tasks of one seed may write the same file at once). */
const SWEEP = `import json, os, random, sys
seed = int(os.environ["ENVSEAL_SEED"])
if os.environ.get("FAIL_SEED") == str(seed):
    print("failing on purpose for seed", seed)
    sys.exit(1)
random.seed(seed)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
tmp = os.path.join(out, ".result.%d.tmp" % os.getpid())
with open(tmp, "w") as f:
    json.dump({"seed": seed, "draws": [random.random() for _ in range(5)]}, f, sort_keys=True)
os.replace(tmp, os.path.join(out, "result.json"))
`;

type Json = any;

describe('envseal submit and runs on a real Slurm cluster', { concurrency: false }, () => {
  let project: TempProject;
  let env: Record<string, string>;
  let node: string;
  const images = new Set<string>();

  const envseal = (args: string[], extra: Record<string, string> = {}) =>
    runEnvseal(args, { cwd: project.dir, env: { ...env, ...extra }, timeoutMs: 10 * 60_000 });
  const records = async (): Promise<Json[]> => {
    const names = (await readdir(project.path('.envseal/runs')).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
    return Promise.all(names.map(async (n) => JSON.parse(await readFile(project.path(`.envseal/runs/${n}`), 'utf8')) as Json));
  };
  const sweep = ['--output', 'out/seed-{seed}', '--', 'python3', 'sweep.py', 'out/seed-{seed}'];
  const runsOfJob = async (jobId: string): Promise<Json> => {
    const res = await envseal(['runs', '--job', jobId, '--json']);
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(res.stdout);
  };

  before(async () => {
    await requireLab();
    node = await requireLabSlurm();
    project = await makeTempProject({ 'envseal.yaml': SPEC, 'sweep.py': SWEEP, '.gitignore': '.envseal/\nout/\n' });
    env = { ENVSEAL_CACHE_DIR: project.path('.cache') };
    assert.equal((await envseal(['lock'])).code, 0);
    assert.equal((await envseal(['generate'])).code, 0);
  });

  after(async () => {
    if (images.size) await dockerCli(['rmi', '-f', ...images]);
    await project?.cleanup();
  });

  test('before the image is built, submit refuses (exit 2) and queues nothing', async () => {
    const res = await envseal(['submit', '--seeds', '1-2', '--json', ...sweep]);
    assert.equal(res.code, 2, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.equal(out.error.code, 'submit.image-missing');
    assert.match(res.stderr, /is not built: a sweep runs one image/);
    assert.match(res.stderr, /envseal build --target dev/);
    const built = await envseal(['build', '--json']);
    assert.equal(built.code, 0, built.stderr.slice(-3000));
    const b = JSON.parse(built.stdout);
    images.add(b.imageId);
    for (const t of b.tags) images.add(t);
  });

  test('submit --seeds 1-8 --wait: eight records of one fingerprint, each naming the job, its task and the node', async () => {
    const started = Date.now();
    const res = await envseal(['submit', '--seeds', '1-8', '--wait', '--json', ...sweep]);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.match(out.jobId, /^\d+$/);
    assert.deepEqual(out.seeds, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(out.tasks.length, 8);
    assert.ok(out.tasks.every((t: Json) => t.ok && t.state === 'COMPLETED' && t.exitCode === 0));
    const script = await readFile(project.path(out.script), 'utf8');
    assert.match(script, /#SBATCH --array=0-7/);
    assert.match(script, /--image sha256:[0-9a-f]{64} --no-build/);
    const mine = (await records()).filter((r) => r.slurm?.jobId === out.jobId);
    assert.equal(mine.length, 8);
    assert.deepEqual(new Set(mine.map((r) => r.environment.fingerprint)).size, 1);
    assert.equal(mine[0].environment.fingerprint, out.fingerprint);
    for (const r of mine) {
      assert.equal(r.recordVersion, 4);
      assert.equal(r.slurm.node, node);
      assert.equal(r.seed, r.slurm.arrayTaskId + 1);
      assert.equal(r.outcome.exitCode, 0);
      assert.equal(r.image.id, out.image);
      assert.deepEqual(
        r.outputs.map((o: Json) => o.path),
        [`out/seed-${r.seed}`],
      );
      assert.ok(r.outputs[0].content, `seed ${r.seed} wrote its output`);
    }
    const digests = new Set(mine.map((r) => r.outputs[0].content.digest));
    assert.equal(digests.size, 8, 'different seeds give different results');
    const summary = (await runsOfJob(out.jobId)).sweep;
    assert.equal(summary.runs, 8);
    assert.equal(summary.failed, 0);
    assert.deepEqual(summary.fingerprints, [out.fingerprint]);
    assert.deepEqual(
      summary.seeds.map((s: Json) => s.seed),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.equal(summary.equalSeedsAgree, null, 'no seed ran twice');
    process.stderr.write(`# submit --seeds 1-8 --wait took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });

  test('equal seeds agree: seeds 4,4 in one job give the same output digest, and the same as seed 4 of the first job', async () => {
    // Two tasks of one seed run at the same time: each writes its own directory ({task}), so neither digests
    // the other's half-written files.
    const perTask = ['--output', 'out/task-{task}', '--', 'python3', 'sweep.py', 'out/task-{task}'];
    const res = await envseal(['submit', '--seeds', '4,4', '--wait', '--json', ...perTask]);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    const summary = (await runsOfJob(out.jobId)).sweep;
    assert.equal(summary.runs, 2);
    assert.equal(summary.seeds.length, 1);
    assert.equal(summary.seeds[0].seed, 4);
    assert.equal(summary.seeds[0].agree, true);
    assert.equal(summary.equalSeedsAgree, true);
    assert.deepEqual(
      summary.seeds[0].runs.map((r: Json) => Object.keys(r.outputs)),
      [['out/task-0'], ['out/task-1']],
    );
    const digest = summary.seeds[0].runs[0].outputs['out/task-0'];
    const earlier = (await records()).filter((r) => r.seed === 4 && r.slurm?.jobId !== out.jobId);
    assert.ok(earlier.length >= 1);
    assert.ok(earlier.every((r) => r.outputs[0].content.digest === digest));
    const human = await envseal(['runs', '--job', out.jobId]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /seed 4: 2 run\(s\), exit 0,0, outputs agree/);
    assert.match(human.stdout, /equal seeds agree/);
  });

  test('a failing task: --wait exits 1 naming seed 3, its record is marked failed, the other tasks are intact', async () => {
    const res = await envseal(['submit', '--seeds', '2-4', '--wait', '--json', '-e', 'FAIL_SEED=3', ...sweep]);
    assert.equal(res.code, 1, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.equal(out.error.code, 'submit.tasks-failed');
    assert.deepEqual(out.error.data.failedSeeds, [3]);
    assert.match(res.stderr, /1 of 3 task\(s\) failed \(seeds 3\)/);
    assert.match(res.stderr, /seed 3 \(task 1: FAILED, exit 1\)/);
    const jobId = out.error.data.jobId;
    const listed = await runsOfJob(jobId);
    assert.deepEqual(listed.runs.map((r: Json) => [r.seed, r.status, r.exitCode]).sort(), [
      [2, 'ok', 0],
      [3, 'failed', 1],
      [4, 'ok', 0],
    ]);
    const failedOnly = await envseal(['runs', '--job', jobId, '--status', 'failed', '--json']);
    assert.deepEqual(
      JSON.parse(failedOnly.stdout).runs.map((r: Json) => r.seed),
      [3],
    );
  });

  test('without --wait: prints the job ID at once; the task runs and writes its record', async () => {
    const res = await envseal(['submit', '--seeds', '9', '--json', ...sweep]);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.match(out.jobId, /^\d+$/);
    assert.equal(out.tasks, null);
    const deadline = Date.now() + 120_000;
    while (spawnSync('squeue', ['-h', '-j', out.jobId], { encoding: 'utf8' }).stdout.trim() && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 500));
    const listed = await runsOfJob(out.jobId);
    assert.equal(listed.runs.length, 1);
    assert.equal(listed.runs[0].seed, 9);
    assert.equal(listed.runs[0].slurm.arrayTaskId, 0);
  });

  test('error paths: bad seeds (2), no sbatch on PATH (2), sbatch refusing the job (3)', async () => {
    const bad = await envseal(['submit', '--seeds', '3-1', ...sweep]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--seeds "3-1": the range 3-1 runs backwards/);
    const noSbatch = await envseal(['submit', '--seeds', '1', ...sweep], { PATH: '/nonexistent-envseal-test' });
    assert.equal(noSbatch.code, 2, noSbatch.stderr);
    assert.match(noSbatch.stderr, /sbatch is not installed \(not on PATH\)/);
    assert.match(noSbatch.stderr, /hint: .*bash \.ci\/lab-up/);
    const refused = await envseal(['submit', '--seeds', '1', '--sbatch=--partition=envseal-no-such-partition', ...sweep]);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /sbatch refused the job \(exit 1\): sbatch: error: .*[Pp]artition/);
  });
});
