// Loads dist/bundle/main.cjs (one CommonJS file, scripts/bundle.mjs) through a V8 code cache. Why: Node 20 has
// no module compile cache (module.enableCompileCache is Node 22), and compiling the CLI's JavaScript was the
// largest part of start-up after Node itself. vm.Script takes the code V8 compiled when the bundle was built
// (main.cjs.v8cache, written by scripts/bundle.mjs with compileBundle below), so only what a command runs and
// the cache lacks is compiled. Measured on a 500-package `verify` (2 shared cores, medians of 10): ~20% less CPU.
//
// The cache is used only when it belongs to these exact bytes: its first 32 bytes are the SHA-256 of main.cjs
// (V8 itself checks only the source's length, its own version and flags, and rejects a mismatch safely).
// Anything else (no cache, another bundle's cache, V8 rejecting it after a Node upgrade) compiles the source as
// usual: slower, never wrong.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import vm from 'node:vm';

const DIGEST_BYTES = 32;

/** The bundle's source (ASCII: scripts/bundle.mjs checks), its digest and its cache file's path. */
export function readBundle(file) {
  const bytes = readFileSync(file);
  return { source: bytes.toString('latin1'), digest: createHash('sha256').update(bytes).digest(), cacheFile: `${file}.v8cache` };
}

/** A cache file's content for `digest`: the digest, then V8's data. */
export function cacheFileContent(digest, cachedData) {
  return Buffer.concat([digest, cachedData]);
}

/** V8's data from a cache file's content when it was made for `digest`, else undefined. */
export function cachedDataFor(content, digest) {
  if (!content || content.length <= DIGEST_BYTES || !content.subarray(0, DIGEST_BYTES).equals(digest)) return undefined;
  return content.subarray(DIGEST_BYTES);
}

/**
 * Compiles and runs the bundle as Node runs a CommonJS module; returns its exports and the script (for
 * createCachedData). The same options at build and run time, or V8 rejects the cache.
 */
export function compileBundle(file, source, cachedData) {
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    // No importModuleDynamically: Node 20 runs import() in a vm.Script only experimentally; the bundle has none.
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return { exports: module.exports, script };
}

/** The bundle's exports, through its code cache when the cache is this bundle's. */
export function loadBundle(file) {
  const { source, digest, cacheFile } = readBundle(file);
  let content;
  try {
    content = readFileSync(cacheFile);
  } catch {
    content = undefined;
  }
  return compileBundle(file, source, cachedDataFor(content, digest)).exports;
}
