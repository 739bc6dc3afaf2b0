/**
 * The apt wing: Debian/Ubuntu system packages from envseal.yaml and apt.txt-style lists, resolved to the full
 * closure at exact versions inside a container of the pinned base, installed by apt-get (optionally from a
 * dated snapshot archive).
 */
import { inputError } from '../../core/errors.js';
import { maskUrlCredentials, splitUrlCredentials } from '../../core/url-credentials.js';
import { continued, shellQuote } from '../../core/dockerfile-quote.js';
import { DriftCollector, type DriftEntry } from '../../core/drift.js';
import type { Ground } from '../../core/ground.js';
import { compareText, sortedUnique } from '../../core/order.js';
import { defineEcosystem, type DockerfileSection, type LoadContext, type RenderContext, type ResolveContext } from '../types.js';
import { defaultSnapshotUrl, formatSnapshotTimestamp, snapshotSources, writeSourcesScript } from './apt-sources.js';
import { aptContents } from './contents.js';
import { parseAptList } from './parse-apt-list.js';
import { resolveApt } from './resolve-apt.js';
import { aptInstallSpec } from './offline.js';
import {
  aptDeclaredSchema,
  aptDevSpecSchema,
  aptSectionSchema,
  aptSpecSchema,
  type AptDeclared,
  type AptDevSpec,
  type AptSection,
  type AptSpec,
  type LockedAptPackage,
} from './schema.js';

export const aptWing = defineEcosystem({
  id: 'apt',
  title: 'Debian/Ubuntu system packages (apt)',
  schemas: { spec: aptSpecSchema, devSpec: aptDevSpecSchema, declared: aptDeclaredSchema, section: aptSectionSchema },
  init(files) {
    const lists = files.filter((n) => n === 'apt.txt' || n === 'apt-packages.txt');
    if (!lists.length) return { found: [], lines: ['# apt:', '#   packages: [git]'], devLines: [] };
    const lines = ['apt:', '  # Debian/Ubuntu packages; the lock pins the whole closure to exact versions.', '  packages: []'];
    return { found: lists, lines: [...lines, `  lists: [${lists.map((l) => JSON.stringify(l)).join(', ')}]`], devLines: [] };
  },
  async load(spec, dev, ctx) {
    const declared = await loadApt(spec, dev, ctx);
    return declared ? { declared, state: undefined } : null;
  },
  normalizeDeclared: (apt) => ({
    ...apt,
    packages: apt.packages
      .map((p) => ({ ...p, targets: [...p.targets].sort() }))
      .sort((a, b) => compareText(`${a.name}\u0000${a.source}`, `${b.name}\u0000${b.source}`)),
  }),
  canonicalDeclared: (apt) => ({
    ...apt,
    packages: [...apt.packages]
      .map((p) => ({ ...p, targets: sortedUnique(p.targets) }))
      .sort((a, b) => compareText(a.name, b.name) || compareText(a.source, b.source)),
  }),
  needsImage: (apt) => apt.packages.length > 0,
  check: checkApt,
  resolve: resolveAptSection,
  canonicalize: (apt) => ({
    snapshot: apt.snapshot,
    packages: [...apt.packages]
      .map((p) => ({ ...p, targets: sortedUnique(p.targets) }))
      .sort((a, b) => compareText(a.name, b.name) || compareText(a.architecture, b.architecture)),
  }),
  fingerprint: (apt) =>
    [...apt.packages]
      .sort((a, b) => compareText(a.name, b.name))
      .map((p) => ({ name: p.name, version: p.version, architecture: p.architecture, installed: p.installed, targets: [...p.targets].sort() })),
  render: renderAptSection,
  contents: aptContents,
  count: (apt, target) => apt.packages.filter((p) => p.targets.includes(target)).length,
  pins: (apt, target) => Object.fromEntries(apt.packages.filter((p) => p.targets.includes(target)).map((p) => [p.name, p.version])),
  drift: aptDrift,
});

async function loadApt(spec: AptSpec | undefined, dev: AptDevSpec | undefined, ctx: LoadContext): Promise<AptDeclared | null> {
  if (!spec && !dev) return null;
  const packages: AptDeclared['packages'] = [];
  const add = async (group: AptDevSpec | undefined, prefix: string, targets: AptDeclared['packages'][number]['targets']) => {
    for (const name of group?.packages ?? []) packages.push({ name, source: ctx.specFile, targets });
    for (const [i, rel] of (group?.lists ?? []).entries()) {
      const text = await ctx.readManifest(rel, `${prefix}.lists.${i}`);
      for (const entry of parseAptList(text, rel)) packages.push({ name: entry.name, source: rel, targets });
    }
  };
  await add(spec, 'apt', ['deploy', 'dev']);
  await add(dev, 'targets.dev.apt', ['dev']);
  if (spec?.snapshotUrl && splitUrlCredentials(spec.snapshotUrl).credentials) {
    throw inputError(
      'spec.credentials',
      `${ctx.specFile}: apt.snapshotUrl: ${maskUrlCredentials(spec.snapshotUrl)} carries credentials, which would be written into the lock and the Dockerfile`,
      {
        hint: 'use a snapshot mirror that needs no credentials (apt reads the URL inside the image)',
      },
    );
  }
  return {
    installRecommends: spec?.installRecommends ?? false,
    snapshot: spec?.snapshot ?? false,
    ...(spec?.snapshotUrl ? { snapshotUrl: spec.snapshotUrl } : {}),
    packages,
  };
}

function checkApt(apt: AptDeclared, ground: Ground): void {
  if (apt.packages.length && !ground.target.hasApt) {
    throw inputError('apt.unavailable', `the base image ${ground.base.reference} has no apt-get, but the spec lists apt packages`, {
      hint: 'use a Debian or Ubuntu based image, or remove the apt packages',
    });
  }
}

async function resolveAptSection(apt: AptDeclared, _state: undefined, ctx: ResolveContext<AptSection>): Promise<AptSection | null> {
  if (!apt.packages.length) return null;
  const { base, target } = ctx.ground;
  const main = apt.packages.filter((p) => p.targets.includes('deploy')).map((p) => p.name);
  const dev = apt.packages.filter((p) => !p.targets.includes('deploy')).map((p) => p.name);
  const snapshot = apt.snapshot
    ? { timestamp: apt.snapshot === true ? formatSnapshotTimestamp(ctx.clock.now()) : apt.snapshot, url: apt.snapshotUrl ?? defaultSnapshotUrl(target.os.id) }
    : null;
  ctx.logger.progress(`resolving ${main.length + dev.length} apt package(s) in ${base.pinned}${snapshot ? ` from snapshot ${snapshot.timestamp}` : ''}`);
  const packages = await resolveApt(
    ctx.engine,
    base.pinned,
    {
      main: [...new Set(main)],
      dev: [...new Set(dev)],
      installRecommends: apt.installRecommends,
      ...(snapshot ? { sources: snapshotSources(target.os, snapshot) } : {}),
    },
    ctx.signal,
  );
  return { snapshot, packages };
}

function renderAptSection(apt: AptSection, ctx: RenderContext): DockerfileSection {
  const of = (target: 'deploy' | 'dev', only: boolean) =>
    apt.packages.filter((p) => !p.installed && (only ? p.targets.length === 1 && p.targets[0] === target : p.targets.includes(target)));
  const main = of('deploy', false);
  const dev = of('dev', true);
  return {
    ...(main.length
      ? { deps: `# System packages: the full apt closure at exact versions, then no lists, caches or logs left behind.\n${renderApt(apt, ctx, main)}` }
      : {}),
    ...(dev.length ? { dev: renderApt(apt, ctx, dev) } : {}),
  };
}

// The lock lists the whole closure (recommends included when the spec asked for them), so installing exactly
// that list with --no-install-recommends installs what was resolved and nothing more.
function renderApt(apt: AptSection, ctx: RenderContext, packages: LockedAptPackage[]): string {
  const sources = apt.snapshot
    ? ` \\\n && ${writeSourcesScript(snapshotSources(ctx.target.os, apt.snapshot), shellQuote).replace(' && printf', ' \\\n && printf')}`
    : '';
  const install = continued(
    `RUN export DEBIAN_FRONTEND=noninteractive${sources} \\\n && apt-get update \\\n && apt-get install -y --no-install-recommends`,
    packages.map((p) => aptInstallSpec(p, ctx.target.architecture)),
  );
  return [
    install + ' \\',
    ' && apt-get clean \\',
    ' && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \\',
    '           /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache \\',
    '           /var/cache/debconf/*-old /var/lib/dpkg/*-old',
  ].join('\n');
}

function aptDrift(aa: AptDeclared | null, ab: AptDeclared | null, specFile: string): DriftEntry[] {
  const out = new DriftCollector(specFile);
  if (!aa || !ab) {
    if (aa || ab) out.scalar('apt', aa ? 'configured' : undefined, ab ? 'configured' : undefined);
    return out.entries;
  }
  out.scalar('apt.installRecommends', aa.installRecommends, ab.installRecommends);
  out.scalar('apt.snapshot', aa.snapshot, ab.snapshot);
  out.scalar('apt.snapshotUrl', aa.snapshotUrl, ab.snapshotUrl);
  const key = (p: { name: string; source: string }) => `${p.source}\u0000${p.name}`;
  const ma = new Map(aa.packages.map((p) => [key(p), p]));
  const mb = new Map(ab.packages.map((p) => [key(p), p]));
  for (const [k, p] of mb) {
    const old = ma.get(k);
    if (!old) out.push({ file: p.source, kind: 'added', subject: `apt package ${p.name}`, after: p.targets.join(',') });
    else if (old.targets.join(',') !== p.targets.join(','))
      out.push({ file: p.source, kind: 'changed', subject: `apt package ${p.name} targets`, before: old.targets.join(','), after: p.targets.join(',') });
  }
  for (const [k, p] of ma) if (!mb.has(k)) out.push({ file: p.source, kind: 'removed', subject: `apt package ${p.name}` });
  return out.entries;
}
