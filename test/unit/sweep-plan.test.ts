import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isEnvsealError, type EnvsealError } from '../../src/core/errors.js';
import {
  describeFailedTasks,
  parseScontrolJobs,
  parseSeeds,
  renderSweepScript,
  shellWordForTask,
  sweepResults,
  type SweepPlanInput,
} from '../../src/app/sweep-plan.js';

function catchError(fn: () => unknown): EnvsealError {
  try {
    fn();
  } catch (err) {
    if (isEnvsealError(err)) return err;
    throw err;
  }
  assert.fail('expected an EnvsealError');
}

describe('parseSeeds', () => {
  it('reads ranges, lists and mixes, in order, keeping repeats', () => {
    assert.deepEqual(parseSeeds('1-8'), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(parseSeeds('1,3,5'), [1, 3, 5]);
    assert.deepEqual(parseSeeds('1-3,7'), [1, 2, 3, 7]);
    assert.deepEqual(parseSeeds('4,4'), [4, 4]);
    assert.deepEqual(parseSeeds(' 0 , 4294967295 '), [0, 4294967295]);
    assert.deepEqual(parseSeeds('5-5'), [5]);
  });

  for (const [text, why] of [
    ['', /an empty item/],
    ['1,,2', /an empty item/],
    ['a', /"a" is not a seed/],
    ['-1', /"-1" is not a seed/],
    ['1.5', /"1.5" is not a seed/],
    ['3-1', /the range 3-1 runs backwards/],
    ['4294967296', /seeds go from 0 to 4294967295/],
    ['1-20000', /more than 10000 tasks/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)} (exit 2, with an example in the hint)`, () => {
      const err = catchError(() => parseSeeds(text));
      assert.equal(err.exitCode, 2);
      assert.equal(err.code, 'usage.seeds');
      assert.match(err.message, why);
      assert.match(err.hint ?? '', /--seeds 1-3,7/);
    });
  }
});

const PLAN: SweepPlanInput = {
  seeds: [1, 2, 7],
  sweepId: '20261202T180000.000Z-ABCDEFGHJKMNPQRS',
  node: '/usr/bin/node',
  envsealBin: '/opt/envseal/bin/envseal.js',
  projectDir: '/home/me/my project',
  spec: '/home/me/my project/envseal.yaml',
  lock: '/home/me/my project/envseal.lock',
  logDir: '/home/me/my project/.envseal/sweeps',
  image: `sha256:${'a'.repeat(64)}`,
  runArgs: ['--target', 'dev', '--output', 'out/seed-{seed}', '--env', "MSG=it's"],
  command: ['python3', '-c', 'print("hi")', 'out/{seed}/x', 'task-{task}'],
  sbatchOptions: ['--partition=gpu'],
};

describe('renderSweepScript', () => {
  it('writes an array job whose task index picks the seed and runs envseal run on the pinned image', () => {
    const script = renderSweepScript(PLAN);
    assert.match(script, /^#!\/bin\/bash\n/);
    assert.match(script, /\n#SBATCH --array=0-2\n/);
    assert.match(script, /\n#SBATCH --output='\/home\/me\/my project\/.envseal\/sweeps\/20261202T180000.000Z-ABCDEFGHJKMNPQRS-%a.out'\n/);
    assert.match(script, /\n#SBATCH --partition=gpu\n/);
    assert.match(script, /\nseeds=\(1 2 7\)\n/);
    assert.match(script, /run --seed "\$seed" --image sha256:a{64} --no-build --target dev/);
  });

  it('the script, run by bash as task 2, calls envseal with seed 7 and {seed} replaced, every word intact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-sweep-'));
    try {
      const fakeNode = join(dir, 'node');
      await writeFile(fakeNode, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
      await chmod(fakeNode, 0o755);
      const script = join(dir, 'job.sbatch');
      await writeFile(script, renderSweepScript({ ...PLAN, node: fakeNode }));
      const res = spawnSync('bash', [script], { env: { SLURM_ARRAY_TASK_ID: '2', PATH: process.env.PATH }, encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      assert.deepEqual(res.stdout.trimEnd().split('\n'), [
        '/opt/envseal/bin/envseal.js',
        '-C',
        '/home/me/my project',
        '--spec',
        '/home/me/my project/envseal.yaml',
        '--lock',
        '/home/me/my project/envseal.lock',
        'run',
        '--seed',
        '7',
        '--image',
        `sha256:${'a'.repeat(64)}`,
        '--no-build',
        '--target',
        'dev',
        '--output',
        'out/seed-7',
        '--env',
        "MSG=it's",
        '--',
        'python3',
        '-c',
        'print("hi")',
        'out/7/x',
        'task-2',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('quotes {seed} words so shell characters around it stay literal', () => {
    assert.equal(shellWordForTask('{seed}'), '"$seed"');
    assert.equal(shellWordForTask('a b/{seed}/$x'), `'a b/'"$seed"'/$x'`);
    assert.equal(shellWordForTask('out/s{seed}-t{task}'), `out/s"$seed"-t"$SLURM_ARRAY_TASK_ID"`);
    assert.equal(shellWordForTask('plain'), 'plain');
  });

  it('refuses no seeds, no command and an sbatch option that is not one (exit 2)', () => {
    assert.equal(catchError(() => renderSweepScript({ ...PLAN, seeds: [] })).code, 'usage.seeds');
    assert.equal(catchError(() => renderSweepScript({ ...PLAN, command: [] })).code, 'submit.no-command');
    const err = catchError(() => renderSweepScript({ ...PLAN, sbatchOptions: ['gpu\n#SBATCH --x'] }));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /expected one sbatch option such as --partition=gpu/);
  });
});

const SCONTROL = [
  'JobId=12 ArrayJobId=10 ArrayTaskId=2 JobName=envseal-x JobState=COMPLETED Reason=None ExitCode=0:0 BatchHost=vm NodeList=vm',
  'JobId=11 ArrayJobId=10 ArrayTaskId=1 JobName=envseal-x JobState=FAILED Reason=NonZeroExitCode ExitCode=1:0 BatchHost=vm NodeList=vm',
  'JobId=10 ArrayJobId=10 ArrayTaskId=0 JobName=envseal-x JobState=COMPLETED Reason=None ExitCode=0:0 BatchHost=vm NodeList=vm',
  'JobId=13 ArrayJobId=10 ArrayTaskId=3-4%2 JobState=PENDING Reason=JobArrayTaskLimit ExitCode=0:0 NodeList=(null)',
  '',
].join('\n');

describe('task states from scontrol show job -o', () => {
  it('reads one line per task and expands a pending range', () => {
    const tasks = parseScontrolJobs(SCONTROL);
    assert.deepEqual(
      tasks.map((t) => [t.taskId, t.state, t.exitCode, t.node]),
      [
        [0, 'COMPLETED', 0, 'vm'],
        [1, 'FAILED', 1, 'vm'],
        [2, 'COMPLETED', 0, 'vm'],
        [3, 'PENDING', 0, null],
        [4, 'PENDING', 0, null],
      ],
    );
  });

  it('maps tasks to seeds; failed, pending and unknown tasks are not ok and are named by seed', () => {
    const results = sweepResults([5, 6, 7, 8, 9, 10], parseScontrolJobs(SCONTROL));
    assert.deepEqual(
      results.map((r) => [r.seed, r.ok]),
      [
        [5, true],
        [6, false],
        [7, true],
        [8, false],
        [9, false],
        [10, false],
      ],
    );
    assert.deepEqual(describeFailedTasks(results), [
      'seed 6 (task 1: FAILED, exit 1)',
      'seed 8 (task 3: PENDING, exit 0)',
      'seed 9 (task 4: PENDING, exit 0)',
      'seed 10 (task 5: UNKNOWN)',
    ]);
  });
});
