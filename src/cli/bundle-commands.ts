/** bundle and load: offline bundles for machines with an engine but no registry or index (docs/bundles.md). */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { TOOL_VERSION } from '../core/version.js';
import type { TargetName } from '../core/image-contract.js';
import type { CommandContext } from './context.js';
import { interruptible } from './interrupt.js';

type ContextOf = (cmd: Command) => CommandContext;
type SetExit = (code: number) => void;

export function registerBundleCommands(program: Command, context: ContextOf, setExit: SetExit): void {
  program
    .command('bundle')
    .description('write one tar with the built image, the lock, the Dockerfile and every locked package file, for offline machines')
    .requiredOption('-o, --output <file>', 'the bundle to write (e.g. env.tar)')
    .addOption(new Option('--target <target>', 'dev or deploy').choices(['dev', 'deploy']).default('dev'))
    .option('--image <ref>', "bundle this image (default: the lock's image for the target)")
    .addHelpText('after', '\nExamples:\n  envseal build && envseal bundle -o env.tar\n  envseal bundle --target deploy -o deploy.tar --json')
    .action(async (opts: { output: string; target: TargetName; image?: string }, cmd: Command) => {
      const ctx = context(cmd);
      await withInterrupt(ctx, setExit, 'bundle', async (signal) => {
        const { createDeps, createDownloader } = await import('./deps.js');
        const { writeBundle } = await import('../app/bundle/write-bundle.js');
        const deps = createDeps(ctx);
        const output = resolve(ctx.io.cwd, opts.output);
        const outcome = await writeBundle(
          ctx.paths,
          { output, target: opts.target, ...(opts.image ? { image: opts.image } : {}), signal },
          { ...deps, ...ctx.templates(), toolVersion: TOOL_VERSION, download: createDownloader(ctx, deps.indexCredentials) },
        );
        ctx.out.json({ ok: true, ...outcome, output: opts.output });
        ctx.out.result(
          `wrote ${opts.output}: image ${outcome.imageId}, ${outcome.entries} entries${outcome.aptFiles ? ` (${outcome.aptFiles} apt files)` : ''}, ${outcome.bytes} bytes\nfingerprint ${outcome.fingerprint}` +
            (outcome.rebuildBlocker ? '\n`envseal load --rebuild` cannot use this bundle (see the warning above); `envseal load` can' : ''),
        );
      });
    });

  program
    .command('load')
    .description('check an offline bundle entry by entry, then load its image (or rebuild it from the bundle alone)')
    .argument('<file>', 'the bundle written by `envseal bundle`')
    .option('--rebuild', 'rebuild the image from the bundled files alone (no network) and check it gets the same image ID', false)
    .addHelpText('after', '\nExamples:\n  envseal load env.tar\n  envseal load env.tar --rebuild --json')
    .action(async (file: string, opts: { rebuild: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      await withInterrupt(ctx, setExit, 'load', async (signal) => {
        const { createDeps } = await import('./deps.js');
        const { loadBundle } = await import('../app/bundle/load-bundle.js');
        const deps = createDeps(ctx);
        const outcome = await loadBundle(
          { file: resolve(ctx.io.cwd, file), label: file, rebuild: opts.rebuild, signal, ...(ctx.io.env.TMPDIR ? { tmpDir: ctx.io.env.TMPDIR } : {}) },
          { ...deps, ...ctx.templates(), toolVersion: TOOL_VERSION, revision: null },
        );
        ctx.out.json({ ok: true, ...outcome });
        ctx.out.result(
          `${outcome.rebuilt ? 'rebuilt from the bundle' : 'loaded'} ${outcome.target} image ${outcome.imageId} (every entry checked${outcome.rebuilt ? ', same image ID' : ''})\ntags: ${outcome.tags.join(', ')}\nfingerprint ${outcome.fingerprint}`,
        );
      });
    });
}

/** Runs `work` with an abort signal tied to Ctrl-C; an interrupted command exits 130/143 (cli/interrupt.ts). */
async function withInterrupt(ctx: CommandContext, setExit: SetExit, what: string, work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const outcome = await interruptible(ctx, what, work);
  if (outcome) setExit(outcome.interrupted);
}
