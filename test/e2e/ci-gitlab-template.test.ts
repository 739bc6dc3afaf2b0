/**
 * The GitLab CI template: it parses as YAML and has the job shape GitLab needs (a hidden `.envseal` template,
 * an `envseal` job extending it, a JUnit report artifact kept also when the job fails), and its
 * before_script and script lines, run by bash as a GitLab shell runner runs them (one shell, `set -eo
 * pipefail`, the job's variables and CI_PROJECT_DIR), check a project locked against the lab: exit 0 with a
 * JUnit report of passing checks, then exit 1 with the failing check after a manifest edit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../lab/cli.js';
import { dockerCli } from '../lab/lab.js';
import { makeLockedCiProject, type CiProject } from '../lab/ci-fixture.js';
import { readJunit } from '../lab/junit-shape.js';

interface GitlabJob {
  extends?: string;
  stage?: string;
  image?: string;
  variables?: Record<string, string>;
  before_script?: string[];
  script?: string[];
  artifacts?: { when?: string; paths?: string[]; reports?: { junit?: string } };
}

const template = parse(await readFile(join(REPO_ROOT, 'ci/gitlab/envseal.gitlab-ci.yml'), 'utf8')) as Record<string, GitlabJob>;
const base = template['.envseal']!;
const job: GitlabJob = { ...base, ...template.envseal };

async function runJob(project: CiProject, variables: Record<string, string>, path: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: path,
    HOME: process.env.HOME ?? '/root',
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    ...project.env,
    CI: 'true',
    GITLAB_CI: 'true',
    CI_PROJECT_DIR: project.dir,
    ...job.variables,
    ...variables,
  };
  const lines = [...(job.before_script ?? []), ...(job.script ?? [])].join('\n');
  return new Promise((done, fail) => {
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', lines], { cwd: project.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

describe('the GitLab CI template', { concurrency: false }, () => {
  let project: CiProject;
  let withEnvseal: string;
  const images: string[] = [];

  before(async () => {
    project = await makeLockedCiProject('ci15-gitlab');
    withEnvseal = `${project.binDir}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;
  });
  after(async () => {
    if (images.length) await dockerCli(['rmi', '-f', ...images]);
    await project?.cleanup();
  });

  test('has the job shape GitLab needs', () => {
    assert.equal(template.envseal!.extends, '.envseal');
    assert.equal(template.envseal!.stage, 'test');
    assert.match(base.image!, /^node:20/);
    for (const lines of [base.before_script, base.script]) {
      assert.ok(Array.isArray(lines) && lines.length && lines.every((l) => typeof l === 'string'));
    }
    assert.deepEqual(base.artifacts, { when: 'always', paths: ['envseal-junit.xml'], reports: { junit: 'envseal-junit.xml' } });
    assert.deepEqual(Object.keys(base.variables!).sort(), [
      'ENVSEAL_ARGS',
      'ENVSEAL_BUILD',
      'ENVSEAL_COMMAND',
      'ENVSEAL_DIR',
      'ENVSEAL_REF',
      'ENVSEAL_SOURCE',
      'ENVSEAL_TARGET',
    ]);
    assert.ok(
      Object.keys(template).every((k) => k === 'envseal' || k.startsWith('.')),
      'an include adds one job and hidden templates, no global keys',
    );
  });

  test('passing: exit 0 and a JUnit report at the artifact path', async () => {
    const res = await runJob(project, {}, withEnvseal);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /all 2 checks passed/);
    const report = readJunit(await readFile(join(project.dir, job.artifacts!.reports!.junit!)));
    assert.deepEqual(
      report.suites[0]!.cases.filter((c) => c.status !== 'skipped').map((c) => [c.name, c.status]),
      [
        ['lock-fresh', 'passed'],
        ['dockerfile', 'passed'],
      ],
    );
  });

  test('ENVSEAL_COMMAND "generate --check" runs that check', async () => {
    const res = await runJob(project, { ENVSEAL_COMMAND: 'generate --check' }, withEnvseal);
    assert.equal(res.code, 0, res.stderr);
    const report = readJunit(await readFile(join(project.dir, 'envseal-junit.xml')));
    assert.deepEqual([report.suites[0]!.name, report.suites[0]!.cases[0]!.name], ['envseal generate --check', 'dockerfile']);
  });

  test('ENVSEAL_BUILD "true" builds the target image and verifies it', async () => {
    const res = await runJob(project, { ENVSEAL_BUILD: 'true' }, withEnvseal);
    const built = JSON.parse(await readFile(join(project.dir, 'envseal-build.json'), 'utf8').catch(() => '{}')) as { tags?: string[] };
    images.push(...(built.tags ?? []));
    assert.equal(res.code, 0, res.stderr);
    assert.match(built.tags?.[0] ?? '', /^envseal\/ci15-gitlab:deploy-/);
    const cases = readJunit(await readFile(join(project.dir, 'envseal-junit.xml'))).suites[0]!.cases;
    assert.deepEqual(
      cases.filter((c) => c.name.startsWith('image-')).map((c) => [c.name, c.status]),
      [
        ['image-label', 'passed'],
        ['image-contents', 'passed'],
      ],
    );
  });

  test('failing: after a manifest edit the job exits 1 and the report names the failed check and its fix', async () => {
    await rm(join(project.dir, 'envseal-junit.xml'));
    await writeFile(project.path('requirements.txt'), 'tinyconfig~=1.1\nseal-metrics>=1.0\n');
    const res = await runJob(project, {}, withEnvseal);
    assert.equal(res.code, 1, res.stderr);
    const cases = readJunit(await readFile(join(project.dir, 'envseal-junit.xml'))).suites[0]!.cases;
    assert.deepEqual([cases[0]!.name, cases[0]!.status, cases[0]!.message], ['lock-fresh', 'failed', 'envseal.lock is stale']);
    assert.match(cases[0]!.text!, /fix: run `envseal lock` and commit the result/);
  });

  test('without envseal on PATH and no ENVSEAL_SOURCE the job stops with exit 2 and says what to set', async () => {
    const res = await runJob(project, {}, '/usr/bin:/bin');
    assert.equal(res.code, 2);
    assert.match(res.stderr, /envseal is not on PATH: set ENVSEAL_SOURCE/);
  });
});
