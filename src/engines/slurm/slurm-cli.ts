/**
 * The Slurm adapter: `sbatch`, `squeue` and `scontrol` as child processes (Slurm has no stable client library; its
 * commands are the interface sites support). Implements `BatchScheduler`.
 */
import { spawn } from 'node:child_process';
import { externalError, inputError } from '../../core/errors.js';
import type { BatchScheduler } from '../../core/ports.js';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

const NOT_INSTALLED_HINT =
  'run envseal submit where the Slurm client commands are on PATH (a login node; Debian: apt-get install slurm-client); the test lab starts a one-node cluster with `bash .ci/lab-up`';

/** Runs a Slurm command; null when it is not installed (ENOENT). */
function runSlurmCommand(file: string, args: string[], cwd: string): Promise<Finished | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? resolve(null) : reject(e)));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8').trim() }));
  });
}

/** `sbatch --parsable` prints `<jobid>` or `<jobid>;<cluster>` when the job is accepted. */
export function parseSbatchJobId(stdout: string): string | null {
  const m = /^(\d+)(?:;\S+)?$/m.exec(stdout.trim());
  return m ? m[1]! : null;
}

export interface SlurmCliOptions {
  sbatch?: string;
  squeue?: string;
  scontrol?: string;
  /** How often `waitForJob` asks squeue (default 1 s: sbatch --wait's own backoff reaches 30 s). */
  pollMs?: number;
  /** Consecutive squeue failures (controller restarting) tolerated while waiting (default 5). */
  maxPollFailures?: number;
}

export function createSlurmCli(options: SlurmCliOptions = {}): BatchScheduler {
  const sbatch = options.sbatch ?? 'sbatch';
  const squeue = options.squeue ?? 'squeue';
  const scontrol = options.scontrol ?? 'scontrol';
  const pollMs = options.pollMs ?? 1000;
  const maxFailures = options.maxPollFailures ?? 5;
  return {
    async submit(scriptPath, { cwd }) {
      const res = await runSlurmCommand(sbatch, ['--parsable', scriptPath], cwd);
      if (!res)
        throw inputError('submit.no-sbatch', `${sbatch} is not installed (not on PATH): envseal submit needs Slurm's sbatch`, { hint: NOT_INSTALLED_HINT });
      const jobId = parseSbatchJobId(res.stdout);
      if (res.code !== 0 || !jobId) {
        throw externalError('submit.sbatch-failed', `sbatch refused the job (exit ${res.code ?? 'signal'}): ${res.stderr || 'no message'}`, {
          hint: 'read sbatch’s message above; `sinfo` shows whether the cluster and its partitions are up',
          data: { exitCode: res.code, stderr: res.stderr },
        });
      }
      return { jobId };
    },
    async waitForJob(jobId) {
      let failures = 0;
      for (;;) {
        const res = await runSlurmCommand(squeue, ['-h', '-j', jobId, '-o', '%T'], '/');
        if (!res) throw inputError('submit.no-squeue', `${squeue} is not installed (not on PATH)`, { hint: NOT_INSTALLED_HINT });
        // A job the controller already forgot has ended too.
        if (res.code === 0 && !res.stdout.trim()) return;
        if (res.code !== 0 && /invalid job id/i.test(res.stderr)) return;
        failures = res.code === 0 ? 0 : failures + 1;
        if (failures >= maxFailures) {
          throw externalError('submit.squeue-failed', `squeue -j ${jobId} failed ${failures} times in a row: ${res.stderr || 'no message'}`, {
            hint: `the job keeps running; follow it with \`squeue -j ${jobId}\` and read its records with \`envseal runs --job ${jobId}\``,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },
    async showJob(jobId) {
      const res = await runSlurmCommand(scontrol, ['show', 'job', '-o', jobId], '/');
      if (!res) throw inputError('submit.no-scontrol', `${scontrol} is not installed (not on PATH)`, { hint: NOT_INSTALLED_HINT });
      if (res.code !== 0) {
        throw externalError('submit.scontrol-failed', `scontrol show job ${jobId} failed (exit ${res.code ?? 'signal'}): ${res.stderr || 'no message'}`, {
          hint: "Slurm forgets finished jobs after MinJobAge (slurm.conf); read the tasks' run records with `envseal runs --job " + jobId + '`',
        });
      }
      return res.stdout;
    },
  };
}
