/** What drifted in the python wing's declared inputs: settings, then one line per changed requirement. */
import { DriftCollector, type DriftEntry } from '../../core/drift.js';
import type { DeclaredRequirement, PythonDeclared } from './schema.js';

export function pythonDrift(pa: PythonDeclared | null, pb: PythonDeclared | null, specFile: string): DriftEntry[] {
  const out = new DriftCollector(specFile);
  if (!pa || !pb) {
    if (pa || pb) out.scalar('python', pa ? 'configured' : undefined, pb ? 'configured' : undefined);
    return out.entries;
  }
  out.scalar('python.interpreter', pa.interpreter, pb.interpreter);
  out.scalar('python.indexes', pa.indexes, pb.indexes);
  out.scalar('python.venv', pa.venv, pb.venv);
  out.scalar('python.systemSitePackages', pa.systemSitePackages, pb.systemSitePackages);
  out.scalar('python.options', pa.options, pb.options);
  out.scalar('python.packageIndexes', pa.packageIndexes, pb.packageIndexes);
  out.scalar('python.excludeNewer', pa.excludeNewer, pb.excludeNewer);
  out.scalar('python.requiresPython', pa.requiresPython?.specifier, pb.requiresPython?.specifier);
  importDrift(out, pa, pb);
  out.push(...requirementDrift(pa.requirements, pb.requirements));
  return out.entries;
}

function requirementDrift(before: DeclaredRequirement[], after: DeclaredRequirement[]): DriftEntry[] {
  const out: DriftEntry[] = [];
  const key = (r: DeclaredRequirement) => `${r.source}\u0000${r.kind}\u0000${requirementName(r.requirement)}\u0000${r.targets.join(',')}`;
  const group = (list: DeclaredRequirement[]) => {
    const m = new Map<string, DeclaredRequirement[]>();
    for (const r of list) m.set(key(r), [...(m.get(key(r)) ?? []), r]);
    return m;
  };
  const ga = group(before);
  const gb = group(after);
  const label = (r: DeclaredRequirement) => `${r.kind} ${requirementName(r.requirement)}${r.targets.length === 1 ? ` (${r.targets[0]} only)` : ''}`;
  const text = (rs: DeclaredRequirement[]) =>
    rs
      .map((r) => r.requirement + (r.hashes.length ? ` [${r.hashes.length} hash${r.hashes.length > 1 ? 'es' : ''}]` : ''))
      .sort()
      .join(' ; ');
  for (const [k, rs] of gb) {
    const old = ga.get(k);
    const first = rs[0]!;
    if (!old) out.push({ file: first.source, kind: 'added', subject: label(first), after: text(rs) });
    else if (text(old) !== text(rs) || JSON.stringify(old.map((r) => r.hashes)) !== JSON.stringify(rs.map((r) => r.hashes)))
      out.push({ file: first.source, kind: 'changed', subject: label(first), before: text(old), after: text(rs) });
  }
  for (const [k, rs] of ga) if (!gb.has(k)) out.push({ file: rs[0]!.source, kind: 'removed', subject: label(rs[0]!), before: text(rs) });
  return out;
}

/** The project name at the start of a normalised requirement. */
function requirementName(requirement: string): string {
  return (
    /^[A-Za-z0-9][A-Za-z0-9._-]*/
      .exec(requirement)?.[0]
      ?.toLowerCase()
      .replace(/[-_.]+/g, '-') ?? requirement
  );
}

/** The imported lock: its file's digest (any edit), the selected groups/extras, the pyproject it is checked against. */
function importDrift(out: DriftCollector, pa: PythonDeclared, pb: PythonDeclared): void {
  const a = pa.imported;
  const b = pb.imported;
  out.scalar('python.lockfile', a?.path, b?.path);
  if (!a || !b) return;
  if (a.sha256 !== b.sha256) out.push({ file: b.path, kind: 'changed', subject: `${b.path} (sha256)`, before: a.sha256, after: b.sha256 });
  out.scalar('python.lockfile.groups', a.groups, b.groups);
  out.scalar('python.lockfile.extras', a.extras, b.extras);
  out.scalar('python.pyproject', a.pyproject, b.pyproject);
}
