/**
 * The key of a reproducible build: a digest of everything the image is made from, so that a repeat `build`
 * of unchanged inputs can take the image built last time instead of asking the engine to build (issue 11: a
 * repeat build in a fraction of a full one, whichever chain of intermediate images the engine's cache would
 * pick). The image is a function of these inputs: that is what a reproducible build means, and what
 * `verify --rebuild` (always a clean build) checks.
 *
 * In the key: the rendered Dockerfile (base digest, SOURCE_DATE_EPOCH, every locked package and hash, the
 * lock and SBOM digests in its labels), the target, platform and network, the build args the image can see
 * (never the index credentials: they do not change the image and must not be written anywhere), the content
 * digest of the copied paths, and what the context makes of them: every entry the build context sends under
 * a copied path (after `.dockerignore`), with its kind, the mode the context gives it (executable or not) and
 * a symlink's target. Anything else the context holds is never copied into the image.
 */
import { lstat } from 'node:fs/promises';
import { canonicalJson, sha256Hex } from '../core/canonical-json.js';
import { walkBuildContext, type BuildContextOptions } from '../image/context/context.js';

export interface BuildKeyInputs {
  dockerfile: string;
  target: string;
  platform: string | null;
  network: string;
  /** Build args that reach the image (the credentials arg left out by the caller). */
  buildArgs: Record<string, string>;
  /** computeSourceDigest of the copied paths (their content). */
  sourceDigest: string;
  /** The paths the image copies from the context (targets.deploy.copy). */
  copy: readonly string[];
  /** The context as the build sends it. */
  context: BuildContextOptions;
}

export async function computeBuildKey(inputs: BuildKeyInputs): Promise<string> {
  const roots = inputs.copy.map((p) => p.replace(/^\.\/+/, '').replace(/\/+$/, ''));
  const copied = (path: string) => roots.some((root) => root === '.' || root === '' || path === root || path.startsWith(`${root}/`));
  const entries: string[] = [];
  for await (const entry of walkBuildContext(inputs.context)) {
    if (!copied(entry.path)) continue;
    if (entry.kind === 'file') {
      const stats = await lstat(entry.absolutePath);
      entries.push(`file ${stats.mode & 0o111 ? 'x' : '-'} ${stats.size} ${entry.path}`);
    } else if (entry.kind === 'symlink') {
      entries.push(`symlink ${entry.path} -> ${entry.target}`);
    } else if (entry.kind === 'generated') {
      entries.push(`generated ${entry.executable ? 'x' : '-'} ${sha256Hex(entry.content)} ${entry.path}`);
    } else {
      entries.push(`${entry.kind} ${entry.path}`);
    }
  }
  const { context: _context, copy, ...rest } = inputs;
  return `sha256:${sha256Hex(canonicalJson({ keyVersion: 1, ...rest, copy: [...copy], contextEntries: entries }))}`;
}
