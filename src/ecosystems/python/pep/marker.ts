/**
 * PEP 508 environment markers (`python_version < "3.10" and sys_platform == "linux"`): parsing to an AST,
 * printing it back, and evaluating it against a target interpreter's environment.
 * https://packaging.python.org/en/latest/specifications/dependency-specifiers/#environment-markers
 *
 * Evaluation follows `packaging` (the code pip runs): for the version-valued variables a comparison is a
 * PEP 440 specifier check when the right-hand side makes a valid specifier (pre-releases included), and a
 * string comparison otherwise, where `<`/`>` are false and `<=`/`>=` mean equality; `~=` and `===` on
 * strings are errors. Names compared with `extra` are normalised (PEP 685) wherever they appear; `packaging`
 * 26 forgets to normalise them inside parentheses (so `(extra == "Foo_Bar")` never matches there), which we
 * deliberately do not copy.
 */
import { inputError } from '../../../core/errors.js';
import { Pep508SyntaxError, Pep508Tokenizer } from './pep508-tokenizer.js';
import { normalizeName } from './names.js';
import { SpecifierSet, tryParseSpecifier } from './specifier.js';

/** The eleven variables of PEP 508 that describe the target interpreter. */
export interface MarkerEnvironment {
  implementation_name: string;
  implementation_version: string;
  os_name: string;
  platform_machine: string;
  platform_python_implementation: string;
  platform_release: string;
  platform_system: string;
  platform_version: string;
  python_full_version: string;
  python_version: string;
  sys_platform: string;
}

export const MARKER_ENVIRONMENT_KEYS = [
  'implementation_name',
  'implementation_version',
  'os_name',
  'platform_machine',
  'platform_python_implementation',
  'platform_release',
  'platform_system',
  'platform_version',
  'python_full_version',
  'python_version',
  'sys_platform',
] as const satisfies readonly (keyof MarkerEnvironment)[];

/**
 * A variable after normalisation of its legacy spellings (`os.name` → `os_name`, `python_implementation`
 * → `platform_python_implementation`). `extras` and `dependency_groups` belong to lock files (PEP 751) and
 * parse, but cannot be evaluated against a requirement's environment.
 */
export type MarkerVariableName = keyof MarkerEnvironment | 'extra' | 'extras' | 'dependency_groups';

export type MarkerOperand = { readonly kind: 'variable'; readonly name: MarkerVariableName } | { readonly kind: 'string'; readonly value: string };

export type MarkerOperator = '===' | '==' | '~=' | '!=' | '<=' | '>=' | '<' | '>' | 'in' | 'not in';

export type Marker =
  | {
      readonly kind: 'compare';
      readonly left: MarkerOperand;
      readonly op: MarkerOperator;
      readonly right: MarkerOperand;
    }
  | {
      readonly kind: 'and' | 'or';
      /** Two or more operands. */
      readonly items: readonly Marker[];
      /** The author wrote parentheses around this group; kept so printing preserves the grouping. */
      readonly parenthesized?: boolean;
    };

const MARKER_HINT =
  'markers look like python_version >= "3.9" and sys_platform == "linux" ' +
  '(https://packaging.python.org/en/latest/specifications/dependency-specifiers/#environment-markers)';

/** Parses a marker at the tokenizer's position (for requirement.ts); the caller checks what follows. */
export function readMarker(t: Pep508Tokenizer): Marker {
  // marker = atom (BOOLOP atom)*, where "and" binds tighter than "or".
  const orItems: Marker[] = [];
  let andItems: Marker[] = [readMarkerAtom(t)];
  for (;;) {
    const op = t.take('BOOLOP');
    if (!op) break;
    const atom = readMarkerAtom(t);
    if (op.text === 'and') {
      andItems.push(atom);
    } else {
      orItems.push(combine('and', andItems));
      andItems = [atom];
    }
  }
  orItems.push(combine('and', andItems));
  return combine('or', orItems);
}

function combine(kind: 'and' | 'or', items: Marker[]): Marker {
  return items.length === 1 ? items[0]! : Object.freeze({ kind, items: Object.freeze(items) });
}

function readMarkerAtom(t: Pep508Tokenizer): Marker {
  t.take('WS');
  let marker: Marker;
  const open = t.take('LEFT_PARENTHESIS');
  if (open) {
    t.take('WS');
    const inner = readMarker(t);
    t.take('WS');
    if (!t.take('RIGHT_PARENTHESIS')) {
      t.fail('expected ")" to close the "(" of the marker expression', open.position, t.position);
    }
    marker = inner.kind === 'compare' ? inner : Object.freeze({ ...inner, parenthesized: true });
  } else {
    marker = readMarkerItem(t);
  }
  t.take('WS');
  return marker;
}

function readMarkerItem(t: Pep508Tokenizer): Marker {
  t.take('WS');
  let left = readMarkerOperand(t);
  t.take('WS');
  const op = readMarkerOperator(t);
  t.take('WS');
  let right = readMarkerOperand(t);
  t.take('WS');
  // PEP 685: extra names are compared normalised, so normalise the literal side once here.
  if (left.kind === 'variable' && left.name === 'extra' && right.kind === 'string') {
    right = Object.freeze({ kind: 'string', value: normalizeName(right.value) });
  } else if (right.kind === 'variable' && right.name === 'extra' && left.kind === 'string') {
    left = Object.freeze({ kind: 'string', value: normalizeName(left.value) });
  }
  return Object.freeze({ kind: 'compare', left, op, right });
}

function readMarkerOperand(t: Pep508Tokenizer): MarkerOperand {
  const variable = t.take('VARIABLE');
  if (variable) {
    let name = variable.text.replace('.', '_');
    if (name === 'python_implementation') name = 'platform_python_implementation';
    return Object.freeze({ kind: 'variable', name: name as MarkerVariableName });
  }
  const quoted = t.take('QUOTED_STRING');
  if (quoted) {
    const value = quoted.text.slice(1, -1);
    // PEP 508's python_str has no escapes (no backslash) and no line breaks.
    const bad = /[\\\r\n]/.exec(value);
    if (bad) {
      const what = bad[0] === '\\' ? 'a backslash' : 'a line break';
      t.fail(`a marker string cannot contain ${what}`, quoted.position + 1 + bad.index, quoted.position + 1 + bad.index);
    }
    return Object.freeze({ kind: 'string', value });
  }
  return t.fail('expected a marker variable (like python_version) or a quoted string');
}

function readMarkerOperator(t: Pep508Tokenizer): MarkerOperator {
  if (t.take('IN')) return 'in';
  if (t.take('NOT')) {
    t.expect('WS', 'whitespace after "not"');
    t.expect('IN', '"in" after "not"');
    return 'not in';
  }
  const op = t.take('OP');
  if (op) return op.text as MarkerOperator;
  return t.fail('expected a marker operator: one of <=, <, !=, ==, >=, >, ~=, ===, in, not in');
}

/** Parses a complete marker expression. Throws `pep508.marker.invalid` with the column. */
export function parseMarker(text: string): Marker {
  const t = new Pep508Tokenizer(text);
  try {
    const marker = readMarker(t);
    t.expect('END', 'end of marker expression (or "and"/"or")');
    return marker;
  } catch (err) {
    if (err instanceof Pep508SyntaxError) {
      throw inputError('pep508.marker.invalid', `invalid environment marker ${JSON.stringify(text)}: ${err.reason} at column ${err.start + 1}`, {
        hint: MARKER_HINT,
        details: err.pointer(),
        data: { column: err.start + 1, reason: err.reason },
      });
    }
    throw err;
  }
}

function formatOperand(operand: MarkerOperand): string {
  if (operand.kind === 'variable') return operand.name;
  const value = operand.value;
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  // Unreachable for parsed markers (a quoted string cannot hold its own quote character).
  throw inputError('pep508.marker.invalid', `a marker string cannot contain both quote characters: ${value}`);
}

function formatNode(marker: Marker, parent: 'and' | 'or' | null): string {
  if (marker.kind === 'compare') {
    return `${formatOperand(marker.left)} ${marker.op} ${formatOperand(marker.right)}`;
  }
  const text = marker.items.map((item) => formatNode(item, marker.kind)).join(` ${marker.kind} `);
  const needsParens = parent !== null && (marker.parenthesized === true || (marker.kind === 'or' && parent === 'and'));
  return needsParens ? `(${text})` : text;
}

/**
 * Prints a marker in the normalised form `packaging` uses (single spaces, double quotes, variables in
 * their standard spelling), keeping the author's parentheses around groups. A string that contains a `"`
 * is printed in single quotes so that the printed marker means what the parsed one did.
 */
export function formatMarker(marker: Marker): string {
  return formatNode(marker, null);
}

/** `a and b`, for a requirement reached through another requirement that has its own marker. */
export function andMarkers(a: Marker | undefined, b: Marker | undefined): Marker | undefined {
  if (!a) return b;
  if (!b) return a;
  return Object.freeze({ kind: 'and', items: Object.freeze([a, b]) });
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

/** Variables whose comparisons are PEP 440 version comparisons when possible (`packaging` semantics). */
const VERSION_VARIABLES: ReadonlySet<MarkerVariableName> = new Set(['implementation_version', 'platform_release', 'python_full_version', 'python_version']);

export interface MarkerEvaluationOptions {
  /**
   * The extras the requirement is being considered for. Empty (the default): `extra` is "" (so
   * `extra == "x"` is false). Otherwise the marker holds if it holds for any one of them, the way pip
   * evaluates a distribution's `Requires-Dist` for the extras requested of it.
   */
  extras?: Iterable<string>;
  /**
   * When evaluating a lock file's markers (PEP 751): the selected extras and dependency groups, the sets
   * `extras` and `dependency_groups` stand for (`'dev' in dependency_groups`). Without it they are errors.
   */
  lockSets?: { extras: readonly string[]; dependencyGroups: readonly string[] };
}

function evaluationError(marker: Marker, what: string, hint: string): never {
  throw inputError('pep508.marker.evaluation', `cannot evaluate marker \`${formatMarker(marker)}\`: ${what}`, {
    hint,
  });
}

function lookUp(env: MarkerEnvironment, extra: string, name: MarkerVariableName, node: Marker): string {
  if (name === 'extra') return extra;
  if (name === 'extras' || name === 'dependency_groups') {
    return evaluationError(node, `"${name}" is only defined when evaluating a lock file (PEP 751)`, 'use `extra == "name"` in a requirement marker');
  }
  const value = env[name];
  if (typeof value !== 'string') {
    return evaluationError(
      node,
      `the environment has no value for "${name}"`,
      `a marker environment needs all eleven PEP 508 variables: ${MARKER_ENVIRONMENT_KEYS.join(', ')}`,
    );
  }
  // `platform.python_version()` can end in "+" on non-tagged CPython builds; `packaging` repairs it the
  // same way so that it still parses as a version.
  return name === 'python_full_version' && value.endsWith('+') ? `${value}local` : value;
}

function compareStrings(lhs: string, op: MarkerOperator, rhs: string, node: Marker): boolean {
  switch (op) {
    case 'in':
      return rhs.includes(lhs);
    case 'not in':
      return !rhs.includes(lhs);
    case '==':
    case '<=':
    case '>=':
      return lhs === rhs;
    case '!=':
      return lhs !== rhs;
    case '<':
    case '>':
      return false;
    case '~=':
    case '===':
      return evaluationError(
        node,
        `"${op}" is not defined between ${JSON.stringify(lhs)} and ${JSON.stringify(rhs)} (not PEP 440 versions)`,
        'use == or != to compare strings',
      );
  }
}

const LOCK_SETS: ReadonlySet<MarkerVariableName> = new Set(['extras', 'dependency_groups']);

/** `'x' in extras`, `'x' not in dependency_groups`: membership of a name in a lock file's selected set. */
function evaluateSetCompare(node: Extract<Marker, { kind: 'compare' }>, sets: NonNullable<MarkerEvaluationOptions['lockSets']>): boolean {
  const { left, op, right } = node;
  if (left.kind !== 'string' || right.kind !== 'variable' || (op !== 'in' && op !== 'not in')) {
    return evaluationError(
      node,
      'a lock-file set can only be tested with `"name" in <set>` or `"name" not in <set>`',
      'write e.g. `"dev" in dependency_groups`',
    );
  }
  const set = right.name === 'extras' ? sets.extras : sets.dependencyGroups;
  const has = set.map(normalizeName).includes(normalizeName(left.value));
  return op === 'in' ? has : !has;
}

function evaluateCompare(
  node: Extract<Marker, { kind: 'compare' }>,
  env: MarkerEnvironment,
  extra: string,
  sets?: MarkerEvaluationOptions['lockSets'],
): boolean {
  const { left, op, right } = node;
  if (sets && ((left.kind === 'variable' && LOCK_SETS.has(left.name)) || (right.kind === 'variable' && LOCK_SETS.has(right.name)))) {
    return evaluateSetCompare(node, sets);
  }
  let key: MarkerVariableName;
  if (left.kind === 'variable') key = left.name;
  else if (right.kind === 'variable') key = right.name;
  else {
    return evaluationError(node, 'it compares two literal strings', 'one side of a marker comparison must be a variable like python_version or sys_platform');
  }
  const lhs = left.kind === 'variable' ? lookUp(env, extra, left.name, node) : left.value;
  const rhs = right.kind === 'variable' ? lookUp(env, extra, right.name, node) : right.value;
  if (VERSION_VARIABLES.has(key) && op !== 'in' && op !== 'not in') {
    const spec = tryParseSpecifier(`${op}${rhs}`);
    if (spec) return new SpecifierSet([spec]).contains(lhs, { prereleases: true });
  }
  return compareStrings(lhs, op, rhs, node);
}

function evaluateWith(marker: Marker, env: MarkerEnvironment, extra: string, sets?: MarkerEvaluationOptions['lockSets']): boolean {
  switch (marker.kind) {
    case 'compare':
      return evaluateCompare(marker, env, extra, sets);
    // Every operand is evaluated (no short-circuit), as `packaging` does: an undefined comparison is an
    // error wherever it sits, not only when the other operands happen to leave the result open.
    case 'and':
      return marker.items.map((m) => evaluateWith(m, env, extra, sets)).every(Boolean);
    case 'or':
      return marker.items.map((m) => evaluateWith(m, env, extra, sets)).some(Boolean);
  }
}

/**
 * Evaluates a marker for a target environment. Throws `pep508.marker.evaluation` for comparisons PEP 508
 * leaves undefined (e.g. `os_name ~= "2.7"`), for two literals compared with each other, and for the
 * lock-file-only variables.
 */
export function evaluateMarker(marker: Marker | string, env: MarkerEnvironment, options: MarkerEvaluationOptions = {}): boolean {
  const parsed = typeof marker === 'string' ? parseMarker(marker) : marker;
  const extras = [...(options.extras ?? [])].map((e) => (e === '' ? '' : normalizeName(e)));
  if (extras.length === 0) return evaluateWith(parsed, env, '', options.lockSets);
  return extras.some((extra) => evaluateWith(parsed, env, extra, options.lockSets));
}

/** The variables a marker reads (for reports and for deciding which probe values a lock depends on). */
export function listMarkerVariables(marker: Marker): MarkerVariableName[] {
  const names = new Set<MarkerVariableName>();
  const visit = (m: Marker): void => {
    if (m.kind === 'compare') {
      if (m.left.kind === 'variable') names.add(m.left.name);
      if (m.right.kind === 'variable') names.add(m.right.name);
    } else {
      m.items.forEach(visit);
    }
  };
  visit(marker);
  return [...names].sort();
}
