/**
 * `envseal diff`: what changed between two environments (from locks, run records or images), as data and
 * as readable lines. Pure; knows no ecosystem by name (each view holds its pins per ecosystem id).
 */
export interface EnvironmentView {
  /** What the user named (path or image reference). */
  label: string;
  kind: 'lock' | 'record' | 'image';
  fingerprint: string;
  base: string;
  /** Per ecosystem id (`apt`, `python`, `npm`, `files`, …): name → version. An absent id: not used there. */
  packages: Record<string, Record<string, string>>;
  env: Record<string, string>;
}

export interface Change {
  name: string;
  before: string | null;
  after: string | null;
}

export interface EnvironmentDiff {
  identical: boolean;
  fingerprint: { before: string; after: string };
  base: Change | null;
  /** Per ecosystem id that either side uses, in id order: its changes (only ecosystems with changes). */
  packages: Record<string, Change[]>;
  env: Change[];
}

export function diffEnvironments(a: EnvironmentView, b: EnvironmentView): EnvironmentDiff {
  const base = a.base === b.base ? null : { name: 'base', before: a.base, after: b.base };
  const packages: Record<string, Change[]> = {};
  for (const id of [...new Set([...Object.keys(a.packages), ...Object.keys(b.packages)])].sort()) {
    const changes = diffMaps(a.packages[id] ?? {}, b.packages[id] ?? {});
    if (changes.length) packages[id] = changes;
  }
  const env = diffMaps(a.env, b.env);
  const same = !base && !Object.keys(packages).length && !env.length;
  return { identical: a.fingerprint === b.fingerprint && same, fingerprint: { before: a.fingerprint, after: b.fingerprint }, base, packages, env };
}

function diffMaps(a: Record<string, string>, b: Record<string, string>): Change[] {
  const out: Change[] = [];
  for (const name of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const before = a[name] ?? null;
    const after = b[name] ?? null;
    if (before !== after) out.push({ name, before, after });
  }
  return out;
}

export function formatEnvironmentDiff(diff: EnvironmentDiff, a: EnvironmentView, b: EnvironmentView): string[] {
  const lines = [`--- ${a.label} (${a.kind}, ${a.fingerprint})`, `+++ ${b.label} (${b.kind}, ${b.fingerprint})`];
  if (diff.identical) return [...lines, 'identical environments'];
  if (diff.base) lines.push(`base: ${diff.base.before} → ${diff.base.after}`);
  const section = (title: string, changes: Change[]) => {
    if (!changes.length) return;
    const added = changes.filter((c) => c.before === null).length;
    const removed = changes.filter((c) => c.after === null).length;
    lines.push(`${title}: ${changes.length - added - removed} changed, ${added} added, ${removed} removed`);
    for (const c of changes) {
      if (c.before === null) lines.push(`  + ${c.name} ${c.after}`);
      else if (c.after === null) lines.push(`  - ${c.name} ${c.before}`);
      else lines.push(`  ~ ${c.name} ${c.before} → ${c.after}`);
    }
  };
  for (const [id, changes] of Object.entries(diff.packages)) section(id, changes);
  section('env', diff.env);
  if (!diff.base && !Object.keys(diff.packages).length && !diff.env.length && diff.fingerprint.before !== diff.fingerprint.after) {
    lines.push('same packages and env, different fingerprint (e.g. interpreter, platform digest, workdir or deploy user)');
  }
  return lines;
}
