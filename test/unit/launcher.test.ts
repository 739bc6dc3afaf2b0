/**
 * bin/envseal.js picks what to run: the bundle (dist/bundle/, scripts/bundle.mjs) when it is at least as new as
 * the compiled CLI (dist/cli/), the compiled CLI when the bundle is missing or older (only `tsc` ran since), and
 * refuses with exit 70 when nothing is compiled. Checked on a copy of the launcher over stand-in dist/ trees.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const LAUNCHER = fileURLToPath(new URL('../../bin/envseal.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'envseal-launcher-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A package root with the real launcher and stand-in entries that print which one ran and exit 0. */
function makeRoot(name: string, entries: { cli?: number; bundle?: number }): string {
  const root = join(work, name);
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(LAUNCHER, join(root, 'bin', 'envseal.js'));
  writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
  for (const [dir, at] of [
    ['cli', entries.cli],
    ['bundle', entries.bundle],
  ] as const) {
    if (at === undefined) continue;
    mkdirSync(join(root, 'dist', dir), { recursive: true });
    const file = join(root, 'dist', dir, 'main.js');
    writeFileSync(file, `export async function runCli(argv, io) { io.stdout.write('${dir} ' + argv.join(' ') + '\\n'); return 0; }\n`);
    utimesSync(file, at, at);
  }
  return root;
}

function launch(root: string) {
  return spawnSync(process.execPath, [join(root, 'bin', 'envseal.js'), 'verify', '--json'], { encoding: 'utf8' });
}

describe('bin/envseal.js', () => {
  it('runs the bundle when it is newer than the compiled CLI, with the arguments', () => {
    const res = launch(makeRoot('newer', { cli: 1_700_000_000, bundle: 1_700_000_100 }));
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, 'bundle verify --json\n');
  });

  it('runs the bundle when both have the same time (an archive or image that normalised the times)', () => {
    const res = launch(makeRoot('same', { cli: 1_700_000_000, bundle: 1_700_000_000 }));
    assert.equal(res.stdout, 'bundle verify --json\n');
  });

  it('runs the compiled CLI when the bundle is older (tsc ran after the last bundle)', () => {
    const res = launch(makeRoot('older', { cli: 1_700_000_100, bundle: 1_700_000_000 }));
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, 'cli verify --json\n');
  });

  it('runs the compiled CLI when there is no bundle', () => {
    const res = launch(makeRoot('unbundled', { cli: 1_700_000_000 }));
    assert.equal(res.stdout, 'cli verify --json\n');
  });

  it('exits 70 and says how to build when dist/ is missing', () => {
    const res = launch(makeRoot('empty', { bundle: 1_700_000_000 }));
    assert.equal(res.status, 70);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^envseal: dist\/ is missing; run `npm run build` in the envseal checkout first\n$/);
  });
});
