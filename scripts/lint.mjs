#!/usr/bin/env node
// `npm run lint`: every check runs, so one run shows all problems; exits 1 if any failed.
//   eslint     typescript-eslint rules and the size limits (eslint.config.js)
//   prettier   formatting (.prettierrc.json); `npm run format` rewrites the files it flags
//   knip       unused files, dependencies and exports (knip.json)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const checks = [
  ['eslint', bin('eslint'), ['src', 'test', 'scripts', 'bench']],
  ['prettier', bin('prettier'), ['--check', '.']],
  ['knip', bin('knip'), []],
];

const failed = [];
for (const [name, command, args] of checks) {
  console.log(`\n# lint: ${name}`);
  const start = Date.now();
  const res = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  const seconds = ((Date.now() - start) / 1000).toFixed(1);
  if (res.error) console.error(`${name} could not start: ${res.error.message} (run npm ci first)`);
  if (res.status !== 0) failed.push(name);
  console.log(`# lint: ${name} ${res.status === 0 ? 'passed' : 'FAILED'} in ${seconds}s`);
}
if (failed.length) {
  console.error(`\nlint failed: ${failed.join(', ')}`);
  process.exit(1);
}
