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
import { chooseCommit, lockedGitUrl } from './manifests/vcs-url.js';
import { evaluateMarker, type MarkerEnvironment } from './pep/marker.js';
import { normalizeName } from './pep/names.js';
import { parseRequirement } from './pep/requirement.js';
import { tryParseVersion } from './pep/version.js';
import type { DirectWheel } from './resolver/types.js';
import type { DeclaredRequirement, PythonSection } from './schema.js';

/** One git requirement wanted for the target, with the requirement that names it (for messages). */
export interface WantedGit {
  name: string;
  repo: string;
  ref?: string;
  requirement: DeclaredRequirement;
}

/** A git requirement locked to a commit: what the resolver sees, and the archive the lock-time build needs. */
export interface GitSource {
  direct: DirectWheel;
  commit: string;
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
    if (seen && (seen.repo !== check.git.repo || seen.ref !== check.git.ref)) {
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
        requirement: d,
      });
  }
  return [...byName.values()];
}

/**
 * Locks every wanted git requirement to a commit and reads its metadata. Throws `python.vcs-ref` (unknown ref),
 * `python.vcs-short-commit` (abbreviated commit), `python.vcs-metadata` (no static metadata) (exit 2); an
 * unreachable repository or a missing git is exit 3 (from GitSources).
 */
export async function fetchGitSources(wanted: readonly WantedGit[], ctx: ResolveContext<PythonSection>): Promise<GitSource[]> {
  if (!wanted.length) return [];
  const git = ctx.git;
  if (!git) throw internalError('python.git', 'git requirements need GitSources, and none was given');
  const out: GitSource[] = [];
  const signal = ctx.signal ? { signal: ctx.signal } : {};
  for (const w of wanted) {
    const what = `${w.requirement.source}: ${w.requirement.requirement}`;
    const refs = await git.listRefs(w.repo, signal);
    const choice = chooseCommit(w.ref, refs);
    if (!choice.ok) throw inputError(choice.code, `${what}: ${choice.problem}`, { hint: choice.hint });
    const said = `${w.name}: ${w.repo} ${choice.via} is commit ${choice.commit}`;
    if (w.ref === undefined) ctx.logger.info(`${said} (no ref given: the default branch is locked; name a tag or commit after "@" to choose)`);
    else ctx.logger.progress(said);
    // The archive's top directory must be known before its version is: the commit names it.
    const source = await git.archive(w.repo, choice.commit, `${w.name}-${choice.commit}`, signal);
    const { readSdistTopFile } = await import('./index-client/python-archive.js');
    const pyproject = await readSdistTopFile(source.data, 'x.tar.gz', 'pyproject.toml');
    const meta = staticCoreMetadata(pyproject, w.name, `${what} (commit ${choice.commit})`);
    const { createHash } = await import('node:crypto');
    const file: IndexFile = {
      filename: `${w.name.replace(/-/g, '_')}-${meta.version}.tar.gz`,
      url: lockedGitUrl(w.repo, choice.commit),
      hashes: { sha256: createHash('sha256').update(source.data).digest('hex') },
      yanked: false,
      coreMetadata: false,
      size: source.data.length,
      uploadTime: new Date(source.commitTime * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    };
    out.push({ direct: { name: w.name, file, metadata: meta.text }, commit: choice.commit, archive: source.data });
  }
  return out;
}

const METADATA_HINT =
  'envseal reads a git requirement\'s name, version and dependencies from the static [project] table of its pyproject.toml (PEP 621): give the commit a [project] table with "version" and "dependencies" that are not listed in "dynamic"';

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
