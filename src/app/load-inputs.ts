/**
 * Reads the spec and every manifest it names, and normalises them into `DeclaredInputs`: the half of the lock
 * that says what the project asked for. Its digest is the lock's input hash.
 */
import { declaredPlatform } from '../lock/platforms.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { toRel } from '../core/paths.js';
import { describeError, inputError } from '../core/errors.js';
import { digestOf } from '../core/canonical-json.js';
import { readTextFile } from '../core/read-text-file.js';
import { CredentialStore } from '../core/url-credentials.js';
import type { DeclaredInputs } from '../lock/schema.js';
import { ECOSYSTEMS, unusedValue, type WingId } from '../ecosystems/registry.js';
import type { LoadContext } from '../ecosystems/types.js';
import { parseSpec } from '../envspec/load-spec.js';
import type { EnvSpec } from '../envspec/schema.js';

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
  /** What each wing's `load` keeps for `resolve` besides its declared inputs (e.g. the parsed npm lockfile). */
  states: Partial<Record<WingId, unknown>>;
  /**
   * Credentials found as userinfo in index URLs (envseal.yaml, requirements files). `declared` holds the URLs
   * without them, so the lock and its input hash are the same with or without credentials.
   */
  credentials: CredentialStore;
}

export type ReadText = (absPath: string) => Promise<string>;

const readText: ReadText = (p) => readTextFile(p, 'the file');

/** Names of the regular files at the top of the project directory. */
export type ListFiles = (dir: string) => Promise<string[]>;

const listFiles: ListFiles = async (dir) => {
  // A project directory that cannot be listed has no files to refuse; reading the spec reports the real problem.
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
};

export async function loadInputs(paths: ProjectPaths, read: ReadText = readText, list: ListFiles = listFiles): Promise<LoadedInputs> {
  const specRel = toRel(paths.dir, paths.spec);
  const specText = await readRequired(read, paths.spec, specRel, 'the env spec', 'run `envseal init` to create one');
  const spec = parseSpec(specText, specRel);
  const files = new Set<string>([specRel]);
  const credentials = new CredentialStore();
  const ctx: LoadContext = {
    specFile: specRel,
    credentials,
    async readManifest(rel, listedAt) {
      files.add(rel);
      return readRequired(read, join(paths.dir, rel), rel, `listed in ${specRel} ${listedAt}`);
    },
    async readOptional(rel) {
      try {
        const text = await read(join(paths.dir, rel));
        files.add(rel);
        return text;
      } catch {
        return null;
      }
    },
  };
  const sections: Record<string, unknown> = {};
  const states: Partial<Record<WingId, unknown>> = {};
  for (const wing of ECOSYSTEMS) {
    const devSpec = (spec.targets.dev as Record<string, unknown>)[wing.id];
    const loaded = await wing.load((spec as Record<string, unknown>)[wing.id], devSpec, ctx);
    sections[wing.id] = loaded?.declared ?? unusedValue(wing);
    if (loaded) states[wing.id as WingId] = loaded.state;
  }
  const declared = {
    base: spec.base,
    platform: declaredPlatform(spec.platform),
    workdir: spec.workdir,
    env: spec.env,
    ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
    ...sections,
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
  } as DeclaredInputs;
  refuseUnusedInputs(await list(paths.dir), spec.ignore, files, specRel);
  return { spec, declared, inputHash: computeInputHash(declared), files: [...files], states, credentials };
}

/**
 * Never silently ignore an input: a file an ecosystem recognises but does not read (a uv.lock, an
 * environment.yml, ...) would make the environment differ from what the project means, so it is an error until
 * the spec lists it under `ignore:`.
 */
function refuseUnusedInputs(projectFiles: string[], ignore: string[], read: Set<string>, specRel: string): void {
  const unused = ECOSYSTEMS.flatMap((w) => {
    const found = w.init(projectFiles);
    return [...(found.unused ?? []), ...(found.mustRead ?? [])];
  })
    .filter((u) => !read.has(u.file) && !ignore.includes(u.file))
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  if (!unused.length) return;
  throw inputError(
    'input.unused',
    `${unused.length} project file${unused.length === 1 ? '' : 's'} envseal recognises would be ignored: ${unused.map((u) => u.file).join(', ')}`,
    {
      details: unused.map((u) => `${u.file}: ${u.why}`),
      hint: `if ${unused.length === 1 ? 'it is not an input' : 'they are not inputs'} of this environment, list ${unused.length === 1 ? 'it' : 'them'} under \`ignore:\` in ${specRel}; otherwise express the dependencies in a form envseal reads (requirements.txt, pyproject.toml)`,
    },
  );
}

/** Declared inputs with every list in canonical order, so equal inputs compare (and hash) equal. */
export function normalizeDeclared(declared: DeclaredInputs): DeclaredInputs {
  const out: Record<string, unknown> = { ...declared };
  for (const wing of ECOSYSTEMS) {
    const section = (declared as Record<string, unknown>)[wing.id];
    out[wing.id] = section ? wing.normalizeDeclared(section) : unusedValue(wing);
  }
  return out as DeclaredInputs;
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
