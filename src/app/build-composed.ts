/**
 * A reproducible deploy build in two parts (issue 11; image/normalize/compose-image.ts): the engine builds
 * the Dockerfile without the source COPYs that end the deploy stage (the prefix: nothing in it reads the
 * project's files, so an edit leaves it cached and its normalised image is reused without an export), and
 * envseal writes the COPY layers from the context on top. The context sent to the engine leaves out the copied
 * paths the prefix does not read, so a large data directory is not streamed to the engine at all.
 */
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { deployCopy, INSTALL_SOURCE_DATE_EPOCH, sourceDateEpoch } from '../dockerfile/render-dockerfile.js';
import { NotComposable, type ContextCopy } from '../image/normalize/compose-image.js';
import type { BuildContextOptions } from '../image/context/context.js';
import type { ComposeImageOptions } from '../image/normalize/compose-image.js';
import type { Clock, Logger } from '../core/ports.js';
import type { Lock } from '../lock/schema.js';

/** An engine build of a Dockerfile text. */
export interface EngineBuilt {
  imageId: string;
  /** The tag the builder gave it (a scratch tag for a reproducible build). */
  buildTag: string;
  steps: number;
  cachedSteps: number;
}

/** What a build gives: the image, and what the engine did. */
export interface EngineBuild {
  imageId: string;
  /** Empty when not normalised (taken from the image then). */
  diffIds: string[];
  /** When the engine's build ended (normalisation starts). */
  builtAt: number;
  steps: number;
  cachedSteps: number;
}

/** What buildComposed needs of the build (app/build-image.ts). */
export interface ComposedBuildContext {
  dir: string;
  rendered: { text: string; lock: Lock };
  target: string;
  reproducible: boolean;
  tags: string[];
  signal?: AbortSignal | undefined;
  deps: {
    clock: Clock;
    logger: Logger;
    compose?: ((options: Omit<ComposeImageOptions, 'workDir' | 'classic' | 'logger'>) => Promise<{ imageId: string; diffIds: string[] }>) | undefined;
  };
  mark: (phase: string) => void;
  /** The context as the build sends it (the copied files are read from it). */
  context: BuildContextOptions;
  engineBuild: (dockerfile: { text: string; extraIgnore?: string[] }) => Promise<EngineBuilt>;
  /** Normalised prefixes remembered by the key of their inputs: an unchanged prefix is not even sent to the engine. */
  prefixMemo?: {
    key(prefix: string, sources: readonly string[]): Promise<string | undefined>;
    recall(key: string): Promise<{ imageId: string; diffIds: string[]; steps: number; config?: Buffer | undefined } | null>;
    remember(key: string, image: { imageId: string; diffIds: string[]; steps: number }): Promise<void>;
  };
  /** Normalises the build, without tags; with the normalised config bytes when they are known. */
  normalizeBuilt: (built: EngineBuilt) => Promise<{ imageId: string; diffIds: string[]; config?: Buffer | undefined }>;
}

export interface ComposedPlan {
  /** The Dockerfile without the source COPY lines. */
  prefix: string;
  copies: ContextCopy[];
  /** .dockerignore patterns for the prefix build's context: copied paths no prefix instruction reads. */
  extraIgnore: string[];
  /** Context paths the prefix's COPY/ADD instructions read. */
  sources: string[];
  /** Where the deploy stage ends in `prefix` (the stages after it are not built). */
  stageEnd: number;
}

/** The build in two parts, or null when this build is not one for it (then the whole Dockerfile is built). */
export async function buildComposed(ctx: ComposedBuildContext): Promise<EngineBuild | null> {
  const { deps, rendered } = ctx;
  if (!ctx.reproducible || ctx.target !== 'deploy' || !deps.compose) return null;
  const plan = planComposed(rendered.text, rendered.lock.targets.deploy.copy, rendered.lock.workdir);
  if (!plan || !(await copiesAreDirect(ctx.dir, plan.copies))) return null;
  const prefix = await buildPrefix(ctx, plan);
  if (!prefix) return null;
  const { base, builtAt } = prefix;
  const epoch = sourceDateEpoch(rendered.lock);
  try {
    const composed = await deps.compose({
      base: { imageId: base.imageId, config: base.config, diffIds: base.diffIds },
      context: ctx.context,
      copies: plan.copies,
      workdir: rendered.lock.workdir,
      sourceDateEpoch: epoch,
      layerEpoch: INSTALL_SOURCE_DATE_EPOCH,
      tags: ctx.tags,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    return { ...composed, builtAt, steps: prefix.steps + plan.copies.length, cachedSteps: prefix.cachedSteps };
  } catch (err) {
    if (!(err instanceof NotComposable)) throw err;
    deps.logger.debug(`build: ${err.message}; building the whole Dockerfile`);
    return null;
  }
}

/** The normalised prefix: remembered from an earlier build of the same inputs, or built and normalised now. */
async function buildPrefix(
  ctx: ComposedBuildContext,
  plan: ComposedPlan,
): Promise<{ base: { imageId: string; diffIds: string[]; config: Buffer }; builtAt: number; steps: number; cachedSteps: number } | null> {
  const key = await ctx.prefixMemo?.key(plan.prefix, plan.sources);
  const known = key ? await ctx.prefixMemo!.recall(key) : null;
  if (known?.config) {
    ctx.mark(`prefix ${known.imageId} built before from the same inputs`);
    // Every step would have come from the build cache: FROM lines are not cache steps.
    const froms = plan.prefix
      .slice(0, plan.stageEnd)
      .split('\n')
      .filter((line) => /^FROM\s/.test(line)).length;
    const base = { imageId: known.imageId, diffIds: known.diffIds, config: known.config };
    return { base, builtAt: ctx.deps.clock.now().getTime(), steps: known.steps, cachedSteps: known.steps - froms };
  }
  const built = await ctx.engineBuild({ text: plan.prefix, extraIgnore: plan.extraIgnore });
  const builtAt = ctx.deps.clock.now().getTime();
  // The prefix's normalised image gets no tag: the composed image holds its layers (like docker build's leftovers).
  const normalized = await ctx.normalizeBuilt(built);
  ctx.mark('prefix normalised');
  if (!normalized.config) return null;
  if (key) {
    await ctx
      .prefixMemo!.remember(key, { imageId: normalized.imageId, diffIds: normalized.diffIds, steps: built.steps })
      .catch((err: unknown) => ctx.deps.logger.debug(`could not remember the prefix: ${(err as Error).message}`));
  }
  const base = { imageId: normalized.imageId, diffIds: normalized.diffIds, config: normalized.config };
  return { base, builtAt, steps: built.steps, cachedSteps: built.cachedSteps };
}

/** Splits the rendered Dockerfile at the deploy stage's source COPYs (null when it does not end with them). */
export function planComposed(text: string, copy: readonly string[], workdir: string): ComposedPlan | null {
  if (!copy.length) return null;
  const copies = copy.map((p) => deployCopy(p, workdir));
  const block = copies.map((c) => c.line).join('\n');
  const deployAt = text.indexOf(' AS deploy\n');
  const at = text.indexOf(`\n${block}\n`, deployAt);
  if (deployAt < 0 || at < 0) return null;
  const end = at + block.length + 1;
  // Only comments and blank lines may follow in the stage: the COPYs must be its last instructions.
  const nextFrom = text.indexOf('\nFROM ', end);
  const rest = text.slice(end, nextFrom < 0 ? undefined : nextFrom);
  if (rest.split('\n').some((line) => line.trim() && !line.startsWith('#'))) return null;
  const prefix = text.slice(0, at + 1) + text.slice(end + 1);
  const read = copySources(prefix);
  const stageEnd = nextFrom < 0 ? prefix.length : nextFrom - block.length - 1;
  const extraIgnore = copies
    .map((c) => c.source.replace(/^(\.\/)+/, ''))
    .filter(
      (root) =>
        root &&
        root !== '.' &&
        !/[*?[\]\\!#\s]/.test(root) &&
        !read.some((s) => s === root || s.startsWith(`${root}/`) || root.startsWith(`${s}/`) || s === '.'),
    )
    .map((root) => `/${root}`);
  return { prefix, copies, extraIgnore, sources: [...new Set(read)], stageEnd };
}

/** Context paths the Dockerfile's COPY/ADD instructions read (not `--from` ones). */
function copySources(text: string): string[] {
  const sources: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(?:COPY|ADD)\s+(.*)$/.exec(line);
    if (!m || /--from=/.test(m[1]!)) continue;
    const args = m[1]!.trim();
    let parts: string[];
    try {
      parts = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/).filter((a) => !a.startsWith('--'));
    } catch {
      parts = ['.'];
    }
    sources.push(...parts.slice(0, -1).map((s) => s.replace(/^(\.\/)+/, '').replace(/\/+$/, '') || '.'));
  }
  return sources;
}

/** No copied path is, or passes through, a symlink (COPY follows those; a context walk does not). */
async function copiesAreDirect(dir: string, copies: readonly ContextCopy[]): Promise<boolean> {
  const root = await realpath(dir);
  for (const c of copies) {
    const source = c.source.replace(/^(\.\/)+/, '');
    if (!source || source === '.') continue;
    const real = await realpath(join(dir, source)).catch(() => null);
    if (real !== join(root, source)) return false;
  }
  return true;
}
