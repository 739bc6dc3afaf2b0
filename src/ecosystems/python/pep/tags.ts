/**
 * Platform compatibility tags (PEP 425, PEP 600 manylinux, PEP 656 musllinux): which wheels a target
 * interpreter can install, in pip's order of preference.
 * https://packaging.python.org/en/latest/specifications/platform-compatibility-tags/
 *
 * `computeSupportedTags` reproduces `packaging.tags.sys_tags()` for CPython on Linux, computed for a
 * described target instead of the running interpreter (the target is a container image, not this host).
 * pip ranks a wheel by the position of its best tag in that list, so `rankWheel` returning the lowest index
 * lets a resolver pick the same file pip would.
 */
import { inputError } from '../../../core/errors.js';

export interface WheelTag {
  /** e.g. `cp311`, `py3`; lower case. */
  readonly interpreter: string;
  /** e.g. `cp311`, `abi3`, `none`. */
  readonly abi: string;
  /** e.g. `manylinux_2_17_x86_64`, `any`. */
  readonly platform: string;
}

export function formatTag(tag: WheelTag): string {
  return `${tag.interpreter}-${tag.abi}-${tag.platform}`;
}

/**
 * Expands a (possibly compressed) tag set such as `py2.py3-none-any` or
 * `cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64` into its tags (PEP 425 "Compressed Tag Sets").
 * Tags are lower-cased, as `packaging` does. Returns null when the text is not three `-`-separated parts.
 */
export function tryParseTagSet(text: string): WheelTag[] | null {
  const parts = text.split('-');
  if (parts.length !== 3 || parts.some((p) => p === '')) return null;
  const [interpreters, abis, platforms] = parts.map((p) => p.toLowerCase().split('.')) as [string[], string[], string[]];
  const seen = new Set<string>();
  const tags: WheelTag[] = [];
  for (const interpreter of interpreters) {
    for (const abi of abis) {
      for (const platform of platforms) {
        const tag = Object.freeze({ interpreter, abi, platform });
        const key = formatTag(tag);
        if (!seen.has(key)) {
          seen.add(key);
          tags.push(tag);
        }
      }
    }
  }
  return tags;
}

export function parseTagSet(text: string): WheelTag[] {
  const tags = tryParseTagSet(text);
  if (!tags) {
    throw inputError('wheel.tag.invalid', `invalid wheel tag ${JSON.stringify(text)}`, {
      hint: 'a tag has three parts, interpreter-abi-platform, e.g. cp311-cp311-manylinux_2_17_x86_64 or py3-none-any',
    });
  }
  return tags;
}

export interface TargetLibc {
  kind: 'glibc' | 'musl';
  /** [major, minor], e.g. [2, 36] for glibc 2.36 (Debian 12), [1, 2] for musl 1.2. */
  version: readonly [number, number];
}

/** The interpreter a lock is made for, as the target probe reports it. */
export interface TargetInterpreter {
  implementation: 'cpython';
  /** [major, minor], e.g. [3, 11]. */
  pythonVersion: readonly [number, number];
  /**
   * `sys.abiflags`: '' for a normal build of 3.8+, 'm' for 3.7 and older (pymalloc), 'd' debug, 't'
   * free-threaded (3.13+).
   */
  abiFlags?: string;
  /** `platform.machine()`: x86_64, aarch64, i686, armv7l, ppc64le, s390x, riscv64, ... */
  machine: string;
  /** The C library the interpreter is linked against; null when neither glibc nor musl (no manylinux). */
  libc: TargetLibc | null;
}

/** Architectures `packaging` allows manylinux tags for (besides the 32-bit i686 and armv7l, see below). */
const MANYLINUX_ARCHS = new Set(['x86_64', 'aarch64', 'ppc64', 'ppc64le', 's390x', 'loongarch64', 'riscv64', 'i686', 'armv7l']);

/** PEP 600's aliases for the glibc versions of PEP 513, 571 and 599. */
const LEGACY_MANYLINUX: ReadonlyMap<string, string> = new Map([
  ['2_17', 'manylinux2014'],
  ['2_12', 'manylinux2010'],
  ['2_5', 'manylinux1'],
]);

/**
 * If glibc ever gets a major version 3, every 2.x is compatible; `packaging` assumes 2.50 was the last
 * minor. Kept identical so that the tag list stays identical.
 */
const LAST_GLIBC_MINOR = 50;

function checkTarget(target: TargetInterpreter): void {
  const [major, minor] = target.pythonVersion;
  const problems: string[] = [];
  if (target.implementation !== 'cpython') {
    problems.push(`implementation ${JSON.stringify(target.implementation)} is not supported (only cpython)`);
  }
  if (!Number.isInteger(major) || !Number.isInteger(minor) || major < 3 || minor < 0) {
    problems.push(`python version ${target.pythonVersion.join('.')} is not a Python 3 version`);
  }
  if (!/^[A-Za-z0-9_.\- ]+$/.test(target.machine)) {
    problems.push(`machine ${JSON.stringify(target.machine)} is not a machine name`);
  }
  if (target.abiFlags !== undefined && !/^[a-z]*$/.test(target.abiFlags)) {
    problems.push(`abi flags ${JSON.stringify(target.abiFlags)} are not sys.abiflags`);
  }
  if (target.libc && !target.libc.version.every((n) => Number.isInteger(n) && n >= 0)) {
    problems.push(`libc version ${target.libc.version.join('.')} is not two whole numbers`);
  }
  if (problems.length > 0) {
    throw inputError('tags.target.invalid', `cannot compute wheel tags for this target: ${problems.join('; ')}`, {
      details: problems,
      hint: 'the target needs implementation "cpython", pythonVersion [3, N], the machine from platform.machine() and the libc',
    });
  }
}

/** `linux_<arch>` with `.`, `-` and spaces as `_` (sysconfig.get_platform() normalised), plus common aliases. */
function linuxArchitectures(machine: string): string[] {
  let arch = machine.replace(/[.\- ]/g, '_');
  // Docker and Go name these amd64/arm64; the kernel (uname -m), and so wheel tags, say x86_64/aarch64.
  if (arch === 'amd64') arch = 'x86_64';
  if (arch === 'arm64') arch = 'aarch64';
  // A 32-bit ARM userland on a 64-bit CPU reports armv8l and runs armv7l wheels too.
  return arch === 'armv8l' ? ['armv8l', 'armv7l'] : [arch];
}

/**
 * The platform tags of a Linux target, best first: manylinux_2_N from the target's glibc down to 2_17
 * (2_5 on x86), each followed by its legacy alias where one exists; musllinux_1_N from the target's musl
 * down to 1_0; then linux_<arch>.
 */
export function computeLinuxPlatformTags(target: TargetInterpreter): string[] {
  const archs = linuxArchitectures(target.machine);
  const tags: string[] = [];
  const libc = target.libc;
  if (libc?.kind === 'glibc' && archs.some((a) => MANYLINUX_ARCHS.has(a))) {
    const [major, minor] = libc.version;
    // glibc older than 2.17 was never supported outside x86 (PEP 599).
    const tooOld = archs.some((a) => a === 'x86_64' || a === 'i686') ? [2, 4] : [2, 16];
    const maxima: [number, number][] = [[major, minor]];
    for (let m = major - 1; m > 1; m--) maxima.push([m, LAST_GLIBC_MINOR]);
    for (const arch of archs) {
      for (const [maxMajor, maxMinor] of maxima) {
        const minMinor = maxMajor === tooOld[0] ? tooOld[1]! : -1;
        for (let m = maxMinor; m > minMinor; m--) {
          tags.push(`manylinux_${maxMajor}_${m}_${arch}`);
          const legacy = LEGACY_MANYLINUX.get(`${maxMajor}_${m}`);
          if (legacy) tags.push(`${legacy}_${arch}`);
        }
      }
    }
  }
  if (libc?.kind === 'musl') {
    const [major, minor] = libc.version;
    for (const arch of archs) {
      for (let m = minor; m >= 0; m--) tags.push(`musllinux_${major}_${m}_${arch}`);
    }
  }
  for (const arch of archs) tags.push(`linux_${arch}`);
  return tags;
}

/** The interpreter's own ABI tags (packaging's `_cpython_abis`), most specific first. */
function cpythonAbis(target: TargetInterpreter): string[] {
  const [major, minor] = target.pythonVersion;
  const nodot = `${major}${minor}`;
  const flags = target.abiFlags ?? (minor < 8 ? 'm' : '');
  const abis = [`cp${nodot}${flags}`];
  // A debug build (3.8+) also loads extension modules built for the normal ABI.
  if (minor >= 8 && flags.includes('d')) abis.push(`cp${nodot}${flags.replace('d', '')}`);
  return abis;
}

/**
 * Every tag the target supports, best first, in the order of `packaging.tags.sys_tags()` for CPython:
 *   cp3X-<abi>-<plat>…, cp3X-abi3-<plat>…, cp3X-none-<plat>…, cp3(X-1..2)-abi3-<plat>…,
 *   py3X-none-<plat>…, py3-none-<plat>…, py3(X-1..0)-none-<plat>…, cp3X-none-any,
 *   py3X-none-any, py3-none-any, py3(X-1..0)-none-any
 * where each `<plat>…` runs through `computeLinuxPlatformTags`. A free-threaded build ('t') gets no abi3
 * tags (PEP 703: the stable ABI is not available there).
 */
export function computeSupportedTags(target: TargetInterpreter): readonly WheelTag[] {
  checkTarget(target);
  const [major, minor] = target.pythonVersion;
  const platforms = computeLinuxPlatformTags(target);
  const cp = `cp${major}${minor}`;
  const tags: WheelTag[] = [];
  const add = (interpreter: string, abi: string, platform: string): void => {
    tags.push(Object.freeze({ interpreter, abi, platform }));
  };

  const abis = cpythonAbis(target);
  for (const abi of abis) for (const p of platforms) add(cp, abi, p);
  const abi3 = !(target.abiFlags ?? '').includes('t') && (major > 3 || minor >= 2);
  if (abi3) for (const p of platforms) add(cp, 'abi3', p);
  for (const p of platforms) add(cp, 'none', p);
  if (abi3) {
    // abi3 wheels built for an older minor version (the limited API only grows).
    for (let m = minor - 1; m > 1; m--) for (const p of platforms) add(`cp${major}${m}`, 'abi3', p);
  }

  const pyVersions = [`py${major}${minor}`, `py${major}`];
  for (let m = minor - 1; m >= 0; m--) pyVersions.push(`py${major}${m}`);
  for (const py of pyVersions) for (const p of platforms) add(py, 'none', p);
  add(cp, 'none', 'any');
  for (const py of pyVersions) add(py, 'none', 'any');
  return Object.freeze(tags);
}

const rankIndexes = new WeakMap<readonly WheelTag[], Map<string, number>>();

function indexOf(supported: readonly WheelTag[]): Map<string, number> {
  let index = rankIndexes.get(supported);
  if (!index) {
    index = new Map();
    supported.forEach((tag, i) => {
      const key = formatTag(tag);
      if (!index!.has(key)) index!.set(key, i);
    });
    rankIndexes.set(supported, index);
  }
  return index;
}

/**
 * The priority of a wheel for a target: the index in `supported` of the best of the wheel's tags (lower is
 * better; pip's "support index"), or null when none of its tags is supported (the wheel cannot be
 * installed there). `supported` is the list from `computeSupportedTags`; its index is cached per list.
 */
export function rankWheel(filenameTags: readonly WheelTag[], supported: readonly WheelTag[]): number | null {
  const index = indexOf(supported);
  let best: number | null = null;
  for (const tag of filenameTags) {
    const i = index.get(formatTag(tag).toLowerCase());
    if (i !== undefined && (best === null || i < best)) best = i;
  }
  return best;
}
