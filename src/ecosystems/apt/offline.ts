/**
 * What an offline rebuild of an apt section needs: the shell script that makes apt fetch, from the same
 * sources and in the same order, exactly what the generated Dockerfile's install step fetches (the index
 * files and every .deb), without installing anything. `envseal bundle` runs it in a container of the pinned
 * base behind a recording proxy, so `envseal load --rebuild` can answer apt from the bundle (docs/bundles.md).
 * Pure.
 */
import { shellQuote } from '../../core/dockerfile-quote.js';
import type { TargetName } from '../../core/image-contract.js';
import { snapshotSources, writeSourcesScript } from './apt-sources.js';
import type { AptSection, LockedAptPackage } from './schema.js';

/** `name[:arch]=version`, quoted, as the Dockerfile's `apt-get install` line names a locked package. */
export function aptInstallSpec(p: LockedAptPackage, targetArch: string): string {
  const arch = p.architecture === 'all' || p.architecture === targetArch ? '' : `:${p.architecture}`;
  return shellQuote(`${p.name}${arch}=${p.version}`);
}

/** The packages a target's image installs (not those already in the base), main (deploy) ones first. */
export function aptPackagesFor(apt: AptSection, target: TargetName): LockedAptPackage[] {
  const main = apt.packages.filter((p) => !p.installed && p.targets.includes('deploy'));
  if (target === 'deploy') return main;
  return [...main, ...apt.packages.filter((p) => !p.installed && p.targets.length === 1 && p.targets[0] === 'dev')];
}

/**
 * `sh -c` script: the Dockerfile's sources and `apt-get update`, then `apt-get install --download-only` of the
 * target's packages (the dev image's second install asks for a subset of the same files). null: nothing to fetch.
 */
export function aptDownloadScript(apt: AptSection, os: { id: string; codename: string }, architecture: string, target: TargetName): string | null {
  const packages = aptPackagesFor(apt, target);
  if (!packages.length) return null;
  const sources = apt.snapshot ? ` && ${writeSourcesScript(snapshotSources(os, apt.snapshot), shellQuote)}` : '';
  return [
    `export DEBIAN_FRONTEND=noninteractive${sources}`,
    'apt-get update',
    `apt-get install -y --no-install-recommends --download-only ${packages.map((p) => aptInstallSpec(p, architecture)).join(' ')}`,
  ].join(' && ');
}
