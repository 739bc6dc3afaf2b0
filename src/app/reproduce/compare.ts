/**
 * `envseal reproduce`: comparing the re-created outputs with the recorded ones. The record keeps one content
 * digest per output (a Merkle digest for a directory); when the digests differ and the original output is
 * still on disk as recorded, the two trees are compared file by file (added, removed, content), with a short
 * value-level summary for JSON and CSV files. The summaries are pure functions of the two texts.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataDigest } from '../../record/data-digest.js';

export type FileChange = { path: string; change: 'added' | 'removed' } | { path: string; change: 'content'; summary: string[] };

export interface OutputComparison {
  path: string;
  /** identical: same digest; added/removed: only the rerun/only the original produced it; changed: both, different content. */
  status: 'identical' | 'added' | 'removed' | 'changed';
  files: FileChange[];
  /** Why there is no file-level report (the original is no longer on disk as recorded). */
  note?: string;
}

/** At most this many differing values per file, and this many characters per value. */
const MAX_VALUES = 3;
const MAX_VALUE_CHARS = 60;

/** Decides an output's status from the two digests alone (null: not produced). */
export function compareDigests(path: string, recorded: DataDigest | null, rerun: DataDigest | null): OutputComparison {
  if (recorded === null && rerun === null) return { path, status: 'identical', files: [] };
  if (recorded === null) return { path, status: 'added', files: [] };
  if (rerun === null) return { path, status: 'removed', files: [] };
  return { path, status: recorded.digest === rerun.digest ? 'identical' : 'changed', files: [] };
}

/** The files of a tree (or one file) by relative path ("" for a single file), with the sha256 of each. */
export async function listTreeFiles(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (abs: string, rel: string): Promise<void> => {
    const stats = await lstat(abs);
    if (stats.isDirectory()) {
      for (const name of (await readdir(abs)).sort()) await visit(join(abs, name), rel ? `${rel}/${name}` : name);
    } else if (stats.isSymbolicLink()) {
      out.set(rel, `link:${await readlink(abs)}`);
    } else if (stats.isFile()) {
      out.set(
        rel,
        createHash('sha256')
          .update(await readFile(abs))
          .digest('hex'),
      );
    }
  };
  await visit(root, '');
  return out;
}

/** File-by-file differences between the original tree and the rerun's; `read` gives a file's bytes for summaries. */
export async function diffTrees(original: string, rerun: string, name: string): Promise<FileChange[]> {
  const a = await listTreeFiles(original);
  const b = await listTreeFiles(rerun);
  const changes: FileChange[] = [];
  for (const rel of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const display = rel ? `${name}/${rel}` : name;
    const before = a.get(rel);
    const after = b.get(rel);
    if (before === undefined) changes.push({ path: display, change: 'added' });
    else if (after === undefined) changes.push({ path: display, change: 'removed' });
    else if (before !== after) {
      const summary =
        before.startsWith('link:') || after.startsWith('link:')
          ? [`symlink ${before.replace(/^link:/, '')} → ${after.replace(/^link:/, '')}`]
          : summarizeContent(display, await readFile(join(original, rel)), await readFile(join(rerun, rel)));
      changes.push({ path: display, change: 'content', summary });
    }
  }
  return changes;
}

/** A short value-level summary for JSON and CSV files; sizes otherwise. */
export function summarizeContent(path: string, before: Buffer, after: Buffer): string[] {
  const lower = path.toLowerCase();
  if (lower.endsWith('.json')) {
    const summary = summarizeJson(before.toString('utf8'), after.toString('utf8'));
    if (summary) return summary;
  }
  if (lower.endsWith('.csv') || lower.endsWith('.tsv'))
    return summarizeCsv(before.toString('utf8'), after.toString('utf8'), lower.endsWith('.tsv') ? '\t' : ',');
  return [`${before.length} → ${after.length} bytes`];
}

/** The first differing values as `key.path: before → after`; null when either side is not JSON. */
export function summarizeJson(before: string, after: string): string[] | null {
  let a: unknown;
  let b: unknown;
  try {
    a = JSON.parse(before);
    b = JSON.parse(after);
  } catch {
    return null;
  }
  const out: string[] = [];
  let total = 0;
  const walk = (x: unknown, y: unknown, at: string): void => {
    if (isContainer(x) && isContainer(y) && Array.isArray(x) === Array.isArray(y)) {
      const keys = Array.isArray(x)
        ? [...Array(Math.max(x.length, (y as unknown[]).length)).keys()].map(String)
        : [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
      for (const key of keys) {
        const xs = x as Record<string, unknown>;
        const ys = y as Record<string, unknown>;
        const sub = Array.isArray(x) ? `${at}[${key}]` : at ? `${at}.${key}` : key;
        if (!(key in xs)) note(sub, '(absent)', show(ys[key]));
        else if (!(key in ys)) note(sub, show(xs[key]), '(absent)');
        else walk(xs[key], ys[key], sub);
      }
      return;
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) note(at || '(top level)', show(x), show(y));
  };
  const note = (at: string, x: string, y: string): void => {
    total += 1;
    if (out.length < MAX_VALUES) out.push(`${at}: ${x} → ${y}`);
  };
  walk(a, b, '');
  if (total > MAX_VALUES) out.push(`and ${total - MAX_VALUES} more value${total - MAX_VALUES === 1 ? '' : 's'}`);
  return out.length ? out : ['same values, different bytes (formatting or key order)'];
}

/** The first differing cells as `row N, column C: before → after` (C from the header row when there is one). */
export function summarizeCsv(before: string, after: string, separator = ','): string[] {
  const rowsA = splitRows(before, separator);
  const rowsB = splitRows(after, separator);
  const header = rowsA[0] ?? [];
  const out: string[] = [];
  let total = 0;
  if (rowsA.length !== rowsB.length) out.push(`${rowsA.length} → ${rowsB.length} rows`);
  for (let r = 0; r < Math.min(rowsA.length, rowsB.length); r++) {
    const a = rowsA[r]!;
    const b = rowsB[r]!;
    for (let c = 0; c < Math.max(a.length, b.length); c++) {
      if (a[c] === b[c]) continue;
      total += 1;
      if (total <= MAX_VALUES) {
        const column = r > 0 && header[c] ? header[c] : String(c + 1);
        out.push(`row ${r + 1}, column ${column}: ${clip(a[c] ?? '(absent)')} → ${clip(b[c] ?? '(absent)')}`);
      }
    }
  }
  if (total > MAX_VALUES) out.push(`and ${total - MAX_VALUES} more cell${total - MAX_VALUES === 1 ? '' : 's'}`);
  return out.length ? out : ['same cells, different bytes (line endings or quoting)'];
}

function splitRows(text: string, separator: string): string[][] {
  return text
    .split(/\r?\n/)
    .filter((line, i, all) => line !== '' || i < all.length - 1)
    .map((line) => line.split(separator));
}

function isContainer(x: unknown): x is Record<string, unknown> | unknown[] {
  return typeof x === 'object' && x !== null;
}

function show(x: unknown): string {
  return clip(x === undefined ? '(absent)' : JSON.stringify(x));
}

function clip(s: string): string {
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s;
}
