/**
 * arm64 for real (issue 10), through the real CLI on the lab's amd64 engine: the lab runs arm64 images under
 * qemu user emulation (Debian's qemu-user-static, an aarch64 binfmt handler with the F flag; .ci/lab-arm64)
 * and its registry holds a real arm64 Debian base next to the amd64 one. A two-platform lock probes the arm64
 * interpreter in the arm64 image itself, picks the manylinux aarch64 wheels, `build --platform linux/arm64`
 * builds the arm64 image (classic builder, platform parameter), whose Python reports aarch64 and imports the
 * aarch64 wheel, and a second build without cache gives the same image ID (the reproducible normalisation).
 * Fails, never skips, when the lab has no emulation. Tiny fixture packages and no venv: emulation is slow (a
 * venv's ensurepip alone took 3.5 minutes on the lab's 2 cores).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_REGISTRY, requireLabArm64 } from '../lab/lab.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { buildWheel } from '../lab/wheel.js';
import { deleteTwoPlatformBase, pushTwoPlatformBase, type TwoPlatformBase } from './two-platform-base.js';

const RUN = randomBytes(4).toString('hex');
const REPO = `envseal-arm64/python-${RUN}`;
const TAG = 'bookworm-2p';
const NAME = `arm64-${RUN}`;

function wheels() {
  const module = (arch: string) => ({ 'archmod/__init__.py': `ARCH = "${arch}"\n` });
  return {
    // One release, a wheel per architecture, each saying which it is.
    archmod: [
      buildWheel({ name: 'archmod', version: '1.0.0', tag: 'cp311-cp311-manylinux_2_17_x86_64', files: module('x86_64') }),
      buildWheel({ name: 'archmod', version: '1.0.0', tag: 'cp311-cp311-manylinux_2_17_aarch64', files: module('aarch64') }),
    ],
    // Wanted on aarch64 only (a marker), and only built for it.
    armkit: [buildWheel({ name: 'armkit', version: '0.5.0', tag: 'py3-none-manylinux_2_17_aarch64', files: { 'armkit/__init__.py': 'OK = True\n' } })],
  };
}

describe('arm64 for real: probe, wheels, build and run under emulation', { concurrency: false }, () => {
  let project: TempProject;
  let index: LabIndex;
  let base: TwoPlatformBase | undefined;
  const built = wheels();
  const env = { ENVSEAL_CACHE_DIR: '' };
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env });
  const images: string[] = [];

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
  # Into Debian's site-packages: a venv's ensurepip alone takes minutes under emulation on 2 cores.
  venv: false
`,
      'requirements.txt': "archmod==1.0.0\narmkit; platform_machine == 'aarch64'\n",
    });
    env.ENVSEAL_CACHE_DIR = project.path('.cache');
  });
  after(async () => {
    for (const image of images) await dockerCli(['image', 'rm', '-f', image]).catch(() => {});
    await dockerCli(['image', 'rm', '-f', `envseal-cache/${NAME}:dev`]).catch(() => {});
    for (const digest of [base?.indexDigest, base?.arm64]) await dockerCli(['image', 'rm', `${LAB_REGISTRY}/${REPO}@${digest}`]).catch(() => {});
    await deleteTwoPlatformBase(REPO, base);
    await index?.close();
    await project?.cleanup();
  });

  test('lock probes the arm64 interpreter in the arm64 image and picks the aarch64 wheels', async () => {
    const res = await envseal(['lock']);
    assert.equal(res.code, 0, res.stderr);
    assert.doesNotMatch(res.stderr, /derived from/, 'no fallback warning: the engine runs arm64');
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const arm = lock.platforms['linux/arm64'];
    assert.equal(arm.base.platformDigest, base!.arm64);
    assert.equal(arm.targetDerivedFrom, 'linux/arm64', 'probed, not derived');
    assert.equal(arm.target.machine, 'aarch64');
    assert.equal(arm.target.architecture, 'arm64');
    assert.equal(arm.target.python.soabi, 'cpython-311-aarch64-linux-gnu');
    const files = (py: any) => Object.fromEntries(py.packages.map((p: any) => [p.name, p.file.sha256]));
    assert.deepEqual(files(arm.python), { archmod: built.archmod[1]!.sha256, armkit: built.armkit[0]!.sha256 });
    assert.deepEqual(files(lock.python), { archmod: built.archmod[0]!.sha256 });
  });

  let imageId = '';
  let tag = '';
  test('build --platform linux/arm64 builds an arm64 image', async () => {
    assert.equal((await envseal(['generate', '--platform', 'linux/arm64'])).code, 0);
    const res = await envseal(['build', '--platform', 'linux/arm64', '--target', 'dev', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    imageId = out.imageId;
    tag = out.tags[0];
    images.push(tag);
    assert.match(tag, /-arm64$/, 'the tag names the platform');
    const inspect = await dockerCli(['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}} {{.Id}}', tag]);
    assert.equal(inspect.stdout.trim(), `linux/arm64 ${imageId}`);
  });

  test('its Python runs as aarch64 and imports the aarch64 wheel (envseal run --image)', async () => {
    const script = 'import platform, archmod, armkit; print(platform.machine(), archmod.ARCH, armkit.OK)';
    const res = await envseal(['run', '--image', tag, '--no-build', '--', 'sh', '-c', `uname -m; python -c '${script}'`]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^aarch64\naarch64 aarch64 True$/m);
  });

  test('a second build without cache gives the same image ID', async () => {
    const res = await envseal(['build', '--platform', 'linux/arm64', '--target', 'dev', '--no-cache', '--json']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).imageId, imageId);
  });
});
