/**
 * HttpOciRegistry against the real distribution registry (`docker-registry`):
 *   - the lab registry on 127.0.0.1:5000 with python:bookworm, checked against what independent tools say
 *     (curl's HEAD for the digest, the engine's image ID for the config digest);
 *   - a second registry started here with htpasswd basic auth, holding a multi-platform OCI index pushed
 *     through the registry API, with credentials read from a Docker config file.
 * Without the lab these tests fail (never skip) and say to run `bash .ci/lab-up`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { loadDockerConfig } from '../../src/oci/docker-config.js';
import { formatPinnedImageRef, parseImageRef } from '../../src/core/image-ref.js';
import { HttpOciRegistry } from '../../src/oci/oci-registry.js';
import { MANIFEST_ACCEPT } from '../../src/oci/registry-documents.js';
import { LAB_BASE_IMAGE, LAB_REGISTRY_URL, requireLab, type LabStatus } from '../lab/lab.js';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  basicAuthHeader,
  buildAttestation,
  buildIndex,
  buildTestImage,
  pushBlob,
  pushImage,
  pushManifest,
  startDistributionRegistry,
  type RunningRegistry,
  type TestImage,
} from './registry-helpers.js';

const hostPlatform = { os: 'linux', architecture: process.arch === 'arm64' ? 'arm64' : 'amd64' };

function expectError(code: string, exitCode: number, check: (err: EnvsealError) => void = () => {}) {
  return (err: unknown) => {
    assert.ok(err instanceof EnvsealError, `expected an EnvsealError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.exitCode, exitCode);
    check(err);
    return true;
  };
}

/** The registry's answer to a HEAD, through curl: a second HTTP client that shares no code with ours. */
function curlHead(url: string): Record<string, string> {
  const result = spawnSync('curl', ['-sS', '-I', '-H', `Accept: ${MANIFEST_ACCEPT}`, url], { encoding: 'utf8' });
  assert.equal(result.status, 0, `curl failed: ${result.stderr}`);
  const headers: Record<string, string> = {};
  for (const line of result.stdout.split(/\r?\n/).slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

describe('the lab registry (127.0.0.1:5000)', () => {
  let lab: LabStatus;
  before(async () => {
    lab = await requireLab();
  });

  it('resolves python:bookworm to the digest the registry itself reports, and the engine image ID as config', async () => {
    const registry = new HttpOciRegistry();
    const ref = parseImageRef(LAB_BASE_IMAGE);
    const resolved = await registry.resolveImage(ref, hostPlatform);

    const head = curlHead(`${LAB_REGISTRY_URL}/v2/python/manifests/bookworm`);
    assert.match(head['docker-content-digest'] ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(resolved.digest, head['docker-content-digest']);
    assert.equal(resolved.mediaType, head['content-type']);
    assert.equal(resolved.isIndex, false);
    assert.equal(resolved.platformDigest, resolved.digest);
    // Classic image store: the image ID is the config digest.
    assert.equal(resolved.configDigest, lab.baseImageId);
    assert.equal(formatPinnedImageRef(ref, resolved.digest), `127.0.0.1:5000/python:bookworm@${resolved.digest}`);
  });

  it('keeps the digest of a reference given by digest', async () => {
    const registry = new HttpOciRegistry();
    const resolved = await registry.resolveImage(parseImageRef(`127.0.0.1:5000/python@${lab.baseImageDigest}`), hostPlatform);
    assert.equal(resolved.digest, lab.baseImageDigest);
    assert.equal(resolved.configDigest, lab.baseImageId);
  });

  it('says "no such image" for an unknown tag, digest or repository (exit 2)', async () => {
    const registry = new HttpOciRegistry();
    await assert.rejects(
      registry.resolveImage(parseImageRef('127.0.0.1:5000/python:no-such-tag'), hostPlatform),
      expectError('registry.not-found', 2, (err) =>
        assert.equal(err.message, 'no such image: 127.0.0.1:5000/python:no-such-tag (registry said: MANIFEST_UNKNOWN: manifest unknown)'),
      ),
    );
    const missing = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(
      registry.resolveImage(parseImageRef(`127.0.0.1:5000/python@${missing}`), hostPlatform),
      expectError('registry.not-found', 2, (err) => assert.match(err.message, /MANIFEST_UNKNOWN/)),
    );
    await assert.rejects(
      registry.resolveImage(parseImageRef('127.0.0.1:5000/envseal-no-such-repo:x'), hostPlatform),
      expectError('registry.not-found', 2, (err) => assert.match(err.message, /registry said: (NAME|MANIFEST)_UNKNOWN/)),
    );
  });

  it('refuses the single-platform image for another platform (exit 2)', async () => {
    const other = { os: 'linux', architecture: hostPlatform.architecture === 'amd64' ? 'arm64' : 'amd64' };
    await assert.rejects(
      new HttpOciRegistry().resolveImage(parseImageRef(LAB_BASE_IMAGE), other),
      expectError('registry.platform', 2, (err) =>
        assert.match(err.message, new RegExp(`single-platform image for linux/${hostPlatform.architecture}, not linux/${other.architecture}`)),
      ),
    );
  });
});

describe('a registry with htpasswd basic auth, holding a multi-platform index', () => {
  const user = 'envseal';
  const password = 'correct horse: battery staple';
  let server: RunningRegistry;
  let dir: string;
  let amd: TestImage;
  let arm: TestImage;
  let indexDigest: string;
  let pushedDigest: string;

  before(async () => {
    server = await startDistributionRegistry({ users: { [user]: password } });
    dir = await mkdtemp(join(tmpdir(), 'envseal-docker-config-'));
    const auth = basicAuthHeader(user, password);

    amd = buildTestImage({ os: 'linux', architecture: 'amd64' }, 'amd64 child');
    arm = buildTestImage({ os: 'linux', architecture: 'arm64', variant: 'v8' }, 'arm64 child');
    const attestation = buildAttestation(amd.manifest.digest);
    for (const image of [amd, arm, attestation.image]) await pushImage(server.url, 'team/multi', image, auth);
    const index = buildIndex([
      { mediaType: OCI_MANIFEST, manifest: amd.manifest, platform: amd.platform },
      { mediaType: OCI_MANIFEST, manifest: arm.manifest, platform: arm.platform },
      attestation.child,
    ]);
    indexDigest = index.digest;
    pushedDigest = await pushManifest(server.url, 'team/multi', 'v1', index, OCI_INDEX, auth);
    // And a plain single-platform tag next to it.
    await pushBlob(server.url, 'team/single', amd.config, auth);
    await pushBlob(server.url, 'team/single', amd.layer, auth);
    await pushManifest(server.url, 'team/single', 'v1', amd.manifest, OCI_MANIFEST, auth);
  });

  after(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function writeConfig(name: string, content: unknown): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(content));
    return path;
  }

  it('the registry really requires the login', async () => {
    const res = await fetch(`${server.url}/v2/team/multi/manifests/v1`, { method: 'HEAD' });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="envseal-test"/);
  });

  it('with credentials from a Docker config file: picks the platform child and returns both digests', async () => {
    const path = await writeConfig('good.json', {
      auths: { [server.host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } },
    });
    const registry = new HttpOciRegistry({ dockerConfig: await loadDockerConfig(path) });
    const ref = parseImageRef(`${server.host}/team/multi:v1`);

    assert.equal(pushedDigest, indexDigest, 'the registry stored the index bytes we pushed');
    assert.deepEqual(await registry.resolveImage(ref, { os: 'linux', architecture: 'amd64' }), {
      digest: indexDigest,
      mediaType: OCI_INDEX,
      platformDigest: amd.manifest.digest,
      configDigest: amd.config.digest,
      isIndex: true,
    });
    assert.deepEqual(await registry.resolveImage(ref, { os: 'linux', architecture: 'arm64' }), {
      digest: indexDigest,
      mediaType: OCI_INDEX,
      platformDigest: arm.manifest.digest,
      configDigest: arm.config.digest,
      isIndex: true,
    });
    const byDigest = await registry.resolveImage(parseImageRef(`${server.host}/team/multi@${indexDigest}`), {
      os: 'linux',
      architecture: 'arm64',
      variant: 'v8',
    });
    assert.equal(byDigest.digest, indexDigest);
    assert.equal(byDigest.platformDigest, arm.manifest.digest);

    const single = await registry.resolveImage(parseImageRef(`${server.host}/team/single:v1`), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(single, {
      digest: amd.manifest.digest,
      mediaType: OCI_MANIFEST,
      platformDigest: amd.manifest.digest,
      configDigest: amd.config.digest,
      isIndex: false,
    });
  });

  it('lists the platforms the index offers when the one asked for is missing', async () => {
    const path = await writeConfig('good2.json', { auths: { [`http://${server.host}`]: { username: user, password } } });
    const registry = new HttpOciRegistry({ dockerConfig: await loadDockerConfig(path) });
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${server.host}/team/multi:v1`), { os: 'linux', architecture: 'riscv64' }),
      expectError('registry.platform', 2, (err) =>
        assert.equal(err.message, `image ${server.host}/team/multi:v1 has no linux/riscv64 variant; available: linux/amd64, linux/arm64`),
      ),
    );
  });

  it('with a wrong password: the auth error (exit 3) names the user and the config', async () => {
    const path = await writeConfig('wrong.json', {
      auths: { [server.host]: { auth: Buffer.from(`${user}:not the password`).toString('base64') } },
    });
    const registry = new HttpOciRegistry({ dockerConfig: await loadDockerConfig(path) });
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${server.host}/team/multi:v1`), { os: 'linux', architecture: 'amd64' }),
      expectError('registry.auth', 3, (err) => {
        assert.match(
          err.message,
          new RegExp(`registry ${server.host} refused access for ${server.host}/team/multi:v1 \\(user "envseal"; UNAUTHORIZED: authentication required\\)`),
        );
        assert.match(err.hint ?? '', new RegExp(`check the credentials stored for ${server.host} in ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      }),
    );
  });

  it('without credentials: the auth error says how to log in', async () => {
    const path = await writeConfig('none.json', { auths: {} });
    const registry = new HttpOciRegistry({ dockerConfig: await loadDockerConfig(path) });
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${server.host}/team/multi:v1`), { os: 'linux', architecture: 'amd64' }),
      expectError('registry.auth', 3, (err) => {
        assert.match(err.message, /requires a login/);
        assert.match(err.hint ?? '', new RegExp(`docker login ${server.host}`));
      }),
    );
  });
});
