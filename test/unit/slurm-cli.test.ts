import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isEnvsealError } from '../../src/core/errors.js';
import { createSlurmCli, parseSbatchJobId } from '../../src/engines/slurm/slurm-cli.js';
import { slurmFromEnv } from '../../src/cli/pipeline-commands.js';

describe('the Slurm CLI adapter (with stand-in sbatch/scontrol scripts)', () => {
  let dir: string;
  const tool = async (name: string, body: string) => {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'envseal-slurm-cli-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('reads the job ID sbatch --parsable prints (with or without a cluster name)', () => {
    assert.equal(parseSbatchJobId('42\n'), '42');
    assert.equal(parseSbatchJobId('42;cluster\n'), '42');
    assert.equal(parseSbatchJobId('Submitted batch job 42\n'), null);
  });

  it('passes --parsable and returns the job ID', async () => {
    const sbatch = await tool('sbatch', 'echo "$@" > "$(dirname "$0")/args"; echo "17;lab"');
    const { jobId } = await createSlurmCli({ sbatch }).submit('/tmp/job.sbatch', { cwd: dir });
    assert.equal(jobId, '17');
    assert.equal((await readFile(join(dir, 'args'), 'utf8')).trim(), '--parsable /tmp/job.sbatch');
  });

  it('waits until squeue lists no task of the job (or no longer knows it); repeated squeue failures are exit 3', async () => {
    const squeue = await tool(
      'squeue',
      'n=$(cat "$(dirname "$0")/polls" 2>/dev/null || echo 0); echo $((n+1)) > "$(dirname "$0")/polls"; [ "$n" -lt 2 ] && echo RUNNING; exit 0',
    );
    await createSlurmCli({ squeue, pollMs: 10 }).waitForJob('17');
    assert.equal((await readFile(join(dir, 'polls'), 'utf8')).trim(), '3');
    const forgot = await tool('squeue-forgot', 'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1');
    await createSlurmCli({ squeue: forgot, pollMs: 10 }).waitForJob('17');
    const broken = await tool('squeue-broken', 'echo "Unable to contact slurm controller" >&2; exit 1');
    await assert.rejects(
      createSlurmCli({ squeue: broken, pollMs: 10, maxPollFailures: 3 }).waitForJob('17'),
      (err) =>
        isEnvsealError(err) && err.exitCode === 3 && /failed 3 times in a row: Unable to contact/.test(err.message) && /squeue -j 17/.test(err.hint ?? ''),
    );
  });

  it('sbatch refusing the job is exit 3 with its stderr', async () => {
    const sbatch = await tool('sbatch-refuses', 'echo "sbatch: error: invalid partition specified: nope" >&2; exit 1');
    await assert.rejects(
      createSlurmCli({ sbatch }).submit('/tmp/job.sbatch', { cwd: dir }),
      (err) =>
        isEnvsealError(err) && err.exitCode === 3 && err.code === 'submit.sbatch-failed' && /exit 1\): sbatch: error: invalid partition/.test(err.message),
    );
  });

  it('sbatch or scontrol not installed is exit 2 with a hint', async () => {
    const missing = join(dir, 'no-such-sbatch');
    await assert.rejects(
      createSlurmCli({ sbatch: missing }).submit('/tmp/job.sbatch', { cwd: dir }),
      (err) => isEnvsealError(err) && err.exitCode === 2 && /not installed/.test(err.message) && /slurm-client/.test(err.hint ?? ''),
    );
    await assert.rejects(
      createSlurmCli({ scontrol: missing }).showJob('1'),
      (err) => isEnvsealError(err) && err.exitCode === 2 && err.code === 'submit.no-scontrol',
    );
  });

  it('scontrol failing (a job Slurm forgot) is exit 3 pointing at the run records', async () => {
    const scontrol = await tool('scontrol', 'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1');
    await assert.rejects(
      createSlurmCli({ scontrol }).showJob('99'),
      (err) => isEnvsealError(err) && err.exitCode === 3 && /Invalid job id/.test(err.message) && /envseal runs --job 99/.test(err.hint ?? ''),
    );
  });
});

describe('slurmFromEnv', () => {
  it('an array task names its array job, task and node; a plain job its own ID; outside Slurm nothing', () => {
    assert.deepEqual(slurmFromEnv({ SLURM_JOB_ID: '12', SLURM_ARRAY_JOB_ID: '10', SLURM_ARRAY_TASK_ID: '2', SLURMD_NODENAME: 'vm' }), {
      jobId: '10',
      arrayTaskId: 2,
      node: 'vm',
    });
    assert.deepEqual(slurmFromEnv({ SLURM_JOB_ID: '12' }), { jobId: '12', arrayTaskId: null, node: null });
    assert.equal(slurmFromEnv({}), undefined);
  });
});
