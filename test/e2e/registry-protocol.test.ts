/**
 * HttpOciRegistry against purpose-built registries on 127.0.0.1 (node:http, see registry-helpers.ts):
 * real sockets and real fetch, with the behaviours a healthy distribution registry will not show on demand
 * — token servers, a missing Docker-Content-Digest, 5xx and 429 answers, hangs, tampered bytes.
 * The real registry is exercised in registry-distribution.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createServer } from 'node:net';
import { EnvsealError } from '../../src/core/errors.js';
import { parseDockerConfig, type DockerConfig } from '../../src/oci/docker-config.js';
import { parseImageRef } from '../../src/core/image-ref.js';
import { HttpOciRegistry, type HttpOciRegistryOptions } from '../../src/oci/oci-registry.js';
import { RegistryCredentialSource } from '../../src/oci/credential-helper.js';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DOCKER_LIST,
  DOCKER_MANIFEST,
  FakeRegistry,
  OCI_INDEX,
  OCI_MANIFEST,
  buildAttestation,
  buildIndex,
  buildTestImage,
  findFreePort,
  sha256,
  type FakeRegistryOptions,
} from './registry-helpers.js';

const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64' };
const running: FakeRegistry[] = [];
after(async () => {
  await Promise.all(running.map((r) => r.close()));
});

async function startRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const registry = await FakeRegistry.start(options);
  running.push(registry);
  return registry;
}

/** A client whose sleeps are recorded, not waited. */
function client(options: HttpOciRegistryOptions = {}) {
  const sleeps: number[] = [];
  const registry = new HttpOciRegistry({ sleep: async (ms) => void sleeps.push(ms), ...options });
  return { registry, sleeps };
}

function config(auths: Record<string, { username: string; password: string }>, extra: Record<string, unknown> = {}): DockerConfig {
  return parseDockerConfig(JSON.stringify({ auths, ...extra }), '/tmp/test-docker/config.json');
}

const helperDirs: string[] = [];
after(() => helperDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A PATH with a real docker-credential-envsealtest that answers carol/helper-pw, an identity token, or "not found". */
function helperEnv(mode: { none?: boolean; token?: string } = {}): { env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'envseal-helper-'));
  helperDirs.push(dir);
  const answer = mode.none
    ? 'echo "credentials not found in native keychain"; exit 1'
    : `printf '{"ServerURL":"%s","Username":"${mode.token ? '<token>' : 'carol'}","Secret":"${mode.token ?? 'helper-pw'}"}' "$server"`;
  writeFileSync(join(dir, 'docker-credential-envsealtest'), `#!/bin/sh\nread -r server\n${answer}\n`);
  chmodSync(join(dir, 'docker-credential-envsealtest'), 0o755);
  return { env: { PATH: `${dir}:/usr/bin:/bin` } };
}

function expectError(code: string, exitCode: number, check: (err: EnvsealError) => void = () => {}) {
  return (err: unknown) => {
    assert.ok(err instanceof EnvsealError, `expected an EnvsealError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.exitCode, exitCode);
    check(err);
    return true;
  };
}

describe('token authentication (Bearer challenge → token server → manifest)', () => {
  it('fetches an anonymous token with service and our own pull scope, then reuses it', async () => {
    const fake = await startRegistry({ auth: { kind: 'bearer', service: 'fake.registry', expiresIn: 300 } });
    const image = buildTestImage(amd64, 'token');
    fake.addImage('org/app', image, 'v1');
    const { registry } = client();
    const ref = parseImageRef(`${fake.host}/org/app:v1`);

    const resolved = await registry.resolveImage(ref, amd64);
    assert.deepEqual(resolved, {
      digest: image.manifest.digest,
      mediaType: OCI_MANIFEST,
      platformDigest: image.manifest.digest,
      configDigest: image.config.digest,
      isIndex: false,
    });

    const tokens = fake.tokenRequests();
    assert.equal(tokens.length, 1);
    assert.equal(tokens[0]!.query.get('service'), 'fake.registry');
    // Not the challenge's "pull,push": we only ever ask for pull.
    assert.equal(tokens[0]!.query.get('scope'), 'repository:org/app:pull');
    assert.equal(tokens[0]!.headers.authorization, undefined);
    assert.deepEqual(fake.apiCalls(), [
      'HEAD /v2/org/app/manifests/v1',
      'HEAD /v2/org/app/manifests/v1',
      `GET /v2/org/app/manifests/${image.manifest.digest}`,
      `GET /v2/org/app/blobs/${image.config.digest}`,
    ]);
    const afterToken = fake.requests.filter((r) => r.path !== '/token').slice(1);
    assert.ok(afterToken.every((r) => r.headers.authorization === `Bearer token-1-repository:org/app:pull`));

    // Same registry and scope: the cached token is sent straight away.
    await registry.resolveImage(ref, amd64);
    assert.equal(fake.tokenRequests().length, 1);
    assert.equal(fake.apiCalls().length, 4 + 3);
  });

  it('accepts access_token, sends no service when the challenge has none (nvcr.io), and basic auth to the token server', async () => {
    const fake = await startRegistry({ auth: { kind: 'bearer', tokenField: 'access_token', users: { alice: 's3cret:x' } } });
    fake.addImage('nvidia/pytorch', buildTestImage(amd64, 'nv'), '24.01-py3');
    const { registry } = client({ dockerConfig: config({ [`http://${fake.host}`]: { username: 'alice', password: 's3cret:x' } }) });

    const resolved = await registry.resolveImage(parseImageRef(`${fake.host}/nvidia/pytorch:24.01-py3`), amd64);
    assert.equal(resolved.isIndex, false);
    const [token] = fake.tokenRequests();
    assert.equal(token!.query.has('service'), false);
    assert.equal(token!.query.get('account'), 'alice');
    assert.equal(token!.headers.authorization, `Basic ${Buffer.from('alice:s3cret:x').toString('base64')}`);
  });

  it('fetches a new token when the cached one has expired, and when the registry revokes it', async () => {
    const fake = await startRegistry({ auth: { kind: 'bearer', service: 's', expiresIn: 120 } });
    fake.addImage('app', buildTestImage(amd64, 'expiry'), 'v1');
    let now = Date.UTC(2026, 0, 1);
    const { registry } = client({ clock: { now: () => new Date(now) } });
    const ref = parseImageRef(`${fake.host}/app:v1`);

    await registry.resolveImage(ref, amd64);
    now += 60_000;
    await registry.resolveImage(ref, amd64);
    assert.equal(fake.tokenRequests().length, 1, 'still valid after 60 s');
    now += 61_000;
    await registry.resolveImage(ref, amd64);
    assert.equal(fake.tokenRequests().length, 2, 'renewed after 121 s (lifetime 120 s)');

    fake.revokeTokens();
    await registry.resolveImage(ref, amd64);
    assert.equal(fake.tokenRequests().length, 3, 'renewed after a 401 with a cached token');
  });

  it('reports a token server that refuses anonymous tokens as an auth error (exit 3)', async () => {
    const fake = await startRegistry({ auth: { kind: 'bearer', service: 's', users: { bob: 'pw' } } });
    fake.addImage('private/app', buildTestImage(amd64, 'private'), 'v1');
    const { registry } = client({ dockerConfig: config({ 'other.example': { username: 'x', password: 'y' } }) });
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/private/app:v1`), amd64),
      expectError('registry.auth', 3, (err) => {
        assert.match(err.message, new RegExp(`token server ${fake.host} \\(for registry ${fake.host}\\) refused an anonymous token`));
        assert.match(err.message, /anonymous access/);
        assert.equal(err.hint, `log in with \`docker login ${fake.host}\` (envseal reads the "auths" entries of /tmp/test-docker/config.json)`);
      }),
    );
  });
});

describe('Basic challenge', () => {
  it('sends the credentials from the Docker config and keeps using them', async () => {
    const fake = await startRegistry({ auth: { kind: 'basic', users: { carol: 'pw' } } });
    const image = buildTestImage(amd64, 'basic');
    fake.addImage('app', image, 'v1');
    const { registry } = client({ dockerConfig: config({ [fake.host]: { username: 'carol', password: 'pw' } }) });
    const resolved = await registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64);
    assert.equal(resolved.digest, image.manifest.digest);
    const basic = `Basic ${Buffer.from('carol:pw').toString('base64')}`;
    assert.deepEqual(
      fake.requests.map((r) => r.headers.authorization ?? 'none'),
      ['none', basic, basic, basic],
    );
  });

  it('without credentials: an auth error that says how to log in', async () => {
    const fake = await startRegistry({ auth: { kind: 'basic', users: { carol: 'pw' } } });
    fake.addImage('app', buildTestImage(amd64, 'basic'), 'v1');
    const { registry } = client();
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64),
      expectError('registry.auth', 3, (err) => {
        assert.match(err.message, /requires a login \(Basic authentication\)/);
        assert.match(err.hint ?? '', new RegExp(`docker login ${fake.host}`));
      }),
    );
  });

  it('with wrong credentials: an auth error naming the user and where the credentials came from', async () => {
    const fake = await startRegistry({ auth: { kind: 'basic', users: { carol: 'pw' } } });
    fake.addImage('app', buildTestImage(amd64, 'basic'), 'v1');
    const { registry } = client({ dockerConfig: config({ [`https://${fake.host}`]: { username: 'carol', password: 'wrong' } }) });
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64),
      expectError('registry.auth', 3, (err) => {
        assert.match(err.message, /refused access for .*user "carol".*UNAUTHORIZED: authentication required/);
        assert.match(err.hint ?? '', new RegExp(`credentials stored for https://${fake.host} in /tmp/test-docker/config.json`));
      }),
    );
  });

  it('takes the login from the credential helper (a real docker-credential-envsealtest on PATH)', async () => {
    const fake = await startRegistry({ auth: { kind: 'basic', users: { carol: 'helper-pw' } } });
    fake.addImage('app', buildTestImage(amd64, 'basic'), 'v1');
    const helpers = helperEnv();
    const source = new RegistryCredentialSource(parseDockerConfig(JSON.stringify({ credHelpers: { [fake.host]: 'envsealtest' } })), helpers);
    const { registry } = client({ credentials: source });
    await registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64);
    assert.equal(fake.requests.at(-1)?.headers.authorization, `Basic ${Buffer.from('carol:helper-pw').toString('base64')}`);
  });

  it('names the credential helper when it has no login for this registry', async () => {
    const fake = await startRegistry({ auth: { kind: 'basic', users: { carol: 'pw' } } });
    fake.addImage('app', buildTestImage(amd64, 'basic'), 'v1');
    const config = parseDockerConfig(JSON.stringify({ auths: { [fake.host]: {} }, credsStore: 'envsealtest' }));
    const { registry } = client({ credentials: new RegistryCredentialSource(config, helperEnv({ none: true })) });
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64),
      expectError('registry.auth', 3, (err) => {
        assert.match(err.hint ?? '', /credential helper "docker-credential-envsealtest", which has none for it/);
      }),
    );
  });

  it('trades an identity token from the helper for a Bearer token (OAuth2 refresh-token grant)', async () => {
    const fake = await startRegistry({ auth: { kind: 'bearer', service: 'reg', refreshTokens: ['refresh-xyz'] } });
    fake.addImage('team/app', buildTestImage(amd64, 'tok'), 'v1');
    const config = parseDockerConfig(JSON.stringify({ credsStore: 'envsealtest' }));
    const { registry } = client({ credentials: new RegistryCredentialSource(config, helperEnv({ token: 'refresh-xyz' })) });
    await registry.resolveImage(parseImageRef(`${fake.host}/team/app:v1`), amd64);
    const [form] = fake.tokenForms;
    assert.equal(form?.get('grant_type'), 'refresh_token');
    assert.equal(form?.get('client_id'), 'docker');
    assert.equal(form?.get('service'), 'reg');
    assert.equal(form?.get('scope'), 'repository:team/app:pull');
  });

  it('403 is an auth error too', async () => {
    const fake = await startRegistry({
      intercept: (_req, res) => {
        res.writeHead(403, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }));
        return true;
      },
    });
    const { registry } = client();
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64),
      expectError('registry.auth', 3, (err) => assert.match(err.message, /denied access.*DENIED: requested access/)),
    );
  });
});

describe('digests', () => {
  it('without Docker-Content-Digest, hashes the body bytes exactly as received', async () => {
    const fake = await startRegistry({ omitDigestHeader: true });
    const image = buildTestImage(amd64, 'no-header', DOCKER_MANIFEST);
    fake.addImage('app', image, 'v1');
    const reserialised = sha256(JSON.stringify(JSON.parse(image.manifest.bytes.toString())));
    assert.notEqual(reserialised, image.manifest.digest, 'the fixture must be sensitive to re-serialising');

    const { registry } = client();
    const resolved = await registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64);
    assert.equal(resolved.digest, image.manifest.digest);
    assert.equal(resolved.mediaType, DOCKER_MANIFEST);
    assert.equal(resolved.configDigest, image.config.digest);
    assert.deepEqual(fake.apiCalls(), ['HEAD /v2/app/manifests/v1', 'GET /v2/app/manifests/v1', `GET /v2/app/blobs/${image.config.digest}`]);
  });

  it('keeps a reference given by digest after checking that it exists', async () => {
    const fake = await startRegistry();
    const image = buildTestImage(amd64, 'by-digest');
    fake.addImage('app', image, 'v1');
    const { registry } = client();
    const resolved = await registry.resolveImage(parseImageRef(`${fake.host}/app@${image.manifest.digest}`), amd64);
    assert.equal(resolved.digest, image.manifest.digest);
    assert.equal(fake.apiCalls()[0], `HEAD /v2/app/manifests/${image.manifest.digest}`);

    const missing = sha256('nothing');
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/app:v1@${missing}`), amd64),
      expectError('registry.not-found', 2, (err) => assert.match(err.message, new RegExp(`no such image: ${fake.host}/app:v1@${missing}`))),
    );
  });

  it('refuses an index whose bytes do not hash to its digest', async () => {
    const a = buildTestImage(amd64, 'a');
    const index = buildIndex([{ mediaType: OCI_MANIFEST, manifest: a.manifest, platform: amd64 }]);
    const fake = await startRegistry({
      intercept: (req, res) => {
        if (req.method !== 'GET' || !req.url?.endsWith(`/manifests/${index.digest}`)) return false;
        const tampered = Buffer.from(index.bytes.toString().replace('"amd64"', '"amd64" '));
        res.writeHead(200, { 'Content-Type': OCI_INDEX, 'Docker-Content-Digest': index.digest });
        res.end(tampered);
        return true;
      },
    });
    fake.addImage('app', a);
    fake.addManifest('app', index, OCI_INDEX, 'v1');
    const { registry } = client();
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64),
      expectError('registry.digest-mismatch', 3, (err) => assert.match(err.message, new RegExp(`content for ${index.digest} that hashes to sha256:`))),
    );
  });
});

describe('indexes and platforms', () => {
  async function multiPlatform(listType = OCI_INDEX, childType = OCI_MANIFEST) {
    const fake = await startRegistry();
    const a = buildTestImage(amd64, 'amd', childType);
    const b = buildTestImage({ ...arm64, variant: 'v8' }, 'arm', childType);
    const att = buildAttestation(a.manifest.digest);
    const index = buildIndex(
      [
        { mediaType: childType, manifest: a.manifest, platform: amd64 },
        { mediaType: childType, manifest: b.manifest, platform: { ...arm64, variant: 'v8' } },
        att.child,
      ],
      listType,
    );
    for (const img of [a, b, att.image]) fake.addImage('multi', img);
    fake.addManifest('multi', index, listType, 'v1');
    return { fake, a, b, index };
  }

  it('picks the child for the platform and returns both digests (OCI index)', async () => {
    const { fake, a, b, index } = await multiPlatform();
    const { registry } = client();
    const ref = parseImageRef(`${fake.host}/multi:v1`);
    assert.deepEqual(await registry.resolveImage(ref, amd64), {
      digest: index.digest,
      mediaType: OCI_INDEX,
      platformDigest: a.manifest.digest,
      configDigest: a.config.digest,
      isIndex: true,
    });
    assert.deepEqual(await registry.resolveImage(ref, arm64), {
      digest: index.digest,
      mediaType: OCI_INDEX,
      platformDigest: b.manifest.digest,
      configDigest: b.config.digest,
      isIndex: true,
    });
    assert.deepEqual(fake.apiCalls().slice(0, 3), [
      'HEAD /v2/multi/manifests/v1',
      `GET /v2/multi/manifests/${index.digest}`,
      `GET /v2/multi/manifests/${a.manifest.digest}`,
    ]);
  });

  it('handles a Docker manifest list the same way', async () => {
    const { fake, b, index } = await multiPlatform(DOCKER_LIST, DOCKER_MANIFEST);
    const { registry } = client();
    const resolved = await registry.resolveImage(parseImageRef(`${fake.host}/multi:v1`), { os: 'linux', architecture: 'aarch64' });
    assert.equal(resolved.digest, index.digest);
    assert.equal(resolved.mediaType, DOCKER_LIST);
    assert.equal(resolved.platformDigest, b.manifest.digest);
  });

  it('lists the available platforms (without attestations) when the one asked for is missing', async () => {
    const { fake } = await multiPlatform();
    const { registry } = client();
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/multi:v1`), { os: 'linux', architecture: 's390x' }),
      expectError('registry.platform', 2, (err) => {
        assert.equal(err.message, `image ${fake.host}/multi:v1 has no linux/s390x variant; available: linux/amd64, linux/arm64`);
        assert.deepEqual(err.data?.available, ['linux/amd64', 'linux/arm64']);
      }),
    );
  });

  it('refuses a single-platform image built for another platform', async () => {
    const fake = await startRegistry();
    fake.addImage('app', buildTestImage(amd64, 'single'), 'v1');
    const { registry } = client();
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), arm64),
      expectError('registry.platform', 2, (err) => assert.match(err.message, /single-platform image for linux\/amd64, not linux\/arm64/)),
    );
  });
});

describe('not found', () => {
  it('404 on the tag: no such image, with what the registry said', async () => {
    const fake = await startRegistry();
    fake.addImage('app', buildTestImage(amd64, 'x'), 'v1');
    const { registry } = client();
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/app:nope`), amd64),
      expectError('registry.not-found', 2, (err) => {
        assert.equal(err.message, `no such image: ${fake.host}/app:nope (registry said: MANIFEST_UNKNOWN: manifest unknown)`);
        assert.match(err.hint ?? '', /check the repository name and tag/);
      }),
    );
    assert.deepEqual(fake.apiCalls(), ['HEAD /v2/app/manifests/nope', 'GET /v2/app/manifests/nope']);
  });

  it('unknown repository: NAME_UNKNOWN', async () => {
    const fake = await startRegistry();
    const { registry } = client();
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/ghost:v1`), amd64),
      expectError('registry.not-found', 2, (err) => assert.match(err.message, /NAME_UNKNOWN: repository name not known to registry/)),
    );
  });
});

describe('retries', () => {
  it('500 twice, then an answer: retried with backoff, requests counted', async () => {
    const fake = await startRegistry({
      intercept: (req, res, n) => {
        if (req.method !== 'HEAD' || n > 2) return false;
        res.writeHead(500);
        res.end();
        return true;
      },
    });
    const image = buildTestImage(amd64, 'flaky');
    fake.addImage('app', image, 'v1');
    const { registry, sleeps } = client();
    const resolved = await registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64);
    assert.equal(resolved.digest, image.manifest.digest);
    assert.equal(fake.apiCalls().filter((c) => c === 'HEAD /v2/app/manifests/v1').length, 3);
    assert.deepEqual(sleeps, [500, 1000]);
  });

  it('always 500: exit 3 after the retries, naming the registry and the last error', async () => {
    const fake = await startRegistry({
      intercept: (_req, res) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('storage backend down');
        return true;
      },
    });
    const { registry, sleeps } = client({ retries: 2 });
    await assert.rejects(
      registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64),
      expectError('registry.unreachable', 3, (err) => {
        assert.match(err.message, new RegExp(`^registry ${fake.host} is unreachable: HEAD http://${fake.host}/v2/app/manifests/v1 failed 3 times`));
        // A HEAD answer carries no body, so the status line is all there is to quote.
        assert.match(err.message, /last error: HTTP 500 Internal Server Error$/);
        assert.match(err.hint ?? '', new RegExp(`check that ${fake.host} is reachable`));
      }),
    );
    assert.equal(fake.requests.length, 3);
    assert.deepEqual(sleeps, [500, 1000]);
  });

  it('429 with Retry-After: waits as asked', async () => {
    const fake = await startRegistry({
      intercept: (req, res, n) => {
        if (req.method !== 'HEAD' || n > 1) return false;
        res.writeHead(429, { 'Retry-After': '2' });
        res.end();
        return true;
      },
    });
    fake.addImage('app', buildTestImage(amd64, 'rate'), 'v1');
    const { registry, sleeps } = client();
    await registry.resolveImage(parseImageRef(`${fake.host}/app:v1`), amd64);
    assert.deepEqual(sleeps, [2000]);
  });

  it('connection refused: exit 3, never a raw TypeError', async () => {
    const port = await findFreePort();
    const { registry, sleeps } = client({ retries: 1 });
    await assert.rejects(
      registry.resolveImage(parseImageRef(`127.0.0.1:${port}/app:v1`), amd64),
      expectError('registry.unreachable', 3, (err) => {
        assert.match(
          err.message,
          new RegExp(`registry 127.0.0.1:${port} is unreachable: .*failed 2 times; last error: connect ECONNREFUSED 127.0.0.1:${port}`),
        );
      }),
    );
    assert.deepEqual(sleeps, [500]);
  });

  it('a registry that accepts connections but never answers: timed out', async () => {
    const sockets: import('node:net').Socket[] = [];
    const requestLines: string[] = [];
    // undici may open spare pool connections, so count the requests that arrive, not the sockets.
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.on('data', (chunk: Buffer) => requestLines.push(chunk.toString('latin1').split('\r\n')[0] ?? ''));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const { registry } = client({ retries: 1, timeoutMs: 200 });
      await assert.rejects(
        registry.resolveImage(parseImageRef(`127.0.0.1:${port}/app:v1`), amd64),
        expectError('registry.unreachable', 3, (err) => assert.match(err.message, /failed 2 times; last error: timed out after 200 ms/)),
      );
      assert.deepEqual(requestLines, ['HEAD /v2/app/manifests/v1 HTTP/1.1', 'HEAD /v2/app/manifests/v1 HTTP/1.1']);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
