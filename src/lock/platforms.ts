/**
 * Several platforms in one lock: the top-level base, target and sections are the primary platform's (the
 * first the spec names); `platforms` holds the others. These helpers list the locked platforms and give the
 * lock as one platform sees it, so rendering, the SBOM and builds stay single-platform code. Pure.
 */
import { inputError } from '../core/errors.js';
import { ECOSYSTEMS, isPerPlatform } from '../ecosystems/registry.js';
import type { DeclaredInputs, Lock } from './schema.js';

/** The platforms a declared `platform` names, primary first. */
export function platformList(platform: DeclaredInputs['platform']): string[] {
  return typeof platform === 'string' ? [platform] : [...platform];
}

/** A one-entry list is the same input as the plain string (same input hash as `platform: linux/amd64`). */
export function declaredPlatform(platform: string | string[]): DeclaredInputs['platform'] {
  return typeof platform === 'string' ? platform : platform.length === 1 ? platform[0]! : [...platform];
}

/** The platforms a lock holds, primary first. */
export function lockedPlatforms(lock: Lock): string[] {
  return [lock.base.platform, ...Object.keys(lock.platforms ?? {}).filter((p) => p !== lock.base.platform)];
}

/** OS and architecture decide; the variant (`arm64/v8`) does not. */
function samePlatform(a: string, b: string): boolean {
  const osArch = (p: string) => p.toLowerCase().split('/').slice(0, 2).join('/');
  return osArch(a) === osArch(b);
}

/**
 * The lock as `platform` sees it (the primary platform when none is asked for): that platform's base, target
 * and per-platform sections in the top-level places. A platform the lock does not hold is refused (exit 2)
 * with the locked platforms named: before anything is rendered or built.
 */
export function lockForPlatform(lock: Lock, platform: string | undefined, lockFile: string, command: string): Lock {
  if (!platform || samePlatform(platform, lock.base.platform)) return lock;
  const name = Object.keys(lock.platforms ?? {}).find((p) => samePlatform(p, platform));
  if (name === undefined) {
    const locked = lockedPlatforms(lock);
    throw inputError(
      `${command}.platform-not-locked`,
      `--platform ${platform}: ${lockFile} is locked for ${locked.join(', ')}${locked.length === 1 ? ' only' : ''}`,
      {
        hint: `add ${platform} to \`platform:\` in the spec (e.g. \`platform: [${[...locked, platform].join(', ')}]\`) and run \`envseal lock\``,
        data: { requested: platform, locked },
      },
    );
  }
  const entry = lock.platforms![name]!;
  const view: Record<string, unknown> = { ...lock, base: entry.base, target: entry.target };
  for (const wing of ECOSYSTEMS) if (isPerPlatform(wing)) view[wing.id] = (entry as Record<string, unknown>)[wing.id] ?? null;
  return view as Lock;
}
