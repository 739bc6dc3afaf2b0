import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { findCredentialHelper, findRegistryCredentials, loadDockerConfig, normaliseRegistryKey, parseDockerConfig } from '../../src/oci/docker-config.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('parseDockerConfig', () => {
  const config = parseDockerConfig(
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass:with:colons') },
        '127.0.0.1:5000': { auth: b64('local:secret') },
        'https://ghcr.io': { username: 'gh', password: 'ghp_token' },
        'nvcr.io': { username: '$oauthtoken' },
        'http://LOCALHOST:5001/v2/': { auth: b64('u:p') },
        'quay.io': {},
      },
      credHelpers: { 'https://123.dkr.ecr.us-east-1.amazonaws.com': 'ecr-login' },
      HttpHeaders: { 'User-Agent': 'ignored' },
      experimental: 'enabled',
    }),
    '/home/u/.docker/config.json',
  );

  it('decodes auth (the password may contain ":") and maps Docker Hub keys to docker.io', () => {
    assert.deepEqual(findRegistryCredentials(config, 'docker.io'), {
      username: 'hubuser',
      password: 'hub:pass:with:colons',
      server: 'https://index.docker.io/v1/',
    });
  });

  it('matches host:port keys and URL keys by host', () => {
    assert.deepEqual(findRegistryCredentials(config, '127.0.0.1:5000'), { username: 'local', password: 'secret', server: '127.0.0.1:5000' });
    assert.deepEqual(findRegistryCredentials(config, 'ghcr.io'), { username: 'gh', password: 'ghp_token', server: 'https://ghcr.io' });
    assert.equal(findRegistryCredentials(config, 'localhost:5001')?.username, 'u');
  });

  it('has no credentials for unknown registries, other ports, or incomplete entries', () => {
    assert.equal(findRegistryCredentials(config, '127.0.0.1:5001'), undefined);
    assert.equal(findRegistryCredentials(config, 'nvcr.io'), undefined);
    assert.equal(findRegistryCredentials(config, 'quay.io'), undefined);
    assert.equal(findRegistryCredentials(config, 'example.com'), undefined);
  });

  it('names credential helpers per registry', () => {
    assert.equal(findCredentialHelper(config, '123.dkr.ecr.us-east-1.amazonaws.com'), 'ecr-login');
    assert.equal(findCredentialHelper(config, 'ghcr.io'), undefined);
    const withStore = parseDockerConfig(JSON.stringify({ credsStore: 'desktop', credHelpers: { 'gcr.io': 'gcloud' } }));
    assert.equal(findCredentialHelper(withStore, 'ghcr.io'), 'desktop');
    assert.equal(findCredentialHelper(withStore, 'gcr.io'), 'gcloud');
  });

  it('records where the config came from', () => {
    assert.equal(config.path, '/home/u/.docker/config.json');
  });

  it('accepts an empty object and ignores an empty credsStore', () => {
    const empty = parseDockerConfig('{"credsStore": ""}');
    assert.deepEqual(empty.auths, {});
    assert.equal(empty.credsStore, undefined);
  });

  it('treats a "__proto__" key as data', () => {
    const odd = parseDockerConfig('{"auths": {"__proto__": {"auth": "dTpw"}}}');
    assert.equal(Object.getPrototypeOf(odd.auths), Object.prototype);
    assert.equal(findRegistryCredentials(odd, '__proto__')?.username, 'u');
  });

  const bad: [string, RegExp][] = [
    ['{', /not valid JSON/],
    ['[]', /JSON object at the top level/],
    ['{"auths": []}', /"auths" must be an object/],
    ['{"auths": {"r.io": "x"}}', /auths.r.io must be an object/],
    ['{"auths": {"r.io": {"auth": "%%%"}}}', /auths.r.io.auth is not base64 of "username:password"/],
    [`{"auths": {"r.io": {"auth": "${b64('nocolon')}"}}}`, /auths.r.io.auth is not base64/],
    ['{"auths": {"r.io": {"username": 5}}}', /auths.r.io.username must be a string/],
    ['{"credsStore": 1}', /"credsStore" must be a string/],
    ['{"credHelpers": {"r.io": 1}}', /credHelpers.r.io must be a string/],
  ];
  for (const [text, why] of bad) {
    it(`rejects ${text}`, () => {
      assert.throws(
        () => parseDockerConfig(text, '/cfg.json'),
        (err: unknown) =>
          err instanceof EnvsealError &&
          err.code === 'docker-config.invalid' &&
          err.exitCode === 2 &&
          err.message.startsWith('/cfg.json: ') &&
          why.test(err.message),
      );
    });
  }
});

describe('normaliseRegistryKey', () => {
  const table: [string, string][] = [
    ['https://index.docker.io/v1/', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['https://ghcr.io', 'ghcr.io'],
    ['http://127.0.0.1:5000/v2/', '127.0.0.1:5000'],
    ['Registry.Example.com:443', 'registry.example.com:443'],
  ];
  for (const [key, host] of table) {
    it(`${key} → ${host}`, () => assert.equal(normaliseRegistryKey(key), host));
  }
});

describe('loadDockerConfig', () => {
  it('reads a file, and treats a missing one as "no credentials"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'envseal-docker-config-'));
    try {
      const path = join(dir, 'config.json');
      const missing = await loadDockerConfig(path);
      assert.deepEqual(missing.auths, {});
      assert.equal(missing.path, path);

      await writeFile(path, JSON.stringify({ auths: { 'r.io': { auth: b64('a:b') } } }));
      const loaded = await loadDockerConfig(path);
      assert.equal(findRegistryCredentials(loaded, 'r.io')?.password, 'b');

      await writeFile(path, 'not json');
      await assert.rejects(loadDockerConfig(path), (err: unknown) => err instanceof EnvsealError && err.message.startsWith(`${path}: not valid JSON`));

      await assert.rejects(
        loadDockerConfig(dir),
        (err: unknown) => err instanceof EnvsealError && err.code === 'docker-config.unreadable' && err.message.includes(dir),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
