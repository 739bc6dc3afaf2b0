/**
 * The target of a platform the engine cannot run (no qemu binfmt handler, see probe-platform.ts): derived from the probe of the primary platform of
 * the same base reference. The assumption, stated in docs/lock-format.md: the entries of a multi-platform image
 * index are builds of the same distribution release, so OS, libc version, interpreter version, ABI flags and
 * PATH are the same and only the architecture differs (true for the official python and debian images, which
 * build every architecture from one Dockerfile). The entry records which platform it was derived from. Pure.
 */
import { inputError } from '../../core/errors.js';
import type { TargetProbe } from '../../core/ground.js';

/** Go/OCI architecture (with variant) → Debian's dpkg architecture and the kernel's `uname -m`. */
const ARCHITECTURES: Record<string, { dpkg: string; machine: string }> = {
  amd64: { dpkg: 'amd64', machine: 'x86_64' },
  arm64: { dpkg: 'arm64', machine: 'aarch64' },
  'arm/v7': { dpkg: 'armhf', machine: 'armv7l' },
  'arm/v6': { dpkg: 'armel', machine: 'armv6l' },
  '386': { dpkg: 'i386', machine: 'i686' },
  ppc64le: { dpkg: 'ppc64el', machine: 'ppc64le' },
  s390x: { dpkg: 's390x', machine: 's390x' },
  riscv64: { dpkg: 'riscv64', machine: 'riscv64' },
};

function archOf(platform: string): { dpkg: string; machine: string } | undefined {
  const [, arch = '', variant] = platform.toLowerCase().split('/');
  if (arch === 'arm64' && (variant === undefined || variant === 'v8')) return ARCHITECTURES.arm64;
  if (arch === 'arm') return ARCHITECTURES[`arm/${variant ?? 'v7'}`];
  return ARCHITECTURES[arch];
}

/** `uname -m` of a platform's containers (`aarch64` for linux/arm64), or undefined for an architecture envseal does not know. */
export function platformMachine(platform: string): string | undefined {
  return archOf(platform)?.machine;
}

/** The probe of `from` (the primary platform) turned into the target of `platform`. */
export function deriveTarget(probe: TargetProbe, from: string, platform: string): TargetProbe {
  const want = archOf(platform);
  const have = archOf(from);
  if (!want || !have) {
    throw inputError('lock.platform-unknown', `cannot lock for platform ${platform}: envseal does not know the architecture of ${!want ? platform : from}`, {
      hint: `use one of ${Object.keys(ARCHITECTURES)
        .map((a) => `linux/${a}`)
        .join(', ')}`,
    });
  }
  // Without dpkg the probe reports `uname -m` as the architecture; keep that convention.
  const architecture = probe.architecture === probe.machine ? want.machine : want.dpkg;
  const python = probe.python
    ? {
        ...probe.python,
        soabi: probe.python.soabi ? probe.python.soabi.split(have.machine).join(want.machine) : probe.python.soabi,
        markers: { ...probe.python.markers, platform_machine: want.machine },
      }
    : null;
  return { ...probe, architecture, machine: want.machine, python };
}
