/**
 * The target of a platform after the primary one. Probed for real in that platform's own image when the engine
 * can run it (an arm64 image on an amd64 engine runs under qemu user emulation, Debian's qemu-user-static with
 * a binfmt_misc handler); when it cannot (the kernel refuses the image's binaries: "exec format error"), derived
 * from the primary platform's probe (derive-target.ts), with a warning that says so. The lock records which
 * in the platform's `targetDerivedFrom`: the platform itself when probed, the primary platform when derived.
 */
import type { ContainerEngine, Logger } from '../../core/ports.js';
import type { LockedBase, TargetProbe } from '../../core/ground.js';
import { externalError, isEnvsealError } from '../../core/errors.js';
import { ensurePlatformImage, platformImageRef } from '../../core/platform-image.js';
import { probeTarget } from './probe-target.js';
import { deriveTarget, platformMachine } from './derive-target.js';

export interface PlatformTarget {
  target: TargetProbe;
  /** The platform whose probe gave the target: `base.platform` itself when probed in its own image. */
  derivedFrom: string;
}

export interface PlatformProbeRequest {
  /** The platform's base (its own manifest: `platformDigest`). */
  base: LockedBase;
  interpreter: string | null;
  primary: { platform: string; target: TargetProbe };
  signal?: AbortSignal;
}

/** What the kernel (or qemu) says when it cannot execute a binary of another architecture. */
const CANNOT_EXECUTE = /exec format error/i;

export async function probePlatformTarget(engine: ContainerEngine, logger: Logger, request: PlatformProbeRequest): Promise<PlatformTarget> {
  const { base, primary, signal } = request;
  const platform = base.platform;
  const ref = platformImageRef(base);
  const derive = () => ({ target: deriveTarget(primary.target, primary.platform, platform), derivedFrom: primary.platform });
  // An architecture envseal does not know is refused by the derivation (exit 2) before anything is pulled.
  const expected = platformMachine(platform);
  if (!expected) return derive();
  await ensurePlatformImage(engine, logger, { ref, platform, ...(signal ? { signal } : {}) });
  logger.progress(`probing ${ref} (${platform})`);
  let target: TargetProbe;
  try {
    target = await probeTarget(engine, ref, request.interpreter, signal);
  } catch (err) {
    if (!isEnvsealError(err) || err.code !== 'probe.failed' || !err.details.some((line) => CANNOT_EXECUTE.test(line))) throw err;
    logger.warn(
      `the engine cannot run ${platform} images (${err.details.find((line) => CANNOT_EXECUTE.test(line))!.trim()}): ` +
        `the ${platform} target is derived from the ${primary.platform} probe, not observed ` +
        `(install qemu-user-static and register its binfmt handler with the F flag to probe it in its own image)`,
    );
    return derive();
  }
  if (target.machine !== expected) {
    throw externalError('probe.platform-mismatch', `the ${platform} image ${ref} ran as ${target.machine}, not ${expected}`, {
      hint: `check the image index entry for ${platform}: its image must be built for that platform`,
    });
  }
  return { target, derivedFrom: platform };
}
