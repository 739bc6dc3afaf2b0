/** Canonical orderings shared by every lock section: code-point string order, never locale order. */

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Distinct values in code-point order. */
export function sortedUnique<T extends string>(items: readonly T[]): T[] {
  return [...new Set(items)].sort(compareText);
}
