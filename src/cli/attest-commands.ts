/** sbom, provenance and `record show`: documents about a lock, a build or a run, for other tools to read. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { describeWriteFailure, writeFileAtomic } from '../core/atomic-write.js';
import { isEnvsealError } from '../core/errors.js';
import { toRel } from '../core/paths.js';
import { TOOL_VERSION } from '../core/version.js';
import type { CommandContext } from './context.js';

type ContextOf = (cmd: Command) => CommandContext;

export function registerAttestCommands(program: Command, context: ContextOf): void {
  registerSbom(program, context);
}

/** Writes a document to `-o FILE` (atomically, relative to the project directory) or to stdout. */
async function emitDocument(ctx: CommandContext, text: string, output: string | undefined, summary: Record<string, unknown>): Promise<void> {
  if (output === undefined) {
    ctx.out.document(text);
    return;
  }
  const file = resolve(ctx.paths.dir, output);
  const rel = toRel(ctx.paths.dir, file);
  try {
    await writeFileAtomic(file, text);
  } catch (err) {
    const described = describeWriteFailure(err, rel);
    throw isEnvsealError(described) ? described : err;
  }
  ctx.out.json({ ok: true, file: rel, ...summary });
  ctx.out.result(`wrote ${rel}`);
}

function registerSbom(program: Command, context: ContextOf): void {
  program
    .command('sbom')
    .description('write an SBOM of the lock: CycloneDX 1.6 or SPDX 2.3 JSON (base image, apt, Python and npm packages)')
    .option('--format <format>', 'cyclonedx or spdx', 'cyclonedx')
    .option('-o, --output <file>', 'write it to this file (relative to the project directory) instead of stdout')
    .addHelpText('after', '\nExamples:\n  envseal sbom > sbom.cdx.json\n  envseal sbom --format spdx -o sbom.spdx.json')
    .action(async (opts: { format: string; output?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const { generateSbom, parseSbomFormat } = await import('../app/sbom.js');
      const format = parseSbomFormat(opts.format);
      const { text, model, warnings } = await generateSbom(ctx.paths, { format, toolVersion: TOOL_VERSION });
      for (const w of warnings) ctx.out.logger.warn(w);
      await emitDocument(ctx, text, opts.output, { format, fingerprint: model.root.fingerprint, components: model.components.length });
    });
}
