/**
 * The npm wing: package.json + package-lock.json. envseal does not resolve npm packages itself: the lockfile
 * is the pin, its sha256 is locked, and the image installs it with `npm ci`.
 */
import { inputError } from '../../core/errors.js';
import { DriftCollector, type DriftEntry } from '../../core/drift.js';
import { hex64Schema } from '../../core/ground.js';
import { absPathSchema, relPathSchema } from '../../core/spec-values.js';
import { shellQuote } from '../../core/dockerfile-quote.js';
import { z } from 'zod';
import { defineEcosystem, type LoadContext } from '../types.js';
import type { NpmManifest } from './parse-npm.js';

const npmSpecSchema = z.strictObject({
  /** Directory holding package.json and package-lock.json, relative to the project. */
  dir: relPathSchema.default('.'),
  /** Where the npm packages are installed inside the image. */
  target: absPathSchema.default('/opt/envseal/npm'),
  /**
   * `npm ci --ignore-scripts`: no lifecycle scripts run at install, neither the dependencies' (native builds,
   * downloads) nor the project's own (`prepare`, which usually needs devDependencies the image omits).
   */
  ignoreScripts: z.boolean().default(false),
});

const npmDeclaredSchema = z.strictObject({
  dir: z.string(),
  target: z.string(),
  packageJsonSha256: hex64Schema,
  lockfileSha256: hex64Schema,
  /** Present only when true, so that locks written before the option existed keep their input hash. */
  ignoreScripts: z.literal(true).optional(),
});
type NpmDeclared = z.infer<typeof npmDeclaredSchema>;

const npmSectionSchema = z.strictObject({
  dir: z.string(),
  target: z.string(),
  lockfile: z.string(),
  lockfileVersion: z.number().int(),
  sha256: hex64Schema,
  packages: z.number().int(),
  /** Present only when true (the fingerprint of every other lock stays what it was). */
  ignoreScripts: z.literal(true).optional(),
});

const NPM_CI = 'npm ci --omit=dev --no-audit --no-fund && npm cache clean --force';
/**
 * With `ignoreScripts`. `--logs-max=0` as well: npm otherwise leaves a debug log named by the clock in
 * /root/.npm/_logs, so two builds of the same lock differ (measured: the npm layer was the only difference).
 * NPM_CI has the same flaw; it keeps its bytes so that existing projects' Dockerfiles do not change.
 */
const NPM_CI_NO_SCRIPTS = 'npm ci --omit=dev --ignore-scripts --no-audit --no-fund --logs-max=0 && npm cache clean --force --logs-max=0';

export const npmWing = defineEcosystem({
  id: 'npm',
  title: 'npm packages (package.json + package-lock.json; installed by npm ci)',
  schemas: { spec: npmSpecSchema, devSpec: null, declared: npmDeclaredSchema, section: npmSectionSchema },
  init(files) {
    if (!files.includes('package.json')) return { found: [], lines: [], devLines: [] };
    const lines = ['npm:', '  # package.json + package-lock.json; the image runs `npm ci` on the lockfile.', '  dir: .'];
    if (files.includes('package-lock.json')) return { found: ['package.json', 'package-lock.json'], lines, devLines: [] };
    return {
      found: ['package.json'],
      lines,
      devLines: [],
      refuse: {
        code: 'manifest.npm.no-lockfile',
        message: 'package.json has no package-lock.json next to it',
        hint: 'envseal installs npm packages with `npm ci`, which needs a lockfile: run `npm install --package-lock-only` and commit package-lock.json',
      },
    };
  },
  async load(spec, _dev, ctx) {
    if (!spec) return null;
    const dir = spec.dir.replace(/\/+$/, '') || '.';
    const manifest = await loadNpm(dir, ctx);
    const declared: NpmDeclared = {
      dir,
      target: spec.target,
      packageJsonSha256: manifest.packageJsonSha256,
      lockfileSha256: manifest.lockfileSha256,
      ...(spec.ignoreScripts ? { ignoreScripts: true as const } : {}),
    };
    return { declared, state: manifest };
  },
  normalizeDeclared: (npm) => npm,
  canonicalDeclared: (npm) => npm,
  async resolve(declared, manifest: NpmManifest) {
    return {
      dir: declared.dir,
      target: declared.target,
      lockfile: manifest.lockfile,
      lockfileVersion: manifest.lockfileVersion,
      sha256: manifest.lockfileSha256,
      packages: manifest.packages,
      ...(declared.ignoreScripts ? { ignoreScripts: true as const } : {}),
    };
  },
  canonicalize: (npm) => npm,
  // Whether install scripts ran changes what is installed: covered, and only when set (older locks unchanged).
  fingerprint: (npm) => ({ sha256: npm.sha256, target: npm.target, ...(npm.ignoreScripts ? { ignoreScripts: true } : {}) }),
  render(npm) {
    const dir = npm.dir === '.' ? '' : `${npm.dir.replace(/\/+$/, '')}/`;
    const install = [
      `COPY ${dir}package.json ${dir}${npm.lockfile} ${npm.target}/`,
      `RUN cd ${shellQuote(npm.target)} && ${npm.ignoreScripts ? NPM_CI_NO_SCRIPTS : NPM_CI}`,
    ].join('\n');
    return { deps: `# npm: \`npm ci\` from the lockfile whose sha256 is in the lock.\n${install}` };
  },
  count: (npm) => npm.packages,
  // npm's closure is the lockfile itself: its hash stands for every package in it.
  pins: (npm) => ({ [npm.dir === '.' ? npm.lockfile : `${npm.dir}/${npm.lockfile}`]: `sha256:${npm.sha256}` }),
  drift: npmDrift,
});

async function loadNpm(dir: string, ctx: LoadContext): Promise<NpmManifest> {
  const prefix = dir === '.' ? '' : `${dir}/`;
  const pkgRel = `${prefix}package.json`;
  const lockRel = `${prefix}package-lock.json`;
  const pkgText = await ctx.readManifest(pkgRel, 'npm.dir');
  const lockText = await ctx.readOptional(lockRel);
  if (lockText === null) {
    throw inputError('manifest.npm.no-lockfile', `${pkgRel} has no ${lockRel} next to it`, {
      hint: `envseal installs npm packages with \`npm ci\`, which needs a lockfile: run \`npm install --package-lock-only\` in ${dir} and commit package-lock.json`,
    });
  }
  // Loaded when a project uses npm (it brings semver along).
  const { parseNpmManifests } = await import('./parse-npm.js');
  return parseNpmManifests({ path: pkgRel, text: pkgText }, { path: lockRel, text: lockText });
}

function npmDrift(na: NpmDeclared | null, nb: NpmDeclared | null, specFile: string): DriftEntry[] {
  const out = new DriftCollector(specFile);
  if (!na || !nb) {
    if (na || nb) out.scalar('npm', na ? na.dir : undefined, nb ? nb.dir : undefined);
    return out.entries;
  }
  out.scalar('npm.dir', na.dir, nb.dir);
  out.scalar('npm.target', na.target, nb.target);
  out.scalar('npm.ignoreScripts', na.ignoreScripts ?? false, nb.ignoreScripts ?? false);
  const dir = nb.dir === '.' ? '' : `${nb.dir}/`;
  out.scalar('content', na.packageJsonSha256, nb.packageJsonSha256, `${dir}package.json`);
  out.scalar('content', na.lockfileSha256, nb.lockfileSha256, `${dir}package-lock.json`);
  return out.entries;
}
