/**
 * `envseal diff`: what changed between two environments (from locks, run records or images), as data and
 * as readable lines. Pure.
 */
export interface EnvironmentView {
  /** What the user named (path or image reference). */
  label: string;
  kind: 'lock' | 'record' | 'image';
  fingerprint: string;
  base: string;
  python: Record<string, string>;
  apt: Record<string, string>;
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
  python: Change[];
  apt: Change[];
  env: Change[];
}

export function diffEnvironments(a: EnvironmentView, b: EnvironmentView): EnvironmentDiff {
  const base = a.base === b.base ? null : { name: 'base', before: a.base, after: b.base };
  const python = diffMaps(a.python, b.python);
  const apt = diffMaps(a.apt, b.apt);
  const env = diffMaps(a.env, b.env);
  return {
    identical: a.fingerprint === b.fingerprint && !base && !python.length && !apt.length && !env.length,
    fingerprint: { before: a.fingerprint, after: b.fingerprint },
    base,
    python,
    apt,
    env,
  };
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
  section('python', diff.python);
  section('apt', diff.apt);
  section('env', diff.env);
  if (!diff.base && !diff.python.length && !diff.apt.length && !diff.env.length && diff.fingerprint.before !== diff.fingerprint.after) {
    lines.push('same packages and env, different fingerprint (e.g. interpreter, platform digest, workdir or deploy user)');
  }
  return lines;
}
