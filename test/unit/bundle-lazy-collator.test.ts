/**
 * scripts/bundle-lazy-collator.mjs: the bundle's packageurl-js makes its Intl.Collator on the first comparison
 * instead of at load. The patched src/strings.js must export the same functions with the same results as the
 * original (fast-check), make no collator when loaded, and the patch must refuse a source it does not know.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import fc from 'fast-check';

const STRINGS_JS = createRequire(import.meta.url).resolve('packageurl-js/src/strings.js');
const PATCH = new URL('../../scripts/bundle-lazy-collator.mjs', import.meta.url).href;
const { lazyCollatorSource } = (await import(PATCH)) as { lazyCollatorSource(source: string): string };

/** Runs a CommonJS source with a counting Intl.Collator; its exports and how many collators it made. */
function load(source: string) {
  let made = 0;
  const Collator = function (this: unknown, ...args: ConstructorParameters<typeof Intl.Collator>) {
    made++;
    return new Intl.Collator(...args);
  };
  const module = { exports: {} as Record<string, unknown> };
  vm.runInNewContext(`(function (module, exports) {${source}\n})`, { Intl: { Collator } })(module, module.exports);
  return { exports: module.exports, made: () => made };
}

describe('packageurl-js with a lazy Intl.Collator (bundle)', () => {
  const original = readFileSync(STRINGS_JS, 'utf8');
  const patched = lazyCollatorSource(original);

  it('makes no collator when loaded, one on the first comparison, and no more after', () => {
    const lazy = load(patched);
    assert.equal(lazy.made(), 0);
    const compare = lazy.exports.localeCompare as (a: string, b: string) => number;
    compare('a', 'b');
    compare('b', 'a');
    assert.equal(lazy.made(), 1);
    assert.equal(load(original).made(), 1);
  });

  it('exports the same names, and localeCompare orders as the original', () => {
    const before = load(original).exports;
    const after = load(patched).exports;
    assert.deepEqual(Object.keys(after), Object.keys(before));
    const [a, b] = [before.localeCompare, after.localeCompare] as ((x: string, y: string) => number)[];
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (x, y) => Math.sign(b!(x, y)) === Math.sign(a!(x, y))),
      { numRuns: 2000 },
    );
    const words = ['pkg:pypi', 'Zeta', 'alpha', 'Ä', 'a', '10', '9', ''];
    assert.deepEqual([...words].sort(b), [...words].sort(a));
  });

  it('refuses a strings.js without the statement it replaces (a packageurl-js upgrade): the build fails', () => {
    assert.throws(() => lazyCollatorSource(original.replace('new Intl.Collator()', 'new Intl.Collator("en")')), /update the patch/);
  });
});
