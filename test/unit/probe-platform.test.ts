/**
 * The target of a platform after the primary one (issue 10): probed in the platform's own image when the engine
 * runs it (under qemu emulation), derived from the primary probe with a warning when the engine cannot run it
 * (exec format error), refused when the image runs as another machine, and other probe failures passed on;
 * and the pinned index reference made the image of the platform being probed or built.
 * The engine is a fake that plays what dockerd reports in each case.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerEngine, ContainerRunOptions, Logger } from '../../src/core/ports.js';
import type { LockedBase, TargetProbe } from '../../src/core/ground.js';
import { isEnvsealError } from '../../src/core/errors.js';
import { deriveTarget } from '../../src/ecosystems/base/derive-target.js';
import { probePlatformTarget } from '../../src/ecosystems/base/probe-platform.js';
import { ensurePlatformImage, platformImageRef } from '../../src/core/platform-image.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';

const DIGEST = (c: string) => `sha256:${c.repeat(64)}`;
const BASE: LockedBase = {
  reference: '127.0.0.1:5000/python:bookworm-multiarch',
  repository: '127.0.0.1:5000/python',
  tag: 'bookworm-multiarch',
  digest: DIGEST('1'),
  mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
  platformDigest: DIGEST('2'),
  platform: 'linux/arm64',
  pinned: `127.0.0.1:5000/python:bookworm-multiarch@${DIGEST('1')}`,
};
const PRIMARY = { platform: 'linux/amd64', target: BOOKWORM_TARGET };

function probeOutput(t: TargetProbe): string {
  return [
    `ENVSEAL_OS=${t.os.id}|${t.os.versionId}|${t.os.codename}`,
    `ENVSEAL_PATH=${t.path}`,
    `ENVSEAL_MACHINE=${t.machine}`,
    `ENVSEAL_ARCH=${t.architecture}`,
    'ENVSEAL_APT=1',
    `ENVSEAL_LIBC=glibc|${t.libc!.version}`,
    `ENVSEAL_PY=${JSON.stringify(t.python)}`,
    '',
  ].join('\n');
}

/** An engine whose containers print `stdout`/`stderr` and exit `exitCode`; it has the image unless told not. */
function fakeEngine(run: { stdout?: string; stderr?: string; exitCode?: number }, hasImage = true) {
  const calls = { pulls: [] as { ref: string; platform?: string }[], runs: [] as string[] };
  const engine = {
    async inspectImage(ref: string) {
      return hasImage || calls.pulls.some((p) => p.ref === ref) ? { id: DIGEST('9'), repoTags: [], repoDigests: [], labels: {}, env: [], layers: [] } : null;
    },
    async pullImage(ref: string, options?: { platform?: string }) {
      calls.pulls.push({ ref, ...(options?.platform ? { platform: options.platform } : {}) });
    },
    async runContainer(options: ContainerRunOptions) {
      calls.runs.push(options.image);
      if (run.stdout) options.stdout!.write(run.stdout);
      if (run.stderr) options.stderr!.write(run.stderr);
      return { exitCode: run.exitCode ?? 0, containerId: 'c' };
    },
  } as unknown as ContainerEngine;
  return { engine, calls };
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info() {}, warn: (m: string) => warnings.push(m), debug() {}, progress() {} } as Logger & { warnings: string[] };
}

describe('the target of a platform after the primary one', () => {
  const arm = { ...deriveTarget(BOOKWORM_TARGET, 'linux/amd64', 'linux/arm64'), path: '/usr/bin:/bin' };

  it('is probed in the platform image itself (pulled for that platform by its manifest digest) when the engine runs it', async () => {
    const { engine, calls } = fakeEngine({ stdout: probeOutput(arm) }, false);
    const logger = recordingLogger();
    const got = await probePlatformTarget(engine, logger, { base: BASE, interpreter: 'python3', primary: PRIMARY });
    assert.equal(got.derivedFrom, 'linux/arm64');
    assert.equal(got.target.machine, 'aarch64');
    assert.equal(got.target.path, '/usr/bin:/bin', 'observed, not copied from the primary probe');
    assert.deepEqual(calls.pulls, [{ ref: `127.0.0.1:5000/python@${DIGEST('2')}`, platform: 'linux/arm64' }]);
    assert.deepEqual(calls.runs, [platformImageRef(BASE)]);
    assert.deepEqual(logger.warnings, []);
  });

  it('is derived from the primary probe, with a warning, when the engine cannot execute the image (no binfmt handler)', async () => {
    const { engine } = fakeEngine({ stderr: 'exec /bin/sh: exec format error\n', exitCode: 1 });
    const logger = recordingLogger();
    const got = await probePlatformTarget(engine, logger, { base: BASE, interpreter: 'python3', primary: PRIMARY });
    assert.equal(got.derivedFrom, 'linux/amd64');
    assert.deepEqual(got.target, deriveTarget(BOOKWORM_TARGET, 'linux/amd64', 'linux/arm64'));
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0]!, /cannot run linux\/arm64 images \(exec \/bin\/sh: exec format error\)/);
    assert.match(logger.warnings[0]!, /derived from the linux\/amd64 probe, not observed/);
    assert.match(logger.warnings[0]!, /qemu-user-static/);
  });

  it('refuses an image that runs as another machine (exit 3, probe.platform-mismatch)', async () => {
    const { engine } = fakeEngine({ stdout: probeOutput(BOOKWORM_TARGET) });
    await assert.rejects(
      probePlatformTarget(engine, recordingLogger(), { base: BASE, interpreter: 'python3', primary: PRIMARY }),
      (err: unknown) => isEnvsealError(err) && err.exitCode === 3 && err.code === 'probe.platform-mismatch' && /ran as x86_64, not aarch64/.test(err.message),
    );
  });

  it('passes on other probe failures (exit 3), without deriving', async () => {
    const { engine } = fakeEngine({ stderr: 'exec: "/bin/sh": stat /bin/sh: no such file or directory\n', exitCode: 127 });
    const logger = recordingLogger();
    await assert.rejects(
      probePlatformTarget(engine, logger, { base: BASE, interpreter: 'python3', primary: PRIMARY }),
      (err: unknown) => isEnvsealError(err) && err.exitCode === 3 && err.code === 'probe.failed',
    );
    assert.deepEqual(logger.warnings, []);
  });

  it('refuses an architecture envseal does not know (exit 2) before pulling anything', async () => {
    const { engine, calls } = fakeEngine({}, false);
    await assert.rejects(
      probePlatformTarget(engine, recordingLogger(), { base: { ...BASE, platform: 'linux/mips64le' }, interpreter: 'python3', primary: PRIMARY }),
      (err: unknown) => isEnvsealError(err) && err.exitCode === 2 && err.code === 'lock.platform-unknown',
    );
    assert.deepEqual(calls.pulls, []);
  });
});

describe('the pinned index reference made the image of the platform being probed or built', () => {
  function engineHolding(architecture: string | null) {
    const calls: string[] = [];
    const engine = {
      async inspectImage() {
        return architecture ? { id: DIGEST('9'), repoTags: [], repoDigests: [], labels: {}, env: [], layers: [], os: 'linux', architecture } : null;
      },
      async removeImage(ref: string, options: { force?: boolean; noprune?: boolean }) {
        calls.push(`rm ${ref} force=${options.force} noprune=${options.noprune}`);
      },
      async pullImage(ref: string, options: { platform?: string }) {
        calls.push(`pull ${ref} ${options.platform}`);
      },
    } as unknown as ContainerEngine;
    return { engine, calls };
  }
  const ref = BASE.pinned;

  it('is left alone when the engine holds that platform image under it', async () => {
    const { engine, calls } = engineHolding('arm64');
    await ensurePlatformImage(engine, recordingLogger(), { ref, platform: 'linux/arm64' });
    assert.deepEqual(calls, []);
  });

  it('is untagged and pulled for the platform when it names another platform image (a digest is not overwritten)', async () => {
    const { engine, calls } = engineHolding('amd64');
    await ensurePlatformImage(engine, recordingLogger(), { ref, platform: 'linux/arm64' });
    assert.deepEqual(calls, [`rm ${ref} force=true noprune=true`, `pull ${ref} linux/arm64`]);
  });

  it('is pulled for the platform when missing', async () => {
    const { engine, calls } = engineHolding(null);
    await ensurePlatformImage(engine, recordingLogger(), { ref, platform: 'linux/amd64' });
    assert.deepEqual(calls, [`pull ${ref} linux/amd64`]);
  });

  it('gives up at once when interrupted while the engine does not answer', async () => {
    const engine = { inspectImage: () => new Promise(() => {}) } as unknown as ContainerEngine;
    const controller = new AbortController();
    const pending = ensurePlatformImage(engine, recordingLogger(), { ref, platform: 'linux/amd64', signal: controller.signal });
    controller.abort(new Error('interrupted'));
    await assert.rejects(pending, /interrupted/);
  });
});
