/**
 * A small project for the CI integration tests (GitHub Action, GitLab template, pre-commit hook): one Python
 * requirement from the lab index on the lab base, locked and generated with the real CLI, plus an `envseal`
 * command on PATH the way a CI job or a developer's machine has one.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ENVSEAL_BIN, makeTempProject, runEnvseal, type TempProject } from './cli.js';
import { LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from './lab.js';

export interface CiProject extends TempProject {
  /** Environment for envseal in this project (its own HTTP cache). */
  env: Record<string, string>;
  /** A directory holding an `envseal` executable, to put first on PATH. */
  binDir: string;
}

/** Locks and generates a fresh project named `name` (image tags carry it: keep it unique per test file). */
export async function makeLockedCiProject(name: string): Promise<CiProject> {
  await requireLab();
  await requireLabIndex();
  const project = await makeTempProject({
    'envseal.yaml': `version: 1\nname: ${name}\nbase: ${LAB_BASE_IMAGE}\npython:\n  requirements: [requirements.txt]\n  index: ${LAB_INDEX_URL}\ntargets:\n  deploy:\n    copy: [app.py]\n    command: [python, app.py]\n`,
    'requirements.txt': 'tinyconfig~=1.1\n',
    'app.py': 'print("hello")\n',
  });
  const env = { ENVSEAL_CACHE_DIR: project.path('.cache') };
  await writeFile(project.path('.gitignore'), '.cache/\n');
  for (const args of [['lock'], ['generate']]) {
    const res = await runEnvseal(args, { cwd: project.dir, env });
    if (res.code !== 0) throw new Error(`envseal ${args.join(' ')} failed (${res.code}):\n${res.stderr}`);
  }
  const binDir = project.path('.cache/bin');
  await mkdir(binDir, { recursive: true });
  await writeFile(join(binDir, 'envseal'), `#!/bin/sh\nexec "${process.execPath}" "${ENVSEAL_BIN}" "$@"\n`);
  await chmod(join(binDir, 'envseal'), 0o755);
  return { ...project, env, binDir };
}

/** Parses the `name<<DELIMITER … DELIMITER` blocks of a $GITHUB_OUTPUT file (and plain `name=value` lines). */
export function parseGithubOutput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      if (end < 0) throw new Error(`unterminated output ${heredoc[1]}`);
      out[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (line.includes('=')) out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
  }
  return out;
}
