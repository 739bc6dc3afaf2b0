/**
 * The core pipeline through the real CLI against the real lab: lock a project (base digest from the real
 * registry, apt closure from a real container, Python closure from the lab index), generate the Dockerfile,
 * build it with plain `docker build` and check pip installed exactly the locked versions with hash checking.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_REGISTRY_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const SPEC = `version: 1
name: core-e2e
base: ${LAB_BASE_IMAGE}
env:
  GREETING: "hello world"
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
apt:
  lists: [apt.txt]
targets:
  dev:
    python: { packages: ["seal-plot>=0.1"] }
  deploy:
    copy: [app.py]
    command: [python, app.py]
`;

const APP = `import json, sys
from importlib import metadata
names = ["seal-metrics", "seal-utils", "tinyconfig", "seal-plot"]
found = {}
for n in names:
    try:
        found[n] = metadata.version(n)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps({"python": sys.executable, "dists": found}))
`;

describe('envseal lock / generate on a real engine, registry and index', { concurrency: false }, () => {
  let project: TempProject;
  const env = { ENVSEAL_CACHE_DIR: '' };

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({
      'envseal.yaml': SPEC,
      'requirements.txt': '# helpers\nseal-metrics>=1.0\ntinyconfig~=1.1\n',
      'apt.txt': 'jq\n',
      'app.py': APP,
    });
    env.ENVSEAL_CACHE_DIR = project.path('.cache');
  });
  after(async () => {
    await project?.cleanup();
  });

  test('lock writes a canonical lock whose base digest is what the registry serves', async () => {
    const res = await runEnvseal(['lock', '--json'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.equal(out.status, 'created');
    const text = await readFile(project.path('envseal.lock'), 'utf8');
    const lock = JSON.parse(text);
    assert.equal(lock.lockVersion, 1);
    assert.equal(lock.fingerprint, out.fingerprint);
    assert.ok(text.endsWith('}\n'));
    assert.equal(text, `${JSON.stringify(sortKeys(lock), null, 2)}\n`, 'keys are sorted, 2-space indented');

    const head = await fetch(`${LAB_REGISTRY_URL}/v2/python/manifests/bookworm`, {
      method: 'HEAD',
      headers: {
        Accept: [
          'application/vnd.oci.image.index.v1+json',
          'application/vnd.docker.distribution.manifest.list.v2+json',
          'application/vnd.docker.distribution.manifest.v2+json',
          'application/vnd.oci.image.manifest.v1+json',
        ].join(', '),
      },
    });
    assert.equal(lock.base.digest, head.headers.get('docker-content-digest'));
    assert.equal(lock.base.pinned, `${LAB_BASE_IMAGE}@${lock.base.digest}`);
    assert.equal(lock.target.python.implementation, 'cpython');
    assert.equal(lock.target.os.codename, 'bookworm');

    const py = Object.fromEntries(lock.python.packages.map((p: any) => [p.name, p]));
    assert.deepEqual(Object.keys(py).sort(), ['seal-metrics', 'seal-plot', 'seal-utils', 'tinyconfig']);
    assert.equal(py['seal-utils'].version, '1.0.0', 'the yanked 1.0.1 is skipped');
    assert.deepEqual(py['seal-plot'].targets, ['dev']);
    assert.deepEqual(py['seal-metrics'].targets, ['deploy', 'dev']);
    for (const p of lock.python.packages) assert.match(p.file.sha256, /^[0-9a-f]{64}$/);
    const apt = Object.fromEntries(lock.apt.packages.map((p: any) => [p.name, p]));
    assert.ok(apt.jq && apt.libjq1 && apt.libonig5, `jq and its dependencies: ${Object.keys(apt).join(', ')}`);
  });

  test('lock again with nothing changed rewrites no byte; --check passes', async () => {
    const before = await readFile(project.path('envseal.lock'));
    const res = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /is up to date/);
    assert.deepEqual(await readFile(project.path('envseal.lock')), before);
    const check = await runEnvseal(['lock', '--check'], { cwd: project.dir, env });
    assert.equal(check.code, 0, check.stderr);
  });

  test('fingerprint prints the lock fingerprint (and details with --json)', async () => {
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const plain = await runEnvseal(['fingerprint'], { cwd: project.dir, env });
    assert.equal(plain.code, 0);
    assert.equal(plain.stdout.trim(), lock.fingerprint);
    const json = JSON.parse((await runEnvseal(['fingerprint', '--json'], { cwd: project.dir, env })).stdout);
    assert.equal(json.fingerprint, lock.fingerprint);
    assert.equal(json.packages.python, 4);
  });

  test('generate writes the Dockerfile; --check passes, then fails after an edit', async () => {
    const gen = await runEnvseal(['generate'], { cwd: project.dir, env });
    assert.equal(gen.code, 0, gen.stderr);
    const text = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    assert.match(text, new RegExp(`^FROM ${LAB_BASE_IMAGE.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64} AS deps$`, 'm'));
    assert.equal((await runEnvseal(['generate', '--check'], { cwd: project.dir, env })).code, 0);
    await writeFile(project.path('envseal.Dockerfile'), `${text}# local edit\n`);
    const check = await runEnvseal(['generate', '--check'], { cwd: project.dir, env });
    assert.equal(check.code, 1);
    assert.match(check.stderr, /envseal\.Dockerfile is not what envseal\.lock renders/);
    assert.match(check.stderr, /envseal generate/);
    await writeFile(project.path('envseal.Dockerfile'), text);
  });

  test('the Dockerfile builds with plain docker build and installs exactly the locked versions', async () => {
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const want = (target: string) =>
      Object.fromEntries(lock.python.packages.filter((p: any) => p.targets.includes(target)).map((p: any) => [p.name, p.version]));
    for (const target of ['deploy', 'dev']) {
      const tag = `envseal-test/core-e2e:${target}`;
      const build = await dockerCli(['build', '--network', 'host', '-f', 'envseal.Dockerfile', '--target', target, '-t', tag, '.'], { cwd: project.dir });
      assert.equal(build.code, 0, build.stderr.slice(-3000));
      const run = await dockerCli(['run', '--rm', '--network', 'none', '--workdir', '/tmp', tag, 'python', '-c', APP]);
      assert.equal(run.code, 0, run.stderr);
      const seen = JSON.parse(run.stdout);
      assert.equal(seen.python, '/opt/envseal/venv/bin/python', 'python on PATH is the venv interpreter');
      assert.deepEqual(seen.dists, want(target));
      const jq = await dockerCli([
        'run',
        '--rm',
        '--network',
        'none',
        tag,
        'sh',
        '-c',
        'jq --version && echo "$GREETING" && cat /etc/envseal/lock.json | head -c 1',
      ]);
      assert.equal(jq.code, 0, jq.stderr);
      assert.match(jq.stdout, /^jq-1\.\d/);
      assert.match(jq.stdout, /hello world/);
      const inspect = JSON.parse((await dockerCli(['image', 'inspect', tag], { check: true })).stdout)[0];
      assert.equal(inspect.Config.Labels['dev.envseal.fingerprint'], lock.fingerprint);
      assert.equal(inspect.Config.Labels['dev.envseal.target'], target);
      await dockerCli(['rmi', '-f', tag]);
    }
  });

  test('lock --check reports which file and which requirement drifted; the lock stays intact', async () => {
    const before = await readFile(project.path('envseal.lock'));
    await writeFile(project.path('requirements.txt'), 'seal-metrics>=1.1\ntinyconfig~=1.1\n');
    await writeFile(project.path('apt.txt'), 'jq\ncurl\n');
    const res = await runEnvseal(['lock', '--check'], { cwd: project.dir, env });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /envseal\.lock is stale: 2 input changes/);
    assert.match(res.stderr, /requirements\.txt: changed requirement seal-metrics: seal-metrics>=1\.0 → seal-metrics>=1\.1/);
    assert.match(res.stderr, /apt\.txt: added apt package curl/);
    const json = await runEnvseal(['lock', '--check', '--json'], { cwd: project.dir, env });
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.ok, false);
    assert.equal(parsed.error.data.drift.length, 2);
    assert.deepEqual(await readFile(project.path('envseal.lock')), before);
  });

  test('re-locking after a change keeps pins that still satisfy and changes the fingerprint', async () => {
    const beforeLock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const res = await runEnvseal(['lock', '--json'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.equal(out.status, 'updated');
    assert.notEqual(out.fingerprint, beforeLock.fingerprint);
    const after = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.ok(after.apt.packages.some((p: any) => p.name === 'curl'));
    assert.deepEqual(
      after.python.packages.map((p: any) => `${p.name}==${p.version}`),
      beforeLock.python.packages.map((p: any) => `${p.name}==${p.version}`),
    );
    assert.equal((await runEnvseal(['lock', '--check'], { cwd: project.dir, env })).code, 0);
  });
});

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
