#!/usr/bin/env node
// The GitHub Action's entry (action.yml): runs an envseal check, writes the job summary and the step outputs,
// and exits with envseal's exit code. The logic is src/cli/github-action.ts, compiled to dist/ by `npm ci`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/github-action.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('envseal: dist/ is missing; run `npm ci` (or `npm run build`) in the envseal checkout first\n');
  process.exit(70);
}
const { runGithubAction } = await import(entry.href);
process.exitCode = await runGithubAction({ env: process.env, cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr });
