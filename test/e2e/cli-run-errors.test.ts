/**
 * Issue 4, "Bad input": `envseal run` / `build` / `verify` with the engine gone, a missing image, an unknown
 * target, a command the image does not have, a record directory that cannot be written and a malformed
 * record. Each gets the documented exit code and a message that says what to do, and nothing is
 * half-written: no record for a run that never started, no image, no stray files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const NAME = 'run-errors-e2e';
const SPEC = `version: 1
name: ${NAME}
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
targets:
  deploy:
    copy: [main.py]
    command: [python, main.py]
`;
const NO_ENGINE = 'unix:///tmp/nonexistent.sock';

/** Records are foreign JSON here: the tests check them field by field. */
type Json = any;

describe('issue 4 bad input: clear errors, right exit codes, nothing half-written', { concurrency: false }, () => {
  let project: TempProject;
  let env: Record<string, string>;
  let fingerprint: string;
  let devTag: string;
  const tags = new Set<string>();
  const others: TempProject[] = [];

  const envseal = (args: string[], extraEnv: Record<string, string> = {}, cwd?: string) =>
    runEnvseal(args, { cwd: cwd ?? project.dir, env: { ...env, ...extraEnv } });

  const recordFiles = async (dir = project.dir) => (existsSync(`${dir}/.envseal/runs`) ? (await readdir(`${dir}/.envseal/runs`)).sort() : []);

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'tinyconfig==1.1.0\n', 'main.py': 'print("main")\n' });
    env = { ENVSEAL_CACHE_DIR: project.path('.cache') };
    assert.equal((await envseal(['lock'])).code, 0);
    fingerprint = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8')).fingerprint;
    devTag = `envseal/${NAME}:dev-${fingerprint.slice(7, 19)}`;
    tags.add(devTag);
    const built = await envseal(['build', '--target', 'dev']);
    assert.equal(built.code, 0, built.stderr);
  });

  after(async () => {
    if (tags.size) await dockerCli(['rmi', '-f', ...tags]);
    await project?.cleanup();
    for (const p of others) await p.cleanup();
  });

  test('Docker engine not running: run, build and verify --image exit 3 and say how to start it; no record', async () => {
    const before = await recordFiles();
    for (const args of [
      ['run', '--', 'true'],
      ['build', '--target', 'dev'],
      ['verify', '--image', devTag],
    ]) {
      const res = await envseal(args, { DOCKER_HOST: NO_ENGINE });
      assert.equal(res.code, 3, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /envseal: error: cannot reach the Docker engine at \/tmp\/nonexistent\.sock/, args.join(' '));
      assert.match(res.stderr, /hint: start it \(e\.g\. `dockerd` \/ `systemctl start docker`.*\) or set DOCKER_HOST/, args.join(' '));
    }
    assert.deepEqual(await recordFiles(), before, 'no run record for a run that never started');
  });

  test('image missing with --no-build: exit 2, nothing built, no record', async () => {
    const before = await recordFiles();
    const res = await envseal(['run', '--target', 'deploy', '--no-build', '--', 'python', 'main.py']);
    assert.equal(res.code, 2, res.stderr);
    const m = new RegExp(
      `envseal: error: image (envseal/${NAME}:deploy-${fingerprint.slice(7, 19)}-[0-9a-f]{8}) does not exist \\(and --no-build was given\\)`,
    ).exec(res.stderr);
    assert.ok(m, res.stderr);
    assert.match(res.stderr, /hint: build it with `envseal build --target deploy`/);
    assert.notEqual((await dockerCli(['image', 'inspect', m[1]!])).code, 0, 'the image was not built');
    assert.deepEqual(await recordFiles(), before);

    const named = await envseal(['run', '--image', 'envseal-test/no-such-image:e2e', '--', 'true']);
    assert.equal(named.code, 2, named.stderr);
    assert.match(named.stderr, /envseal: error: image envseal-test\/no-such-image:e2e does not exist/);
    assert.deepEqual(await recordFiles(), before);
  });

  test('unknown target: run and build exit 2 naming the choices', async () => {
    const before = await recordFiles();
    for (const args of [
      ['run', '--target', 'prod', '--', 'true'],
      ['build', '--target', 'prod'],
    ]) {
      const res = await envseal(args);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /error: option '--target <target>' argument 'prod' is invalid\. Allowed choices are dev, deploy\./);
      assert.match(res.stderr, /run with --help for usage/);
    }
    assert.deepEqual(await recordFiles(), before);
  });

  test('command not found in the image: exit 2, and a record is still written with the error', async () => {
    const before = await recordFiles();
    const res = await envseal(['run', '--json', '--', 'no-such-command-e2e', '--flag']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: command not found in image sha256:[0-9a-f]{64}: no-such-command-e2e/);
    assert.match(res.stderr, /executable file not found in \$PATH/);
    assert.match(res.stderr, /hint: check the command name/);
    const out = JSON.parse(res.stdout);
    assert.equal(out.ok, false);
    assert.equal(out.error.code, 'run.command-not-found');
    assert.equal(out.error.exitCode, 2);
    const recordLine = out.error.details.find((d: string) => d.startsWith('run record: '));
    assert.ok(recordLine, out.error.details.join('\n'));
    const rel = recordLine.slice('run record: '.length);
    const added = (await recordFiles()).filter((f) => !before.includes(f));
    assert.deepEqual(
      added.map((f) => `.envseal/runs/${f}`),
      [rel],
      'exactly one new record, the one named',
    );
    const record: Json = JSON.parse(await readFile(project.path(rel), 'utf8'));
    assert.equal(record.outcome.exitCode, null);
    assert.equal(record.outcome.interrupted, false);
    assert.equal(record.outcome.error.code, 'run.command-not-found');
    assert.match(record.outcome.error.message, /no-such-command-e2e/);
    assert.equal(record.command, 'no-such-command-e2e');
    assert.deepEqual(record.args, ['--flag']);
    assert.equal(record.environment.fingerprint, fingerprint);
    const left = await dockerCli(['ps', '-a', '-q', '--filter', `label=dev.envseal.run-id=${record.runId}`], { check: true });
    assert.equal(left.stdout.trim(), '', 'the container that could not start was removed');
  });

  test('unwritable record dir (a file in its place): exit 2 before the command runs, nothing written', async () => {
    // As root, permissions do not stop a write; a file standing where the directory (or its parent) should be does.
    const lockBytes = await readFile(project.path('envseal.lock'));
    for (const [blocker, content] of [
      ['.envseal/runs', 'not a directory\n'],
      ['.envseal', 'not a directory either\n'],
    ] as const) {
      const other = await makeTempProject({
        'envseal.yaml': SPEC,
        'requirements.txt': 'tinyconfig==1.1.0\n',
        'main.py': 'print("main")\n',
        'envseal.lock': lockBytes,
        [blocker]: content,
      });
      others.push(other);
      const listing = (await readdir(other.dir)).sort();
      const res = await envseal(['run', '--', 'sh', '-c', 'touch ran-marker'], {}, other.dir);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /^envseal: error: cannot write run records to \.envseal\/runs: a file is in the way of the directory$/m, blocker);
      assert.match(res.stderr, /^hint: move or delete the file at \.envseal\/runs \(or its parent\) .*\(the run was not started\)$/m, blocker);
      assert.equal(existsSync(other.path('ran-marker')), false, 'the command did not run');
      assert.equal(await readFile(other.path(blocker), 'utf8'), content, 'the file in the way is untouched');
      assert.deepEqual((await readdir(other.dir)).sort(), listing, 'nothing else was written');
    }
  });

  test('verify --record with a malformed record: exit 2 naming the path and the problem', async () => {
    await mkdir(project.path('bad'), { recursive: true });
    // Not JSON at all: the line and column.
    await writeFile(project.path('bad/truncated.json'), '{\n  "recordVersion": 1,\n  "runId": \n');
    const syntax = await envseal(['verify', '--record', 'bad/truncated.json']);
    assert.equal(syntax.code, 2, syntax.stderr);
    assert.match(syntax.stderr, new RegExp(`envseal: error: ${project.dir.replace(/[.]/g, '\\.')}/bad/truncated\\.json:4:1: not valid JSON`));
    assert.match(syntax.stderr, /hint: run records are written by envseal/);

    // A real record with two fields broken: every problem by dotted path.
    const ok = await envseal(['run', '--json', '--', 'true']);
    assert.equal(ok.code, 0, ok.stderr);
    const record: Json = JSON.parse(await readFile(project.path(JSON.parse(ok.stdout).record), 'utf8'));
    record.environment.fingerprint = 'sha256:not-a-digest';
    delete record.seed;
    await writeFile(project.path('bad/edited.json'), `${JSON.stringify(record, null, 2)}\n`);
    const schema = await envseal(['verify', '--record', 'bad/edited.json', '--json']);
    assert.equal(schema.code, 2, schema.stderr);
    const path = `${project.dir}/bad/edited.json`;
    assert.match(schema.stderr, new RegExp(`envseal: error: ${path.replace(/[.]/g, '\\.')} is not a valid envseal run record \\(2 problems\\)`));
    assert.ok(schema.stderr.includes(`${path}: environment.fingerprint: expected "sha256:" and 64 lowercase hex digits`), schema.stderr);
    assert.ok(schema.stderr.includes(`${path}: seed: `), schema.stderr);
    const out = JSON.parse(schema.stdout);
    assert.equal(out.ok, false);
    assert.equal(out.error.exitCode, 2);

    const missing = await envseal(['verify', '--record', 'bad/no-such-record.json']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /envseal: error: cannot read run record .*\/bad\/no-such-record\.json: ENOENT/);
    assert.match(missing.stderr, /hint: list the recorded runs in \.envseal\/runs\//);
  });

  test('run without a lock, or with a bad --seed: exit 2 before anything starts', async () => {
    const bare = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'tinyconfig==1.1.0\n', 'main.py': 'print("main")\n' });
    others.push(bare);
    const res = await envseal(['run', '--', 'true'], {}, bare.dir);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: envseal\.lock does not exist/);
    assert.match(res.stderr, /hint: run `envseal lock` first/);
    assert.equal(existsSync(bare.path('.envseal')), false, 'nothing written');

    const before = await recordFiles();
    const seed = await envseal(['run', '--seed', '-3', '--', 'true']);
    assert.equal(seed.code, 2, seed.stderr);
    assert.match(seed.stderr, /--seed -3: expected an integer from 0 to 4294967295/);
    assert.deepEqual(await recordFiles(), before);
  });
});
