#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js, from tsc) and the packages it uses into dist/bundle/main.cjs, which
// bin/envseal.js runs, and writes its V8 code cache (main.cjs.v8cache, bin/bundle-loader.js). Why: Node 20
// resolves, reads and compiles every ES module on its own (a plain `verify` loaded ~190 files: zod alone is 95,
// its locales included); one file starts in a fraction of the time, and with the code V8 compiled for it at build
// time a fraction again (Node 20 has no compile cache for ES modules, hence CommonJS: vm.Script takes a cache).
// The commands' dynamic import()s stay lazy: esbuild runs a module's top level only when it is first imported,
// so `verify` still does not initialise the resolver, the Docker adapter or the tar code. Step of `npm run build`
// (and `prepare`), after tsc.
//
// dist/bundle/ sits two levels below the package root, like dist/core/, so the paths that src/ computes from
// import.meta.url (package.json, templates/, bin/) stay right. Left out of the bundle, loaded from node_modules
// at run time: dockerode and what it pulls in (engines/docker/connection.ts loads it through createRequire, and
// ssh2 carries optional native addons) and cyclonedx's optional XML plugins (not installed).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lazyCollator } from './bundle-lazy-collator.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
const outfile = `${outdir}/main.cjs`;

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

/**
 * A dynamic import() of a Node built-in stays an import() in esbuild's CommonJS output, which a vm.Script runs only
 * with an experimental loader (a warning on stderr) or --experimental-vm-modules: it becomes a require() instead,
 * through esbuild's interop, whose namespace has the built-in's exports and `default` as Node's does.
 */
const builtinDynamicImports = {
  name: 'builtin-dynamic-imports',
  setup(b) {
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (args) =>
      args.kind === 'dynamic-import' && isBuiltin(args.path) ? { path: args.path, namespace: 'builtin-dynamic' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin-dynamic' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js'],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // src/ computes paths from import.meta.url, which CommonJS lacks: the bundle's own URL, at the same depth.
  define: { 'import.meta.url': '__envsealBundleUrl' },
  banner: { js: "const __envsealBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  external: ['dockerode', 'docker-modem', 'ssh2', 'cpu-features', 'xmlbuilder2', 'libxmljs2'],
  logLevel: 'warning',
  legalComments: 'none',
  plugins: [englishOnly, lazyCollator, builtinDynamicImports],
});

// esbuild escapes every non-ASCII character of the code (its default charset) but copies comments as they are;
// with those escaped too, the launcher reads the file as latin1, ~10-30 ms faster than decoding 2 MB of UTF-8.
const text = readFileSync(outfile, 'utf8').replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
writeFileSync(outfile, text, 'latin1');
const dynamicImport = /\bimport\(\s*["'`]/.exec(text);
if (dynamicImport) throw new Error(`dist/bundle/main.cjs keeps a dynamic import() (at ${dynamicImport.index}): bin/bundle-loader.js cannot run it`);

// The code cache, made by a plain `node` as the launcher runs it (V8 rejects a cache made under other flags):
// the bundle compiled and its top level run, which compiles what every command needs at start.
const makeCache = `
import { writeFileSync } from 'node:fs';
import { cacheFileContent, compileBundle, readBundle } from ${JSON.stringify(`${root}bin/bundle-loader.js`)};
const file = ${JSON.stringify(outfile)};
const { source, digest, cacheFile } = readBundle(file);
const { script } = compileBundle(file, source);
writeFileSync(cacheFile, cacheFileContent(digest, script.createCachedData()));
`;
execFileSync(process.execPath, ['--input-type=module', '-e', makeCache], { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' } });
