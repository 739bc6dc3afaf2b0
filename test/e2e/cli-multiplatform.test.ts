/**
 * Several platforms in one lock (issue 10) through the real CLI: the lab registry holds a two-platform image
 * index (the lab's real amd64 and arm64 bases, copied into this test's repository), a Python index on loopback
 * serves a project with manylinux x86_64 and aarch64 wheels and one wanted on aarch64 only
 * (`platform_machine == 'aarch64'`). `lock` pins per platform the base manifest and the wheels, the arm64 target
 * probed in the arm64 image under the lab's qemu emulation; the amd64 image is built and verified for real;
 * `build`/`generate --platform` of a platform the lock does not hold are refused before anything is built.
 * Building the arm64 image is cli-arm64.test.ts's part.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_REGISTRY, requireLabArm64 } from '../lab/lab.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { buildWheel } from '../lab/wheel.js';
import { deleteTwoPlatformBase, pushTwoPlatformBase, type TwoPlatformBase } from './two-platform-base.js';

const RUN = randomBytes(4).toString('hex');
const REPO = `envseal-multiplat/python-${RUN}`;
const TAG = 'bookworm-2p';
const NAME = `multiplat-${RUN}`;
function wheels() {
  const module = (name: string) => ({ [`${name}/__init__.py`]: `NAME = "${name}"\n` });
  return {
    // One release, a wheel per architecture.
    fastmath: [
      buildWheel({ name: 'fastmath', version: '1.0.0', tag: 'cp311-cp311-manylinux_2_17_x86_64', files: module('fastmath') }),
      buildWheel({ name: 'fastmath', version: '1.0.0', tag: 'cp311-cp311-manylinux_2_17_aarch64', files: module('fastmath') }),
    ],
    // Wanted on aarch64 only, and only built for it.
    armkit: [buildWheel({ name: 'armkit', version: '0.5.0', tag: 'py3-none-manylinux_2_17_aarch64', files: module('armkit') })],
  };
}

describe('several platforms in one lock, against a two-platform index in the lab registry', { concurrency: false }, () => {
  let project: TempProject;
  let index: LabIndex;
  let base: TwoPlatformBase;
  const built = wheels();
  const env = { ENVSEAL_CACHE_DIR: '' };
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env });

  before(async () => {
    await requireLabArm64();
    base = await pushTwoPlatformBase(REPO, TAG);
    index = await startIndex({
      projects: Object.fromEntries(Object.entries(built).map(([name, files]) => [name, files.map((w) => ({ filename: w.filename, bytes: w.bytes }))])),
    });
    project = await makeTempProject({
      'envseal.yaml': `version: 1
name: ${NAME}
base: ${LAB_REGISTRY}/${REPO}:${TAG}
platform: [linux/amd64, linux/arm64]
python:
  requirements: [requirements.txt]
  index: ${index.url}
`,
      'requirements.txt': "fastmath==1.0.0\narmkit; platform_machine == 'aarch64'\n",
    });
    env.ENVSEAL_CACHE_DIR = project.path('.cache');
  });
  after(async () => {
    await dockerCli(['image', 'rm', '-f', `envseal/${NAME}:dev-${lockFingerprintPrefix}`]).catch(() => {});
    await dockerCli(['image', 'rm', '-f', `envseal-cache/${NAME}:dev`]).catch(() => {});
    for (const digest of [base?.indexDigest, base?.arm64]) await dockerCli(['image', 'rm', `${LAB_REGISTRY}/${REPO}@${digest}`]).catch(() => {});
    // The test's own repository only (manifest links are per repository: the lab's python:bookworm stays).
    await deleteTwoPlatformBase(REPO, base);
    await index?.close();
    await project?.cleanup();
  });
  let lockFingerprintPrefix = 'none';

  test('lock pins per platform the base manifest of the index and the wheels that fit', async () => {
    const res = await envseal(['lock', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    lockFingerprintPrefix = lock.fingerprint.slice(7, 19);
    assert.equal(lock.lockVersion, 2);
    assert.deepEqual(lock.declared.platform, ['linux/amd64', 'linux/arm64']);
    assert.equal(lock.base.digest, base.indexDigest, 'FROM pins the index');
    assert.equal(lock.base.platformDigest, base.amd64);
    assert.equal(lock.target.machine, 'x86_64', 'the primary platform is probed');
    const arm = lock.platforms['linux/arm64'];
    assert.deepEqual(Object.keys(lock.platforms), ['linux/arm64']);
    assert.equal(arm.base.digest, base.indexDigest);
    assert.equal(arm.base.platformDigest, base.arm64);
    assert.equal(arm.targetDerivedFrom, 'linux/arm64', 'probed in the arm64 image itself (qemu emulation)');
    assert.equal(arm.target.machine, 'aarch64');
    assert.equal(arm.target.architecture, 'arm64', "dpkg's own answer");
    assert.equal(arm.target.python.markers.platform_machine, 'aarch64');
    assert.match(arm.target.python.soabi, /aarch64/);
    assert.equal(arm.target.python.version, lock.target.python.version, 'the same Debian release on both');

    const files = (py: any) => Object.fromEntries(py.packages.map((p: any) => [p.name, p.file]));
    const amdFiles = files(lock.python);
    const armFiles = files(arm.python);
    assert.deepEqual(Object.keys(amdFiles), ['fastmath']);
    assert.deepEqual(Object.keys(armFiles).sort(), ['armkit', 'fastmath']);
    assert.equal(amdFiles.fastmath.sha256, built.fastmath[0]!.sha256);
    assert.equal(armFiles.fastmath.sha256, built.fastmath[1]!.sha256);
    assert.equal(armFiles.armkit.sha256, built.armkit[0]!.sha256);
  });

  test('lock again rewrites no byte; --check passes', async () => {
    const before = await readFile(project.path('envseal.lock'));
    const res = await envseal(['lock']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /is up to date/);
    assert.deepEqual(await readFile(project.path('envseal.lock')), before);
    assert.equal((await envseal(['lock', '--check'])).code, 0);
  });

  test('generate renders the primary platform; --platform linux/arm64 renders its own Dockerfile and SBOM', async () => {
    assert.equal((await envseal(['generate'])).code, 0);
    const amd = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    const gen = await envseal(['generate', '--platform', 'linux/arm64', '--json']);
    assert.equal(gen.code, 0, gen.stderr);
    assert.equal(JSON.parse(gen.stdout).dockerfile, 'envseal.linux-arm64.Dockerfile');
    const arm = await readFile(project.path('envseal.linux-arm64.Dockerfile'), 'utf8');
    const from = new RegExp(`^FROM ${LAB_REGISTRY.replace(/\./g, '\\.')}/${REPO}:${TAG}@${base.indexDigest} AS deps$`, 'm');
    assert.match(amd, from);
    assert.match(arm, from);
    assert.match(arm, new RegExp(`--hash=sha256:${built.fastmath[1]!.sha256}`));
    assert.match(arm, new RegExp(`--hash=sha256:${built.armkit[0]!.sha256}`));
    assert.match(arm, /COPY envseal\.linux-arm64\.sbom\.cdx\.json /);
    assert.match(amd, new RegExp(`--hash=sha256:${built.fastmath[0]!.sha256}`));
    assert.doesNotMatch(amd, /armkit/);
    assert.equal((await envseal(['generate', '--check', '--platform', 'linux/arm64'])).code, 0);
    assert.equal((await envseal(['generate', '--check'])).code, 0, 'the primary Dockerfile is left as it was');
  });

  test('build and generate --platform linux/s390x: exit 2 naming the locked platforms, before anything is built', async () => {
    const started = Date.now();
    const res = await envseal(['build', '--platform', 'linux/s390x', '--target', 'dev']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /--platform linux\/s390x: envseal\.lock is locked for linux\/amd64, linux\/arm64/);
    assert.doesNotMatch(res.stderr, /Step \d|pulling/);
    assert.ok(Date.now() - started < 20_000, 'refused before any build');
    const images = await dockerCli(['images', '-q', `envseal/${NAME}`]);
    assert.equal(images.stdout.trim(), '', 'no image was built');
    const gen = await envseal(['generate', '--platform', 'linux/s390x']);
    assert.equal(gen.code, 2);
    assert.match(gen.stderr, /locked for linux\/amd64, linux\/arm64/);
  });

  test('the primary (native) platform builds and verifies', async () => {
    const build = await envseal(['build', '--target', 'dev', '--platform', 'linux/amd64']);
    assert.equal(build.code, 0, build.stderr);
    const verify = await envseal(['verify', '--target', 'dev', '--json']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.equal(JSON.parse(verify.stdout).ok, true);
  });

  test('back to one platform: a version 1 lock without platforms, the amd64 pins kept', async () => {
    const before = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const spec = await readFile(project.path('envseal.yaml'), 'utf8');
    await writeFile(project.path('envseal.yaml'), spec.replace('platform: [linux/amd64, linux/arm64]', 'platform: linux/amd64'));
    const res = await envseal(['lock']);
    assert.equal(res.code, 0, res.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.equal(lock.lockVersion, 1);
    assert.equal(lock.declared.platform, 'linux/amd64');
    assert.equal('platforms' in lock, false);
    assert.deepEqual(lock.python, before.python);
    assert.equal(lock.base.platformDigest, base.amd64);
    const build = await envseal(['build', '--platform', 'linux/arm64', '--target', 'dev']);
    assert.equal(build.code, 2);
    assert.match(build.stderr, /--platform linux\/arm64: envseal\.lock is locked for linux\/amd64 only/);
  });
});
