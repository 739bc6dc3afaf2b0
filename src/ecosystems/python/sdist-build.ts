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
import { EnvsealError, inputError, internalError } from '../../core/errors.js';
import { shellQuote } from '../../core/dockerfile-quote.js';
import { splitUrlCredentials } from '../../core/url-credentials.js';
import { captureContainerOutput } from '../../core/container-output.js';
import { ensurePlatformImage, platformImageRef } from '../../core/platform-image.js';
import type { IndexProject } from '../../core/ports.js';
import { Readable } from 'node:stream';
import type { ResolveContext } from '../types.js';
import type { SdistToBuild } from './resolver/types.js';
import type { LockedPythonPackage, PythonSection, SdistBuild } from './schema.js';
import { parseLockedGitUrl, vcsArchiveInBuild } from './manifests/vcs-url.js';

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

/** What an sdist build needs of a package: a locked package, or an sdist the resolver is still deciding on. */
export type SdistPackage = Pick<LockedPythonPackage, 'name' | 'version' | 'index' | 'file' | 'direct'>;

/**
 * The shell commands (joined by ` && `) that build `pkg`'s sdist into BUILT_WHEELS_DIR: the same text runs at lock
 * time and in the builder stage. An sdist required by URL is fetched from that URL (pip checks its hash).
 */
export function buildCommands(
  py: Pick<PythonSection, 'interpreter' | 'indexes'>,
  pkg: SdistPackage,
  build: Pick<SdistBuild, 'deps' | 'sourceDateEpoch' | 'scmVersion'>,
): string[] {
  const [first, ...extra] = py.indexes.map((u) => splitUrlCredentials(u).url);
  const indexArgs = [first ? `--index-url ${shellQuote(first)}` : '--no-index', ...extra.map((u) => `--extra-index-url ${shellQuote(u)}`)].join(' ');
  const venv = `/tmp/envseal-build/${pkg.name}`;
  const deps = build.deps.map((d) => shellQuote(`${d.name}==${d.version} --hash=sha256:${d.file.sha256}`)).join(' ');
  const sdist = shellQuote(`${sdistSource(pkg)} --hash=sha256:${pkg.file.sha256}`);
  const scm = build.scmVersion !== undefined ? `SETUPTOOLS_SCM_PRETEND_VERSION=${shellQuote(build.scmVersion)} ` : '';
  return [
    `${shellQuote(py.interpreter)} -m venv ${venv}`,
    `printf '%s\\n' ${deps} > ${venv}/build-requirements.txt`,
    `${venv}/bin/python -m pip install --no-input --no-deps --require-hashes --only-binary :all: ${indexArgs} -r ${venv}/build-requirements.txt`,
    `printf '%s\\n' ${sdist} > ${venv}/sdist.txt`,
    `SOURCE_DATE_EPOCH=${build.sourceDateEpoch} ${scm}${venv}/bin/python -m pip wheel --no-input --no-deps --no-build-isolation --require-hashes --no-binary ${pkg.name} ${indexArgs} -w ${BUILT_WHEELS_DIR} -r ${venv}/sdist.txt`,
  ];
}

/**
 * What pip builds: a git package's archive copied into the build (vcs.ts), an sdist pinned by URL from that URL,
 * else the index's sdist by version.
 */
function sdistSource(pkg: SdistPackage): string {
  const git = parseLockedGitUrl(pkg.file.url);
  if (git)
    return `${pkg.name} @ file://${vcsArchiveInBuild(git.commit, pkg.file.filename)}${git.subdirectory !== undefined ? `#subdirectory=${git.subdirectory}` : ''}`;
  return pkg.direct ? `${pkg.name} @ ${splitUrlCredentials(pkg.file.url).url}` : `${pkg.name}==${pkg.version}`;
}

/** A lock-time build: how it was built (for the lock) and the METADATA of the wheel it gave (for the resolver). */
export interface BuiltSdist {
  build: SdistBuild;
  /** Undefined when the build printed none (the resolver then cannot use it). */
  metadata?: string;
}

/** Prints the built wheel's METADATA, base64 on one line after this marker, so the resolver can read it. */
const METADATA_MARKER = 'envseal-metadata ';
const PRINT_METADATA = [
  'import base64, glob, zipfile',
  `z = zipfile.ZipFile(glob.glob("${BUILT_WHEELS_DIR}/*.whl")[0])`,
  'm = [n for n in z.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]',
  `print("${METADATA_MARKER}" + base64.b64encode(z.read(m[0])).decode())`,
].join('\n');
/** Where the lock-time build reads index credentials (netrc text on stdin): removed before the container exits. */
const NETRC_IN_BUILD = '/tmp/envseal-netrc';

/**
 * Builds sdists in the base image at lock time, each once per lock (by sha256; a failure is remembered too) and
 * one at a time (the machine may be small), and across locks through the index client's build cache. The
 * resolver calls `metadataOf` for an sdist whose metadata is dynamic (PEP 643); `lockSdistBuilds` then reuses
 * that build for the lock.
 */
export class SdistBuilder {
  private readonly builds = new Map<string, Promise<BuiltSdist>>();
  private readonly added = new Map<string, { archive: Buffer; scmVersion?: string }>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly py: Pick<PythonSection, 'interpreter' | 'indexes' | 'excludeNewer'>,
    private readonly ctx: ResolveContext<PythonSection>,
    /** The archives of git packages by locked URL (vcs.ts): they reach the build on stdin. */
    private readonly archives: ReadonlyMap<string, Buffer> = new Map(),
  ) {}

  /** A git package's archive (by locked URL) before its build, with the version setuptools-scm is given (vcs-dynamic.ts). */
  addArchive(url: string, archive: Buffer, scmVersion?: string): void {
    this.added.set(url, { archive, ...(scmVersion !== undefined ? { scmVersion } : {}) });
  }

  build(p: SdistPackage): Promise<BuiltSdist> {
    let done = this.builds.get(p.file.sha256);
    if (!done) {
      const added = this.added.get(p.file.url);
      const archive = added?.archive ?? this.archives.get(p.file.url);
      done = this.queue.then(() => buildOne(p, this.py, this.ctx, archive, added?.scmVersion));
      this.queue = done.catch(() => undefined);
      this.builds.set(p.file.sha256, done);
    }
    return done;
  }

  /** The resolver's `buildMetadata`: the METADATA of the wheel `sdist` builds into. */
  readonly metadataOf = async (sdist: SdistToBuild): Promise<string> => {
    const sha256 = sdist.file.hashes.sha256;
    if (!sha256) {
      throw inputError('python.sdist-build', `${sdist.file.filename}: the index gives no sha256 for it, so envseal cannot pin and build it`, {
        hint: `serve ${sdist.name} from an index that lists sha256 hashes, or publish a wheel of ${sdist.name} ${sdist.version}`,
      });
    }
    const file = { filename: sdist.file.filename, url: sdist.file.url, sha256, ...(sdist.file.uploadTime ? { uploadTime: sdist.file.uploadTime } : {}) };
    // An sdist required by URL is its own "index" (resolver/direct-index.ts): pip fetches it from that URL.
    const direct = sdist.index === sdist.file.url ? { direct: true as const } : {};
    const built = await this.build({ name: sdist.name, version: sdist.version, index: sdist.index, file, ...direct });
    if (built.metadata === undefined) {
      throw inputError('python.sdist-build', `building ${sdist.name} ${sdist.version} (${sdist.file.filename}) gave a wheel without a readable METADATA`, {
        hint: `pin a version of ${sdist.name} that has a wheel for this target, or fix the sdist's build`,
      });
    }
    return built.metadata;
  };
}

/**
 * Adds `build` to every package whose file is an sdist: its build requirements resolved and locked, and the wheel
 * built once in the base image to record its sha256. Throws `python.sdist-build` (exit 2).
 */
export async function lockSdistBuilds(
  packages: LockedPythonPackage[],
  py: Pick<PythonSection, 'interpreter' | 'indexes' | 'excludeNewer'>,
  ctx: ResolveContext<PythonSection>,
  builderOrArchives: SdistBuilder | ReadonlyMap<string, Buffer> = new Map(),
): Promise<LockedPythonPackage[]> {
  const builder = builderOrArchives instanceof SdistBuilder ? builderOrArchives : new SdistBuilder(py, ctx, builderOrArchives);
  const out: LockedPythonPackage[] = [];
  for (const p of packages) {
    if (p.file.filename.endsWith('.whl')) out.push(p);
    else out.push({ ...p, build: (await builder.build(p)).build });
  }
  return out;
}

async function buildOne(
  p: SdistPackage,
  py: Pick<PythonSection, 'interpreter' | 'indexes' | 'excludeNewer'>,
  ctx: ResolveContext<PythonSection>,
  archive: Buffer | undefined,
  scmVersion?: string,
): Promise<BuiltSdist> {
  const git = parseLockedGitUrl(p.file.url);
  // A git package whose version only the build tells is built before it has one (version '').
  const what = git ? `${p.name}${p.version ? ` ${p.version}` : ''} (${p.file.url})` : `${p.name} ${p.version} (${p.file.filename})`;
  if (git && !archive) throw internalError('python.vcs-archive', `the archive of ${what} was not made before its build`);
  const pyproject = archive ? await readArchivePyproject(archive, p) : await readSdistPyproject(p, ctx);
  const requires = buildRequires(pyproject, p.file.filename);
  const deps = await resolveBuildDeps(requires, what, py, ctx);
  const build = { requires, sourceDateEpoch: buildEpoch(p.file.uploadTime), deps, ...(scmVersion !== undefined ? { scmVersion } : {}) };
  const key = JSON.stringify({ sdist: p.file.sha256, base: ctx.ground.base.pinned, platform: ctx.ground.base.platform, interpreter: py.interpreter, build });
  const cached = await ctx.index.buildCache?.get(key);
  if (cached !== undefined) {
    const hit = JSON.parse(cached) as { wheel: SdistBuild['wheel']; metadata?: string };
    ctx.logger.progress(`using the cached build of ${what}`);
    return { build: { ...build, wheel: hit.wheel }, ...(hit.metadata !== undefined ? { metadata: hit.metadata } : {}) };
  }
  ctx.logger.progress(`building ${what} in the base image to lock the wheel it gives`);
  const run = await runBuild(p, py, build, ctx, archive);
  const wheels = run.stdout
    .split('\n')
    .map((l) => /^([0-9a-f]{64}) [ *](\S+\.whl)$/.exec(l.trim()))
    .filter((m) => m !== null);
  const encoded = run.stdout.split('\n').find((l) => l.startsWith(METADATA_MARKER));
  if (run.exitCode !== 0 || wheels.length !== 1) {
    const tail = `${run.stdout}\n${run.stderr}`
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith(METADATA_MARKER))
      .slice(-15);
    throw inputError(
      'python.sdist-build',
      run.exitCode !== 0
        ? `building ${what} into a wheel in the base image ${ctx.ground.base.reference} (${ctx.ground.base.platform}) failed (exit ${run.exitCode})`
        : `building ${what} gave ${wheels.length} wheels, not one`,
      { details: tail, hint: `pin a version of ${p.name} that has a wheel for this target, or fix the sdist's build` },
    );
  }
  const result = {
    wheel: { filename: wheels[0]![2]!, sha256: wheels[0]![1]! },
    ...(encoded !== undefined ? { metadata: Buffer.from(encoded.slice(METADATA_MARKER.length).trim(), 'base64').toString('utf8') } : {}),
  };
  await ctx.index.buildCache?.put(key, JSON.stringify(result));
  return { build: { ...build, wheel: result.wheel }, metadata: result.metadata };
}

/** One throwaway container of the base image; the index credentials, if any, go in on stdin (never argv or env). */
async function runBuild(
  p: SdistPackage,
  py: Pick<PythonSection, 'interpreter' | 'indexes'>,
  build: Pick<SdistBuild, 'deps' | 'sourceDateEpoch' | 'scmVersion'>,
  ctx: ResolveContext<PythonSection>,
  archive: Buffer | undefined,
) {
  const git = parseLockedGitUrl(p.file.url);
  const netrc = ctx.index.netrcFor?.([...py.indexes, ...(p.direct && !git ? [p.file.url] : [])]) ?? '';
  // A git package's archive follows the netrc on stdin (the engine may be remote: no bind mount).
  const receive = git ? [`mkdir -p /tmp/envseal-vcs/${git.commit}`, `cat > ${shellQuote(vcsArchiveInBuild(git.commit, p.file.filename))}`] : [];
  const steps = [
    ...receive,
    ...buildCommands(py, p, build),
    `cd ${BUILT_WHEELS_DIR}`,
    'sha256sum -- *.whl',
    `${shellQuote(py.interpreter)} -c ${shellQuote(PRINT_METADATA)}`,
  ].join(' && ');
  // With credentials, stdin starts with the netrc's byte count on a line, then the netrc (read with dd, which
  // reads no further), then the archive if any.
  const netrcBytes = Buffer.from(netrc, 'utf8');
  const script = netrc
    ? `read n && netrc="$(dd bs=1 count="$n" 2>/dev/null)" && (umask 077 && printf '%s\\n' "$netrc" > ${NETRC_IN_BUILD}) && export NETRC=${NETRC_IN_BUILD} && unset netrc && ${steps}; status=$?; rm -f ${NETRC_IN_BUILD}; exit $status`
    : steps;
  const input = [...(netrc ? [Buffer.from(`${netrcBytes.length}\n`), netrcBytes] : []), ...(archive ? [archive] : [])];
  // The image of exactly this platform (by its manifest digest): an sdist locked for arm64 is built in the arm64
  // image, under emulation on an amd64 engine, whatever image the index reference names locally.
  const image = platformImageRef(ctx.ground.base);
  await ensurePlatformImage(ctx.engine, ctx.logger, { ref: image, platform: ctx.ground.base.platform, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  return captureContainerOutput(ctx.engine, {
    image,
    cmd: ['/bin/sh', '-c', script],
    networkMode: 'host',
    user: '0',
    ...(input.length ? { stdin: Readable.from(input) } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
}

async function readArchivePyproject(archive: Buffer, p: SdistPackage): Promise<string | undefined> {
  const { readSdistTopFile } = await import('./index-client/python-archive.js');
  const sub = parseLockedGitUrl(p.file.url)?.subdirectory;
  return readSdistTopFile(archive, p.file.filename, sub !== undefined ? `${sub}/pyproject.toml` : 'pyproject.toml');
}

async function readSdistPyproject(p: SdistPackage, ctx: ResolveContext<PythonSection>): Promise<string | undefined> {
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
