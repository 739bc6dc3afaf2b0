import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import {
  SpecifierSet,
  containsVersion,
  filterVersions,
  formatSpecifierSet,
  intersectSpecifierSets,
  parseSpecifier,
  parseSpecifierSet,
  specifierImpliesPrereleases,
  tryParseSpecifier,
} from '../../src/ecosystems/python/pep/specifier.js';
import { parseVersion } from '../../src/ecosystems/python/pep/version.js';
import { conformance } from './pep-conformance.js';

describe('PEP 440 specifiers: conformance vectors (computed with packaging)', () => {
  it(`agrees with SpecifierSet.contains on all ${conformance.specifier_contains.length} vectors`, () => {
    const sets = new Map<string, SpecifierSet>();
    let checked = 0;
    for (const v of conformance.specifier_contains) {
      let set = sets.get(v.specifier);
      if (!set) {
        set = parseSpecifierSet(v.specifier);
        sets.set(v.specifier, set);
      }
      const where = `${JSON.stringify(v.version)} in ${JSON.stringify(v.specifier)}`;
      assert.equal(set.contains(v.version), v.contains, where);
      assert.equal(set.contains(v.version, { prereleases: true }), v.contains_prereleases, `${where} (prereleases)`);
      checked++;
    }
    assert.equal(checked, conformance.specifier_contains.length);
  });
});

describe('PEP 440 specifiers: operators', () => {
  const cases: [string, string, boolean][] = [
    ['==1.2.*', '1.2.9', true],
    ['==1.2.*', '1.2', true],
    ['==1.2.*', '1.3', false],
    ['==1.2.*', '1.2.0rc1', true],
    ['==1.0.*', '1', true],
    ['!=1.3.*', '1.3.1', false],
    ['!=1.3.*', '1.4', true],
    ['~=2.2', '2.9', true],
    ['~=2.2', '3.0', false],
    ['~=1.4.5', '1.4.9', true],
    ['~=1.4.5', '1.5.0', false],
    ['~=2.2.post3', '2.3', true],
    ['==1.0', '1.0+local', true],
    ['==1.0+local', '1.0', false],
    ['==1.0+local', '1.0+LOCAL', true],
    ['<=1.0', '1.0+local', true],
    ['>1.7', '1.7.post2', false],
    ['>1.7', '1.7+local', false],
    ['>1.7.post2', '1.7.post3', true],
    ['<2.0', '2.0rc1', false],
    ['<2.0rc1', '2.0b1', true],
    ['===1.0', '1.0', true],
    ['===1.0', '1.0.0', false],
    ['===foobar', 'FooBar', true],
  ];
  for (const [spec, version, expected] of cases) {
    it(`${version} ${expected ? 'is' : 'is not'} in ${spec}`, () => {
      assert.equal(containsVersion(spec, version, { prereleases: true }), expected);
    });
  }

  it('compares === against the string as given, and against the canonical form of a parsed version', () => {
    assert.equal(containsVersion('===1.0.0', '1.0.0'), true);
    assert.equal(containsVersion('===1.0.0', parseVersion('1.0.0')), true);
    assert.equal(containsVersion('===v1.0', 'v1.0'), true);
    assert.equal(containsVersion('===v1.0', parseVersion('v1.0')), false);
  });
});

describe('PEP 440 specifiers: pre-release rules', () => {
  it('filters like SpecifierSet.filter: pre-releases only when no final release matches', () => {
    assert.deepEqual(filterVersions(['1.2', '1.3', '1.5a1'], '>=1.2.3'), ['1.3']);
    assert.deepEqual(filterVersions(['1.2', '1.5a1'], '>=1.2.3'), ['1.5a1']);
    assert.deepEqual(filterVersions(['1.3', '1.5a1'], '>=1.2.3', { prereleases: true }), ['1.3', '1.5a1']);
    assert.deepEqual(filterVersions(['1.2', '1.5a1'], '>=1.2.3', { prereleases: false }), []);
    assert.deepEqual(filterVersions(['1.3', '1.5a1'], ''), ['1.3']);
    assert.deepEqual(filterVersions(['1.5a1'], ''), ['1.5a1']);
  });

  it('accepts pre-releases when a specifier names one (but not for != or ==X.*)', () => {
    assert.deepEqual(filterVersions(['1.0', '2.0b2', '2.0'], '>=2.0b1'), ['2.0b2', '2.0']);
    assert.equal(parseSpecifierSet('>=2.0b1,<3').impliesPrereleases, true);
    assert.equal(parseSpecifierSet('!=2.0b1').impliesPrereleases, null);
    assert.equal(specifierImpliesPrereleases(parseSpecifier('!=2.0b1')), false);
    assert.equal(specifierImpliesPrereleases(parseSpecifier('==2.*')), false);
    assert.equal(specifierImpliesPrereleases(parseSpecifier('===foobar')), null);
    assert.deepEqual(filterVersions(['1.0', '2.0b2'], '!=2.0b1'), ['1.0']);
  });

  it('contains accepts a lone matching pre-release unless pre-releases are refused', () => {
    const set = parseSpecifierSet('>=1.0');
    assert.equal(set.contains('1.5a1'), true);
    assert.equal(set.contains('1.5a1', { prereleases: false }), false);
    assert.equal(set.contains('0.9a1'), false);
  });

  it('keeps input order and items that are not versions only for ===', () => {
    assert.deepEqual(filterVersions(['2.0', 'foobar', '1.0'], '>=1.0'), ['2.0', '1.0']);
    assert.deepEqual(filterVersions(['2.0', 'foobar'], '===foobar'), ['foobar']);
    assert.deepEqual(filterVersions(['2.0', 'foobar', '3.0a1'], ''), ['2.0', 'foobar']);
  });
});

describe('PEP 440 specifiers: parsing and printing', () => {
  it('prints a set in canonical order, deduplicated', () => {
    assert.equal(formatSpecifierSet(parseSpecifierSet(' >=1.0 , <2,!=1.5 ,>=1.0')), '!=1.5,<2,>=1.0');
    assert.equal(String(parseSpecifierSet('')), '');
    assert.equal(parseSpecifierSet(',').isEmpty, true);
    assert.equal(String(intersectSpecifierSets(parseSpecifierSet('>=1'), parseSpecifierSet('<2'))), '<2,>=1');
  });

  it('parses the parts of one specifier', () => {
    const s = parseSpecifier(' == 1.2.* ');
    assert.deepEqual({ operator: s.operator, version: s.version, wildcard: s.wildcard }, { operator: '==', version: '1.2.*', wildcard: true });
    assert.equal(tryParseSpecifier('>=1.0.*'), null);
    assert.equal(tryParseSpecifier('<1.0+local'), null);
    assert.equal(tryParseSpecifier('~=1'), null);
    assert.equal(tryParseSpecifier('=>1.0'), null);
  });

  it('throws pep440.specifier.invalid naming the bad part', () => {
    assert.throws(
      () => parseSpecifierSet('>=1.0,=>2'),
      (err: unknown) =>
        err instanceof EnvsealError &&
        err.code === 'pep440.specifier.invalid' &&
        err.message.includes('"=>2"') &&
        err.message.includes('">=1.0,=>2"') &&
        (err.hint ?? '').includes('~='),
    );
  });
});
