#!/usr/bin/env node
// Runs the test suites with Node's own runner (node:test) through tsx, so CI reads node:test's summary.
//   node scripts/run-tests.mjs            unit + e2e
//   node scripts/run-tests.mjs unit       unit only (pure core, no Docker)
//   node scripts/run-tests.mjs e2e        e2e only (needs the lab; started with bash .ci/lab-up when not ready)
//   node scripts/run-tests.mjs unit/lock  files whose path contains "unit/lock"
// e2e tests never skip: without a Docker engine, registry and base image they fail and say how to start them.
// Before the e2e group, the lab is checked (test/lab/check-lab.ts) and brought up with `bash .ci/lab-up` when it
// is not ready; unit tests alone never touch it.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...collect(full));
    else if (name.endsWith('.test.ts')) out.push(relative(root, full));
  }
  return out;
}

let files = collect(join(root, 'test'));
if (filters.length) files = files.filter((f) => filters.some((flt) => f.includes(flt)));
if (!files.length) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}
const unit = files.filter((f) => !f.includes('/e2e/'));
const e2e = files.filter((f) => f.includes('/e2e/'));

/** Checks the lab as the e2e tests will; when it is not ready, runs .ci/lab-up. False if it still is not. */
function ensureLab() {
  const check = () => spawnSync(process.execPath, ['--import', 'tsx', 'test/lab/check-lab.ts'], { cwd: root, encoding: 'utf8' });
  const first = check();
  if (first.status === 0) return true;
  console.log(`\n# ${(first.stdout || first.stderr).trim()}`);
  console.log('# starting the lab for the e2e tests: bash .ci/lab-up');
  const up = spawnSync('bash', [join(root, '.ci/lab-up')], { cwd: root, stdio: 'inherit' });
  if (up.status !== 0) {
    console.error(`bash .ci/lab-up failed (exit ${up.status ?? up.signal}); the e2e tests need the lab`);
    return false;
  }
  const second = check();
  if (second.status !== 0) console.error(`the lab is still not ready after lab-up: ${(second.stdout || second.stderr).trim()}`);
  return second.status === 0;
}

let failed = false;
for (const [group, list, concurrency] of [
  ['unit', unit, 2],
  ['e2e', e2e, 1],
]) {
  if (!list.length) continue;
  if (group === 'e2e' && !ensureLab()) {
    failed = true;
    continue;
  }
  console.log(`\n# envseal ${group} tests: ${list.length} files`);
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...list], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ENVSEAL_TEST_GROUP: group },
  });
  if (res.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
