#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js, from tsc) and the packages it uses into dist/bundle/, which
// bin/envseal.js runs. Why: Node 20 resolves, reads and compiles every ES module on its own (a plain `verify`
// loaded ~190 files: zod alone is 95, its locales included); one entry plus a few chunks starts in a fraction
// of the time. Code splitting keeps the commands' dynamic import()s lazy: `verify` still does not load the
// resolver, the Docker adapter or the tar code. Step of `npm run build` (and `prepare`), after tsc.
//
// dist/bundle/ sits two levels below the package root, like dist/core/, so the paths that src/ computes from
// import.meta.url (package.json, templates/, bin/) stay right. Left out of the bundle, loaded from node_modules
// at run time: dockerode and what it pulls in (engines/docker/connection.ts loads it through createRequire, and
// ssh2 carries optional native addons) and cyclonedx's optional XML plugins (not installed).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;

/**
 * zod re-exports its ~50 locales (358 KB, half of zod) as `z.locales`; envseal's messages are its own and zod
 * only ever uses English, which zod's schemas import by themselves. Only `en` is kept in `locales`.
 */
const englishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/]/.test(args.importer) ? { path: join(dirname(args.importer), args.path), namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js'],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // CommonJS packages (commander, yaml, CycloneDX) call require() for Node's built-ins and each other.
  banner: { js: "import { createRequire as __envsealCreateRequire } from 'node:module'; const require = __envsealCreateRequire(import.meta.url);" },
  external: ['dockerode', 'docker-modem', 'ssh2', 'cpu-features', 'xmlbuilder2', 'libxmljs2'],
  chunkNames: 'chunk-[hash]',
  logLevel: 'warning',
  legalComments: 'none',
  plugins: [englishOnly],
});
