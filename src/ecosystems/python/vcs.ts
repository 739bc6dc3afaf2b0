/**
 * Git requirements (`name @ git+https://host/repo.git@ref`, see manifests/vcs-url.ts) made ready for the
 * resolver: the ref is resolved to the full commit on the remote (`git ls-remote`), the commit's source is made
 * into a deterministic tar.gz (GitSources.archive) whose sha256 the lock records, and its metadata is read from
 * the commit's static PEP 621 `[project]` table, so its dependencies resolve from the indexes. The package is
 * then an sdist like any other: built into a wheel at lock time and in the Dockerfile's builder stage
 * (sdist-build.ts), from the archive the lock names by sha256, never from the moving ref.
 */
import { parse as parseToml } from 'smol-toml';
import { inputError, internalError } from '../../core/errors.js';
import type { IndexFile } from '../../core/ports.js';
import type { ResolveContext } from '../types.js';
import { checkDirectUrl } from './manifests/direct-url.js';
import { chooseCommit, lockedGitUrl, parseLockedGitUrl, type RemoteRef } from './manifests/vcs-url.js';
import { evaluateMarker, type MarkerEnvironment } from './pep/marker.js';
import { normalizeName } from './pep/names.js';
import { parseRequirement } from './pep/requirement.js';
import { tryParseVersion } from './pep/version.js';
import type { DirectWheel } from './resolver/types.js';
import type { DeclaredRequirement, PythonSection } from './schema.js';
import type { SdistBuilder } from './sdist-build.js';
import { dynamicMetadataReason, scmVersionAt, usesScmVersion, type GitProjectFiles } from './vcs-dynamic.js';

/** One git requirement wanted for the target, with the requirement that names it (for messages). */
export interface WantedGit {
  name: string;
  repo: string;
  ref?: string;
  /** `#subdirectory=`: the project's directory in the repository. */
  subdirectory?: string;
  requirement: DeclaredRequirement;
}

/** A git requirement locked to a commit: what the resolver sees, and the archive the lock-time build needs. */
export interface GitSource {
  direct: DirectWheel;
  commit: string;
  /** The ref the requirement names, `HEAD` for the default branch (the lock's `ref`). */
  ref: string;
  archive: Buffer;
}

/** The git requirements that apply to the target (markers evaluated), one per project. Pure. */
export function collectWantedGit(requirements: readonly DeclaredRequirement[], target: ResolveContext<PythonSection>['ground']['target']): WantedGit[] {
  const markers = target.python?.markers as unknown as MarkerEnvironment;
  const byName = new Map<string, WantedGit>();
  for (const d of requirements) {
    const req = parseRequirement(d.requirement);
    if (req.url === undefined || d.kind !== 'requirement') continue;
    if (req.marker && !evaluateMarker(req.marker, markers)) continue;
    const check = checkDirectUrl(req.name, req.url);
    if (!check.ok) throw internalError('python.direct-url', `${d.source}: ${d.requirement} passed the manifest checks: ${check.problem}`);
    if (!('git' in check)) continue;
    const seen = byName.get(req.normalizedName);
    if (seen && (seen.repo !== check.git.repo || seen.ref !== check.git.ref || seen.subdirectory !== check.git.subdirectory)) {
      throw inputError(
        'python.direct-url-conflict',
        `${req.normalizedName} is required from two places: ${seen.requirement.requirement} (${seen.requirement.source}) and ${d.requirement} (${d.source})`,
        {
          hint: `require ${req.normalizedName} from one repository and ref`,
        },
      );
    }
    if (!seen)
      byName.set(req.normalizedName, {
        name: req.normalizedName,
        repo: check.git.repo,
        ...(check.git.ref !== undefined ? { ref: check.git.ref } : {}),
        ...(check.git.subdirectory !== undefined ? { subdirectory: check.git.subdirectory } : {}),
        requirement: d,
      });
  }
  return [...byName.values()];
}

/**
 * Locks every wanted git requirement to a commit and reads its metadata: from the static `[project]` table, else
 * (setup.py, dynamic fields) from the wheel `builder` builds of the archive at lock time. Throws `python.vcs-ref`
 * (unknown ref), `python.vcs-short-commit` (abbreviated commit), `python.vcs-metadata` (no metadata),
 * `python.vcs-scm-version` (a setuptools-scm version envseal cannot compute exactly) (exit 2); an
 * unreachable repository or a missing git is exit 3 (from GitSources).
 */
export async function fetchGitSources(wanted: readonly WantedGit[], ctx: ResolveContext<PythonSection>, builder?: SdistBuilder): Promise<GitSource[]> {
  if (!wanted.length) return [];
  const git = ctx.git;
  if (!git) throw internalError('python.git', 'git requirements need GitSources, and none was given');
  const out: GitSource[] = [];
  const signal = ctx.signal ? { signal: ctx.signal } : {};
  for (const w of wanted) {
    const what = `${w.requirement.source}: ${w.requirement.requirement}`;
    const refs = await git.listRefs(w.repo, signal);
    const kept = keptCommit(w, ctx);
    const choice = kept ? ({ ok: true, commit: kept, via: 'kept' } as const) : chooseCommit(w.ref, refs);
    if (!choice.ok) throw inputError(choice.code, `${what}: ${choice.problem}`, { hint: choice.hint });
    const said = `${w.name}: ${w.repo} ${choice.via} is commit ${choice.commit}`;
    if (kept)
      ctx.logger.info(`${w.name}: keeps commit ${kept} locked for ${w.ref ?? 'the default branch'} (\`envseal lock --upgrade-package ${w.name}\` moves it)`);
    else if (w.ref === undefined) ctx.logger.info(`${said} (no ref given: the default branch is locked; name a tag or commit after "@" to choose)`);
    else ctx.logger.progress(said);
    // The archive's top directory must be known before its version is: the commit names it.
    const source = await git.archive(w.repo, choice.commit, `${w.name}-${choice.commit}`, signal);
    const files = await readGitProjectFiles(source.data, w.subdirectory);
    if (w.subdirectory !== undefined && !files.pyproject && !files.setupPy && !files.setupCfg) {
      throw inputError(
        'python.vcs-subdirectory',
        `${what}: commit ${choice.commit} has no project in ${w.subdirectory} (no pyproject.toml, setup.py or setup.cfg there)`,
        { hint: 'name the directory of the package in the repository, relative to its root, in "#subdirectory="' },
      );
    }
    const { createHash } = await import('node:crypto');
    const file: IndexFile = {
      filename: '',
      url: lockedGitUrl(w.repo, choice.commit, w.subdirectory),
      hashes: { sha256: createHash('sha256').update(source.data).digest('hex') },
      yanked: false,
      coreMetadata: false,
      size: source.data.length,
      uploadTime: new Date(source.commitTime * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    };
    const whatCommit = `${what} (commit ${choice.commit})`;
    const reason = dynamicMetadataReason(files);
    const meta =
      reason === null
        ? staticCoreMetadata(files.pyproject, w.name, whatCommit)
        : await builtCoreMetadata({ wanted: w, what: whatCommit, reason, files, refs, commit: choice.commit, file, archive: source.data }, ctx, builder);
    file.filename = `${w.name.replace(/-/g, '_')}-${meta.version}.tar.gz`;
    out.push({ direct: { name: w.name, file, metadata: meta.text }, commit: choice.commit, ref: w.ref ?? 'HEAD', archive: source.data });
  }
  return out;
}

/**
 * The commit the previous lock holds for this requirement, when it names the same repository, subdirectory and
 * ref and no upgrade of it is asked for: a branch pin moves only with `lock --upgrade`/`--upgrade-package` or a
 * changed ref, never because Python is re-resolved for another reason.
 */
function keptCommit(w: WantedGit, ctx: ResolveContext<PythonSection>): string | undefined {
  if (ctx.options.upgradeAll || ctx.options.upgradePackages?.some((n) => normalizeName(n) === w.name)) return undefined;
  const before = ctx.previous?.packages.find((p) => p.name === w.name);
  const git = before ? parseLockedGitUrl(before.file.url) : null;
  if (!before || !git || before.ref !== (w.ref ?? 'HEAD')) return undefined;
  return git.repo === w.repo && git.subdirectory === w.subdirectory ? git.commit : undefined;
}

/** The resolved packages with the ref of each git package (the lock's `ref`). Pure. */
export function withGitRefs<P extends { name: string; file: { url: string } }>(packages: P[], git: readonly GitSource[]): (P & { ref?: string })[] {
  const refs = new Map(git.map((g) => [g.direct.file.url, g.ref]));
  return packages.map((p) => (refs.has(p.file.url) ? { ...p, ref: refs.get(p.file.url)! } : p));
}

/** The files of the commit's project directory that decide how its metadata is read. */
export async function readGitProjectFiles(archive: Buffer, subdirectory: string | undefined): Promise<GitProjectFiles> {
  const { readSdistTopFile } = await import('./index-client/python-archive.js');
  const read = (name: string) => readSdistTopFile(archive, 'x.tar.gz', subdirectory !== undefined ? `${subdirectory}/${name}` : name);
  const [pyproject, setupPy, setupCfg] = await Promise.all([read('pyproject.toml'), read('setup.py'), read('setup.cfg')]);
  return {
    ...(pyproject !== undefined ? { pyproject } : {}),
    ...(setupPy !== undefined ? { setupPy } : {}),
    ...(setupCfg !== undefined ? { setupCfg } : {}),
  };
}

interface DynamicGit {
  wanted: WantedGit;
  what: string;
  reason: string;
  files: GitProjectFiles;
  refs: readonly RemoteRef[];
  commit: string;
  file: IndexFile;
  archive: Buffer;
}

/** The metadata of the wheel the commit's archive builds into (in the base image, as an sdist's). */
async function builtCoreMetadata(
  g: DynamicGit,
  ctx: ResolveContext<PythonSection>,
  builder: SdistBuilder | undefined,
): Promise<{ version: string; text: string }> {
  if (!builder) throw internalError('python.git', `${g.what}: a git package with dynamic metadata needs the sdist builder`);
  let scmVersion: string | undefined;
  if (usesScmVersion(g.files)) {
    const scm = scmVersionAt(g.commit, g.refs, g.files);
    if (!scm.ok) throw inputError('python.vcs-scm-version', `${g.what}: ${scm.problem}`, { hint: scm.hint });
    scmVersion = scm.version;
    ctx.logger.progress(`${g.wanted.name}: commit ${g.commit} is tag ${scm.tag}: setuptools-scm is given version ${scm.version}`);
  }
  ctx.logger.progress(`${g.wanted.name}: ${g.reason}; building commit ${g.commit} to read its metadata`);
  builder.addArchive(g.file.url, g.archive, scmVersion);
  const sha256 = g.file.hashes.sha256!;
  const built = await builder.build({
    name: g.wanted.name,
    version: '',
    index: g.file.url,
    direct: true,
    file: {
      filename: `${g.wanted.name.replace(/-/g, '_')}-${g.commit}.tar.gz`,
      url: g.file.url,
      sha256,
      ...(g.file.uploadTime ? { uploadTime: g.file.uploadTime } : {}),
    },
  });
  const fail = (problem: string) => inputError('python.vcs-metadata', `${g.what}: ${problem}`, { hint: METADATA_HINT });
  if (built.metadata === undefined) throw fail('the wheel its build gave has no readable METADATA');
  const header = built.metadata.split(/\r?\n\r?\n/)[0]!;
  const field = (name: string) => new RegExp(`^${name}:[ \t]*(.*)$`, 'mi').exec(header)?.[1]?.trim();
  const name = field('Name');
  const version = field('Version');
  if (name === undefined || normalizeName(name) !== g.wanted.name)
    throw fail(`the wheel its build gave is named ${JSON.stringify(name)}, not ${g.wanted.name}`);
  if (version === undefined || !tryParseVersion(version)) throw fail(`the wheel its build gave has version ${JSON.stringify(version)}, not a PEP 440 version`);
  return { version, text: built.metadata };
}

const METADATA_HINT =
  "envseal reads a git requirement's name, version and dependencies from the static [project] table of its pyproject.toml (PEP 621), or builds the commit when it has a setup.py or lists them in [project].dynamic: give the commit one of these";

/** Core metadata (Metadata-Version 2.2, nothing dynamic) from the static `[project]` table of a pyproject.toml. Pure. */
export function staticCoreMetadata(pyproject: string | undefined, name: string, what: string): { version: string; text: string } {
  const fail = (problem: string) => inputError('python.vcs-metadata', `${what}: ${problem}`, { hint: METADATA_HINT });
  if (pyproject === undefined) throw fail('the commit has no pyproject.toml at its root');
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(pyproject) as Record<string, unknown>;
  } catch (err) {
    throw fail(`its pyproject.toml is not valid TOML: ${(err as Error).message.split('\n')[0]}`);
  }
  const project = doc.project as Record<string, unknown> | undefined;
  if (!project || typeof project !== 'object') throw fail('its pyproject.toml has no [project] table');
  const dynamic = Array.isArray(project.dynamic) ? (project.dynamic as unknown[]) : [];
  const needed = ['version', 'dependencies', 'optional-dependencies', 'requires-python'].filter((k) => dynamic.includes(k));
  if (needed.length) throw fail(`[project].dynamic lists ${needed.join(', ')}, which only a build could tell`);
  if (typeof project.name !== 'string' || normalizeName(project.name) !== name) {
    throw fail(`its [project].name is ${JSON.stringify(project.name)}, not ${name}`);
  }
  if (typeof project.version !== 'string' || !tryParseVersion(project.version))
    throw fail(`its [project].version ${JSON.stringify(project.version)} is not a PEP 440 version`);
  const strings = (v: unknown, key: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw fail(`[project].${key} is not a list of strings`);
    return v as string[];
  };
  const lines = ['Metadata-Version: 2.2', `Name: ${project.name}`, `Version: ${project.version}`];
  if (project['requires-python'] !== undefined) {
    if (typeof project['requires-python'] !== 'string') throw fail('[project].requires-python is not a string');
    lines.push(`Requires-Python: ${project['requires-python']}`);
  }
  for (const dep of strings(project.dependencies, 'dependencies')) lines.push(`Requires-Dist: ${dep}`);
  const optional = (project['optional-dependencies'] ?? {}) as Record<string, unknown>;
  for (const [extra, deps] of Object.entries(optional)) {
    lines.push(`Provides-Extra: ${extra}`);
    for (const dep of strings(deps, `optional-dependencies.${extra}`)) {
      const semi = dep.indexOf(';');
      const marker = `extra == "${extra}"`;
      lines.push(`Requires-Dist: ${semi === -1 ? `${dep}; ${marker}` : `${dep.slice(0, semi).trim()}; (${dep.slice(semi + 1).trim()}) and ${marker}`}`);
    }
  }
  return { version: project.version, text: `${lines.join('\n')}\n` };
}
