import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { evaluateMarker, formatMarker, parseMarker } from '../../src/ecosystems/python/pep/marker.js';
import { tryParseRequirement } from '../../src/ecosystems/python/pep/requirement.js';
import { filterVersions } from '../../src/ecosystems/python/pep/specifier.js';
import { conformance } from './pep-conformance.js';

/**
 * Randomly generated cases answered by `packaging` (test/fixtures/pep/generate-differential.py): list
 * filtering with each pre-release policy, mutated requirement strings, and random marker expressions.
 */
const cases: {
  oracle: string;
  filter: { spec: string; versions: string[]; prereleases: boolean | null; result: string[] }[];
  requirements: ({ input: string; valid: false } | { input: string; valid: true; name: string; extras: string[]; specifier: string; url: string | null })[];
  markers: { marker: string; environment: string; extra: string | null; result: boolean | string; printed: string | null }[];
} = JSON.parse(readFileSync(new URL('../fixtures/pep/packaging-differential.json', import.meta.url), 'utf8'));

describe(`differential cases against ${cases.oracle}`, () => {
  it(`filters ${cases.filter.length} candidate lists like SpecifierSet.filter`, () => {
    for (const c of cases.filter) {
      const options = c.prereleases === null ? {} : { prereleases: c.prereleases };
      assert.deepEqual(filterVersions(c.versions, c.spec, options), c.result, JSON.stringify(c));
    }
  });

  it(`accepts and rejects ${cases.requirements.length} mutated requirement strings like Requirement`, () => {
    for (const c of cases.requirements) {
      const r = tryParseRequirement(c.input);
      if (!c.valid) {
        assert.equal(r.ok, false, `should reject ${JSON.stringify(c.input)}`);
        continue;
      }
      assert.ok(r.ok, `should accept ${JSON.stringify(c.input)}${r.ok ? '' : `: ${r.reason}`}`);
      const q = r.requirement;
      assert.deepEqual(
        { name: q.name, extras: q.extras, specifier: q.specifier, url: q.url ?? null },
        { name: c.name, extras: c.extras, specifier: c.specifier, url: c.url },
        JSON.stringify(c.input),
      );
    }
  });

  it(`evaluates and prints ${cases.markers.length} random markers like Marker`, () => {
    for (const c of cases.markers) {
      const env = conformance.environments[c.environment]!;
      const run = () => evaluateMarker(c.marker, env, { extras: c.extra === null ? [] : [c.extra] });
      if (typeof c.result === 'boolean') {
        assert.equal(run(), c.result, JSON.stringify(c));
      } else {
        assert.throws(run, (err: unknown) => err instanceof EnvsealError && err.code === 'pep508.marker.evaluation', JSON.stringify(c));
      }
      if (c.printed !== null) assert.equal(formatMarker(parseMarker(c.marker)), c.printed, c.marker);
    }
  });
});
