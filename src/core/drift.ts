/**
 * Drift: what changed between the inputs a lock was made from and the current inputs, one readable line per
 * difference naming the file and the subject, so `envseal lock --check` can say exactly what drifted. Each
 * ecosystem explains its own section with these helpers.
 */

export interface DriftEntry {
  /** The file where the change is (project-relative), or `envseal.yaml`. */
  file: string;
  kind: 'added' | 'removed' | 'changed';
  /** What changed: `requirement numpy`, `base`, `env.FOO`, ... */
  subject: string;
  before?: string;
  after?: string;
}

/** Collects drift entries; `scalar` compares two values by their JSON text. */
export class DriftCollector {
  readonly entries: DriftEntry[] = [];

  constructor(readonly specFile: string) {}

  scalar(subject: string, a: unknown, b: unknown, file = this.specFile): void {
    const sa = show(a);
    const sb = show(b);
    if (sa === sb) return;
    this.entries.push({
      file,
      kind: a === undefined ? 'added' : b === undefined ? 'removed' : 'changed',
      subject,
      ...(sa !== undefined ? { before: sa } : {}),
      ...(sb !== undefined ? { after: sb } : {}),
    });
  }

  record(prefix: string, a: Record<string, string>, b: Record<string, string>, file = this.specFile): void {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (a[k] === b[k]) continue;
      this.entries.push({
        file,
        kind: a[k] === undefined ? 'added' : b[k] === undefined ? 'removed' : 'changed',
        subject: `${prefix}.${k}`,
        before: a[k],
        after: b[k],
      });
    }
  }

  push(...entries: DriftEntry[]): void {
    this.entries.push(...entries);
  }
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
