/**
 * Module boundaries that keep the code easy to change (CONTRIBUTING.md), checked on the source itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sources(dir = SRC): { file: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return name.endsWith('.ts') ? [{ file: relative(SRC, full).split('\\').join('/'), text: readFileSync(full, 'utf8') }] : [];
  });
}

const files = sources();
/** Files that load `pkg` at run time (type-only imports are erased and do not count). */
const importers = (pkg: string) => files.filter((f) => f.text.replace(/import type [^;]+;/g, '').includes(`'${pkg}'`)).map((f) => f.file);

/** Files that name `pkg` (or one of its subpaths) as a module at all, type-only imports included. */
const mentioners = (pkg: string) => files.filter((f) => new RegExp(`['"]${pkg}(/[^'"]*)?['"]`).test(f.text)).map((f) => f.file);

test('only the Docker adapter loads dockerode: engines/docker/ alone names it, connection.ts alone loads it', () => {
  for (const pkg of ['dockerode', 'docker-modem']) {
    assert.deepEqual(
      mentioners(pkg).filter((file) => !file.startsWith('engines/docker/')),
      [],
      `${pkg} outside engines/docker/`,
    );
  }
  assert.deepEqual(importers('dockerode'), ['engines/docker/connection.ts']);
  assert.deepEqual(importers('docker-modem'), []);
});

test('only tar/tar-stream-codec.ts imports tar-stream', () => {
  assert.deepEqual(importers('tar-stream'), ['tar/tar-stream-codec.ts']);
});

test('no hidden inputs: only cli/ reads the process environment, working directory or argv', () => {
  const offenders = files
    .filter((f) => !f.file.startsWith('cli/'))
    .filter((f) => /process\.(env|cwd\(\)|argv)/.test(f.text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')))
    .map((f) => f.file);
  assert.deepEqual(offenders, []);
});

test('only cli/ prints or exits', () => {
  const offenders = files
    .filter((f) => !f.file.startsWith('cli/'))
    .filter((f) => /console\.|process\.(stdout|stderr)\.write|process\.exit/.test(f.text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')))
    .map((f) => f.file);
  assert.deepEqual(offenders, []);
});

/** Every relative import of a source file (type-only ones too: they shape the design as much), as src paths. */
function importsOf(f: { file: string; text: string }): string[] {
  const specs = [...f.text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((spec) => posix.normalize(posix.join(posix.dirname(f.file), spec)).replace(/\.js$/, '.ts'));
}
const graph = new Map(files.map((f) => [f.file, importsOf(f)]));
const area = (file: string) => (/^ecosystems\/[^/]+\//.test(file) ? file.split('/').slice(0, 2).join('/') : file.split('/')[0]!);
/**
 * Shared libraries any area may import: core (ports, contract, errors), which imports nothing, and tar (the
 * tar codecs), which imports only core.
 */
const SHARED = ['core', 'tar'];
/** The areas a file in `from` may import, besides its own area. */
function allowed(from: string, to: string): boolean {
  const a = area(from);
  const b = area(to);
  if (a === b || b === 'core') return true;
  if (SHARED.includes(a)) return false;
  if (SHARED.includes(b)) return true;
  if (a.startsWith('ecosystems/')) return b === 'http' || to === 'ecosystems/types.ts';
  if (a === 'ecosystems') return b.startsWith('ecosystems/');
  if (a === 'envspec') return b === 'ecosystems';
  if (['http', 'engines', 'image', 'record'].includes(a)) return false;
  if (a === 'oci') return b === 'http';
  if (a === 'lock' || a === 'dockerfile') return b === 'lock' || b === 'ecosystems' || b.startsWith('ecosystems/');
  if (a === 'attest') return b === 'lock' || b === 'record' || b === 'ecosystems' || b.startsWith('ecosystems/');
  if (a === 'app') return b !== 'cli';
  return a === 'cli';
}

test('layers: core imports nothing; tar only core; wings only core, tar, http and the wing interface; adapters only core and tar', () => {
  const offenders = [...graph].flatMap(([from, targets]) => targets.filter((to) => !allowed(from, to)).map((to) => `${from} -> ${to}`));
  assert.deepEqual(offenders, []);
});

test('every relative import names an existing source file', () => {
  const missing = [...graph].flatMap(([from, targets]) => targets.filter((to) => !graph.has(to)).map((to) => `${from} -> ${to}`));
  assert.deepEqual(missing, []);
});

test('no import cycles, type-only imports included', () => {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) visit(file, []);
  assert.deepEqual(cycles, []);
});

test('the pure core does not do I/O: lock, dockerfile, envspec schema, pep, resolver', () => {
  const pure = files.filter((x) => /^(lock\/(schema|drift|fingerprint)|dockerfile|envspec\/schema|ecosystems\/python\/(pep|resolver))/.test(x.file));
  assert.ok(pure.length > 10);
  for (const f of pure) {
    assert.doesNotMatch(f.text, /from 'node:(fs|child_process|net|http)/, `${f.file} does I/O`);
  }
});
