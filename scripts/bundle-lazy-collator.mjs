// packageurl-js builds an Intl.Collator when it is loaded (src/strings.js), and at load sorts the names of its
// purl components with it (purl-component.js: each name through its sort order, the numbers 0-7), only to order
// the keys of a lookup object. Setting up ICU collation for that was ~8-14 ms of every `verify`, `generate` and
// `lock` that renders an SBOM (`new Intl.Collator()` alone in a fresh `node`: 13-14 ms, median of 5 on the shared
// 2-core lab machine; `--cpu-prof` of a 500-package `verify`: ~8 ms, 29 ms under the profiler with the load
// average at 14). In the bundle, two single digits compare as the collator compares them (the root collation
// orders the digits 0-9 as their code points; -1, 0 or 1 like collator.compare) and anything else goes to the
// collator, made on its first use: the same results, and no collator for what envseal does.
// test/unit/bundle-lazy-collator.test.ts checks the patched module against the original (fast-check).

/** The exact statement of packageurl-js 2.x; the build fails if it changes, so the patch is never silently lost. */
const EAGER = 'const { compare: localeCompare } = new Intl.Collator()';
const LAZY = `let envsealCollatorCompare
const envsealIsDigit = (x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 9 && !Object.is(x, -0)
function localeCompare(a, b) {
    if (envsealIsDigit(a) && envsealIsDigit(b)) return a < b ? -1 : a > b ? 1 : 0
    envsealCollatorCompare ??= new Intl.Collator().compare
    return envsealCollatorCompare(a, b)
}`;

/** packageurl-js's src/strings.js comparing two digits itself, its collator made on first other use. Throws when the statement is not there once. */
export function lazyCollatorSource(source) {
  const at = source.indexOf(EAGER);
  if (at < 0 || source.indexOf(EAGER, at + 1) >= 0) {
    throw new Error('packageurl-js/src/strings.js no longer builds its Intl.Collator as scripts/bundle-lazy-collator.mjs expects: update the patch');
  }
  return source.replace(EAGER, LAZY);
}

/** The esbuild plugin. */
export const lazyCollator = {
  name: 'packageurl-lazy-collator',
  setup(b) {
    b.onLoad({ filter: /[\\/]packageurl-js[\\/]src[\\/]strings\.js$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      return { contents: lazyCollatorSource(await readFile(args.path, 'utf8')), loader: 'js' };
    });
  },
};
