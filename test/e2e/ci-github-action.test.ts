/**
 * The GitHub Action run the way the runner runs it: the `envseal` step of action.yml (its `run:` line in bash,
 * its `env:` with the `${{ inputs.* }}` expressions filled in from the inputs and their defaults, and the
 * runner's GITHUB_* variables) in a workspace holding a project locked against the lab. Also `--junit` on the
 * CLI's check commands, checked with a real XML parser.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT, runEnvseal } from '../lab/cli.js';
import { dockerCli } from '../lab/lab.js';
import { makeLockedCiProject, parseGithubOutput, type CiProject } from '../lab/ci-fixture.js';
import { readJunit } from '../lab/junit-shape.js';

interface ActionStep {
  id?: string;
  run?: string;
  env?: Record<string, string>;
}
const action = parse(await readFile(join(REPO_ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { default?: string }>;
  runs: { using: string; steps: ActionStep[] };
};
const step = action.runs.steps.find((s) => s.id === 'envseal')!;

interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  summary: string;
  outputs: Record<string, string>;
}

/** Runs the action's envseal step with these inputs (the rest take their defaults) in `workspace`. */
async function runAction(workspace: string, project: CiProject, inputs: Record<string, string>): Promise<ActionRun> {
  const runnerTemp = project.path('.cache/runner');
  await rm(runnerTemp, { recursive: true, force: true });
  await mkdir(runnerTemp, { recursive: true });
  const summaryFile = join(runnerTemp, 'step_summary');
  const outputFile = join(runnerTemp, 'output');
  await writeFile(summaryFile, '');
  await writeFile(outputFile, '');
  const value = (name: string) => inputs[name] ?? action.inputs[name]?.default ?? '';
  const stepEnv = Object.fromEntries(
    Object.entries(step.env ?? {}).map(([k, v]) => [k, v.replace(/\$\{\{\s*inputs\.([\w-]+)\s*\}\}/g, (_, n: string) => value(n))]),
  );
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    ...project.env,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: workspace,
    GITHUB_ACTION_PATH: REPO_ROOT,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_OUTPUT: outputFile,
    RUNNER_TEMP: runnerTemp,
    ...stepEnv,
  };
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn('bash', ['-e', '-c', step.run!], { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', fail);
    child.on('close', (c) => done({ code: c ?? 1, stdout: out, stderr: err }));
  });
  return { code, stdout, stderr, summary: await readFile(summaryFile, 'utf8'), outputs: parseGithubOutput(await readFile(outputFile, 'utf8')) };
}

/** The summary table's rows as [check, status, result, fix]. */
function rows(summary: string): string[][] {
  return summary
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| check '))
    .map((l) => l.slice(2, -2).split(' | '));
}

describe('the GitHub Action against a locked project', { concurrency: false }, () => {
  let project: CiProject;
  let workspace: string;
  let fingerprint: string;
  const images = new Set<string>();

  before(async () => {
    project = await makeLockedCiProject('ci15-action');
    // The project sits in a subdirectory of the workspace, as in a monorepo: working-directory names it.
    workspace = project.dir;
    await mkdir(project.path('env'), { recursive: true });
    for (const f of ['envseal.yaml', 'requirements.txt', 'app.py', 'envseal.lock', 'envseal.Dockerfile', 'envseal.sbom.cdx.json']) {
      await writeFile(project.path(`env/${f}`), await readFile(project.path(f)));
      await rm(project.path(f));
    }
    fingerprint = JSON.parse(await readFile(project.path('env/envseal.lock'), 'utf8')).fingerprint;
  });
  after(async () => {
    if (images.size) await dockerCli(['rmi', '-f', ...images]);
    await project?.cleanup();
  });

  test('action.yml is a composite action whose envseal step passes every input to the entry script', () => {
    assert.equal(action.runs.using, 'composite');
    for (const name of Object.keys(action.inputs).filter((n) => n !== 'setup-node')) {
      assert.ok(
        Object.values(step.env ?? {}).some((v) => v.includes(`inputs.${name} }}`)),
        `input ${name} reaches the step`,
      );
    }
    assert.match(step.run!, /bin\/envseal-github-action\.js/);
  });

  test('passing: exit 0, a summary table of the checks, outputs with the fingerprint', async () => {
    const res = await runAction(workspace, project, { 'working-directory': 'env', junit: 'reports/envseal.xml' });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.summary, /^### envseal verify: all 2 checks passed/);
    assert.deepEqual(
      rows(res.summary).map((r) => r.slice(0, 2)),
      [
        ['lock-fresh', '✅ passed'],
        ['dockerfile', '✅ passed'],
      ],
    );
    assert.match(res.summary, new RegExp(`Fingerprint: \`${fingerprint}\``));
    assert.equal(res.outputs['exit-code'], '0');
    assert.equal(res.outputs.ok, 'true');
    assert.equal(res.outputs.fingerprint, fingerprint);
    assert.equal(res.outputs['failed-checks'], '');
    assert.doesNotMatch(res.stdout, /::error/);
    const junit = readJunit(await readFile(join(workspace, 'reports/envseal.xml')));
    assert.deepEqual(
      junit.suites[0]!.cases.map((c) => [c.name, c.status]),
      [
        ['lock-fresh', 'passed'],
        ['dockerfile', 'passed'],
        ['image-label', 'skipped'],
        ['image-contents', 'skipped'],
        ['record', 'skipped'],
        ['rebuild', 'skipped'],
      ],
    );
  });

  test('build: true builds the target image and verify checks its label and contents', async () => {
    const res = await runAction(workspace, project, { 'working-directory': 'env', build: 'true' });
    if (res.outputs.image) images.add(res.outputs.image);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.outputs.image ?? '', /^envseal\/ci15-action:deploy-/);
    assert.deepEqual(
      rows(res.summary).map((r) => r.slice(0, 2)),
      [
        ['lock-fresh', '✅ passed'],
        ['dockerfile', '✅ passed'],
        ['image-label', '✅ passed'],
        ['image-contents', '✅ passed'],
      ],
    );
  });

  test('a bad input is exit 2 with the reason in the summary', async () => {
    const res = await runAction(workspace, project, { command: 'lock --upgrade' });
    assert.equal(res.code, 2);
    assert.match(res.summary, /input command: "lock --upgrade" is not one of "verify"/);
    assert.match(res.stdout, /^::error title=envseal inputs::input command/m);
    const build = await runAction(workspace, project, { command: 'lock --check', build: 'true' });
    assert.equal(build.code, 2);
    assert.match(build.summary, /input build: "true" builds an image for verify to check; lock --check does not use one/);
    assert.equal(build.outputs['exit-code'], '2');
  });

  test("failing: after a manifest edit the step exits with envseal verify's code and the summary names the check and its fix", async () => {
    await writeFile(project.path('env/requirements.txt'), 'tinyconfig~=1.1\nseal-metrics>=1.0\n');
    const direct = await runEnvseal(['-C', 'env', 'verify', '--json'], { cwd: workspace, env: project.env });
    assert.equal(direct.code, 1, direct.stderr);
    const res = await runAction(workspace, project, { 'working-directory': 'env' });
    assert.equal(res.code, direct.code);
    assert.match(res.summary, /^### envseal verify: 1 of 2 failed/);
    const [lockRow, dockerfileRow] = rows(res.summary);
    assert.deepEqual(lockRow!.slice(0, 2), ['lock-fresh', '❌ failed']);
    assert.match(lockRow![2]!, /envseal\.lock is stale<br>.*requirements\.txt.*seal-metrics/);
    assert.equal(lockRow![3], 'run `envseal lock` and commit the result');
    assert.deepEqual(dockerfileRow!.slice(0, 2), ['dockerfile', '✅ passed']);
    assert.equal(res.outputs['exit-code'], '1');
    assert.equal(res.outputs.ok, 'false');
    assert.equal(res.outputs['failed-checks'], 'lock-fresh');
    assert.equal(res.outputs.fingerprint, fingerprint);
    assert.match(res.stdout, /^::error title=envseal lock-fresh::envseal\.lock is stale%0A.*seal-metrics.*%0Afix: run `envseal lock`/m);
  });

  test('command "lock --check" fails the same way; "generate --check" still passes', async () => {
    const lock = await runAction(workspace, project, { 'working-directory': 'env', command: 'lock --check' });
    assert.equal(lock.code, 1, lock.stderr);
    assert.deepEqual(rows(lock.summary)[0]!.slice(0, 2), ['lock-fresh', '❌ failed']);
    assert.match(rows(lock.summary)[0]![3]!, /run `envseal lock` and commit the result/);
    assert.equal(lock.outputs.fingerprint, fingerprint);
    const gen = await runAction(workspace, project, { 'working-directory': 'env', command: 'generate --check' });
    assert.equal(gen.code, 0, gen.stderr);
    assert.deepEqual(rows(gen.summary)[0]!.slice(0, 2), ['dockerfile', '✅ passed']);
  });

  test('--junit on the CLI: a stale lock and a stale Dockerfile are failures with message and fix, written although the command fails', async () => {
    const dir = project.path('env');
    const verify = await runEnvseal(['verify', '--junit', 'out/verify.xml'], { cwd: dir, env: project.env });
    assert.equal(verify.code, 1);
    const v = readJunit(await readFile(join(dir, 'out/verify.xml'))).suites[0]!;
    assert.equal(v.attrs.failures, '1');
    assert.equal(v.cases[0]!.message, 'envseal.lock is stale');
    assert.match(v.cases[0]!.text!, /seal-metrics[\s\S]*\nfix: run `envseal lock` and commit the result$/);

    const lock = await runEnvseal(['lock', '--check', '--junit', 'out/lock.xml'], { cwd: dir, env: project.env });
    assert.equal(lock.code, 1);
    const l = readJunit(await readFile(join(dir, 'out/lock.xml'))).suites[0]!;
    assert.deepEqual([l.name, l.cases[0]!.name, l.cases[0]!.status], ['envseal lock --check', 'lock-fresh', 'failed']);
    assert.match(l.cases[0]!.message!, /envseal\.lock is stale: 1 input change/);
    assert.match(l.cases[0]!.text!, /hint: run `envseal lock`/);

    await writeFile(join(dir, 'envseal.Dockerfile'), `${await readFile(join(dir, 'envseal.Dockerfile'), 'utf8')}# edited\n`);
    const gen = await runEnvseal(['generate', '--check', '--junit', 'out/gen.xml'], { cwd: dir, env: project.env });
    assert.equal(gen.code, 1);
    const g = readJunit(await readFile(join(dir, 'out/gen.xml'))).suites[0]!;
    assert.deepEqual([g.cases[0]!.name, g.cases[0]!.status], ['dockerfile', 'failed']);
    assert.match(g.cases[0]!.message!, /envseal\.Dockerfile is not what envseal\.lock renders/);
  });

  test('--junit errors: an image that does not exist is an error case (exit 2); an unwritable report path is exit 2', async () => {
    const dir = project.path('env');
    const missing = await runEnvseal(['verify', '--image', 'envseal/ci15-action:missing', '--junit', 'out/missing.xml'], { cwd: dir, env: project.env });
    assert.equal(missing.code, 2);
    const m = readJunit(await readFile(join(dir, 'out/missing.xml'))).suites[0]!;
    assert.deepEqual(
      [m.cases[0]!.name, m.cases[0]!.status, m.cases[0]!.message],
      ['verify', 'error', 'image envseal/ci15-action:missing does not exist locally'],
    );
    await writeFile(join(dir, 'envseal.Dockerfile'), (await readFile(join(dir, 'envseal.Dockerfile'), 'utf8')).replace(/# edited\n$/, ''));
    const gen = await runEnvseal(['generate', '--check', '--junit', 'out'], { cwd: dir, env: project.env });
    assert.equal(gen.code, 2, gen.stderr);
    assert.match(gen.stderr, /cannot write the JUnit report out: .*EISDIR/);
    const usage = await runEnvseal(['lock', '--junit', 'x.xml'], { cwd: dir, env: project.env });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--junit needs --check/);
  });
});
