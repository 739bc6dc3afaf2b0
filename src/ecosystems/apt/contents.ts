/**
 * verify for the apt wing: the Debian packages installed in the image vs the lock. "Not in the lock" means
 * installed by the build beyond what the base image already had, so the base's list is read too.
 */
import type { ContentsCheck } from '../types.js';
import { parseDpkgQuery } from './resolve-apt.js';
import type { AptSection } from './schema.js';

const DPKG = `dpkg-query -W -f='\${Package}\\t\${Version}\\t\${Architecture}\\t\${db:Status-Abbrev}\\n'`;
const WITH_DPKG = `if command -v dpkg-query >/dev/null 2>&1; then echo __ENVSEAL_HAS_DPKG__; ${DPKG}; fi`;

export const aptContents: ContentsCheck<AptSection> = {
  script: () => WITH_DPKG,
  baseScript: () => WITH_DPKG,
  compare(apt, target, observed, base) {
    // No dpkg in the image: nothing to compare against (the lock's apt section could not have been installed).
    if (!observed?.includes('__ENVSEAL_HAS_DPKG__')) return [];
    const debs = parseDpkgQuery(observed);
    const locked = apt.packages.filter((p) => p.targets.includes(target));
    const installed = new Map(debs.map((d) => [d.name, d]));
    const missing: string[] = [];
    const different: string[] = [];
    const extra: string[] = [];
    for (const p of locked) {
      const have = installed.get(p.name);
      if (!have) missing.push(`${p.name}=${p.version}`);
      else if (have.version !== p.version) different.push(`${p.name}: locked ${p.version}, installed ${have.version}`);
    }
    if (base?.includes('__ENVSEAL_HAS_DPKG__')) {
      const inBase = new Set(parseDpkgQuery(base).map((d) => d.name));
      const lockedNames = new Set(locked.map((p) => p.name));
      for (const d of debs) if (!inBase.has(d.name) && !lockedNames.has(d.name)) extra.push(`${d.name}=${d.version}`);
    }
    return [
      ...missing.sort().map((m) => `apt: missing ${m}`),
      ...different.sort().map((d) => `apt: ${d}`),
      ...extra.sort().map((e) => `apt: not in the lock: ${e}`),
    ];
  },
};
