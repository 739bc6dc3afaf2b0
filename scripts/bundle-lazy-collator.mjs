// packageurl-js builds an Intl.Collator when it is loaded (src/strings.js), for a comparator of purl components
// that envseal never calls: loading ICU's collation data for it cost ~8-14 ms of every `verify`, `generate` and
// `lock` that renders an SBOM (measured: `new Intl.Collator()` alone in a fresh `node`, 13-14 ms median of 5 on the
// shared 2-core lab machine; the earlier `--cpu-prof` of `verify` put it at ~8 ms). In the bundle the collator is
// made on the first comparison instead: the same collator and the same results, later or never.
// test/unit/bundle-lazy-collator.test.ts checks the patched module against the original (fast-check).

/** The exact statement of packageurl-js 2.x; the build fails if it changes, so the patch is never silently lost. */
const EAGER = 'const { compare: localeCompare } = new Intl.Collator()';
const LAZY =
  'let envsealCollatorCompare\n' +
  'function localeCompare(a, b) {\n' +
  '    envsealCollatorCompare ??= new Intl.Collator().compare\n' +
  '    return envsealCollatorCompare(a, b)\n' +
  '}';

/** packageurl-js's src/strings.js with its collator made on first use. Throws when the statement is not there once. */
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
