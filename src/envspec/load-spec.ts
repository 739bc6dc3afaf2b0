import { LineCounter, parseDocument, isAlias, isMap, isSeq, visit, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { inputError } from '../core/errors.js';
import { specSchema, type EnvSpec } from './schema.js';

/**
 * Parses and validates the text of an env spec. Every problem is reported at once as
 * `<file>: <dotted.path>: <message> (line N)`; YAML syntax errors as `<file>:<line>:<col>: <message>`.
 */
export function parseSpec(text: string, file = 'envseal.yaml'): EnvSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    const details = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
      return `${where}: ${firstLine(e.message)}`;
    });
    throw inputError('spec.syntax', `${file} is not valid YAML`, {
      details,
      hint: 'fix the YAML syntax at the position shown',
    });
  }
  const raw = toPlainData(doc, file, lineCounter);
  if (raw === null || raw === undefined) {
    throw inputError('spec.empty', `${file} is empty`, { hint: 'run `envseal init` to write a commented spec' });
  }
  // One document, parsed once per process: generating zod's eval-compiled fast path for every object schema
  // cost more than it saves (`generateFastpass` in CPU profiles of `verify`). Same result either way.
  const result = specSchema.safeParse(raw, { jitless: true });
  if (result.success) return result.data;
  const details = result.error.issues.flatMap((issue) => describeIssue(issue, file, raw, doc.contents, lineCounter));
  throw inputError('spec.invalid', `${file} has ${details.length} problem${details.length === 1 ? '' : 's'}`, {
    details,
    hint: 'see the spec reference in the README (or schema/envseal.spec.schema.json)',
  });
}

/** Most aliases `toJS` may expand: a spec needs few, and a nested "billion laughs" document must not exhaust memory. */
const MAX_ALIAS_COUNT = 100;

/**
 * `toJS` throws (a ReferenceError from the yaml library) for an alias whose anchor is not defined before it,
 * and for documents whose aliases expand past MAX_ALIAS_COUNT: both are problems in the user's file.
 */
function toPlainData(doc: Document, file: string, lines: LineCounter): unknown {
  const unresolved: string[] = [];
  const anchors = new Set<string>();
  // One pass in document order (Alias.resolve would walk the whole document once per alias).
  visit(doc, {
    Node(_key, node) {
      if (!isAlias(node)) {
        if (node.anchor) anchors.add(node.anchor);
      } else if (!anchors.has(node.source)) {
        const where = node.range ? `${file}:${lines.linePos(node.range[0]).line}:${lines.linePos(node.range[0]).col}` : file;
        unresolved.push(`${where}: alias *${node.source} has no anchor &${node.source} before it`);
      }
    },
  });
  if (unresolved.length) {
    throw inputError('spec.syntax', `${file} is not valid YAML`, {
      details: unresolved,
      hint: 'define the anchor (&name) before the alias (*name) that uses it',
    });
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (err instanceof ReferenceError && err.message.startsWith('Excessive alias count')) {
      throw inputError('spec.aliases', `${file}: YAML aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT} alias uses)`, {
        hint: 'write the values out, or use fewer nested aliases',
      });
    }
    throw err;
  }
}

function describeIssue(issue: z.core.$ZodIssue, file: string, raw: unknown, root: YamlNode | null, lines: LineCounter): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      return `${file}: ${dotted(path)}: unknown key${lineSuffix(root, path, lines)}`;
    });
  }
  const path = issue.path;
  return [`${file}: ${dotted(path) || '(top level)'}: ${messageOf(issue, raw)}${lineSuffix(root, path, lines)}`];
}

function messageOf(issue: z.core.$ZodIssue, raw: unknown): string {
  const value = valueAt(raw, issue.path);
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) {
    return value.present ? `expected ${issue.expected}, got ${describeValue(value.value)}` : `required (${issue.expected})`;
  }
  if (!value.present && issue.code === 'invalid_value') return `required: ${issue.message}`;
  return issue.message;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): { present: boolean; value?: unknown } {
  let cur: unknown = raw;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !(String(key) in (cur as object))) return { present: false };
    cur = (cur as Record<string, unknown>)[String(key)];
  }
  return { present: true, value: cur };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function dotted(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** Finds the YAML node at `path` (or its nearest existing parent) to give a line number. */
function lineSuffix(root: YamlNode | null, path: readonly PropertyKey[], lines: LineCounter): string {
  let node: unknown = root;
  let found: unknown = root;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => {
        const k = p.key as { value?: unknown } | null;
        return k !== null && typeof k === 'object' && String(k.value) === String(key);
      });
      if (!pair) return '';
      found = pair.key;
      node = pair.value;
      if (node) found = node;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      if (!node) return '';
      found = node;
    } else return '';
  }
  const range = (found as { range?: [number, number, number] } | null)?.range;
  if (!range) return '';
  return ` (line ${lines.linePos(range[0]).line})`;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}
