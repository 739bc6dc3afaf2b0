/**
 * What changed between the inputs a lock was made from and the current inputs: one readable line per
 * difference, naming the file and the requirement, so `envseal lock --check` can say exactly what drifted.
 * The spec's own fields here; each ecosystem wing explains its section.
 */
import { DriftCollector, type DriftEntry } from '../core/drift.js';
import { ECOSYSTEMS } from '../ecosystems/registry.js';
import type { DeclaredInputs } from './schema.js';

export function diffDeclared(before: DeclaredInputs, after: DeclaredInputs, specFile = 'envseal.yaml'): DriftEntry[] {
  const out = new DriftCollector(specFile);
  out.scalar('base', before.base, after.base);
  out.scalar('platform', before.platform, after.platform);
  out.scalar('workdir', before.workdir, after.workdir);
  out.scalar('seed', before.seed, after.seed);
  out.record('env', before.env, after.env);
  out.record('targets.dev.env', before.targets.dev.env, after.targets.dev.env);
  out.record('targets.deploy.env', before.targets.deploy.env, after.targets.deploy.env);
  const { env: _e1, ...deployBefore } = before.targets.deploy;
  const { env: _e2, ...deployAfter } = after.targets.deploy;
  for (const key of new Set([...Object.keys(deployBefore), ...Object.keys(deployAfter)])) {
    out.scalar(`targets.deploy.${key}`, (deployBefore as Record<string, unknown>)[key], (deployAfter as Record<string, unknown>)[key]);
  }
  for (const wing of ECOSYSTEMS) {
    out.push(...wing.drift((before as Record<string, unknown>)[wing.id] ?? null, (after as Record<string, unknown>)[wing.id] ?? null, specFile));
  }
  return out.entries;
}
