/** sbom, provenance and `record show`: documents about a lock, a build or a run, for other tools to read. */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { TargetName } from '../core/image-contract.js';
import { describeWriteFailure, writeFileAtomic } from '../core/atomic-write.js';
import { inputError, isEnvsealError } from '../core/errors.js';
import { canonicalJson } from '../core/canonical-json.js';
import { toRel } from '../core/paths.js';
import { TOOL_VERSION } from '../core/version.js';
import type { CommandContext } from './context.js';

type ContextOf = (cmd: Command) => CommandContext;

export function registerAttestCommands(program: Command, context: ContextOf): void {
  registerSbom(program, context);
  registerProvenance(program, context);
  registerRecord(program, context);
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
    .addOption(
      new Option('--target <target>', 'only what an image of this target holds (default: both targets, each component saying which)').choices([
        'dev',
        'deploy',
      ]),
    )
    .option('-o, --output <file>', 'write it to this file (relative to the project directory) instead of stdout')
    .addHelpText('after', '\nExamples:\n  envseal sbom > sbom.cdx.json\n  envseal sbom --format spdx -o sbom.spdx.json')
    .action(async (opts: { format: string; target?: TargetName; output?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const { generateSbom, parseSbomFormat } = await import('../app/sbom.js');
      const format = parseSbomFormat(opts.format);
      const { text, model, warnings } = await generateSbom(ctx.paths, { format, toolVersion: TOOL_VERSION, ...(opts.target ? { target: opts.target } : {}) });
      for (const w of warnings) ctx.out.logger.warn(w);
      await emitDocument(ctx, text, opts.output, { format, fingerprint: model.root.fingerprint, components: model.components.length });
    });
}

function registerProvenance(program: Command, context: ContextOf): void {
  program
    .command('provenance')
    .description('write SLSA provenance v1 (an in-toto statement) for the last image `envseal build` made of a target')
    .addOption(new Option('--target <target>', 'the build record of this target (.envseal/builds/<target>.json)').choices(['dev', 'deploy']).default('deploy'))
    .option('--build-record <file>', 'a build record file instead (relative to the current directory)')
    .option('-o, --output <file>', 'write it to this file (relative to the project directory) instead of stdout')
    .addHelpText('after', '\nExamples:\n  envseal build --target deploy && envseal provenance -o provenance.intoto.json')
    .action(async (opts: { target: TargetName; buildRecord?: string; output?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const { generateProvenance } = await import('../app/provenance.js');
      const { text, statement, warnings } = await generateProvenance(ctx.paths, {
        target: opts.target,
        ...(opts.buildRecord ? { buildRecord: resolve(ctx.io.cwd, opts.buildRecord) } : {}),
        toolVersion: TOOL_VERSION,
      });
      for (const w of warnings) ctx.out.logger.warn(w);
      await emitDocument(ctx, text, opts.output, { subject: statement.subject.map((s) => ({ name: s.name, digest: s.digest })) });
    });
}

function registerRecord(program: Command, context: ContextOf): void {
  const record = program.command('record').description('read run records (.envseal/runs/<run-id>.json)');
  record
    .command('show')
    .description('print a run record, or its MLflow tags for a training script to log')
    .argument('<record>', 'a run ID, a record file (.json) or "latest"')
    .option('--format <format>', 'json (the record) or mlflow-tags (key=value lines; a JSON object with --json)', 'json')
    .addHelpText(
      'after',
      '\nExamples:\n  envseal record show latest\n  envseal record show 20261127T225501.123Z-7ZKQ3M9X2D4F8H1J --format mlflow-tags\n  envseal record show latest --format mlflow-tags --json',
    )
    .action(async (which: string, opts: { format: string }, cmd: Command) => {
      const ctx = context(cmd);
      if (opts.format !== 'json' && opts.format !== 'mlflow-tags') {
        throw inputError('usage.record-format', `--format ${opts.format}: unknown record format`, { hint: 'use json or mlflow-tags' });
      }
      const { findRunRecord } = await import('../app/record-show.js');
      const { record: found } = await findRunRecord(ctx.paths.dir, ctx.io.cwd, which);
      if (opts.format === 'json') {
        ctx.out.document(canonicalJson(found));
        return;
      }
      const { mlflowTags } = await import('../record/tracker-tags.js');
      const tags = mlflowTags(found);
      if (ctx.globals.json) ctx.out.document(`${JSON.stringify(tags, null, 2)}\n`);
      else
        ctx.out.document(
          Object.entries(tags)
            .map(([k, v]) => `${k}=${v}\n`)
            .join(''),
        );
    });
}
