/**
 * Reads the spec and every manifest it names, and normalises them into `DeclaredInputs`: the half of the lock
 * that says what the project asked for. Its digest is the lock's input hash.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toRel } from '../core/paths.js';
import { describeError, inputError } from '../core/errors.js';
import type { DeclaredInputs, DeclaredRequirement } from '../lock/schema.js';
import { parseAptList } from '../ecosystems/apt/parse-apt-list.js';
import { parseNpmManifests, type NpmManifest } from '../ecosystems/npm/parse-npm.js';
import { loadRequirementsFile, type PythonRequirement } from '../ecosystems/python/manifests/requirements.js';
import { parsePyproject, selectPyprojectGroups } from '../ecosystems/python/manifests/pyproject.js';
import { normalizeName } from '../ecosystems/python/pep/names.js';
import { formatRequirement, parseRequirement } from '../ecosystems/python/pep/requirement.js';
import { parseSpec } from '../envspec/load-spec.js';
import type { EnvSpec } from '../envspec/schema.js';
import { digestOf } from '../core/canonical-json.js';
import { CredentialStore, maskUrlCredentials, splitUrlCredentials } from '../core/url-credentials.js';

export const DEFAULT_INDEX = 'https://pypi.org/simple';

export interface ProjectPaths {
  /** Project directory (absolute). */
  dir: string;
  /** Spec file (absolute). */
  spec: string;
  /** Lock file (absolute). */
  lock: string;
}

export interface LoadedInputs {
  spec: EnvSpec;
  declared: DeclaredInputs;
  inputHash: string;
  /** Project-relative files read (spec first). */
  files: string[];
  /** The parsed npm manifests, when the spec has an `npm` section. */
  npm?: NpmManifest;
  /**
   * Credentials found as userinfo in index URLs (envseal.yaml, requirements files). `declared` holds the URLs
   * without them, so the lock and its input hash are the same with or without credentials.
   */
  credentials: CredentialStore;
}

export type ReadText = (absPath: string) => Promise<string>;

const readText: ReadText = (p) => readFile(p, 'utf8');

export async function loadInputs(paths: ProjectPaths, read: ReadText = readText): Promise<LoadedInputs> {
  const specRel = toRel(paths.dir, paths.spec);
  const specText = await readRequired(read, paths.spec, specRel, 'the env spec', 'run `envseal init` to create one');
  const spec = parseSpec(specText, specRel);
  const files = new Set<string>([specRel]);
  const credentials = new CredentialStore();
  const readManifest = async (rel: string, listedAt: string) => {
    files.add(rel);
    return readRequired(read, join(paths.dir, rel), rel, `listed in ${specRel} ${listedAt}`);
  };

  const declared: DeclaredInputs = {
    base: spec.base,
    platform: spec.platform,
    workdir: spec.workdir,
    env: spec.env,
    ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
    python: null,
    apt: null,
    npm: null,
    targets: {
      dev: { env: spec.targets.dev.env },
      deploy: {
        copy: spec.targets.deploy.copy,
        ...(spec.targets.deploy.command ? { command: spec.targets.deploy.command } : {}),
        ...(spec.targets.deploy.entrypoint ? { entrypoint: spec.targets.deploy.entrypoint } : {}),
        user: spec.targets.deploy.user,
        uid: spec.targets.deploy.uid,
        env: spec.targets.deploy.env,
      },
    },
  };

  const devPython = spec.targets.dev.python;
  if (spec.python || devPython) {
    const py = spec.python;
    const requirements: DeclaredRequirement[] = [];
    const fileIndexes: string[] = [];
    const options: Record<string, string | boolean | string[]> = {};
    const addAll = (reqs: PythonRequirement[], kind: DeclaredRequirement['kind'], targets: DeclaredRequirement['targets']) => {
      for (const r of reqs) {
        requirements.push({ requirement: formatRequirement(r.requirement), hashes: r.hashes, source: r.source.file, kind, targets });
      }
    };
    const loadReqFile = async (rel: string, listedAt: string, targets: DeclaredRequirement['targets'], asConstraints: boolean) => {
      const loaded = await loadRequirementsFile(rel, async (p) => readManifest(p, listedAt));
      addAll(loaded.requirements, asConstraints ? 'constraint' : 'requirement', targets);
      addAll(loaded.constraints, 'constraint', targets);
      if (loaded.indexUrl) fileIndexes.push(loaded.indexUrl);
      fileIndexes.push(...loaded.extraIndexUrls);
      for (const [k, v] of Object.entries(loaded.options)) if (v !== undefined) options[k] = v as string | boolean | string[];
    };
    const inline = (texts: string[], listedAt: string, targets: DeclaredRequirement['targets']) => {
      texts.forEach((text, i) => {
        let req;
        try {
          req = parseRequirement(text);
        } catch (err) {
          throw inputError('spec.invalid', `${specRel}: ${listedAt}.${i}: invalid requirement "${text}": ${describeError(err)}`);
        }
        if (req.url) {
          throw inputError('manifest.direct-url', `${specRel}: ${listedAt}.${i}: direct URL requirements are not supported ("${text}")`, {
            hint: 'publish the package to an index (a local one works) and require it by name and version',
          });
        }
        requirements.push({ requirement: formatRequirement(req), hashes: [], source: specRel, kind: 'requirement', targets });
      });
    };

    for (const [i, rel] of (py?.requirements ?? []).entries()) await loadReqFile(rel, `python.requirements.${i}`, ['deploy', 'dev'], false);
    for (const [i, rel] of (py?.constraints ?? []).entries()) await loadReqFile(rel, `python.constraints.${i}`, ['deploy', 'dev'], true);
    inline(py?.packages ?? [], 'python.packages', ['deploy', 'dev']);
    if (py?.pyproject) {
      const ref = typeof py.pyproject === 'string' ? { path: py.pyproject, extras: [] as string[] } : py.pyproject;
      const text = await readManifest(ref.path, 'python.pyproject');
      const pyproject = parsePyproject(text, ref.path);
      addAll(selectPyprojectGroups(pyproject, ref.extras), 'requirement', ['deploy', 'dev']);
    }
    for (const [i, rel] of (devPython?.requirements ?? []).entries()) await loadReqFile(rel, `targets.dev.python.requirements.${i}`, ['dev'], false);
    inline(devPython?.packages ?? [], 'targets.dev.python.packages', ['dev']);

    const packageIndexes: Record<string, string> = {};
    for (const [name, url] of Object.entries(py?.packageIndexes ?? {})) packageIndexes[normalizeName(name)] = credentials.addFromUrl(url).replace(/\/+$/, '');
    const primary = dedupe([...(py?.index ? [py.index] : []), ...fileIndexes, ...(py?.extraIndexes ?? [])].map((u) => credentials.addFromUrl(u)));
    // Pinned indexes go last: they serve only their own projects, but pip in the image must be able to reach them.
    const indexes = dedupe([...(primary.length ? primary : [DEFAULT_INDEX]), ...Object.values(packageIndexes)]);
    declared.python = {
      interpreter: py?.interpreter ?? 'python3',
      indexes,
      venv: py?.venv ?? 'auto',
      systemSitePackages: py?.systemSitePackages ?? false,
      packageIndexes,
      ...(py?.excludeNewer ? { excludeNewer: new Date(py.excludeNewer).toISOString().replace(/\.000Z$/, 'Z') } : {}),
      requirements,
      options,
    };
  }

  const devApt = spec.targets.dev.apt;
  if (spec.apt || devApt) {
    const packages: NonNullable<DeclaredInputs['apt']>['packages'] = [];
    const addApt = async (group: { packages: string[]; lists: string[] } | undefined, prefix: string, targets: DeclaredRequirement['targets']) => {
      for (const name of group?.packages ?? []) packages.push({ name, source: specRel, targets });
      for (const [i, rel] of (group?.lists ?? []).entries()) {
        const text = await readManifest(rel, `${prefix}.lists.${i}`);
        for (const entry of parseAptList(text, rel)) packages.push({ name: entry.name, source: rel, targets });
      }
    };
    await addApt(spec.apt, 'apt', ['deploy', 'dev']);
    await addApt(devApt, 'targets.dev.apt', ['dev']);
    if (spec.apt?.snapshotUrl && splitUrlCredentials(spec.apt.snapshotUrl).credentials) {
      throw inputError('spec.credentials', `${specRel}: apt.snapshotUrl: ${maskUrlCredentials(spec.apt.snapshotUrl)} carries credentials, which would be written into the lock and the Dockerfile`, {
        hint: 'use a snapshot mirror that needs no credentials (apt reads the URL inside the image)',
      });
    }
    declared.apt = {
      installRecommends: spec.apt?.installRecommends ?? false,
      snapshot: spec.apt?.snapshot ?? false,
      ...(spec.apt?.snapshotUrl ? { snapshotUrl: spec.apt.snapshotUrl } : {}),
      packages,
    };
  }

  let npmManifest: NpmManifest | undefined;
  if (spec.npm) {
    const dir = spec.npm.dir.replace(/\/+$/, '') || '.';
    const prefix = dir === '.' ? '' : `${dir}/`;
    const pkgRel = `${prefix}package.json`;
    const lockRel = `${prefix}package-lock.json`;
    const pkgText = await readManifest(pkgRel, 'npm.dir');
    let lockText: string;
    try {
      lockText = await read(join(paths.dir, lockRel));
    } catch {
      throw inputError('manifest.npm.no-lockfile', `${pkgRel} has no ${lockRel} next to it`, {
        hint: `envseal installs npm packages with \`npm ci\`, which needs a lockfile: run \`npm install --package-lock-only\` in ${dir} and commit package-lock.json`,
      });
    }
    files.add(lockRel);
    const npm = parseNpmManifests({ path: pkgRel, text: pkgText }, { path: lockRel, text: lockText });
    npmManifest = npm;
    declared.npm = { dir, target: spec.npm.target, packageJsonSha256: npm.packageJsonSha256, lockfileSha256: npm.lockfileSha256 };
  }

  return { spec, declared, inputHash: computeInputHash(declared), files: [...files], ...(npmManifest ? { npm: npmManifest } : {}), credentials };
}

/** Declared inputs with every list in canonical order, so equal inputs compare (and hash) equal. */
export function normalizeDeclared(declared: DeclaredInputs): DeclaredInputs {
  const key = (...parts: string[]) => parts.join('\u0000');
  return {
    ...declared,
    python: declared.python
      ? {
          ...declared.python,
          requirements: declared.python.requirements
            .map((r) => ({ ...r, hashes: [...r.hashes].sort(), targets: [...r.targets].sort() }))
            .sort((a, b) => cmp(key(a.kind, a.requirement, a.source, a.targets.join()), key(b.kind, b.requirement, b.source, b.targets.join()))),
        }
      : null,
    apt: declared.apt
      ? {
          ...declared.apt,
          packages: declared.apt.packages
            .map((p) => ({ ...p, targets: [...p.targets].sort() }))
            .sort((a, b) => cmp(key(a.name, a.source), key(b.name, b.source))),
        }
      : null,
  };
}

export function computeInputHash(declared: DeclaredInputs): string {
  return digestOf(normalizeDeclared(declared));
}

async function readRequired(read: ReadText, abs: string, rel: string, what: string, hint?: string): Promise<string> {
  try {
    return await read(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw inputError('manifest.missing', `${rel}: no such file (${what})`, { hint: hint ?? 'create it or remove it from the spec' });
    }
    throw inputError('manifest.unreadable', `${rel}: cannot read (${what}): ${describeError(err)}`);
  }
}

export { toRel };

function dedupe(items: string[]): string[] {
  return [...new Set(items.map((u) => u.replace(/\/+$/, '')))];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
