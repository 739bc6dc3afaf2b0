/**
 * normalizeImage's failure paths on the real engine (issue 5, "Bad input"): an image that cannot be
 * exported, a disk that fills up (a real ENOSPC from a small tmpfs mounted as the work directory, once while
 * spooling the export and once while writing the rewritten layer), and Ctrl-C. Each must give its error,
 * leave nothing tagged and no temporary file behind.
 * Needs the lab (`bash .ci/lab-up`) and root (to mount a tmpfs, as the lab does); never skips.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../src/core/ports.js';
import { normalizeImage } from '../../src/image/normalize/normalize-image.js';
import { DockerodeEngine } from '../../src/engines/docker/dockerode-engine.js';
import { isEnvsealError } from '../../src/core/errors.js';
import { LAB_LOCAL_BASE_IMAGE, requireLab } from '../lab/lab.js';

const EPOCH = 1_700_000_000;
const engine = new DockerodeEngine({ socketPath: '/var/run/docker.sock' });
const work = mkdtempSync(join(tmpdir(), 'envseal-normalize-errors-'));
const suffix = randomBytes(4).toString('hex');
const mounted: string[] = [];

/** A tmpfs of `size` mounted at a fresh directory: a disk that really fills up. */
function smallDisk(name: string, size: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  assert.equal(result.status, 0, `cannot mount a ${size} tmpfs at ${dir} (this test needs root, like the lab): ${result.stderr}`);
  mounted.push(dir);
  return dir;
}

async function expectError(promise: Promise<unknown>, code: string, message: RegExp): Promise<Error> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    assert.ok(isEnvsealError(err), `expected an EnvsealError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.exitCode, 3);
    assert.match(err.message, message);
    return true;
  });
  return caught as Error;
}

before(async () => {
  await requireLab();
});
after(async () => {
  for (const dir of mounted) spawnSync('umount', [dir]);
  rmSync(work, { recursive: true, force: true });
});

describe('normalizeImage failures (real engine)', () => {
  it('an image that cannot be exported: normalize.export, nothing tagged', async () => {
    const target = `envseal-test/not-exported:${suffix}`;
    const workDir = join(work, 'export');
    await expectError(
      normalizeImage(engine, `envseal-test/no-such-image:${suffix}`, { sourceDateEpoch: EPOCH, tags: [target], workDir }),
      'normalize.export',
      /cannot export image envseal-test\/no-such-image:\w+ from the Docker engine: .*does not exist/,
    );
    assert.equal(await engine.inspectImage(target), null);
    assert.deepEqual(readdirSync(workDir), []);
  });

  it('disk full while spooling the export: normalize.disk-full naming the work directory, nothing tagged', async () => {
    const disk = smallDisk('tiny', '16m');
    const target = `envseal-test/disk-full-spool:${suffix}`;
    const err = await expectError(
      normalizeImage(engine, LAB_LOCAL_BASE_IMAGE, { sourceDateEpoch: EPOCH, tags: [target], workDir: disk }),
      'normalize.disk-full',
      new RegExp(`no space left on the device of ${disk}`),
    );
    assert.match((err as { hint?: string }).hint ?? '', /larger disk/);
    assert.deepEqual((err as { data?: unknown }).data, { workDir: disk });
    assert.equal(await engine.inspectImage(target), null);
    assert.deepEqual(readdirSync(disk), [], 'the temporary files are removed');
  });

  it('disk full while writing the rewritten layer: normalize.disk-full, nothing tagged', async () => {
    const base = await engine.inspectImage(LAB_LOCAL_BASE_IMAGE);
    assert.ok(base?.sizeBytes, 'the base image reports its size');
    // Room for the spooled export, not for the rewritten copy next to it.
    const disk = smallDisk('medium', `${Math.ceil((base.sizeBytes * 1.3) / 1024 / 1024)}m`);
    const target = `envseal-test/disk-full-rewrite:${suffix}`;
    const stages: string[] = [];
    const logger: Logger = { info() {}, warn() {}, debug() {}, progress: (m) => stages.push(m) };
    await expectError(
      normalizeImage(engine, LAB_LOCAL_BASE_IMAGE, { sourceDateEpoch: EPOCH, tags: [target], workDir: disk, logger }),
      'normalize.disk-full',
      /no space left/,
    );
    assert.ok(
      stages.some((m) => /layer 1\/\d+/.test(m)),
      `the failure came while rewriting: ${stages.join(' | ')}`,
    );
    assert.ok(!stages.some((m) => /loading/.test(m)), 'nothing was loaded');
    assert.equal(await engine.inspectImage(target), null);
    assert.deepEqual(readdirSync(disk), []);
  });

  it('Ctrl-C while the export streams: normalize.aborted, nothing tagged, no files left', async () => {
    const controller = new AbortController();
    const workDir = join(work, 'abort');
    const target = `envseal-test/aborted:${suffix}`;
    const logger: Logger = {
      info() {},
      warn() {},
      progress() {},
      debug: (m) => {
        if (m.includes('spooling')) controller.abort(new Error('SIGINT'));
      },
    };
    await expectError(
      normalizeImage(engine, LAB_LOCAL_BASE_IMAGE, { sourceDateEpoch: EPOCH, tags: [target], workDir, signal: controller.signal, logger }),
      'normalize.aborted',
      /was cancelled; nothing was tagged/,
    );
    assert.equal(await engine.inspectImage(target), null);
    assert.deepEqual(readdirSync(workDir), []);
  });
});
