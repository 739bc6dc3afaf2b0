/**
 * Module boundaries that keep the code easy to change (CONTRIBUTING.md), checked on the source itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
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

test('only the Docker adapter loads dockerode', () => {
  assert.deepEqual(importers('dockerode'), ['docker/dockerode-engine.ts']);
});

test('only build/tar.ts imports tar-stream', () => {
  assert.deepEqual(importers('tar-stream'), ['build/tar.ts']);
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

test('the pure core does not import adapters: lock, dockerfile, fingerprint, pep, verify, spec', () => {
  for (const f of files.filter((x) => /^(lock|dockerfile|fingerprint|pep|verify|spec)\//.test(x.file))) {
    assert.doesNotMatch(f.text, /from '\.\.\/(docker|registry|cli|app)\/(?!ports\.js')[^']*'/, `${f.file} imports an adapter or use case`);
    assert.doesNotMatch(f.text, /from 'node:(fs|child_process|net|http)/, `${f.file} does I/O`);
  }
});
