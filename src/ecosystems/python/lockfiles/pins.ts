/** What every imported lock pins, whatever its kind: name, version, the sha256 of its files, its index. Pure. */
import type { ImportedLock } from './types.js';

export interface LockPin {
  name: string;
  version: string;
  hashes: string[];
  index?: string;
}

/** Every index-served package of the lock (local/virtual uv packages are the project itself). */
export function lockPins(lock: ImportedLock): LockPin[] {
  const files = (p: { wheels: { sha256: string }[]; sdist?: { sha256: string } }) => [...p.wheels, ...(p.sdist ? [p.sdist] : [])].map((f) => f.sha256);
  switch (lock.kind) {
    case 'pylock':
      return lock.packages.map((p) => ({ name: p.name, version: p.version, hashes: files(p), ...(p.index ? { index: p.index } : {}) }));
    case 'uv':
      return lock.packages.flatMap((p) => (p.registry ? [{ name: p.name, version: p.version, hashes: files(p), index: p.registry }] : []));
    case 'poetry':
      return lock.packages.map((p) => ({ name: p.name, version: p.version, hashes: p.files.map((f) => f.sha256), ...(p.index ? { index: p.index } : {}) }));
    case 'pipfile': {
      const seen = new Map<string, LockPin>();
      for (const [section, pkgs] of Object.entries(lock.sections).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        for (const p of pkgs)
          if (!seen.has(`${p.name}==${p.version}`) || section === 'default')
            seen.set(`${p.name}==${p.version}`, { name: p.name, version: p.version, hashes: p.hashes, ...(p.index ? { index: p.index } : {}) });
      }
      return [...seen.values()];
    }
  }
}

/** Rewrites the lock's index URLs through `add` (which records credentials in them and strips them). */
export function useCredentials(lock: ImportedLock, add: (url: string) => string): void {
  if (lock.kind === 'uv') for (const p of lock.packages) if (p.registry) p.registry = add(p.registry);
  if (lock.kind === 'pylock' || lock.kind === 'poetry') for (const p of lock.packages) if (p.index) p.index = add(p.index);
  if (lock.kind === 'pipfile') {
    for (const s of lock.sources) s.url = add(s.url);
    for (const pkgs of Object.values(lock.sections)) for (const p of pkgs) if (p.index) p.index = add(p.index);
  }
}
