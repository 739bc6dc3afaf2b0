#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (also run by `npm ci` through "prepare"), which
// also bundles it into one file, dist/bundle/main.cjs, with a V8 code cache (scripts/bundle.mjs, bin/bundle-loader.js:
// one precompiled file starts much faster than ~200 modules compiled one by one).
// The bundle runs when it is at least as new as the compiled files; after a plain `tsc`, dist/cli/ does.
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const mtime = (url) => statSync(fileURLToPath(url), { throwIfNoEntry: false })?.mtimeMs;
const compiled = new URL('../dist/cli/main.js', import.meta.url);
const bundled = new URL('../dist/bundle/main.cjs', import.meta.url);
const compiledAt = mtime(compiled);
if (compiledAt === undefined) {
  process.stderr.write('envseal: dist/ is missing; run `npm run build` in the envseal checkout first\n');
  process.exit(70);
}
const { runCli } = (mtime(bundled) ?? -1) >= compiledAt ? (await import('./bundle-loader.js')).loadBundle(fileURLToPath(bundled)) : await import(compiled.href);
// docker-modem (ssh:// engines) formats an `ssh:host:port…` URL it never connects to and hands it to
// url.resolve, which prints a DEP0170 deprecation warning on every run; only that warning is dropped.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const code = typeof rest[0] === 'object' && rest[0] !== null ? rest[0].code : rest[1];
  if (code === 'DEP0170') return;
  return emitWarning.call(process, warning, ...rest);
};
const onInterrupt = (handler) => {
  let fired = false;
  const listener = (signal) => {
    if (fired) process.exit(signal === 'SIGINT' ? 130 : 143);
    fired = true;
    handler(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
};
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  onInterrupt,
});
