/**
 * The local image of one platform under a reference to a multi-platform index. The engine's classic image
 * store keeps one image per reference: after pulling `repo@sha256:<index>` for linux/arm64, that reference names
 * the arm64 image, and the classic builder's FROM and a container of it take it whatever platform is asked
 * for. Before probing or building a platform, the reference is made that platform's image again: untagged and
 * pulled for that platform (layers still in the store are not fetched again). Engine-neutral, through the port.
 */
import type { ContainerEngine, Logger } from './ports.js';
import type { LockedBase } from './ground.js';

/** The image of exactly one platform: the repository at the platform's manifest digest (not the index's). */
export function platformImageRef(base: Pick<LockedBase, 'repository' | 'platformDigest'>): string {
  return `${base.repository}@${base.platformDigest}`;
}

export interface PlatformImageRequest {
  ref: string;
  /** `os/arch[/variant]`, as the lock names it. */
  platform: string;
  signal?: AbortSignal;
}

/** Pulls `ref` for `platform` unless the engine already holds that platform's image under it. */
export async function ensurePlatformImage(engine: ContainerEngine, logger: Logger, request: PlatformImageRequest): Promise<void> {
  const { ref, platform, signal } = request;
  const [os = 'linux', architecture = 'amd64'] = platform.toLowerCase().split('/');
  // Ctrl-C must not wait for an engine that does not answer: the request is cancelled (its socket closed, so
  // nothing keeps the process alive), and a port that ignores the signal is not waited for either.
  const info = await untilAborted(engine.inspectImage(ref, signal ? { signal } : undefined), signal);
  if (info && (info.architecture ?? architecture) === architecture && (info.os ?? os) === os) return;
  logger.progress(
    info
      ? `pulling ${ref} for ${platform} (the engine holds its ${info.os ?? '?'}/${info.architecture ?? '?'} image under that reference)`
      : `pulling ${ref} (${platform})`,
  );
  // The engine refuses to point a digest reference at another image ("Cannot overwrite digest"): drop the
  // reference first (force: untag even when a container uses the image, which then stays as it is).
  if (info) await engine.removeImage(ref, { force: true, noprune: true });
  await engine.pullImage(ref, { platform, ...(signal ? { signal } : {}) });
}

/** `work`, or a rejection with the signal's reason as soon as it fires (the work itself is not stopped). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}
