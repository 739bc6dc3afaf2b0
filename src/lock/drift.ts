/**
 * What changed between the inputs a lock was made from and the current inputs: one readable line per
 * difference, naming the file and the requirement, so `envseal lock --check` can say exactly what drifted.
 */
import type { DeclaredInputs, DeclaredRequirement } from './schema.js';

export interface DriftEntry {
  /** The file where the change is (project-relative), or `envseal.yaml`. */
  file: string;
  kind: 'added' | 'removed' | 'changed';
  /** What changed: `requirement numpy`, `base`, `env.FOO`, ... */
  subject: string;
  before?: string;
  after?: string;
}

export function diffDeclared(before: DeclaredInputs, after: DeclaredInputs, specFile = 'envseal.yaml'): DriftEntry[] {
  const out: DriftEntry[] = [];
  const scalar = (subject: string, a: unknown, b: unknown, file = specFile) => {
    const sa = show(a);
    const sb = show(b);
    if (sa === sb) return;
    out.push({
      file,
      kind: a === undefined ? 'added' : b === undefined ? 'removed' : 'changed',
      subject,
      ...(sa !== undefined ? { before: sa } : {}),
      ...(sb !== undefined ? { after: sb } : {}),
    });
  };
  scalar('base', before.base, after.base);
  scalar('platform', before.platform, after.platform);
  scalar('workdir', before.workdir, after.workdir);
  scalar('seed', before.seed, after.seed);
  diffRecord('env', before.env, after.env, specFile, out);
  diffRecord('targets.dev.env', before.targets.dev.env, after.targets.dev.env, specFile, out);
  diffRecord('targets.deploy.env', before.targets.deploy.env, after.targets.deploy.env, specFile, out);
  const { env: _e1, ...deployBefore } = before.targets.deploy;
  const { env: _e2, ...deployAfter } = after.targets.deploy;
  for (const key of new Set([...Object.keys(deployBefore), ...Object.keys(deployAfter)])) {
    scalar(`targets.deploy.${key}`, (deployBefore as Record<string, unknown>)[key], (deployAfter as Record<string, unknown>)[key]);
  }

  const pa = before.python;
  const pb = after.python;
  if (!pa || !pb) {
    if (pa || pb) scalar('python', pa ? 'configured' : undefined, pb ? 'configured' : undefined);
  } else {
    scalar('python.interpreter', pa.interpreter, pb.interpreter);
    scalar('python.indexes', pa.indexes, pb.indexes);
    scalar('python.venv', pa.venv, pb.venv);
    scalar('python.systemSitePackages', pa.systemSitePackages, pb.systemSitePackages);
    scalar('python.options', pa.options, pb.options);
    scalar('python.packageIndexes', pa.packageIndexes, pb.packageIndexes);
    scalar('python.excludeNewer', pa.excludeNewer, pb.excludeNewer);
    diffRequirements(pa.requirements, pb.requirements, out);
  }

  const aa = before.apt;
  const ab = after.apt;
  if (!aa || !ab) {
    if (aa || ab) scalar('apt', aa ? 'configured' : undefined, ab ? 'configured' : undefined);
  } else {
    scalar('apt.installRecommends', aa.installRecommends, ab.installRecommends);
    scalar('apt.snapshot', aa.snapshot, ab.snapshot);
    scalar('apt.snapshotUrl', aa.snapshotUrl, ab.snapshotUrl);
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
  }

  const na = before.npm;
  const nb = after.npm;
  if (!na || !nb) {
    if (na || nb) scalar('npm', na ? na.dir : undefined, nb ? nb.dir : undefined);
  } else {
    scalar('npm.dir', na.dir, nb.dir);
    scalar('npm.target', na.target, nb.target);
    const dir = nb.dir === '.' ? '' : `${nb.dir}/`;
    scalar('content', na.packageJsonSha256, nb.packageJsonSha256, `${dir}package.json`);
    scalar('content', na.lockfileSha256, nb.lockfileSha256, `${dir}package-lock.json`);
  }
  return out;
}

function diffRequirements(before: DeclaredRequirement[], after: DeclaredRequirement[], out: DriftEntry[]): void {
  const key = (r: DeclaredRequirement) => `${r.source}\u0000${r.kind}\u0000${requirementName(r.requirement)}\u0000${r.targets.join(',')}`;
  const group = (list: DeclaredRequirement[]) => {
    const m = new Map<string, DeclaredRequirement[]>();
    for (const r of list) m.set(key(r), [...(m.get(key(r)) ?? []), r]);
    return m;
  };
  const ga = group(before);
  const gb = group(after);
  const label = (r: DeclaredRequirement) => `${r.kind} ${requirementName(r.requirement)}${r.targets.length === 1 ? ` (${r.targets[0]} only)` : ''}`;
  const text = (rs: DeclaredRequirement[]) => rs.map((r) => r.requirement + (r.hashes.length ? ` [${r.hashes.length} hash${r.hashes.length > 1 ? 'es' : ''}]` : '')).sort().join(' ; ');
  for (const [k, rs] of gb) {
    const old = ga.get(k);
    const first = rs[0]!;
    if (!old) out.push({ file: first.source, kind: 'added', subject: label(first), after: text(rs) });
    else if (text(old) !== text(rs) || JSON.stringify(old.map((r) => r.hashes)) !== JSON.stringify(rs.map((r) => r.hashes)))
      out.push({ file: first.source, kind: 'changed', subject: label(first), before: text(old), after: text(rs) });
  }
  for (const [k, rs] of ga) if (!gb.has(k)) out.push({ file: rs[0]!.source, kind: 'removed', subject: label(rs[0]!), before: text(rs) });
}

function diffRecord(prefix: string, a: Record<string, string>, b: Record<string, string>, file: string, out: DriftEntry[]): void {
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (a[k] === b[k]) continue;
    out.push({ file, kind: a[k] === undefined ? 'added' : b[k] === undefined ? 'removed' : 'changed', subject: `${prefix}.${k}`, before: a[k], after: b[k] });
  }
}

/** The project name at the start of a normalised requirement. */
function requirementName(requirement: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(requirement)?.[0]?.toLowerCase().replace(/[-_.]+/g, '-') ?? requirement;
}

export function formatDrift(entry: DriftEntry): string {
  const change =
    entry.kind === 'added'
      ? `added ${entry.subject}${entry.after !== undefined ? `: ${entry.after}` : ''}`
      : entry.kind === 'removed'
        ? `removed ${entry.subject}${entry.before !== undefined ? `: ${entry.before}` : ''}`
        : `changed ${entry.subject}: ${entry.before ?? '(none)'} → ${entry.after ?? '(none)'}`;
  return `${entry.file}: ${change}`;
}

function show(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
