/** `envseal export`: the locked Python closure as pylock.toml or a hashed requirements.txt. */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { TOOL_VERSION } from '../core/version.js';
import { inputError } from '../core/errors.js';
import { toRel } from '../core/paths.js';
import type { TargetName } from '../core/image-contract.js';
import type { CommandContext } from './context.js';
import { collect, parseEnvPairs } from './pipeline-commands.js';

type ContextOf = (cmd: Command) => CommandContext;

interface ExportFlags {
  format: 'pylock' | 'requirements';
  target: TargetName;
  output?: string;
  check: boolean;
}

interface K8sJobFlags {
  seed?: string;
  seeds?: string;
  name?: string;
  namespace?: string;
  parallelism?: string;
  env?: string[];
  output?: string;
}

export function registerExport(program: Command, context: ContextOf): void {
  const exportCommand = program
    .command('export')
    .description('write the locked Python closure as pylock.toml (PEP 751) or a hashed requirements.txt')
    .addOption(
      new Option('--format <format>', 'pylock (both targets, dev as a dependency group) or requirements (one target)')
        .choices(['pylock', 'requirements'])
        .default('pylock'),
    )
    .addOption(new Option('--target <target>', 'the target a requirements file is for').choices(['dev', 'deploy']).default('dev'))
    .option('-o, --output <file>', 'write this file (atomically) instead of printing; relative to the project directory')
    .option('--check', 'write nothing; exit 1 if the --output file differs from what the lock exports', false)
    .addHelpText(
      'after',
      '\nExamples:\n  envseal export -o pylock.toml\n  envseal export --format requirements --target deploy -o requirements.lock.txt\n  envseal export -o pylock.toml --check',
    )
    .action(async (opts: ExportFlags, cmd: Command) => {
      const ctx = context(cmd);
      const { renderExport, writeExport, checkExport } = await import('../app/export-lock.js');
      if (opts.check && !opts.output) throw inputError('usage.export-check', '--check compares with a file: give it with -o FILE');
      const exported = await renderExport(ctx.paths, { format: opts.format, target: opts.target, toolVersion: TOOL_VERSION });
      if (!opts.output) {
        ctx.out.json({ ok: true, format: opts.format, target: opts.target, packages: exported.packages, text: exported.text });
        ctx.out.result(exported.text);
        return;
      }
      const file = resolve(ctx.paths.dir, opts.output);
      const rel = toRel(ctx.paths.dir, file);
      if (opts.check) {
        await checkExport(file, rel, exported.text);
        ctx.out.json({ ok: true, file: rel, format: opts.format, upToDate: true });
        ctx.out.result(`${rel} is up to date`);
        return;
      }
      const { written } = await writeExport(file, rel, exported.text);
      ctx.out.json({ ok: true, file: rel, format: opts.format, target: opts.target, packages: exported.packages, written });
      ctx.out.result(written ? `wrote ${rel} (${exported.packages} packages)` : `${rel} is up to date`);
    });
  registerK8sJob(exportCommand, context);
}

function registerK8sJob(parent: Command, context: ContextOf): void {
  parent
    .command('k8s-job')
    .description('write a Kubernetes batch/v1 Job that runs the pushed deploy image (pinned by digest) with the seed in its environment')
    .option('--seed <n>', "the seed (default: the spec's seed)")
    .option('--seeds <list>', 'an Indexed Job with one completion per seed: 1-8, 1,2,5 or 0-3,10')
    .option('--name <name>', 'the Job name (default: <project>-<first 12 hex digits of the fingerprint>)')
    .option('--namespace <namespace>', 'the namespace to put in the manifest')
    .option('--parallelism <n>', 'at most this many seeds at once (Indexed Job; default: all)')
    .option('-e, --env <NAME=VALUE>', 'environment variable (repeatable)', collect)
    .option('-o, --output <file>', 'write this file (atomically) instead of printing; relative to the project directory')
    .argument('[command...]', "the command and its arguments, after -- (default: the image's)")
    .addHelpText(
      'after',
      '\nThe deploy image must have been pushed (`envseal build --target deploy --push -t REGISTRY/REPO:TAG`).\nExamples:\n  envseal export k8s-job --seed 42 -- python train.py\n  envseal export k8s-job --seeds 1-8 -o job.yaml -- python train.py\n  kubectl apply -f job.yaml',
    )
    .action(async (command: string[], opts: K8sJobFlags, cmd: Command) => {
      const ctx = context(cmd);
      if (opts.seed !== undefined && opts.seeds !== undefined) throw inputError('usage.seeds', 'give --seed or --seeds, not both');
      const { exportK8sJob, parseSeeds } = await import('../app/export-k8s-job.js');
      const { writeExport } = await import('../app/export-lock.js');
      let seeds: number[] = [];
      if (opts.seed !== undefined) {
        if (!/^\d+$/.test(opts.seed) || Number(opts.seed) > 2 ** 32 - 1)
          throw inputError('usage.seed', `--seed ${opts.seed}: expected an integer from 0 to 4294967295`);
        seeds = [Number(opts.seed)];
      } else if (opts.seeds !== undefined) seeds = parseSeeds(opts.seeds);
      let parallelism: number | undefined;
      if (opts.parallelism !== undefined) {
        if (!/^\d+$/.test(opts.parallelism) || Number(opts.parallelism) < 1)
          throw inputError('usage.parallelism', `--parallelism ${opts.parallelism}: expected a positive integer`);
        parallelism = Number(opts.parallelism);
      }
      const job = await exportK8sJob(ctx.paths, {
        seeds,
        command,
        env: parseEnvPairs(opts.env ?? []),
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        ...(parallelism !== undefined ? { parallelism } : {}),
      });
      const summary = { ok: true, kind: 'Job', name: job.name, image: job.image, seeds: job.seeds };
      // `export` has an -o of its own, and commander gives a parent's options to the parent wherever they stand.
      const parentOpts = (cmd.parent?.opts() ?? {}) as { output?: string; check?: boolean };
      if (parentOpts.check) throw inputError('usage.export-check', '--check is for `envseal export` (pylock, requirements), not k8s-job');
      const output = opts.output ?? parentOpts.output;
      if (!output) {
        ctx.out.json({ ...summary, text: job.text });
        ctx.out.result(job.text);
        return;
      }
      const file = resolve(ctx.paths.dir, output);
      const rel = toRel(ctx.paths.dir, file);
      const { written } = await writeExport(file, rel, job.text);
      ctx.out.json({ ...summary, file: rel, written });
      ctx.out.result(
        written ? `wrote ${rel} (Job ${job.name}, ${job.seeds.length} seed${job.seeds.length === 1 ? '' : 's'}, ${job.image})` : `${rel} is up to date`,
      );
    });
}
