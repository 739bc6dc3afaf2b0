/**
 * PEP 508 dependency specifiers ("requirements"): `name[extra1,extra2] (>=1.0,<2) ; marker` and
 * `name @ https://… ; marker`.
 * https://packaging.python.org/en/latest/specifications/dependency-specifiers/
 *
 * The grammar is read the way `packaging.requirements.Requirement` reads it, so the same strings are valid
 * and invalid as in pip; errors carry the 1-based column of the problem.
 */
import { inputError } from '../../../core/errors.js';
import { type Marker, formatMarker, readMarker } from './marker.js';
import { normalizeName } from './names.js';
import { Pep508SyntaxError, Pep508Tokenizer } from './pep508-tokenizer.js';
import { formatSpecifierSet, parseSpecifierSet } from './specifier.js';

export interface Requirement {
  /** The name as written. */
  name: string;
  /** PEP 503 normalised name: lower case, runs of `-_.` as one `-`. */
  normalizedName: string;
  /** Requested extras, normalised (PEP 685), deduplicated and sorted. */
  extras: string[];
  /** The specifier set in canonical form (sorted, `packaging`'s `str(SpecifierSet)`); '' when none. */
  specifier: string;
  /** Set for a direct reference `name @ URL`. */
  url?: string;
  marker?: Marker;
  /** `marker` printed in normal form. */
  markerText?: string;
}

const REQUIREMENT_HINT =
  'requirements look like requests>=2.31, uvicorn[standard]==0.30.1, numpy<2; python_version < "3.12" ' +
  '(https://packaging.python.org/en/latest/specifications/dependency-specifiers/)';

/** The outcome of parsing without throwing, for callers that report errors in their own terms. */
export type RequirementParseResult = { ok: true; requirement: Requirement } | { ok: false; reason: string; /** 1-based */ column: number; pointer: string[] };

function readExtras(t: Pep508Tokenizer): string[] {
  const open = t.take('LEFT_BRACKET');
  if (!open) return [];
  t.take('WS');
  const extras: string[] = [];
  const first = t.take('IDENTIFIER');
  if (first) {
    extras.push(first.text);
    for (;;) {
      t.take('WS');
      if (t.check('IDENTIFIER')) t.fail('expected a comma between extra names');
      if (!t.take('COMMA')) break;
      t.take('WS');
      extras.push(t.expect('IDENTIFIER', 'an extra name after the comma').text);
    }
  }
  t.take('WS');
  if (!t.take('RIGHT_BRACKET')) t.fail('expected "]" to close the "[" of the extras', open.position, t.position);
  return extras;
}

function readVersionMany(t: Pep508Tokenizer): string {
  let text = '';
  for (;;) {
    const start = t.position;
    const spec = t.take('SPECIFIER');
    if (!spec) break;
    text += spec.text;
    if (t.check('VERSION_PREFIX_TRAIL')) {
      t.fail('a ".*" suffix can only be used with the == and != operators', start, t.position + 1);
    }
    if (t.check('VERSION_LOCAL_LABEL_TRAIL')) {
      t.fail('a local version label (+...) can only be used with the == and != operators', start, t.position);
    }
    t.take('WS');
    const comma = t.take('COMMA');
    if (!comma) break;
    text += comma.text;
    t.take('WS');
  }
  return text;
}

function readSpecifier(t: Pep508Tokenizer): string {
  const open = t.take('LEFT_PARENTHESIS');
  t.take('WS');
  const text = readVersionMany(t);
  t.take('WS');
  if (open && !t.take('RIGHT_PARENTHESIS')) {
    t.fail('expected ")" to close the "(" of the version specifier', open.position, t.position);
  }
  return text;
}

function readMarkerPart(t: Pep508Tokenizer, spanStart: number, expected: string): Marker {
  if (!t.take('SEMICOLON')) t.fail(`expected ${expected} or end`, spanStart, t.position);
  const marker = readMarker(t);
  t.take('WS');
  return marker;
}

interface ParsedParts {
  name: string;
  extras: string[];
  specifier: string;
  url?: string;
  marker?: Marker;
}

function readRequirement(t: Pep508Tokenizer): ParsedParts {
  t.take('WS');
  const name = t.expect('IDENTIFIER', 'a package name at the start of the requirement').text;
  t.take('WS');
  const extras = readExtras(t);
  t.take('WS');
  const parts: ParsedParts = { name, extras, specifier: '' };
  if (t.take('AT')) {
    t.take('WS');
    const urlStart = t.position;
    parts.url = t.expect('URL', 'a URL after "@"').text;
    if (!t.check('END')) {
      // The URL runs up to whitespace, so a marker needs a space before its ";".
      t.expect('WS', 'whitespace after the URL');
      if (!t.check('END')) {
        if (!t.check('SEMICOLON') && parts.url.includes(';')) {
          t.fail(
            'expected a semicolon (after the URL and whitespace) or end; the ";" written right after the URL ' +
              'was read as part of the URL, put a space before it',
            urlStart,
            t.position,
          );
        }
        parts.marker = readMarkerPart(t, urlStart, 'a semicolon (after the URL and whitespace)');
      }
    }
  } else {
    const specStart = t.position;
    parts.specifier = readSpecifier(t);
    t.take('WS');
    if (!t.check('END')) {
      parts.marker = readMarkerPart(
        t,
        specStart,
        parts.specifier ? 'a comma (within the version specifier) or a semicolon (after it)' : 'a version specifier or a semicolon (after the name)',
      );
    }
  }
  t.expect('END', 'end of the requirement');
  return parts;
}

/** Parses a requirement and reports a syntax problem as data instead of throwing. */
export function tryParseRequirement(text: string): RequirementParseResult {
  const t = new Pep508Tokenizer(text);
  let parts: ParsedParts;
  try {
    parts = readRequirement(t);
  } catch (err) {
    if (err instanceof Pep508SyntaxError) {
      return { ok: false, reason: err.reason, column: err.start + 1, pointer: err.pointer() };
    }
    throw err;
  }
  // The tokenizer already matched each specifier against the specifier grammar, so this cannot fail
  // except for numbers too large to compare exactly, which we report rather than mis-order.
  let specifier: string;
  try {
    specifier = formatSpecifierSet(parseSpecifierSet(parts.specifier));
  } catch (err) {
    return {
      ok: false,
      reason: (err as Error).message,
      column: 1,
      pointer: [text, '^'],
    };
  }
  const requirement: Requirement = {
    name: parts.name,
    normalizedName: normalizeName(parts.name),
    extras: [...new Set(parts.extras.map(normalizeName))].sort(),
    specifier,
  };
  if (parts.url !== undefined) requirement.url = parts.url;
  if (parts.marker) {
    requirement.marker = parts.marker;
    requirement.markerText = formatMarker(parts.marker);
  }
  return { ok: true, requirement };
}

/**
 * What makes a requirement that parses (as `packaging` parses it) unfit to declare, or null. `packaging`
 * accepts `===` with an empty string, which matches no version at all: `foo===` is a typo, not a pin.
 */
export function findRequirementProblem(req: Requirement): string | null {
  if (req.specifier && parseSpecifierSet(req.specifier).specifiers.some((s) => s.operator === '===' && s.version === '')) {
    return '"===" (PEP 440 arbitrary equality) needs a version string after it, e.g. ===1.0';
  }
  return null;
}

/** Parses a requirement; throws `pep508.requirement.invalid` (exit 2) naming the column and the problem. */
export function parseRequirement(text: string): Requirement {
  const result = tryParseRequirement(text);
  if (!result.ok) {
    throw inputError('pep508.requirement.invalid', `invalid requirement ${JSON.stringify(text)}: ${result.reason} at column ${result.column}`, {
      hint: REQUIREMENT_HINT,
      details: result.pointer,
      data: { column: result.column, reason: result.reason },
    });
  }
  return result.requirement;
}

/**
 * Prints a requirement in normal form: `name[extras]specifier` or `name[extras] @ url`, then `; marker`.
 * The name is printed as written unless `normalizeName` is set (then the PEP 503 form is used).
 */
export function formatRequirement(req: Requirement, options: { normalizeName?: boolean } = {}): string {
  let out = options.normalizeName ? req.normalizedName : req.name;
  if (req.extras.length > 0) out += `[${req.extras.join(',')}]`;
  if (req.url !== undefined) {
    out += ` @ ${req.url}`;
    if (req.marker) out += ' ';
  } else {
    out += req.specifier;
  }
  if (req.marker) out += `; ${formatMarker(req.marker)}`;
  return out;
}
