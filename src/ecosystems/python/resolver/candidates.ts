/**
 * From an index page to the versions a resolver may choose, for one target: which files are usable, why
 * the others are not, and which file pip would install for each version.
 *
 * A file is usable when (pip's `LinkEvaluator` and `CandidateEvaluator` rules, plus envseal's options):
 *   - its name is a wheel (PEP 427) or an sdist (PEP 625 `.tar.gz`, or `.zip`) of this project with a PEP 440
 *     version (`pep/wheel.ts`);
 *   - a wheel has a tag the target supports (PEP 425, manylinux PEP 600 / musllinux PEP 656 against the
 *     target's libc, abi3); sdists only when the project is not `onlyBinary`;
 *   - the index's Requires-Python (PEP 503 `data-requires-python`, PEP 345) admits the target's Python;
 *   - under `excludeNewer`, its PEP 700 upload time is known and not later (a file without an upload time
 *     cannot be shown to be old enough, so it is left out: re-resolving later must give the same answer);
 *   - when the requirements give `--hash` allow-lists for the project, its sha256 is in them.
 *
 * Among the usable files of a version, pip's order decides (`CandidateEvaluator._sort_key`): not yanked
 * before yanked (PEP 592), then wheels by the target's tag preference (most specific tag first), then a
 * higher build tag, and sdists last.
 */
import type { IndexFile, IndexProject } from '../../../core/ports.js';
import { tryParseSpecifierSet } from '../pep/specifier.js';
import { tryParseTagSet, type WheelTag } from '../pep/tags.js';
import { compareVersions, formatVersion, isPrerelease, type Version } from '../pep/version.js';
import { compareBuildTags, tryParseSdistFilename, tryParseWheelFilename, type BuildTag } from '../pep/wheel.js';

/** What decides whether a file fits the target (built from the target probe). */
export interface TargetFit {
  /** The interpreter's full version (`3.11.2`), what Requires-Python is checked against. */
  pythonVersion: string;
  /** Rank of the best supported tag among a wheel's tags (0 = most preferred), undefined when none is supported. */
  rankWheelTags(tags: readonly WheelTag[]): number | undefined;
  /** "CPython 3.11.2 on Linux x86_64 (glibc 2.36)", for messages. */
  description: string;
}

export interface FilePolicy {
  /** Upload-time cut-off (ms since the epoch), from `excludeNewer`. */
  excludeNewer?: number;
  /** Sdists are not considered for this project. */
  onlyBinary: boolean;
  /** sha256 allow-list from the requirements' `--hash` options, when they give one for this project. */
  allowedHashes?: ReadonlySet<string>;
}

export type SkipKind = 'invalid' | 'platform' | 'requires-python' | 'exclude-newer' | 'no-upload-time' | 'hash' | 'only-binary';

export interface SkippedFile {
  filename: string;
  kind: SkipKind;
  reason: string;
}

export interface FileCandidate {
  file: IndexFile;
  kind: 'wheel' | 'sdist';
  /** Tag rank (lower is better); sdists rank after every wheel. */
  rank: number;
  /** PEP 427 build tag; null when absent. */
  build: BuildTag | null;
  yanked: boolean;
  /** The version as this file's name spells it. */
  version: Version;
}

export interface VersionCandidates {
  /** Canonical version text (PEP 440 normalised). */
  version: string;
  parsed: Version;
  prerelease: boolean;
  /** Usable files, the one pip would pick first. */
  files: FileCandidate[];
  /** Every usable file is yanked: the version is only chosen when pinned with == / ===. */
  yanked: boolean;
  yankedReason?: string;
  skipped: SkippedFile[];
}

export interface ProjectCandidates {
  name: string;
  /** The index the project came from; undefined when no index has it. */
  index?: string;
  /** The indexes that were asked, in order. */
  indexesTried: string[];
  /** Versions with at least one usable file, ascending: the solver's universe for this project. */
  usable: VersionCandidates[];
  /**
   * Versions that exist but have no usable file, ascending, with the reasons. Complete only after
   * `completeCandidates` (files for other platforms are read lazily).
   */
  unusable: VersionCandidates[];
  /** Files whose names could not be read at all. */
  invalid: SkippedFile[];
}

const requiresPythonChecks = new Map<string, boolean>();

function requiresPythonAdmits(spec: string, pythonVersion: string): boolean {
  // Every file of a release states the same Requires-Python: check each distinct text once.
  const key = `${pythonVersion} ${spec}`;
  let ok = requiresPythonChecks.get(key);
  if (ok === undefined) {
    const set = tryParseSpecifierSet(spec);
    // pip ignores a Requires-Python it cannot parse (it logs and keeps the file); so do we.
    ok = !set || set.contains(pythonVersion, { prereleases: true });
    if (requiresPythonChecks.size > 10_000) requiresPythonChecks.clear();
    requiresPythonChecks.set(key, ok);
  }
  return ok;
}

/** pip's order of files within a version: not yanked, best tag, higher build tag; sdists after wheels. */
export function compareFileCandidates(a: FileCandidate, b: FileCandidate): number {
  if (a.yanked !== b.yanked) return a.yanked ? 1 : -1;
  if (a.rank !== b.rank) return a.rank - b.rank;
  const builds = compareBuildTags(b.build, a.build);
  if (builds !== 0) return builds;
  return a.file.filename < b.file.filename ? -1 : a.file.filename > b.file.filename ? 1 : 0;
}

/** Sorts one project's files into usable versions (the universe) and unusable ones, for one target. */
export function collectCandidates(project: IndexProject, fit: TargetFit, policy: FilePolicy, indexesTried: string[]): ProjectCandidates {
  const state: CollectState = { project, fit, policy, byVersion: new Map(), keys: new Map(), invalid: [] };
  const deferred: IndexFile[] = [];
  const tagRanks = new Map<string, number | undefined>();
  for (const file of project.files) {
    // Most wheels on a real index are for other platforms. Their tag set alone rules them out; reading
    // their names fully is only needed to explain a failure, so it waits until then (`completeCandidates`).
    if (file.filename.endsWith('.whl')) {
      const parts = file.filename.slice(0, -4).split('-');
      if (parts.length === 5 || parts.length === 6) {
        const tagText = parts.slice(-3).join('-');
        if (!tagRanks.has(tagText)) {
          const tags = tryParseTagSet(tagText);
          tagRanks.set(tagText, tags ? fit.rankWheelTags(tags) : undefined);
        }
        if (tagRanks.get(tagText) === undefined) {
          deferred.push(file);
          continue;
        }
      }
    }
    addFile(state, file);
  }

  const usable: VersionCandidates[] = [];
  const unusable: VersionCandidates[] = [];
  for (const entry of state.byVersion.values()) {
    entry.files.sort(compareFileCandidates);
    if (entry.files.length === 0) {
      unusable.push(entry);
      continue;
    }
    // Spelled as the file that would be installed spells it (`1.0.0` when that is the best file's).
    entry.parsed = entry.files[0]!.version;
    entry.version = formatVersion(entry.parsed);
    entry.yanked = entry.files.every((f) => f.yanked);
    if (entry.yanked) {
      const reason = entry.files.map((f) => f.file.yanked).find((y) => typeof y === 'string' && y !== '');
      if (typeof reason === 'string') entry.yankedReason = reason;
    }
    usable.push(entry);
  }
  usable.sort(ascending);
  unusable.sort(ascending);
  const result: ProjectCandidates = { name: project.name, index: project.index, indexesTried, usable, unusable, invalid: state.invalid };
  pendingSkips.set(result, { state, deferred });
  return result;
}

const ascending = (a: VersionCandidates, b: VersionCandidates) => compareVersions(a.parsed, b.parsed);

interface CollectState {
  project: IndexProject;
  fit: TargetFit;
  policy: FilePolicy;
  byVersion: Map<string, VersionCandidates>;
  /** Version text → grouping key (1.0 and 1.0.0 are one version). */
  keys: Map<string, string>;
  invalid: SkippedFile[];
}

/** Files whose names were not read yet, per result (see `completeCandidates`). */
const pendingSkips = new WeakMap<ProjectCandidates, { state: CollectState; deferred: IndexFile[] }>();

/**
 * Reads the files `collectCandidates` set aside because their tags rule them out, so that `unusable` and
 * every version's `skipped` list are complete: what error messages need. The usable versions do not change.
 */
export function completeCandidates(candidates: ProjectCandidates): ProjectCandidates {
  const pending = pendingSkips.get(candidates);
  if (!pending) return candidates;
  pendingSkips.delete(candidates);
  const before = new Set(pending.state.byVersion.values());
  for (const file of pending.deferred) addFile(pending.state, file);
  for (const entry of pending.state.byVersion.values()) {
    if (!before.has(entry)) candidates.unusable.push(entry);
  }
  candidates.unusable.sort(ascending);
  return candidates;
}

/** Sorts one file into its version: usable (with its rank), or skipped with the reason. */
function addFile(state: CollectState, file: IndexFile): void {
  const { project, fit, policy } = state;
  const wheel = file.filename.endsWith('.whl') ? tryParseWheelFilename(file.filename) : null;
  const sdist = wheel ? null : tryParseSdistFilename(file.filename, project.name);
  const parsed = wheel ?? sdist!;
  if (!parsed.ok || parsed.value.normalizedName !== project.name) {
    // Not a distribution of this project (eggs, .exe installers, other names, unreadable versions):
    // pip skips these too.
    state.invalid.push({ filename: file.filename, kind: 'invalid', reason: parsed.ok ? `a file of ${parsed.value.normalizedName}` : parsed.reason });
    return;
  }
  const version = parsed.value.version;
  // 1.0 and 1.0.0 are the same version (PEP 440 compares releases padded with zeros).
  let key = state.keys.get(parsed.value.versionText);
  if (key === undefined) {
    key = formatVersion({ ...version, release: trimZeros(version.release) });
    state.keys.set(parsed.value.versionText, key);
  }
  let entry = state.byVersion.get(key);
  if (!entry) {
    entry = { version: formatVersion(version), parsed: version, prerelease: isPrerelease(version), files: [], yanked: false, skipped: [] };
    state.byVersion.set(key, entry);
  }
  const skip = (kind: SkipKind, reason: string): void => {
    entry!.skipped.push({ filename: file.filename, kind, reason });
  };

  let rank: number;
  let build: BuildTag | null = null;
  if (wheel?.ok) {
    const r = fit.rankWheelTags(wheel.value.tags);
    if (r === undefined) return skip('platform', 'no supported wheel tag');
    rank = r;
    build = wheel.value.buildTag;
  } else {
    if (policy.onlyBinary) return skip('only-binary', 'sdists are excluded by onlyBinary');
    rank = Number.MAX_SAFE_INTEGER;
  }
  if (file.requiresPython !== undefined && !requiresPythonAdmits(file.requiresPython, fit.pythonVersion)) {
    return skip('requires-python', `requires Python ${file.requiresPython}`);
  }
  if (policy.excludeNewer !== undefined) {
    const uploaded = file.uploadTime === undefined ? Number.NaN : Date.parse(file.uploadTime);
    if (Number.isNaN(uploaded)) return skip('no-upload-time', 'the index gives no upload time, so it cannot be shown to predate excludeNewer');
    if (uploaded > policy.excludeNewer) return skip('exclude-newer', `uploaded ${file.uploadTime}, after excludeNewer`);
  }
  if (policy.allowedHashes) {
    const sha = file.hashes.sha256;
    if (!sha || !policy.allowedHashes.has(sha)) return skip('hash', `its sha256 ${sha ?? '(unknown)'} is not in the --hash list`);
  }
  entry.files.push({ file, kind: wheel ? 'wheel' : 'sdist', rank, build, yanked: file.yanked !== false, version });
}

function trimZeros(release: readonly number[]): number[] {
  let n = release.length;
  while (n > 1 && release[n - 1] === 0) n -= 1;
  return release.slice(0, n);
}

/** The candidates of a project no index has. */
export function missingProject(name: string, indexesTried: string[]): ProjectCandidates {
  return { name, indexesTried, usable: [], unusable: [], invalid: [] };
}
