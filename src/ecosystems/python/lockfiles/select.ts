/**
 * Which packages and files of an imported lock apply to the target: the lock's environments and
 * requires-python are checked against the target probe, package markers are evaluated against its marker
 * environment and the selected extras/groups (PEP 751), and per package the wheel pip would prefer for the
 * target's tags is chosen (the sdist when no wheel fits). Also checks the lock against its pyproject.toml.
 * Pure: no index access (that is `import-lock.ts`).
 */
import { inputError } from '../../../core/errors.js';
import type { TargetProbe } from '../../../core/ground.js';
import type { TargetName } from '../../../core/image-contract.js';
import { evaluateMarker, type MarkerEnvironment } from '../pep/marker.js';
import { normalizeName } from '../pep/names.js';
import { parseRequirement } from '../pep/requirement.js';
import { containsVersion, parseSpecifierSet, type SpecifierSet } from '../pep/specifier.js';
import { tryParseWheelFilename } from '../pep/wheel.js';
import { targetFitFor } from '../resolver/target.js';
import type { ImportedFile, ImportedGit, ImportedLock, ImportedPackage, PylockLock } from './types.js';
import { poetryApplicable } from './poetry-lock.js';
import { invalid } from './toml-values.js';
import { uvApplicable } from './uv.js';

export interface SelectedPackage {
  name: string;
  version: string;
  file: ImportedFile;
  index?: string;
  /** From the file's URL, not an index (see ImportedPackage.direct). */
  direct?: true;
  /** A git pin: `file` is empty, the commit is built (import-lock.ts). */
  git?: ImportedGit;
  /** Both images, or the dev image only when only the selected dependency groups bring it in. */
  targets: TargetName[];
}

export interface Selection {
  groups: readonly string[];
  extras: readonly string[];
}

const REGENERATE = (lock: ImportedLock) => `regenerate ${lock.path} with the tool that wrote it, for this target`;

function contains(spec: string, version: string, where: string): boolean {
  let set: SpecifierSet;
  try {
    set = parseSpecifierSet(spec);
  } catch {
    throw inputError('python.import-invalid', `${where}: requires-python ${JSON.stringify(spec)} is not a valid specifier`);
  }
  return set.contains(version, { prereleases: true });
}

/** The lock-level checks: environments, requires-python, and that the asked extras/groups exist. */
export function checkLock(lock: ImportedLock, env: MarkerEnvironment, pythonVersion: string, description: string): void {
  if (lock.kind === 'pylock') checkPylock(lock, env, description);
  if ('requiresPython' in lock && lock.requiresPython && !contains(lock.requiresPython, pythonVersion, lock.path)) {
    throw inputError('python.import-wrong-target', `${lock.path} requires Python ${lock.requiresPython}, but the target has ${pythonVersion}`, {
      hint: REGENERATE(lock),
    });
  }
}

function checkPylock(lock: PylockLock, env: MarkerEnvironment, description: string): void {
  if (lock.environments.length && !lock.environments.some((m) => evaluateMarker(m, env))) {
    throw inputError(
      'python.import-wrong-target',
      `${lock.path} is not for ${description}: none of its environments holds (${lock.environments.join(' | ')})`,
      {
        hint: REGENERATE(lock),
      },
    );
  }
}

function checkPylockGroups(lock: PylockLock, sel: Selection): void {
  for (const [asked, known, what] of [
    [sel.groups, lock.dependencyGroups, 'dependency group'],
    [sel.extras, lock.extras, 'extra'],
  ] as const) {
    const unknown = asked.filter((g) => !known.includes(normalizeName(g)));
    if (unknown.length) {
      throw inputError('python.import-unknown-group', `${lock.path} has no ${what} ${unknown.join(', ')} (it has: ${known.join(', ') || 'none'})`, {
        hint: `choose among the lock's ${what}s in python.lockfile, or regenerate the lock with it`,
      });
    }
  }
}

/** The pylock packages whose markers hold for the target and the selected extras/groups. */
function pylockApplicable(lock: PylockLock, env: MarkerEnvironment, sel: Selection): ImportedPackage[] {
  checkPylockGroups(lock, sel);
  const groups = [...lock.defaultGroups, ...sel.groups.map(normalizeName)];
  const lockSets = { extras: sel.extras.map(normalizeName), dependencyGroups: groups };
  return lock.packages.filter((p) => !p.marker || evaluateMarker(p.marker, env, { lockSets }));
}

function applicableIn(lock: ImportedLock, env: MarkerEnvironment, s: Selection): ImportedPackage[] {
  if (lock.kind === 'pylock') return pylockApplicable(lock, env, s);
  if (lock.kind === 'uv') return uvApplicable(lock, env, s);
  if (lock.kind === 'poetry') {
    if (!lock.roots) invalid(lock.path, 'cannot be followed without its pyproject.toml (it records no roots): name it as python.pyproject');
    return poetryApplicable(lock, lock.roots, env, s);
  }
  throw new Error(`${lock.path}: a Pipfile.lock is selected on the index (import-lock.ts)`);
}

/** The target's wheel-tag rank of a file name (undefined: not a wheel, or no tag fits). */
export function rankerFor(target: TargetProbe): { rank: (f: ImportedFile) => number | undefined; description: string } {
  const fit = targetFitFor(target);
  return {
    rank: (f: ImportedFile) => {
      const parsed = tryParseWheelFilename(f.filename);
      return parsed.ok ? fit.rankWheelTags(parsed.value.tags) : undefined;
    },
    description: fit.description,
  };
}

export function chooseFile(lock: ImportedLock, p: ImportedPackage, rank: (f: ImportedFile) => number | undefined, description: string): ImportedFile {
  let best: { file: ImportedFile; rank: number } | undefined;
  for (const file of p.wheels) {
    const r = rank(file);
    if (r !== undefined && (!best || r < best.rank)) best = { file, rank: r };
  }
  if (best) return best.file;
  if (p.sdist) return p.sdist;
  throw inputError('python.import-no-file', `${lock.path}: package ${p.name} ${p.version} has no file for ${description}`, {
    hint: `its wheels are ${p.wheels.map((w) => w.filename).join(', ')}; ${REGENERATE(lock)}`,
  });
}

/**
 * The packages of the lock to install on the target, each with its file. Throws (exit 2, naming the lock and
 * the package) `python.import-wrong-target`, `python.import-unknown-group`, `python.import-no-file`,
 * `python.import-invalid` (two versions of one package apply).
 */
export function selectImported(lock: ImportedLock, target: TargetProbe, sel: Selection): SelectedPackage[] {
  const fit = targetFitFor(target);
  const env = target.python!.markers as unknown as MarkerEnvironment;
  const pythonVersion = target.python!.version;
  checkLock(lock, env, pythonVersion, fit.description);
  const applicableFor = (s: Selection) => applicableIn(lock, env, s);
  const applicable = applicableFor(sel);
  // What the deploy image gets: the lock without the selected groups (those are for the dev image).
  const deploy = new Set((sel.groups.length ? applicableFor({ groups: [], extras: sel.extras }) : applicable).map((p) => `${p.name}==${p.version}`));
  const rank = (f: ImportedFile) => {
    const parsed = tryParseWheelFilename(f.filename);
    return parsed.ok ? fit.rankWheelTags(parsed.value.tags) : undefined;
  };
  const out = new Map<string, SelectedPackage>();
  for (const p of applicable) {
    if (p.requiresPython && !contains(p.requiresPython, pythonVersion, `${lock.path}: package ${p.name}`)) {
      throw inputError(
        'python.import-wrong-target',
        `${lock.path}: package ${p.name} ${p.version} requires Python ${p.requiresPython}, the target has ${pythonVersion}`,
        {
          hint: REGENERATE(lock),
        },
      );
    }
    const seen = out.get(p.name);
    if (seen) {
      throw inputError('python.import-invalid', `${lock.path}: package ${p.name} applies twice to the target (${seen.version} and ${p.version})`, {
        hint: `their markers overlap on this target; ${REGENERATE(lock)}`,
      });
    }
    const file = p.git ? { filename: '', sha256: '' } : chooseFile(lock, p, rank, fit.description);
    const targets: TargetName[] = deploy.has(`${p.name}==${p.version}`) ? ['deploy', 'dev'] : ['dev'];
    out.set(p.name, {
      name: p.name,
      version: p.version,
      file,
      ...(p.index ? { index: p.index } : {}),
      ...(p.direct ? { direct: true } : {}),
      ...(p.git ? { git: p.git } : {}),
      targets,
    });
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A lock is stale against its pyproject.toml when a requirement that applies to the target is missing from
 * the selection or pinned outside its specifier. (PEP 751 records no inputs; this is what can be checked.)
 */
export function checkAgainstPyproject(
  lock: ImportedLock,
  selected: SelectedPackage[],
  pyproject: { path: string; requirements: string[] },
  target: TargetProbe,
): void {
  const env = target.python!.markers as unknown as MarkerEnvironment;
  const byName = new Map(selected.map((s) => [s.name, s]));
  for (const text of pyproject.requirements) {
    const req = parseRequirement(text);
    if (req.marker && !evaluateMarker(req.marker, env)) continue;
    const name = normalizeName(req.name);
    const pinned = byName.get(name);
    const hint = `the lock no longer matches ${pyproject.path}: regenerate ${lock.path} with the tool that wrote it`;
    if (!pinned) throw inputError('python.import-stale', `${lock.path} is stale: ${pyproject.path} requires ${text}, which the lock does not pin`, { hint });
    if (req.specifier && !containsVersion(req.specifier, pinned.version, { prereleases: true })) {
      throw inputError('python.import-stale', `${lock.path} is stale: ${pyproject.path} requires ${text}, but the lock pins ${name} ${pinned.version}`, {
        hint,
      });
    }
  }
}
