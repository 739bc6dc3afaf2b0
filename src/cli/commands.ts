import { resolve } from 'node:path';
import type { Command } from 'commander';
import { checkFailed, inputError } from '../core/errors.js';
import { TOOL_VERSION } from '../core/version.js';
import { toRel } from '../core/paths.js';
import { DEFAULT_DOCKERFILE } from '../core/image-contract.js';
import type { CommandContext } from './context.js';
import { registerExport } from './export-commands.js';
import { registerPipelineCommands } from './pipeline-commands.js';
import { registerBundleCommands } from './bundle-commands.js';
import { registerAttestCommands } from './attest-commands.js';
import { registerReproduce } from './reproduce-command.js';
import { registerSweepCommands } from './sweep-commands.js';

// Use cases and adapters are imported when a command runs, so each command loads only what it uses
// (start-up time is most of a warm `envseal lock`).

type ContextOf = (cmd: Command) => CommandContext;
type SetExit = (code: number) => void;

function parseInstant(value: string): string {
  const t = Date.parse(value);
  if (!/^\d{4}-\d\d-\d\d/.test(value) || Number.isNaN(t)) {
    throw inputError('usage.exclude-newer', `--exclude-newer ${value}: expected an ISO 8601 timestamp such as 2026-11-01T00:00:00Z`);
  }
  return new Date(t).toISOString().replace(/\.000Z$/, 'Z');
}

export function registerCommands(program: Command, context: ContextOf, setExit: SetExit): void {
  registerInit(program, context);
  registerLock(program, context, setExit);
  registerFingerprint(program, context);
  registerGenerate(program, context);
  registerExport(program, context);
  registerPipelineCommands(program, context, setExit);
  registerBundleCommands(program, context, setExit);
  registerAttestCommands(program, context);
  registerReproduce(program, context, setExit);
  registerSweepCommands(program, context, setExit);
}

function registerInit(program: Command, context: ContextOf): void {
  program
    .command('init')
    .description('detect manifests and write a commented envseal.yaml')
    .option('--base <image>', 'base image reference (tag or digest)')
    .option('--name <name>', 'environment name (default: the directory name)')
    .option('--platform <os/arch...>', 'platform to lock for (repeat for several; the first is the primary one; default linux/amd64)')
    .option('--force', 'overwrite an existing spec', false)
    .action(async (opts: { base?: string; name?: string; platform?: string[]; force: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const { initProject } = await import('../app/init-project.js');
      const { detected } = await initProject(ctx.paths, opts);
      const rel = toRel(ctx.paths.dir, ctx.paths.spec);
      ctx.out.json({
        ok: true,
        spec: rel,
        detected: Object.fromEntries(Object.entries(detected).map(([id, f]) => [id, f.found])),
        unused: Object.values(detected).flatMap((f) => f.unused ?? []),
      });
      ctx.out.result(`wrote ${rel}`);
      const found = Object.values(detected).flatMap((f) => f.found);
      ctx.out.log(found.length ? `uses: ${found.join(', ')}` : 'no manifests found: add requirements or apt packages to the spec');
      for (const u of Object.values(detected).flatMap((f) => f.unused ?? []))
        ctx.out.log(`not used: ${u.file} (${u.why}); \`envseal lock\` refuses until it is read or listed under ignore:`);
      ctx.out.log('next: `envseal lock`');
    });
}

function registerLock(program: Command, context: ContextOf, setExit: SetExit): void {
  program
    .command('lock')
    .description('resolve the spec and manifests to exact pins in envseal.lock')
    .option('--check', 'write nothing; exit 1 and list what drifted if the lock is stale', false)
    .option('--upgrade', 'ignore existing pins and resolve everything again (base tag, apt, Python)', false)
    .option('--upgrade-package <name...>', 'resolve these Python packages again, keeping the other pins')
    .option('--exclude-newer <timestamp>', 'ignore Python files uploaded after this ISO 8601 instant (overrides python.excludeNewer)')
    .option('--junit <file>', 'with --check: also write the check as a JUnit XML report, whatever the outcome')
    .addHelpText('after', '\nExamples:\n  envseal lock\n  envseal lock --check --json\n  envseal lock --upgrade-package numpy')
    .action(async (opts: { check: boolean; upgrade: boolean; upgradePackage?: string[]; excludeNewer?: string; junit?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const lockRel = toRel(ctx.paths.dir, ctx.paths.lock);
      const { checkLock, lockEnvironment } = await import('../app/lock-environment.js');
      const { formatDrift } = await import('../core/drift.js');
      if (opts.junit !== undefined && !opts.check) {
        throw inputError('usage.junit', '--junit needs --check: only `envseal lock --check` is a check', { hint: 'run `envseal lock --check --junit FILE`' });
      }
      if (opts.check) {
        const { withJunitCheck } = await import('./junit-report.js');
        await withJunitCheck(ctx, opts.junit, { suite: 'envseal lock --check', name: 'lock-fresh' }, async () => {
          const { lock, drift } = await checkLock(ctx.paths);
          const lines = drift.map(formatDrift);
          if (drift.length) {
            throw checkFailed('lock.stale', `${lockRel} is stale: ${drift.length} input change${drift.length === 1 ? '' : 's'} since it was made`, {
              details: lines,
              hint: 'run `envseal lock` and commit the result',
              data: { lock: lockRel, fingerprint: lock.fingerprint, drift },
            });
          }
          ctx.out.json({ ok: true, lock: lockRel, fingerprint: lock.fingerprint, inputHash: lock.inputHash, drift: [] });
          ctx.out.result(`${lockRel} is up to date (fingerprint ${lock.fingerprint})`);
        });
        return;
      }
      const { createDeps } = await import('./deps.js');
      const { interruptible } = await import('./interrupt.js');
      const lockOptions = {
        upgrade: opts.upgrade,
        ...(opts.upgradePackage ? { upgradePackages: opts.upgradePackage } : {}),
        ...(opts.excludeNewer !== undefined ? { excludeNewer: parseInstant(opts.excludeNewer) } : {}),
      };
      // Ctrl-C stops the probe or apt container (removed), cancels index requests and writes nothing.
      const result = await interruptible(ctx, 'lock', (signal) =>
        lockEnvironment(ctx.paths, { ...createDeps(ctx, { signal }), toolVersion: TOOL_VERSION, signal }, lockOptions),
      );
      if ('interrupted' in result) {
        setExit(result.interrupted);
        return;
      }
      const { lock } = result;
      const { formatCounts, lockCounts } = await import('../app/lock-summary.js');
      ctx.out.json({
        ok: true,
        lock: lockRel,
        status: result.status,
        written: result.written,
        fingerprint: lock.fingerprint,
        previousFingerprint: result.previousFingerprint ?? null,
        base: lock.base.pinned,
        packages: lockCounts(lock),
      });
      const counts = formatCounts(lockCounts(lock));
      if (!result.written) ctx.out.result(`${lockRel} is up to date (fingerprint ${lock.fingerprint})`);
      else ctx.out.result(`${result.status === 'created' ? 'wrote' : 'updated'} ${lockRel}: ${lock.base.pinned}, ${counts}\nfingerprint ${lock.fingerprint}`);
    });
}

function registerFingerprint(program: Command, context: ContextOf): void {
  program
    .command('fingerprint')
    .description("print the lock's environment fingerprint")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const { loadLockFile } = await import('../app/generate-dockerfile.js');
      const { lockCounts } = await import('../app/lock-summary.js');
      const { lock } = await loadLockFile(ctx.paths);
      ctx.out.json({
        ok: true,
        fingerprint: lock.fingerprint,
        lock: toRel(ctx.paths.dir, ctx.paths.lock),
        name: lock.name,
        base: lock.base.pinned,
        platform: lock.base.platform,
        resolvedAt: lock.resolvedAt,
        inputHash: lock.inputHash,
        packages: lockCounts(lock),
      });
      ctx.out.result(lock.fingerprint);
    });
}

function registerGenerate(program: Command, context: ContextOf): void {
  program
    .command('generate')
    .description('render envseal.Dockerfile and the SBOM it copies into the image (envseal.sbom.cdx.json) from the lock')
    .option(
      '-o, --output <file>',
      `Dockerfile to write, relative to the project directory (default: ${DEFAULT_DOCKERFILE}, envseal.<os>-<arch>.Dockerfile with --platform)`,
    )
    .option('--platform <os/arch>', "render for this platform of the lock (default: the lock's first platform)")
    .option('--check', 'write nothing; exit 1 if the file differs from what the lock renders', false)
    .option('--junit <file>', 'with --check: also write the check as a JUnit XML report, whatever the outcome')
    .action(async (opts: { output?: string; platform?: string; check: boolean; junit?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const { checkDockerfile, generateDockerfile, platformOfLock } = await import('../app/generate-dockerfile.js');
      const { platformFileName } = await import('../app/image-sbom.js');
      // The platform is checked against the lock before anything is written (exit 2 naming the locked platforms).
      const platform = opts.platform ? await platformOfLock(ctx.paths, opts.platform) : null;
      const output = resolve(ctx.paths.dir, opts.output ?? platformFileName(DEFAULT_DOCKERFILE, platform));
      const rel = toRel(ctx.paths.dir, output);
      const deps = { ...ctx.templates(), toolVersion: TOOL_VERSION };
      if (opts.junit !== undefined && !opts.check) {
        throw inputError('usage.junit', '--junit needs --check: only `envseal generate --check` is a check', {
          hint: 'run `envseal generate --check --junit FILE`',
        });
      }
      if (opts.check) {
        const { withJunitCheck } = await import('./junit-report.js');
        await withJunitCheck(ctx, opts.junit, { suite: 'envseal generate --check', name: 'dockerfile' }, async () => {
          const rendered = await checkDockerfile(ctx.paths, output, deps, opts.platform);
          const sbomRel = toRel(ctx.paths.dir, rendered.sbom.file);
          ctx.out.json({ ok: true, dockerfile: rel, sbom: sbomRel, fingerprint: rendered.lock.fingerprint });
          ctx.out.result(`${rel} and ${sbomRel} are up to date`);
        });
        return;
      }
      const { written, rendered } = await generateDockerfile(ctx.paths, output, deps, opts.platform);
      const sbomRel = toRel(ctx.paths.dir, rendered.sbom.file);
      ctx.out.json({ ok: true, dockerfile: rel, sbom: sbomRel, written, fingerprint: rendered.lock.fingerprint });
      ctx.out.result(written ? `wrote ${rel} and ${sbomRel} (fingerprint ${rendered.lock.fingerprint})` : `${rel} and ${sbomRel} are up to date`);
    });
}
