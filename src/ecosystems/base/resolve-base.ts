/**
 * The base image: tag → digest for the spec's platform, through the registry port. Every wing resolves and
 * renders on top of what this pins (and of the probe of it, probe-target.ts).
 */
import type { ImageRegistry, Logger } from '../../core/ports.js';
import type { LockedBase } from '../../core/ground.js';
import { formatImageName, formatPinnedImageRef, parseImageRef } from '../../core/image-ref.js';

export async function resolveBase(registry: ImageRegistry, logger: Logger, reference: string, platform: string): Promise<LockedBase> {
  const ref = parseImageRef(reference);
  const [os = 'linux', architecture = 'amd64', variant] = platform.split('/');
  logger.progress(`resolving base image ${reference} (${platform})`);
  const resolved = await registry.resolveImage(ref, { os, architecture, ...(variant ? { variant } : {}) });
  return {
    reference,
    repository: formatImageName(ref),
    ...(ref.tag ? { tag: ref.tag } : {}),
    digest: resolved.digest,
    mediaType: resolved.mediaType,
    platformDigest: resolved.platformDigest,
    ...(resolved.configDigest ? { configDigest: resolved.configDigest } : {}),
    platform,
    pinned: formatPinnedImageRef(ref, resolved.digest),
  };
}
