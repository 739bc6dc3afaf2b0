/**
 * DockerodeEngine image operations against the real engine and the loopback registry (127.0.0.1:5000).
 * Needs the lab (`bash .ci/lab-up`); never skips.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createBuildContext } from '../../src/image/context/context.js';
import { readTarEntries } from '../../src/tar/tar-stream-codec.js';
import { DockerodeEngine } from '../../src/engines/docker/dockerode-engine.js';
import { EnvsealError } from '../../src/core/errors.js';

const BASE = 'local/python:bookworm';
const REGISTRY = '127.0.0.1:5000';
const suffix = randomBytes(4).toString('hex');
const registryCalls: string[] = [];
const engine = new DockerodeEngine({
  socketPath: '/var/run/docker.sock',
  authFor: (registry) => {
    registryCalls.push(registry);
    return undefined;
  },
});
const work = mkdtempSync(join(tmpdir(), 'envseal-images-e2e-'));
const TINY = `envseal-test/tiny:${suffix}`;
let tinyId = '';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

before(async () => {
  try {
    await engine.info();
  } catch (err) {
    assert.fail(`the Docker engine is not reachable (${(err as Error).message}): run \`bash .ci/lab-up\` first`);
  }
  if (!(await engine.inspectImage(BASE))) assert.fail(`the base image ${BASE} is missing: run \`bash .ci/lab-up\` first`);
  const ping = await fetch(`http://${REGISTRY}/v2/`).catch((err: unknown) =>
    assert.fail(`the registry at ${REGISTRY} is not reachable (${String(err)}): run \`bash .ci/lab-up\` first`),
  );
  assert.equal(ping.status, 200);
  // A one-layer image from scratch: quick to export, load and push.
  writeFileSync(join(work, 'hello.txt'), `hello ${suffix}\n`);
  writeFileSync(join(work, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  tinyId = (await engine.build(createBuildContext({ dir: work }).stream, { dockerfile: 'Dockerfile', tags: [TINY] })).imageId;
});

after(async () => {
  for (const ref of [
    TINY,
    `${REGISTRY}/envseal-test/push:${suffix}`,
    `${REGISTRY}/envseal-test/tagged:${suffix}`,
    `127.0.0.1:5999/envseal-test/unreachable:${suffix}`,
  ]) {
    await engine.removeImage(ref, { force: true }).catch(() => {});
  }
  rmSync(work, { recursive: true, force: true });
});

function isError(code: string, exitCode: number, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof EnvsealError, String(err));
    assert.equal(err.code, code, err.message);
    assert.equal(err.exitCode, exitCode);
    if (message) assert.match(err.message, message);
    return true;
  };
}

describe('DockerodeEngine images', () => {
  it('reports engine facts', async () => {
    const info = await engine.info();
    assert.match(info.version, /^\d+\.\d+/);
    assert.match(info.apiVersion, /^1\.\d+$/);
    assert.equal(info.os, 'linux');
    assert.ok(['amd64', 'arm64'].includes(info.architecture), info.architecture);
    assert.ok((info.cpus ?? 0) >= 1);
    assert.ok((info.memoryBytes ?? 0) > 0);
    assert.ok(info.storageDriver);
    assert.ok(info.runtimes?.includes('runc'));
  });

  it('inspects an image, and returns null for one that does not exist', async () => {
    const image = await engine.inspectImage(TINY);
    assert.equal(image?.id, tinyId);
    assert.deepEqual(image?.repoTags, [TINY]);
    assert.equal(image?.layers.length, 1);
    assert.match(image?.layers[0] ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(await engine.inspectImage(`envseal-test/absent:${suffix}`), null);
  });

  it('tags an image and rejects tags of missing images or invalid references', async () => {
    const target = `${REGISTRY}/envseal-test/tagged:${suffix}`;
    await engine.tagImage(tinyId, target);
    assert.ok((await engine.inspectImage(target))?.repoTags.includes(target));
    await assert.rejects(engine.tagImage(`envseal-test/absent:${suffix}`, 'x/y:1'), isError('docker.image-missing', 2));
    await assert.rejects(engine.tagImage(tinyId, 'UPPER/case:1'), isError('docker.bad-reference', 2));
  });

  it('round-trips an image through export and load', async () => {
    const exported = await engine.exportImage(TINY);
    const names: string[] = [];
    const saved = join(work, 'tiny.tar');
    const chunks: Buffer[] = [];
    for await (const chunk of exported) chunks.push(chunk as Buffer);
    writeFileSync(saved, Buffer.concat(chunks));
    await readTarEntries(Readable.from([Buffer.concat(chunks)]), ({ header }) => {
      names.push(header.name);
    });
    assert.ok(names.includes('manifest.json'), names.join(', '));

    await engine.removeImage(TINY, { force: true });
    assert.equal(await engine.inspectImage(TINY), null);
    const loaded = await engine.loadImage(Readable.from([Buffer.concat(chunks)]));
    assert.deepEqual(loaded, [TINY]);
    assert.equal((await engine.inspectImage(TINY))?.id, tinyId, 'the same image ID after the round trip');
  });

  it('fails to load something that is not an image archive', async () => {
    await assert.rejects(engine.loadImage(Readable.from([Buffer.from('this is not a tar archive')])), isError('docker.load-failed', 3));
  });

  it('fails to export or remove an image that does not exist', async () => {
    await assert.rejects(engine.exportImage(`envseal-test/absent:${suffix}`), isError('docker.image-missing', 2));
    await assert.rejects(engine.removeImage(`envseal-test/absent:${suffix}`), isError('docker.image-missing', 2));
  });

  it('pushes to the loopback registry and returns the digest the registry serves', async () => {
    const ref = `${REGISTRY}/envseal-test/push:${suffix}`;
    await engine.tagImage(tinyId, ref);
    registryCalls.length = 0;
    const { digest } = await engine.pushImage(ref);
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(registryCalls, [REGISTRY], 'credentials were asked for the registry host');
    const head = await fetch(`http://${REGISTRY}/v2/envseal-test/push/manifests/${suffix}`, { method: 'HEAD', headers: { Accept: MANIFEST_TYPES } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), digest);

    // And pull it back by digest.
    await engine.pullImage(`${REGISTRY}/envseal-test/push@${digest}`);
    assert.ok((await engine.inspectImage(ref))?.repoDigests.includes(`${REGISTRY}/envseal-test/push@${digest}`));
  });

  it('reports a push to an unreachable registry as docker.push-failed', async () => {
    const ref = `127.0.0.1:5999/envseal-test/unreachable:${suffix}`;
    await engine.tagImage(tinyId, ref);
    await assert.rejects(
      engine.pushImage(ref),
      isError('docker.push-failed', 3, /pushing 127\.0\.0\.1:5999\/envseal-test\/unreachable:[0-9a-f]+ failed: .*(connection refused|connect)/),
    );
  });

  it('reports pushing an image that does not exist as docker.image-missing', async () => {
    await assert.rejects(engine.pushImage(`${REGISTRY}/envseal-test/absent:${suffix}`), (err: unknown) => {
      isError('docker.image-missing', 2, /^cannot push 127\.0\.0\.1:5000\/envseal-test\/absent:[0-9a-f]+: An image does not exist locally/)(err);
      assert.match((err as EnvsealError).hint ?? '', /build or tag/);
      return true;
    });
  });

  it('reports pulling a tag the registry does not have as docker.pull-failed', async () => {
    await assert.rejects(engine.pullImage(`${REGISTRY}/envseal-test/absent:${suffix}`), (err: unknown) => {
      isError('docker.pull-failed', 3, /pulling 127\.0\.0\.1:5000\/envseal-test\/absent:[0-9a-f]+ failed: .*(not found|manifest unknown)/i)(err);
      assert.match((err as EnvsealError).hint ?? '', /exists in the registry/);
      return true;
    });
  });
});

describe('an unreachable engine', () => {
  it('fails with docker.unreachable, exit code 3, naming the socket and how to start the engine', async () => {
    const socketPath = join(work, 'no-engine-here.sock');
    const unreachable = new DockerodeEngine({ socketPath });
    await assert.rejects(unreachable.info(), (err: unknown) => {
      isError('docker.unreachable', 3)(err);
      const e = err as EnvsealError;
      assert.equal(e.message, `cannot reach the Docker engine at ${socketPath}: no such socket (ENOENT)`);
      assert.match(e.hint ?? '', /bash \.ci\/lab-up/);
      return true;
    });
    await assert.rejects(unreachable.build(createBuildContext({ dir: work }).stream, { dockerfile: 'Dockerfile', tags: [] }), isError('docker.unreachable', 3));
  });
});
