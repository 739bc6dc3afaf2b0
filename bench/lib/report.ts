/** bench/all's rows: a measured figure against its goal, and whether it is a gross regression. */
export interface Row {
  name: string;
  /** The measured figure, in the unit of the goal. */
  value: number;
  unit: 'x' | 'ms' | 'share';
  goal?: { op: '>=' | '<='; value: number };
  /** Worse than this is a gross regression: the run fails. */
  loose?: number;
  detail: string;
  command: string;
}

export type RowStatus = 'info' | 'met' | 'not met' | 'REGRESSION';

function meets(row: Row, limit: number): boolean {
  return row.goal!.op === '>=' ? row.value >= limit : row.value <= limit;
}

/** `met` the goal, `not met` but within the loose limit, or a `REGRESSION` beyond it; `info` without a goal. */
export function status(row: Row): RowStatus {
  if (!row.goal) return 'info';
  if (!Number.isFinite(row.value)) return 'REGRESSION';
  if (meets(row, row.goal.value)) return 'met';
  if (row.loose !== undefined && !meets(row, row.loose)) return 'REGRESSION';
  return 'not met';
}

function inUnit(unit: Row['unit'], value: number, digits: number): string {
  if (unit === 'ms') return `${value.toFixed(0)} ms`;
  if (unit === 'share') return `${(value * 100).toFixed(digits)}%`;
  return `${value.toFixed(digits)}x`;
}

export const TABLE_HEADER = `${'measure'.padEnd(44)} ${'value'.padStart(10)}   ${'goal'.padEnd(9)} ${'status'.padEnd(10)} detail`;

export function formatRow(row: Row): string {
  const goal = row.goal
    ? `${row.goal.op} ${row.unit === 'ms' ? `${row.goal.value} ms` : row.unit === 'share' ? `${Math.round(row.goal.value * 1000) / 10}%` : `${row.goal.value}x`}`
    : '-';
  return `${row.name.padEnd(44)} ${inUnit(row.unit, row.value, row.unit === 'share' ? 1 : 2).padStart(10)}   ${goal.padEnd(9)} ${status(row).padEnd(10)} ${row.detail}`;
}
