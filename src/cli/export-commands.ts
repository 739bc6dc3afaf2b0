/** `envseal export`: the locked Python closure as pylock.toml or a hashed requirements.txt. */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { TOOL_VERSION } from '../core/version.js';
import { inputError } from '../core/errors.js';
import { toRel } from '../core/paths.js';
import type { TargetName } from '../core/image-contract.js';
import type { CommandContext } from './context.js';

type ContextOf = (cmd: Command) => CommandContext;

interface ExportFlags {
  format: 'pylock' | 'requirements';
  target: TargetName;
  output?: string;
  check: boolean;
}

export function registerExport(program: Command, context: ContextOf): void {
  program
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
}
