/** What load.ts and load-imported.ts share: the default index and how requirements are targeted. */
import type { DeclaredRequirement } from './schema.js';

export const DEFAULT_INDEX = 'https://pypi.org/simple';

export type Targets = DeclaredRequirement['targets'];
export const ALL: Targets = ['deploy', 'dev'];
export const DEV: Targets = ['dev'];

export function dedupeUrls(items: string[]): string[] {
  return [...new Set(items.map((u) => u.replace(/\/+$/, '')))];
}
