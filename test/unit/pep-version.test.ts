import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import {
  compareVersions,
  formatBaseVersion,
  formatLocalVersion,
  formatPublicVersion,
  formatVersion,
  isDevrelease,
  isPostrelease,
  isPrerelease,
  isValidVersion,
  normalizeVersion,
  parseVersion,
  sortVersions,
  tryParseVersion,
  versionsEqual,
} from '../../src/ecosystems/python/pep/version.js';
import { conformance } from './pep-conformance.js';

describe('PEP 440 versions: conformance vectors (computed with packaging)', () => {
  it(`normalises and classifies all ${conformance.versions.length} valid versions like packaging`, () => {
    for (const v of conformance.versions) {
      const parsed = tryParseVersion(v.input);
      assert.ok(parsed, `should parse ${JSON.stringify(v.input)}`);
      assert.deepEqual(
        {
          normalized: formatVersion(parsed),
          is_prerelease: isPrerelease(parsed),
          is_postrelease: isPostrelease(parsed),
          is_devrelease: isDevrelease(parsed),
          public: formatPublicVersion(parsed),
          local: formatLocalVersion(parsed),
        },
        {
          normalized: v.normalized,
          is_prerelease: v.is_prerelease,
          is_postrelease: v.is_postrelease,
          is_devrelease: v.is_devrelease,
          public: v.public,
          local: v.local,
        },
        `version ${JSON.stringify(v.input)}`,
      );
    }
  });

  it(`rejects all ${conformance.invalid_versions.length} invalid versions`, () => {
    for (const text of conformance.invalid_versions) {
      assert.equal(tryParseVersion(text), null, `should reject ${JSON.stringify(text)}`);
      assert.equal(isValidVersion(text), false);
    }
  });

  it(`orders all ${conformance.version_order.length} versions of version_order as packaging sorts them`, () => {
    const order = conformance.version_order;
    const parsed = order.map((v) => parseVersion(v));
    // Every pair, not only neighbours: the order must be a consistent total preorder.
    for (let i = 0; i < parsed.length; i++) {
      for (let j = i + 1; j < parsed.length; j++) {
        assert.ok(compareVersions(parsed[i]!, parsed[j]!) <= 0, `${order[i]} <= ${order[j]}`);
        assert.ok(compareVersions(parsed[j]!, parsed[i]!) >= 0, `${order[j]} >= ${order[i]}`);
      }
    }
    // Neighbours that compare equal must be the same version up to trailing zeros of the release.
    const withoutTrailingZeros = (text: string) => {
      const v = parseVersion(text);
      const release = [...v.release];
      while (release.length > 1 && release[release.length - 1] === 0) release.pop();
      return formatVersion({ ...v, release });
    };
    for (let i = 1; i < order.length; i++) {
      if (compareVersions(parsed[i - 1]!, parsed[i]!) === 0) {
        assert.equal(withoutTrailingZeros(order[i - 1]!), withoutTrailingZeros(order[i]!), `${order[i - 1]} == ${order[i]}`);
      }
    }
    // Sorting a shuffled copy gives back an order with the same comparisons.
    const shuffled = [...order].reverse();
    const sorted = sortVersions(shuffled);
    for (let i = 0; i < order.length; i++) assert.equal(compareVersions(sorted[i]!, order[i]!), 0, `position ${i}`);
  });
});

describe('PEP 440 versions: behaviour', () => {
  it('normalises spellings to the canonical form', () => {
    const cases: [string, string][] = [
      ['1.0-ALPHA.1', '1.0a1'],
      ['1.0.preview2', '1.0rc2'],
      ['1.0c3', '1.0rc3'],
      ['1.0-1', '1.0.post1'],
      ['1.0.rev4', '1.0.post4'],
      ['1.0-dev', '1.0.dev0'],
      ['v2.0', '2.0'],
      ['0!1.0', '1.0'],
      ['01.002.0003', '1.2.3'],
      ['1.0+Ubuntu-1.00', '1.0+ubuntu.1.0'],
      ['  1.0\t', '1.0'],
    ];
    for (const [input, expected] of cases) assert.equal(normalizeVersion(input), expected, input);
  });

  it('exposes the parts', () => {
    const v = parseVersion('2!1.2.3rc4.post5.dev6+abc.7');
    assert.deepEqual(
      { epoch: v.epoch, release: v.release, pre: v.pre, post: v.post, dev: v.dev, local: v.local },
      { epoch: 2, release: [1, 2, 3], pre: { kind: 'rc', number: 4 }, post: 5, dev: 6, local: ['abc', 7] },
    );
    assert.equal(formatBaseVersion(v), '2!1.2.3');
    assert.equal(formatPublicVersion(v), '2!1.2.3rc4.post5.dev6');
    assert.equal(formatLocalVersion(v), 'abc.7');
    assert.ok(Object.isFrozen(v) && Object.isFrozen(v.release));
  });

  it('orders the suffixes as PEP 440 summarises them', () => {
    const ascending = [
      '1.0.dev1',
      '1.0a1.dev1',
      '1.0a1',
      '1.0a1.post1',
      '1.0b1',
      '1.0rc1',
      '1.0',
      '1.0+abc',
      '1.0+abc.5',
      '1.0+5',
      '1.0.post1.dev1',
      '1.0.post1',
      '1.0.1',
      '1!0.1',
    ];
    for (let i = 1; i < ascending.length; i++) {
      assert.ok(compareVersions(ascending[i - 1]!, ascending[i]!) < 0, `${ascending[i - 1]} < ${ascending[i]}`);
    }
    assert.ok(versionsEqual('1.0', '1.0.0.0'));
    assert.ok(!versionsEqual('1.0', '1.0+0'));
  });

  it('throws pep440.version.invalid with a hint for an invalid version', () => {
    assert.throws(
      () => parseVersion('1.0.x'),
      (err: unknown) =>
        err instanceof EnvsealError &&
        err.code === 'pep440.version.invalid' &&
        err.exitCode === 2 &&
        err.message.includes('"1.0.x"') &&
        (err.hint ?? '').includes('PEP 440'),
    );
    assert.throws(() => compareVersions('1.0', 'nope'), { code: 'pep440.version.invalid' });
  });

  it('rejects numbers too large to compare exactly instead of mis-ordering them', () => {
    assert.equal(tryParseVersion('1.99999999999999999999'), null);
    assert.ok(tryParseVersion('2024.1.0.dev20240101123456'));
  });
});
