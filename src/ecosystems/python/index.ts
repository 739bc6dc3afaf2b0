/**
 * The python wing: requirements.txt, constraints, pyproject.toml and inline requirements, resolved by envseal's
 * PubGrub resolver against PEP 503/691 indexes for the base image's interpreter, installed hash-checked by pip.
 */
import { inputError, internalError } from '../../core/errors.js';
import { maskUrlCredentials } from '../../core/url-credentials.js';
import { DEFAULT_VENV } from '../../core/image-contract.js';
import { compareText, sortedUnique } from '../../core/order.js';
import { defineEcosystem } from '../types.js';
import { containsVersion } from './pep/specifier.js';
import { checkCudaWheels } from './cuda.js';
import { pythonDrift } from './drift.js';
import { initPython } from './init.js';
import { pythonContents } from './contents.js';
import { renderPython } from './dockerfile.js';
import { canonicalPythonDeclared, loadPython, normalizePythonDeclared } from './load.js';
import type { ImportedLock } from './lockfiles/types.js';
import { pythonDeclaredSchema, pythonDevSpecSchema, pythonSectionSchema, pythonSpecSchema, type PythonDeclared, type PythonSection } from './schema.js';
import type { ResolveContext } from '../types.js';
import type { SdistBuilder } from './sdist-build.js';
import type { ResolvePythonRequest, ResolvePythonResult, SdistToBuild } from './resolver/types.js';
import { canonicalJsonCompact, sha256Hex } from '../../core/canonical-json.js';
import { TOOL_VERSION } from '../../core/version.js';

export const pythonWing = defineEcosystem({
  id: 'python',
  title: 'Python packages (requirements.txt, pyproject.toml; installed by pip)',
  // Which wheel fits (and platform_machine markers) depends on the platform.
  perPlatform: true,
  schemas: { spec: pythonSpecSchema, devSpec: pythonDevSpecSchema, declared: pythonDeclaredSchema, section: pythonSectionSchema },
  init: initPython,
  async load(spec, dev, ctx) {
    const loaded = await loadPython(spec, dev, ctx);
    return loaded ? { declared: loaded.declared, state: loaded.imported } : null;
  },
  normalizeDeclared: normalizePythonDeclared,
  canonicalDeclared: canonicalPythonDeclared,
  probeInterpreter: (declared) => declared.interpreter,
  keepable(declared, ctx) {
    const excludeNewer = ctx.options.excludeNewer ?? declared.excludeNewer;
    return ctx.previous !== null && !ctx.reprobed && ctx.previous.excludeNewer === excludeNewer && !ctx.options.upgradePackages?.length;
  },
  check(declared, ground) {
    rejectUnsupportedOptions(declared.options);
    checkRequiresPython(declared, ground.target.python?.version ?? null, ground.base.reference);
  },
  async resolve(declared, imported, ctx) {
    // One builder for the resolution (sdists with dynamic metadata) and the lock's builds: each sdist is built once.
    const { SdistBuilder, lockSdistBuilds } = await import('./sdist-build.js');
    const excludeNewer = declared.imported ? undefined : (ctx.options.excludeNewer ?? declared.excludeNewer);
    const archives = new Map<string, Buffer>();
    const py = { interpreter: declared.interpreter, indexes: declared.indexes, ...(excludeNewer ? { excludeNewer } : {}) };
    const builder = new SdistBuilder(py, ctx, archives);
    const resolved = await resolvePythonSection(declared, imported, ctx, builder);
    for (const [url, archive] of resolved.archives) archives.set(url, archive);
    const { section } = resolved;
    checkCudaWheels(section.packages, ctx.ground, ctx.logger);
    if (section.packages.every((p) => p.file.filename.endsWith('.whl'))) return section;
    return { ...section, packages: await lockSdistBuilds(section.packages, section, ctx, builder) };
  },
  needsLockVersion2: (py) => py.packages.some((p) => p.direct),
  needsLockVersion4: (py) => py.packages.some((p) => p.build),
  canonicalize: (py) => ({
    ...py,
    packages: [...py.packages].map((p) => ({ ...p, via: sortedUnique(p.via), targets: sortedUnique(p.targets) })).sort((a, b) => compareText(a.name, b.name)),
  }),
  fingerprint: (py) => ({
    interpreter: py.interpreter,
    venv: py.venv,
    systemSitePackages: py.systemSitePackages,
    packages: [...py.packages]
      .sort((a, b) => compareText(a.name, b.name))
      .map((p) => ({
        name: p.name,
        version: p.version,
        sha256: p.file.sha256,
        ...(p.build ? { built: p.build.wheel.sha256, buildDeps: p.build.deps.map((d) => d.file.sha256).sort() } : {}),
        targets: [...p.targets].sort(),
      })),
  }),
  render: renderPython,
  contents: pythonContents,
  count: (py, target) => py.packages.filter((p) => p.targets.includes(target)).length,
  pins: (py, target) => Object.fromEntries(py.packages.filter((p) => p.targets.includes(target)).map((p) => [p.name, p.version])),
  drift: pythonDrift,
});

/** The section, and the archives of git packages by locked URL (their lock-time build needs them). */
interface ResolvedPython {
  section: PythonSection;
  archives: Map<string, Buffer>;
}

async function resolvePythonSection(
  declared: PythonDeclared,
  imported: ImportedLock | undefined,
  ctx: ResolveContext<PythonSection>,
  builder: SdistBuilder,
): Promise<ResolvedPython> {
  const { target } = ctx.ground;
  const probePy = target.python;
  if (!probePy) throw inputError('probe.no-python', `the base image ${ctx.ground.base.reference} has no Python interpreter`);
  const venv = declared.venv === 'auto' ? probePy.externallyManaged : declared.venv;
  if (declared.imported) {
    if (!imported) throw internalError('python.import-state', `${declared.imported.path} was not loaded`);
    const flags = [...(ctx.options.excludeNewer ? ['--exclude-newer'] : []), ...(ctx.options.upgradePackages?.length ? ['--upgrade-package'] : [])];
    if (flags.length) {
      throw inputError('python.import-conflict', `${flags.join(' and ')} cannot apply: the Python packages follow ${declared.imported.path} pin for pin`, {
        hint: `update ${declared.imported.path} with the tool that wrote it, then run \`envseal lock\``,
      });
    }
    const { importLockedPackages } = await import('./lockfiles/import-lock.js');
    const packages = await importLockedPackages({ lock: imported, ref: declared.imported, target, defaultIndex: declared.indexes[0]! }, ctx, builder);
    const section = {
      interpreter: declared.interpreter,
      venv: venv ? DEFAULT_VENV : null,
      systemSitePackages: declared.systemSitePackages,
      indexes: declared.indexes,
      packages,
    };
    return { section, archives: new Map() };
  }
  const excludeNewer = ctx.options.excludeNewer ?? declared.excludeNewer;
  const installable = declared.requirements.filter((r) => r.kind === 'requirement');
  ctx.logger.progress(`resolving ${installable.length} Python requirement(s) for ${probePy.implementation} ${probePy.version} on ${target.machine}`);
  const opts = declared.options;
  const upgrade = ctx.options.upgradeAll ? { upgrade: true as const } : ctx.options.upgradePackages?.length ? { upgrade: ctx.options.upgradePackages } : {};
  const { collectWantedWheels, fetchDirectWheels } = await import('./direct-wheels.js');
  const { collectWantedGit, fetchGitSources, withGitRefs } = await import('./vcs.js');
  // Both lists are checked (a URL in a constraint, conflicts, tags) before anything is fetched.
  const wantedWheels = collectWantedWheels(declared.requirements, target);
  const wantedGit = collectWantedGit(declared.requirements, target);
  const git = await fetchGitSources(wantedGit, ctx, builder);
  const direct = [...(await fetchDirectWheels(wantedWheels, ctx)), ...git.map((g) => g.direct)];
  const request: ResolvePythonRequest = {
    requirements: declared.requirements,
    indexes: declared.indexes,
    target,
    ...(Object.keys(declared.packageIndexes).length ? { indexPins: declared.packageIndexes } : {}),
    options: {
      ...(opts.pre === true ? { pre: true } : {}),
      ...(Array.isArray(opts.onlyBinary) ? { onlyBinary: opts.onlyBinary } : {}),
      ...(excludeNewer ? { excludeNewer } : {}),
    },
    ...(ctx.previous ? { previous: ctx.previous.packages } : {}),
    ...(direct.length ? { direct } : {}),
    ...upgrade,
  };
  const result = await resolveRemembered(request, ctx, builder);
  const section = {
    interpreter: declared.interpreter,
    venv: venv ? DEFAULT_VENV : null,
    systemSitePackages: declared.systemSitePackages,
    indexes: declared.indexes,
    ...(excludeNewer ? { excludeNewer } : {}),
    packages: withGitRefs(result.packages, git),
  };
  return { section, archives: new Map(git.map((g) => [g.direct.file.url, g.archive])) };
}

/**
 * `resolvePython`, or the result of the same request resolved before when the index client still holds
 * everything that resolution read, fresh and unchanged (`ResolutionMemo`): a warm `lock --upgrade` of
 * unchanged inputs then neither parses pages nor solves again. The key names the request and the tool version
 * (another version may resolve differently); a resolution that built an sdist is not remembered.
 */
async function resolveRemembered(request: ResolvePythonRequest, ctx: ResolveContext<PythonSection>, builder: SdistBuilder): Promise<ResolvePythonResult> {
  const memo = ctx.index.resolutionMemo;
  const key = memo ? sha256Hex(canonicalJsonCompact({ memo: 1, tool: TOOL_VERSION, request })) : '';
  const recalled = memo ? await memo.recall(key) : undefined;
  if (recalled !== undefined) {
    ctx.logger.debug(`python resolution: the same request was resolved before from index answers that are still fresh`);
    return { packages: JSON.parse(recalled) as ResolvePythonResult['packages'] };
  }
  // The resolver is loaded when a resolution runs: `lock --check`, `verify` and `generate` never need it.
  const { resolvePython } = await import('./resolver/resolve-python.js');
  let built = false;
  const buildMetadata = (sdist: SdistToBuild) => {
    built = true;
    return builder.metadataOf(sdist);
  };
  const result = await resolvePython(request, { index: ctx.index, logger: ctx.logger, buildMetadata });
  if (memo && !built) await memo.remember(key, JSON.stringify(result.packages));
  return result;
}

/** A manifest's interpreter version (conda's `python=3.11`) must be the base image's: envseal does not install Pythons. */
function checkRequiresPython(declared: PythonDeclared, version: string | null, base: string): void {
  const wanted = declared.requiresPython;
  if (!wanted || !version) return;
  if (containsVersion(wanted.specifier, version, { prereleases: true })) return;
  throw inputError('python.version-mismatch', `${wanted.source} asks for Python ${wanted.specifier}, but the base image ${base} has Python ${version}`, {
    hint: `choose a base image whose Python matches, or change the version in ${wanted.source}`,
  });
}

/** requirements.txt options envseal cannot honour are errors, not silently ignored. */
export function rejectUnsupportedOptions(options: Record<string, unknown>): void {
  if (Array.isArray(options.noBinary) && options.noBinary.length) {
    throw inputError('python.unsupported-option', `--no-binary ${options.noBinary.join(',')} asks pip to build from source, which envseal does not do`, {
      hint: 'envseal installs wheels, and builds an sdist only when no wheel of the locked version fits the target; remove --no-binary',
    });
  }
  if (Array.isArray(options.findLinks) && options.findLinks.length) {
    throw inputError('python.unsupported-option', `--find-links ${maskUrlCredentials(options.findLinks.join(' '))} is not supported`, {
      hint: 'serve the files from a PEP 503 index (any static file server with a simple/ layout works) and use --index-url',
    });
  }
  if (options.noIndex === true) {
    throw inputError('python.unsupported-option', '--no-index leaves no index to resolve from', { hint: 'remove --no-index and name an index' });
  }
}
