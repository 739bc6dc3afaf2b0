/**
 * Git requirements whose metadata only a build can tell (vcs.ts): a commit with only a setup.py, a pyproject.toml
 * without a `[project]` table (the backend's own configuration) or with `[project].dynamic` naming the version
 * or the dependencies. Such a commit's archive is built into a wheel at lock time in the pinned base image
 * (sdist-build.ts, the same build as an sdist with dynamic metadata), and the resolver reads the built wheel's
 * METADATA. Pure.
 *
 * Versions from git (setuptools-scm, hatch-vcs): the archive has no `.git`, and pip, which clones the repository,
 * would give the version `git describe` computes. That is exact and cheap in one case only: the locked commit is
 * the commit of exactly one version tag (distance 0, a clean checkout), where setuptools-scm's default schemes all
 * give the tag's version. envseal then gives the build that version (`SETUPTOOLS_SCM_PRETEND_VERSION`, recorded
 * in the lock as `build.scmVersion`); any other commit (a branch head past a tag, a commit) is refused with exit
 * 2, since the version pip would compute (`1.2.4.dev3+g1a2b3c4`) depends on history the archive does not carry.
 */
import { parse as parseToml } from 'smol-toml';
import { formatVersion, tryParseVersion } from './pep/version.js';
import type { RemoteRef } from './manifests/vcs-url.js';

/** What a commit's root (or subdirectory) holds that decides how its metadata is read. */
export interface GitProjectFiles {
  pyproject?: string;
  setupPy?: string;
  setupCfg?: string;
}

/** Why a build is needed to know the metadata, or null when the static `[project]` table says it all. */
export function dynamicMetadataReason(files: GitProjectFiles): string | null {
  if (files.pyproject === undefined) return files.setupPy !== undefined ? 'it has a setup.py and no pyproject.toml' : null;
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(files.pyproject) as Record<string, unknown>;
  } catch {
    return null; // staticCoreMetadata reports the TOML error
  }
  const project = doc.project as Record<string, unknown> | undefined;
  if (!project || typeof project !== 'object') {
    const backend = doc['build-system'] !== undefined || files.setupPy !== undefined || files.setupCfg !== undefined;
    return backend ? 'its pyproject.toml has no [project] table (the build backend computes the metadata)' : null;
  }
  const dynamic = Array.isArray(project.dynamic) ? (project.dynamic as unknown[]) : [];
  const needed = ['version', 'dependencies', 'optional-dependencies', 'requires-python'].filter((k) => dynamic.includes(k));
  return needed.length ? `[project].dynamic lists ${needed.join(', ')}` : null;
}

const SCM_BACKENDS = new Set(['setuptools-scm', 'hatch-vcs']);

/** Whether the version comes from git through setuptools-scm (directly or through hatch-vcs). */
export function usesScmVersion(files: GitProjectFiles): boolean {
  if (files.setupPy !== undefined && /\buse_scm_version\b/.test(files.setupPy)) return true;
  if (files.pyproject === undefined) return false;
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(files.pyproject) as Record<string, unknown>;
  } catch {
    return false;
  }
  const requires = (doc['build-system'] as { requires?: unknown } | undefined)?.requires;
  const names = Array.isArray(requires) ? requires.map((r) => normalized(/^\s*([A-Za-z0-9._-]+)/.exec(String(r))?.[1] ?? '')) : [];
  const tool = (doc.tool ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const hatchVersion = (tool.hatch?.version ?? {}) as Record<string, unknown>;
  return names.some((n) => SCM_BACKENDS.has(n)) || tool.setuptools_scm !== undefined || hatchVersion.source === 'vcs';
}

/** A tag regex the project sets (setuptools-scm `tag_regex`, hatch-vcs `tag-pattern`): envseal cannot apply it exactly. */
function customTagRegex(files: GitProjectFiles): boolean {
  if (files.pyproject === undefined) return false;
  try {
    const doc = parseToml(files.pyproject) as { tool?: Record<string, Record<string, unknown> | undefined> };
    const hatchVersion = (doc.tool?.hatch?.version ?? {}) as Record<string, unknown>;
    return doc.tool?.setuptools_scm?.tag_regex !== undefined || hatchVersion['tag-pattern'] !== undefined;
  } catch {
    return false;
  }
}

/** setuptools-scm's default tag regex (DEFAULT_TAG_REGEX): an optional `name-` prefix, then the version. */
const TAG_VERSION = /^(?:[\w-]+-)?([vV]?\d+(?:\.\d+){0,2}[^+]*)(?:\+.*)?$/;

export type ScmVersion = { ok: true; version: string; tag: string } | { ok: false; problem: string; hint: string };

/**
 * The version setuptools-scm gives a clean checkout of `commit`, when it is exact: the commit carries exactly one
 * version tag (by the remote's refs; `git describe --match *[0-9]*` only sees tags with a digit). Pure.
 */
export function scmVersionAt(commit: string, refs: readonly RemoteRef[], files: GitProjectFiles): ScmVersion {
  const hint =
    'require the commit of a version tag (name @ git+…@v1.2.0), or give the project a static [project].version; envseal builds from an archive without git history, so it cannot compute a version past a tag as pip would';
  if (customTagRegex(files)) {
    return {
      ok: false,
      problem: 'its version comes from git tags through a custom tag_regex/tag-pattern, which envseal does not apply',
      hint: 'give the project a static [project].version at that commit',
    };
  }
  const peeled = new Map<string, string>();
  for (const r of refs) if (r.name.startsWith('refs/tags/') && r.name.endsWith('^{}')) peeled.set(r.name.slice(10, -3), r.oid);
  const versions = new Map<string, string>();
  for (const r of refs) {
    if (!r.name.startsWith('refs/tags/') || r.name.endsWith('^{}')) continue;
    const tag = r.name.slice(10);
    if ((peeled.get(tag) ?? r.oid) !== commit || !/[0-9]/.test(tag)) continue;
    const raw = TAG_VERSION.exec(tag)?.[1]?.replace(/^[vV]/, '');
    const version = raw !== undefined ? tryParseVersion(raw) : null;
    if (raw !== undefined && version) versions.set(formatVersion(version), tag);
  }
  if (versions.size === 1) {
    const [version, tag] = [...versions.entries()][0]!;
    return { ok: true, version, tag };
  }
  if (versions.size > 1) {
    return {
      ok: false,
      problem: `commit ${commit} carries several version tags (${[...versions.values()].join(', ')}), and git describe would pick one`,
      hint,
    };
  }
  return { ok: false, problem: `its version comes from git (setuptools-scm), and commit ${commit} is not the commit of a version tag`, hint };
}

function normalized(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}
