/**
 * scripts/bundle-lazy-collator.mjs: the bundle's packageurl-js compares two single digits itself and makes its
 * Intl.Collator only for anything else. The patched src/strings.js must export the same functions with the same
 * results as the original (fast-check), the patched library must build envseal's purls with no collator and the
 * same strings, and the patch must refuse a source it does not know.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { after, describe, it } from 'node:test';
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

  it('makes no collator when loaded nor for two digits, one on the first other comparison, and no more after', () => {
    const lazy = load(patched);
    assert.equal(lazy.made(), 0);
    const compare = lazy.exports.localeCompare as (a: unknown, b: unknown) => number;
    for (let a = 0; a <= 9; a++) for (let b = 0; b <= 9; b++) compare(a, b);
    assert.equal(lazy.made(), 0);
    compare('a', 'b');
    compare(10, 9);
    assert.equal(lazy.made(), 1);
    assert.equal(load(original).made(), 1);
  });

  it('exports the same names, and localeCompare orders as the original', () => {
    const before = load(original).exports;
    const after = load(patched).exports;
    assert.deepEqual(Object.keys(after), Object.keys(before));
    const [a, b] = [before.localeCompare, after.localeCompare] as ((x: unknown, y: unknown) => number)[];
    const value = fc.oneof(fc.integer({ min: -12, max: 12 }), fc.double(), fc.string({ unit: 'binary' }), fc.constantFrom(-0, '0', '7', ' 1', '01'));
    fc.assert(
      fc.property(value, value, (x, y) => Object.is(b!(x, y), a!(x, y))),
      { numRuns: 3000 },
    );
    for (let x = 0; x <= 9; x++) for (let y = 0; y <= 9; y++) assert.equal(b!(x, y), a!(x, y), `${x} vs ${y}`);
    const words = ['pkg:pypi', 'Zeta', 'alpha', 'Ä', 'a', '10', '9', ''];
    assert.deepEqual([...words].sort(b), [...words].sort(a));
  });

  it("builds envseal's purls with no collator, and the same strings as the library", () => {
    const work = mkdtempSync(join(tmpdir(), 'envseal-purl-'));
    after(() => rmSync(work, { recursive: true, force: true }));
    const pkg = dirname(dirname(STRINGS_JS));
    cpSync(pkg, join(work, 'packageurl-js'), { recursive: true });
    writeFileSync(join(work, 'packageurl-js', 'src', 'strings.js'), patched);
    type Purl = new (...args: unknown[]) => { toString(): string };
    // The library itself first: it makes its collator at load.
    const Library = (createRequire(import.meta.url)('packageurl-js') as { PackageURL: Purl }).PackageURL;
    const Collator = Intl.Collator;
    let made = 0;
    Intl.Collator = function (...args: ConstructorParameters<typeof Intl.Collator>) {
      made++;
      return new Collator(...args);
    } as unknown as typeof Intl.Collator;
    const cases: unknown[][] = [
      ['pypi', null, 'Typing_Extensions', '4.12.2'],
      ['deb', 'debian', 'libc6', '2.36-9+deb12u7', { arch: 'amd64', distro: 'debian-12' }],
      ['npm', '@types', 'node', '20.19.4'],
      ['npm', null, 'left-pad', '1.3.0'],
      ['oci', null, 'python', 'sha256:' + 'a'.repeat(64), { repository_url: 'docker.io/library/python', arch: 'amd64' }],
    ];
    let purls: string[];
    try {
      const Patched = (createRequire(join(work, 'x.js'))('./packageurl-js') as { PackageURL: Purl }).PackageURL;
      purls = cases.map((c) => new Patched(...c).toString());
    } finally {
      Intl.Collator = Collator;
    }
    assert.deepEqual(
      purls,
      cases.map((c) => new Library(...c).toString()),
    );
    assert.equal(made, 0);
  });

  it('refuses a strings.js without the statement it replaces (a packageurl-js upgrade): the build fails', () => {
    assert.throws(() => lazyCollatorSource(original.replace('new Intl.Collator()', 'new Intl.Collator("en")')), /update the patch/);
  });
});
