/**
 * sdists the lock installs: a package whose locked file is a source distribution is built into a wheel at lock
 * time, in a throwaway container of the pinned base image, and again by the Dockerfile's builder stage.
 *
 *   - The build requirements are the sdist's pyproject.toml `[build-system].requires` (PEP 518; without the table
 *     or the key, setuptools' default `setuptools>=40.8.0` and `wheel`, as pip does). They are resolved for the
 *     target like any requirement, from the same indexes, wheels only (a build requirement is never built
 *     itself), and locked with their sha256.
 *   - The build: a fresh venv, the build requirements installed hash-checked (`--require-hashes --only-binary
 *     :all:`), then `pip wheel --no-deps --no-build-isolation --require-hashes` of the sdist pinned by its
 *     sha256, with SOURCE_DATE_EPOCH from the lock (the sdist's upload time, else 1980-01-01) so the wheel's
 *     ZIP timestamps are fixed. Nothing but the locked files can enter the build.
 *   - The lock records the built wheel's sha256; the builder stage checks it (`sha256sum -c`), so a build that
 *     is not reproducible fails the image build instead of installing something else.
 */
import { parse as parseToml } from 'smol-toml';
import { EnvsealError, inputError } from '../../core/errors.js';
import { shellQuote } from '../../core/dockerfile-quote.js';
import { splitUrlCredentials } from '../../core/url-credentials.js';
import { captureContainerOutput } from '../../core/container-output.js';
import { ensurePlatformImage, platformImageRef } from '../../core/platform-image.js';
import type { IndexProject } from '../../core/ports.js';
import type { ResolveContext } from '../types.js';
import type { LockedPythonPackage, PythonSection, SdistBuild } from './schema.js';

/** pip's build requirements for an sdist without `[build-system].requires` (PEP 517 fallback). */
export const DEFAULT_BUILD_REQUIRES = ['setuptools>=40.8.0', 'wheel'];
/** 1980-01-01T00:00:00Z: the earliest time a ZIP entry can hold. */
const ZIP_EPOCH = 315532800;
/** Where the builder stage (and the lock-time build) writes wheels. */
export const BUILT_WHEELS_DIR = '/tmp/envseal-wheels';

/** `[build-system].requires` of an sdist's pyproject.toml text (undefined: the sdist has none). Throws `python.sdist-build`. */
export function buildRequires(pyproject: string | undefined, sdist: string): string[] {
  if (pyproject === undefined) return DEFAULT_BUILD_REQUIRES;
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(pyproject) as Record<string, unknown>;
  } catch (err) {
    throw inputError('python.sdist-build', `${sdist}: its pyproject.toml is not valid TOML: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'pin a version of the project whose sdist (or wheel) is valid',
    });
  }
  const table = doc['build-system'] as Record<string, unknown> | undefined;
  const requires = table?.requires;
  if (requires === undefined) return DEFAULT_BUILD_REQUIRES;
  if (!Array.isArray(requires) || requires.some((r) => typeof r !== 'string')) {
    throw inputError('python.sdist-build', `${sdist}: [build-system].requires in its pyproject.toml is not a list of strings`, {
      hint: 'pin a version of the project whose sdist (or wheel) is valid',
    });
  }
  // setuptools' backend asks for `wheel` through its get_requires_for_build_wheel hook (before setuptools 70.1);
  // envseal does not run that hook, so it adds what the hook would.
  const backend = typeof table?.['build-backend'] === 'string' ? table['build-backend'] : 'setuptools.build_meta:__legacy__';
  const names = (requires as string[]).map((r) =>
    /^\s*([A-Za-z0-9._-]+)/
      .exec(r)?.[1]
      ?.toLowerCase()
      .replace(/[-_.]+/g, '-'),
  );
  if (backend.startsWith('setuptools.build_meta') && !names.includes('wheel')) return [...(requires as string[]), 'wheel'];
  return requires as string[];
}

/** SOURCE_DATE_EPOCH of a build: the sdist's upload time when the index gives one, else 1980-01-01. */
export function buildEpoch(uploadTime: string | undefined): number {
  const t = uploadTime ? Date.parse(uploadTime) : NaN;
  return Number.isNaN(t) ? ZIP_EPOCH : Math.max(ZIP_EPOCH, Math.floor(t / 1000));
}

/**
 * The shell commands (joined by ` && `) that build `pkg`'s sdist into BUILT_WHEELS_DIR: the same text runs at lock
 * time and in the builder stage.
 */
export function buildCommands(
  py: Pick<PythonSection, 'interpreter' | 'indexes'>,
  pkg: LockedPythonPackage,
  build: Pick<SdistBuild, 'deps' | 'sourceDateEpoch'>,
): string[] {
  const [first, ...extra] = py.indexes.map((u) => splitUrlCredentials(u).url);
  const indexArgs = [first ? `--index-url ${shellQuote(first)}` : '--no-index', ...extra.map((u) => `--extra-index-url ${shellQuote(u)}`)].join(' ');
  const venv = `/tmp/envseal-build/${pkg.name}`;
  const deps = build.deps.map((d) => shellQuote(`${d.name}==${d.version} --hash=sha256:${d.file.sha256}`)).join(' ');
  const sdist = shellQuote(`${pkg.name}==${pkg.version} --hash=sha256:${pkg.file.sha256}`);
  return [
    `${shellQuote(py.interpreter)} -m venv ${venv}`,
    `printf '%s\\n' ${deps} > ${venv}/build-requirements.txt`,
    `${venv}/bin/python -m pip install --no-input --no-deps --require-hashes --only-binary :all: ${indexArgs} -r ${venv}/build-requirements.txt`,
    `printf '%s\\n' ${sdist} > ${venv}/sdist.txt`,
    `SOURCE_DATE_EPOCH=${build.sourceDateEpoch} ${venv}/bin/python -m pip wheel --no-input --no-deps --no-build-isolation --require-hashes --no-binary ${pkg.name} ${indexArgs} -w ${BUILT_WHEELS_DIR} -r ${venv}/sdist.txt`,
  ];
}

/**
 * Adds `build` to every package whose file is an sdist: its build requirements resolved and locked, and the wheel
 * built once in the base image to record its sha256. Throws `python.sdist-build` (exit 2).
 */
export async function lockSdistBuilds(
  packages: LockedPythonPackage[],
  py: Pick<PythonSection, 'interpreter' | 'indexes' | 'excludeNewer'>,
  ctx: ResolveContext<PythonSection>,
): Promise<LockedPythonPackage[]> {
  const out: LockedPythonPackage[] = [];
  for (const p of packages) {
    if (p.file.filename.endsWith('.whl')) out.push(p);
    else out.push({ ...p, build: await lockOne(p, py, ctx) });
  }
  return out;
}

async function lockOne(
  p: LockedPythonPackage,
  py: Pick<PythonSection, 'interpreter' | 'indexes' | 'excludeNewer'>,
  ctx: ResolveContext<PythonSection>,
): Promise<SdistBuild> {
  const what = `${p.name} ${p.version} (${p.file.filename})`;
  ctx.logger.progress(`building ${what} in the base image to lock the wheel it gives`);
  const requires = buildRequires(await readSdistPyproject(p, ctx), p.file.filename);
  const deps = await resolveBuildDeps(requires, what, py, ctx);
  const build = { requires, sourceDateEpoch: buildEpoch(p.file.uploadTime), deps };
  const script = [...buildCommands(py, p, build), `cd ${BUILT_WHEELS_DIR}`, 'sha256sum -- *.whl'].join(' && ');
  // The image of exactly this platform (by its manifest digest): an sdist locked for arm64 is built in the arm64
  // image, under emulation on an amd64 engine, whatever image the index reference names locally.
  const image = platformImageRef(ctx.ground.base);
  await ensurePlatformImage(ctx.engine, ctx.logger, { ref: image, platform: ctx.ground.base.platform, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  const run = await captureContainerOutput(ctx.engine, {
    image,
    cmd: ['/bin/sh', '-c', script],
    networkMode: 'host',
    user: '0',
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const wheels = run.stdout
    .split('\n')
    .map((l) => /^([0-9a-f]{64}) [ *](\S+\.whl)$/.exec(l.trim()))
    .filter((m) => m !== null);
  if (run.exitCode !== 0 || wheels.length !== 1) {
    const tail = `${run.stdout}\n${run.stderr}`.trim().split('\n').slice(-15);
    throw inputError(
      'python.sdist-build',
      run.exitCode !== 0
        ? `building ${what} into a wheel in the base image ${ctx.ground.base.reference} (${ctx.ground.base.platform}) failed (exit ${run.exitCode})`
        : `building ${what} gave ${wheels.length} wheels, not one`,
      { details: tail, hint: `pin a version of ${p.name} that has a wheel for this target, or fix the sdist's build` },
    );
  }
  return { ...build, wheel: { filename: wheels[0]![2]!, sha256: wheels[0]![1]! } };
}

async function readSdistPyproject(p: LockedPythonPackage, ctx: ResolveContext<PythonSection>): Promise<string | undefined> {
  if (!ctx.index.getFile) throw inputError('python.sdist-build', `cannot fetch ${p.file.filename}: this index client cannot download files`);
  const project: IndexProject = { index: p.index, name: p.name, files: [] };
  const data = await ctx.index.getFile(project, {
    filename: p.file.filename,
    url: p.file.url,
    hashes: { sha256: p.file.sha256 },
    yanked: false,
    coreMetadata: false,
  });
  const { readSdistTopFile, ArchiveError } = await import('./index-client/python-archive.js');
  try {
    return await readSdistTopFile(data, p.file.filename, 'pyproject.toml');
  } catch (err) {
    if (err instanceof ArchiveError)
      throw inputError('python.sdist-build', `cannot read ${p.file.filename}: ${err.message}`, { hint: `pin another version of ${p.name}` });
    throw err;
  }
}

async function resolveBuildDeps(
  requires: string[],
  what: string,
  py: Pick<PythonSection, 'indexes' | 'excludeNewer'>,
  ctx: ResolveContext<PythonSection>,
): Promise<SdistBuild['deps']> {
  const { resolvePython } = await import('./resolver/resolve-python.js');
  try {
    const result = await resolvePython(
      {
        requirements: requires.map((r) => ({
          requirement: r,
          hashes: [],
          source: `${what} [build-system]`,
          kind: 'requirement' as const,
          targets: ['deploy' as const],
        })),
        indexes: py.indexes,
        target: ctx.ground.target,
        options: { onlyBinary: [':all:'], ...(py.excludeNewer ? { excludeNewer: py.excludeNewer } : {}) },
      },
      { index: ctx.index, logger: ctx.logger },
    );
    return result.packages
      .map((d) => ({ name: d.name, version: d.version, file: d.file, index: d.index }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    if (!(err instanceof EnvsealError) || err.kind !== 'input') throw err;
    throw inputError('python.sdist-build', `cannot lock the build requirements of ${what} (${requires.join(', ')}): ${err.message}`, {
      details: err.details,
      hint: 'envseal installs build requirements as wheels from the locked indexes: publish them there, or pin a version that has a wheel',
    });
  }
}
