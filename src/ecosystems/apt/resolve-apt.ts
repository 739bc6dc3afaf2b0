/**
 * apt: the full closure of the listed packages at exact versions, resolved inside a container of the pinned
 * base image (`apt-get update` then `apt-get install -s`), so what is locked is what that base would install.
 * Packages the base already has at the candidate version are recorded as `installed` (pinned by the base
 * digest) and not installed again.
 */
import type { ContainerEngine } from '../../core/ports.js';
import { externalError, inputError } from '../../core/errors.js';
import type { LockedAptPackage } from './schema.js';
import { writeSourcesScript, type AptSourcesFile } from './apt-sources.js';
import { captureContainerOutput } from '../../core/container-output.js';

export interface AptRequest {
  /** Packages every target gets. */
  main: string[];
  /** Extra packages for the dev target. */
  dev: string[];
  installRecommends: boolean;
  /** Replace the image's apt sources with these (a snapshot archive) before resolving. */
  sources?: AptSourcesFile;
}

export interface SimulatedInstall {
  name: string;
  version: string;
  architecture: string;
}

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
}

const MARK_MAIN = '__ENVSEAL_SIM_MAIN__';
const MARK_ALL = '__ENVSEAL_SIM_ALL__';
const MARK_DPKG = '__ENVSEAL_DPKG__';

export function aptScript(request: AptRequest): string {
  const flags = `-s -y -o Debug::NoLocking=1 ${request.installRecommends ? '--install-recommends' : '--no-install-recommends'}`;
  const q = (names: string[]) => names.map(shq).join(' ');
  const bare = (names: string[]) => names.map((n) => n.replace(/[:=].*$/, ''));
  return [
    'set -e',
    'export DEBIAN_FRONTEND=noninteractive',
    ...(request.sources ? [writeSourcesScript(request.sources, shq)] : []),
    'if ! apt-get update -q >/tmp/envseal-apt-update.log 2>&1; then cat /tmp/envseal-apt-update.log >&2; exit 101; fi',
    `echo ${MARK_MAIN}`,
    `apt-get install ${flags} ${q(request.main)}`,
    `echo ${MARK_ALL}`,
    request.dev.length ? `apt-get install ${flags} ${q([...request.main, ...request.dev])}` : 'true',
    `echo ${MARK_DPKG}`,
    `dpkg-query -W -f='\${Package}\\t\${Version}\\t\${Architecture}\\t\${db:Status-Abbrev}\\n' ${q(bare([...request.main, ...request.dev]))} 2>/dev/null || true`,
  ].join('\n');
}

/** Parses `apt-get install -s` output: `Inst name [old] (version suite [arch])` lines. Pure. */
export function parseSimulation(text: string): SimulatedInstall[] {
  const out: SimulatedInstall[] = [];
  for (const line of text.split('\n')) {
    const m = /^Inst (\S+)(?: \[[^\]]*\])? \((\S+) .*\[([^\]]+)\]\)/.exec(line.trim());
    if (m) out.push({ name: m[1]!.replace(/:.*$/, ''), version: m[2]!, architecture: m[3]! });
  }
  return out;
}

export function parseDpkgQuery(text: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const line of text.split('\n')) {
    const [name, version, architecture, status] = line.split('\t');
    if (name && version && architecture && status?.startsWith('ii')) out.push({ name, version, architecture });
  }
  return out;
}

/** Combines the simulations into locked packages with their targets. Pure. */
export function buildAptLock(request: AptRequest, output: string, image: string): LockedAptPackage[] {
  const [, afterMain = ''] = output.split(`${MARK_MAIN}\n`);
  const [mainText = '', afterAll = ''] = afterMain.split(`${MARK_ALL}\n`);
  const [allText = '', dpkgText = ''] = afterAll.split(`${MARK_DPKG}\n`);
  if (!output.includes(MARK_DPKG)) {
    throw externalError('apt.resolve-failed', `apt resolution in ${image} did not complete`, { details: output.trim().split('\n').slice(-15) });
  }
  const main = parseSimulation(mainText);
  const all = request.dev.length ? parseSimulation(allText) : main;
  const mainNames = new Set(main.map((p) => p.name));
  const result = new Map<string, LockedAptPackage>();
  for (const p of main) result.set(p.name, { ...p, installed: false, targets: ['deploy', 'dev'] });
  for (const p of all) if (!mainNames.has(p.name)) result.set(p.name, { ...p, installed: false, targets: ['dev'] });
  // Listed packages that the base already has: recorded at their installed version.
  const devOnly = new Set(request.dev.map((n) => n.replace(/[:=].*$/, '')));
  const mainListed = new Set(request.main.map((n) => n.replace(/[:=].*$/, '')));
  for (const p of parseDpkgQuery(dpkgText)) {
    if (result.has(p.name)) continue;
    const targets: LockedAptPackage['targets'] = mainListed.has(p.name) ? ['deploy', 'dev'] : devOnly.has(p.name) ? ['dev'] : [];
    if (targets.length) result.set(p.name, { ...p, installed: true, targets });
  }
  return [...result.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function resolveApt(engine: ContainerEngine, image: string, request: AptRequest, signal?: AbortSignal): Promise<LockedAptPackage[]> {
  if (!request.main.length && !request.dev.length) return [];
  const script = aptScript(request);
  const run = await captureContainerOutput(engine, { image, cmd: ['/bin/sh', '-c', script], networkMode: 'host', user: '0', ...(signal ? { signal } : {}) });
  signal?.throwIfAborted();
  if (run.exitCode === 101) {
    throw externalError('apt.update-failed', `apt-get update failed inside ${image}`, {
      details: run.stderr.trim().split('\n').slice(-10),
      hint: "the base image's apt sources must be reachable from this machine (containers use host networking)",
    });
  }
  if (run.exitCode !== 0) {
    const missing = [...run.stderr.matchAll(/Unable to locate package (\S+)/g)].map((m) => m[1]!);
    const versionMissing = [...run.stderr.matchAll(/Version '([^']+)' for '([^']+)' was not found/g)].map((m) => `${m[2]}=${m[1]}`);
    if (missing.length || versionMissing.length) {
      throw inputError('apt.unknown-package', `apt in ${image} cannot find: ${[...missing, ...versionMissing].join(', ')}`, {
        hint: "check the package names (and versions) for this base image's Debian/Ubuntu release",
      });
    }
    const unmet = /unmet dependencies|Unable to correct problems|held broken packages/i.test(run.stderr);
    throw (unmet ? inputError : externalError)(unmet ? 'apt.unsatisfiable' : 'apt.resolve-failed', `apt could not resolve the packages in ${image}`, {
      details: (run.stderr || run.stdout).trim().split('\n').slice(-15),
    });
  }
  return buildAptLock(request, run.stdout, image);
}

function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
