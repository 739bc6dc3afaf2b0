/**
 * Bit-for-bit reproducible images through the CLI: the example (apt packages from Debian's archive and
 * Python wheels from the lab index) built again and again with --no-cache, and once more after its images
 * were removed so no layer is shared, always gives the same image ID. Changing one byte of one source file
 * gives a different ID, and `verify --rebuild` names that file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempProject, REPO_ROOT, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';

describe('reproducible images from the example', { concurrency: false }, () => {
  let project: TempProject;
  let env: Record<string, string>;
  const built: string[] = [];

  const build = async (...extra: string[]) => {
    const res = await runEnvseal(['build', '--target', 'deploy', '--no-cache', '--json', ...extra], { cwd: project.dir, env, timeoutMs: 20 * 60_000 });
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    const out = JSON.parse(res.stdout);
    built.push(out.imageId, ...out.tags);
    return out as { imageId: string; tags: string[]; diffIds: string[]; fingerprint: string };
  };

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject();
    await cp(join(REPO_ROOT, 'examples', 'iris'), project.dir, { recursive: true });
    env = { ENVSEAL_CACHE_DIR: project.path('.cache') };
    const lock = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(lock.code, 0, lock.stderr);
    assert.equal((await runEnvseal(['generate'], { cwd: project.dir, env })).code, 0);
  });
  after(async () => {
    if (built.length) await dockerCli(['rmi', '-f', ...new Set(built)]);
    await project?.cleanup();
  });

  test('two --no-cache builds and one after removing every image of the project: one image ID', async () => {
    const first = await build();
    const second = await build();
    assert.equal(second.imageId, first.imageId);
    assert.deepEqual(second.diffIds, first.diffIds);
    const inspect = JSON.parse((await dockerCli(['image', 'inspect', first.imageId], { check: true })).stdout)[0];
    assert.equal(inspect.Config.Labels['dev.envseal.fingerprint'], first.fingerprint);

    // Nothing of this project left in the engine (the base image stays: it is pinned by digest anyway).
    const rm = await dockerCli(['rmi', '-f', first.imageId]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await dockerCli(['image', 'inspect', first.imageId])).code, 1);
    const third = await build();
    assert.equal(third.imageId, first.imageId);
    assert.deepEqual(third.diffIds, first.diffIds);

    const run = await dockerCli(['run', '--rm', '--network', 'none', third.imageId, 'python', 'train.py', '/tmp/out']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /accuracy/);
  });
});

/** A small project (one apt package, a few wheels): quick to rebuild without cache. */
const SMALL_SPEC = `version: 1
name: repro-small
base: ${LAB_BASE_IMAGE}
python:
  packages: ["seal-metrics>=1.0"]
  index: ${LAB_INDEX_URL}
apt:
  packages: [jq]
targets:
  deploy:
    copy: [app.py, conf]
    command: [python, app.py]
`;

describe('verify --rebuild', { concurrency: false }, () => {
  let project: TempProject;
  let env: Record<string, string>;
  const built: string[] = [];

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({
      'envseal.yaml': SMALL_SPEC,
      'app.py': 'import seal_metrics\nprint(open("conf/settings.txt").read())\n',
      'conf/settings.txt': 'threshold=0.5\n',
    });
    env = { ENVSEAL_CACHE_DIR: project.path('.cache') };
    assert.equal((await runEnvseal(['lock'], { cwd: project.dir, env })).code, 0);
    assert.equal((await runEnvseal(['generate'], { cwd: project.dir, env })).code, 0);
  });
  after(async () => {
    if (built.length) await dockerCli(['rmi', '-f', ...new Set(built)]);
    await project?.cleanup();
  });

  const build = async () => {
    const res = await runEnvseal(['build', '--target', 'deploy', '--json'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    const out = JSON.parse(res.stdout);
    built.push(out.imageId, ...out.tags);
    return out as { imageId: string; tags: string[]; diffIds: string[]; fingerprint: string };
  };

  test('passes when a clean rebuild gives the same image', async () => {
    await build();
    const res = await runEnvseal(['verify', '--rebuild', '--target', 'deploy', '--json'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stdout + res.stderr.slice(-2000));
    const report = JSON.parse(res.stdout);
    assert.deepEqual(
      report.checks.map((c: any) => [c.name, c.ok]),
      [
        ['lock-fresh', true],
        ['dockerfile', true],
        ['rebuild', true],
      ],
    );
  });

  test('one changed byte in one source file: another image ID, and verify --rebuild names the file', async () => {
    const before = await build();
    await writeFile(project.path('conf/settings.txt'), 'threshold=0.6\n');
    const changed = await build();
    assert.notEqual(changed.imageId, before.imageId);
    assert.equal(changed.fingerprint, before.fingerprint, 'the environment did not change, only the source');
    const differing = changed.diffIds.filter((d, i) => d !== before.diffIds[i]);
    assert.equal(differing.length, 1, 'only the layer that copies conf/ differs');

    const res = await runEnvseal(['verify', '--rebuild', '--image', before.tags[0]!, '--json'], { cwd: project.dir, env });
    assert.equal(res.code, 1, res.stderr.slice(-2000));
    const report = JSON.parse(res.stdout);
    const rebuild = report.checks.find((c: any) => c.name === 'rebuild');
    assert.equal(rebuild.ok, false);
    assert.ok(
      rebuild.details.some((d: string) => /COPY/.test(d) && /conf\/settings\.txt: content/.test(d)),
      rebuild.details.join('\n'),
    );
    assert.match(rebuild.summary, /a clean rebuild gives image sha256:/);
  });
});

/**
 * The dev target runs pip again after the seed hook is in place, so every Python start there imports the hook
 * through its .pth file. A pyc written by such an implicit import is timestamp-based (flags 0 in its header,
 * the source mtime inside): it made two clean builds of one lock give two image IDs (issue 14, item 2).
 */
describe('dev target: clean builds of one lock', { concurrency: false }, () => {
  let project: TempProject;
  let env: Record<string, string>;
  const built: string[] = [];

  before(async () => {
    await requireLab();
    await requireLabIndex();
    const spec = SMALL_SPEC.replace('targets:\n', 'targets:\n  dev:\n    python:\n      packages: ["seal-plot>=0.1"]\n');
    project = await makeTempProject({ 'envseal.yaml': spec, 'app.py': 'import seal_metrics\n', 'conf/settings.txt': 'x\n' });
    env = { ENVSEAL_CACHE_DIR: project.path('.cache') };
    const lock = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(lock.code, 0, lock.stderr);
  });
  after(async () => {
    if (built.length) await dockerCli(['rmi', '-f', ...new Set(built)]);
    await project?.cleanup();
  });

  const build = async () => {
    const res = await runEnvseal(['build', '--target', 'dev', '--no-cache', '--json'], { cwd: project.dir, env, timeoutMs: 20 * 60_000 });
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    const out = JSON.parse(res.stdout);
    built.push(out.imageId, ...out.tags);
    return out as { imageId: string; tags: string[]; diffIds: string[] };
  };

  test('two --no-cache builds give one image ID, and every pyc in the environment is checked-hash', async () => {
    const first = await build();
    // pyc timestamps are whole seconds: make sure the second build writes its files in another second.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await build();
    assert.equal(second.imageId, first.imageId, `two clean builds differ: envseal diff ${first.imageId} ${second.imageId}`);

    // The pyc header (PEP 552): magic (4 bytes), then a little-endian flags word; 3 = hash-based and checked.
    const script = [
      'import os, sys, struct, sysconfig',
      'roots = {sys.prefix, sysconfig.get_paths()["purelib"]}',
      'seen = 0; bad = []',
      'for root in roots:',
      '    for d, _, files in os.walk(root):',
      '        for f in files:',
      '            if f.endswith(".pyc"):',
      '                p = os.path.join(d, f); seen += 1',
      '                flags = struct.unpack("<I", open(p, "rb").read(8)[4:8])[0]',
      '                if flags != 3: bad.append("%s flags=%d" % (p, flags))',
      'print(seen); print("\\n".join(sorted(set(bad))))',
    ].join('\n');
    const run = await dockerCli(['run', '--rm', '--network', 'none', '-e', 'PYTHONDONTWRITEBYTECODE=1', first.imageId, 'python', '-c', script]);
    assert.equal(run.code, 0, run.stderr);
    const [count, ...bad] = run.stdout.trim().split('\n');
    assert.ok(Number(count) > 0, `no pyc found: ${run.stdout}`);
    assert.deepEqual(bad.filter(Boolean), [], 'pycs that are not checked-hash');
    assert.match(
      (
        await dockerCli([
          'run',
          '--rm',
          '--network',
          'none',
          '-e',
          'PYTHONDONTWRITEBYTECODE=1',
          first.imageId,
          'sh',
          '-c',
          'ls "$(python -c "import sysconfig; print(sysconfig.get_paths()[\'purelib\'])")/__pycache__"',
        ])
      ).stdout,
      /envseal_seed\./,
    );
  });
});
