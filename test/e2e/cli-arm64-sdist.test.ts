/**
 * An sdist-only package locked for two platforms (issue 10): `lock` builds it into a wheel once per platform,
 * each in that platform's own image (the arm64 one under the lab's qemu emulation), and the arm64 image's
 * builder stage builds it again under emulation to the wheel the lock recorded. The sdist's setup.py writes
 * `platform.machine()` into the wheel, so the two platforms' wheels differ and say where they were built.
 * Fails, never skips, when the lab has no emulation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_REGISTRY, requireLabArm64 } from '../lab/lab.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { buildBackendProjects } from '../lab/fixtures-index.js';
import { buildSdist } from '../lab/wheel.js';
import { deleteTwoPlatformBase, pushTwoPlatformBase, type TwoPlatformBase } from './two-platform-base.js';

const RUN = randomBytes(4).toString('hex');
const REPO = `envseal-arm64-sdist/python-${RUN}`;
const TAG = 'bookworm-2p';
const NAME = `arm64-sdist-${RUN}`;

const sdist = buildSdist({
  name: 'sealarch',
  version: '1.0',
  files: {
    'setup.py': [
      'import os, platform',
      'from setuptools import setup',
      'os.makedirs("sealarch", exist_ok=True)',
      'with open("sealarch/__init__.py", "w") as f:',
      '    f.write("ARCH = %r\\n" % platform.machine())',
      'setup(packages=["sealarch"])',
      '',
    ].join('\n'),
  },
});

describe('an sdist locked and built for arm64 under emulation', { concurrency: false, timeout: 20 * 60_000 }, () => {
  let project: TempProject;
  let index: LabIndex;
  let base: TwoPlatformBase | undefined;
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });
  const images: string[] = [];

  before(async () => {
    await requireLabArm64();
    base = await pushTwoPlatformBase(REPO, TAG);
    index = await startIndex({
      projects: {
        sealarch: [{ filename: sdist.filename, bytes: sdist.bytes, uploadTime: '2024-01-02T03:04:05.000000Z' }],
        ...buildBackendProjects(),
      },
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
      'requirements.txt': 'sealarch==1.0\n',
    });
  });
  after(async () => {
    for (const image of images) await dockerCli(['image', 'rm', '-f', image]).catch(() => {});
    await dockerCli(['image', 'rm', '-f', `envseal-cache/${NAME}:dev`]).catch(() => {});
    for (const digest of [base?.indexDigest, base?.arm64, base?.amd64]) await dockerCli(['image', 'rm', `${LAB_REGISTRY}/${REPO}@${digest}`]).catch(() => {});
    await deleteTwoPlatformBase(REPO, base);
    await index?.close();
    await project?.cleanup();
  });

  test('lock builds the sdist in each platform image: two different wheels', async () => {
    const res = await envseal(['lock']);
    assert.equal(res.code, 0, res.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const amd = lock.python.packages.find((p: any) => p.name === 'sealarch');
    const arm = lock.platforms['linux/arm64'].python.packages.find((p: any) => p.name === 'sealarch');
    assert.equal(amd.file.filename, sdist.filename);
    assert.equal(arm.file.filename, sdist.filename);
    assert.equal(arm.file.sha256, amd.file.sha256, 'the same sdist');
    assert.equal(arm.build.wheel.filename, 'sealarch-1.0-py3-none-any.whl');
    assert.notEqual(arm.build.wheel.sha256, amd.build.wheel.sha256, 'built on aarch64, not on x86_64');
  });

  test('build --platform linux/arm64 builds it again under emulation to the locked wheel; it says aarch64', async () => {
    assert.equal((await envseal(['generate', '--platform', 'linux/arm64'])).code, 0);
    const res = await envseal(['build', '--platform', 'linux/arm64', '--target', 'dev', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const tag = JSON.parse(res.stdout).tags[0] as string;
    images.push(tag);
    const run = await envseal([
      'run',
      '--image',
      tag,
      '--no-build',
      '--',
      'python3',
      '-c',
      'import platform, sealarch; print(platform.machine(), sealarch.ARCH)',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^aarch64 aarch64$/m);
  });
});
