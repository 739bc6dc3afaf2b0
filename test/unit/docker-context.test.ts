import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveDockerEndpoint, type EndpointInputs } from '../../src/engines/docker/endpoint.js';
import { sshConfigFor } from '../../src/engines/docker/ssh-config.js';
import { DockerodeEngine } from '../../src/engines/docker/dockerode-engine.js';
import { EnvsealError } from '../../src/core/errors.js';
import { tlsMaterial } from './tls-material.js';

const root = mkdtempSync(join(tmpdir(), 'envseal-contexts-'));
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** A fresh docker config dir with the given contexts (name → meta.json text, or an object) and config.json. */
function configDir(contexts: Record<string, unknown>, config?: unknown, tls?: Record<string, Record<string, string>>): string {
  const dir = join(root, `cfg${counter++}`);
  mkdirSync(dir, { recursive: true });
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  for (const [name, meta] of Object.entries(contexts)) {
    const id = createHash('sha256').update(name).digest('hex');
    mkdirSync(join(dir, 'contexts', 'meta', id), { recursive: true });
    writeFileSync(join(dir, 'contexts', 'meta', id, 'meta.json'), typeof meta === 'string' ? meta : JSON.stringify(meta));
  }
  for (const [name, files] of Object.entries(tls ?? {})) {
    const tlsDir = join(dir, 'contexts', 'tls', createHash('sha256').update(name).digest('hex'), 'docker');
    mkdirSync(tlsDir, { recursive: true });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(tlsDir, file), text);
  }
  return dir;
}

const meta = (name: string, host: string) => ({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } });
const inputs = (dir: string, env: Record<string, string> = {}): EndpointInputs => ({ env, configDir: dir, home: join(root, 'home-none') });

function assertInputError(fn: () => unknown, code: string, ...needles: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof EnvsealError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.exitCode, 2);
    for (const needle of needles) assert.ok(err.message.includes(needle), `${err.message} should name ${needle}`);
    return true;
  });
}

describe('resolveDockerEndpoint: the docker CLI precedence', () => {
  const dir = configDir({ lab: meta('lab', 'unix:///run/lab.sock'), other: meta('other', 'tcp://127.0.0.1:2399') }, { currentContext: 'other' });

  it('DOCKER_HOST beats DOCKER_CONTEXT and currentContext', () => {
    const found = resolveDockerEndpoint(inputs(dir, { DOCKER_HOST: 'unix:///run/host.sock', DOCKER_CONTEXT: 'lab' }));
    assert.deepEqual(found, { address: { socketPath: '/run/host.sock' }, source: 'DOCKER_HOST' });
  });

  it('DOCKER_CONTEXT beats currentContext', () => {
    const found = resolveDockerEndpoint(inputs(dir, { DOCKER_CONTEXT: 'lab' }));
    assert.deepEqual(found, { address: { socketPath: '/run/lab.sock' }, source: 'docker context "lab" (DOCKER_CONTEXT)' });
  });

  it('currentContext of config.json is used when nothing in the environment names an engine', () => {
    const found = resolveDockerEndpoint(inputs(dir));
    assert.deepEqual(found.address, { host: 'http://127.0.0.1', port: 2399 });
    assert.equal(found.source, `docker context "other" (currentContext in ${join(dir, 'config.json')})`);
  });

  it('"default" is the local socket, or DOCKER_HOST-less env settings', () => {
    assert.deepEqual(resolveDockerEndpoint(inputs(dir, { DOCKER_CONTEXT: 'default' })), {
      address: { socketPath: '/var/run/docker.sock' },
      source: 'docker context "default" (DOCKER_CONTEXT)',
    });
    const none = configDir({});
    assert.deepEqual(resolveDockerEndpoint(inputs(none)), { address: { socketPath: '/var/run/docker.sock' }, source: 'the default socket' });
    const useDefault = configDir({}, { currentContext: 'default', auths: {} });
    assert.equal(resolveDockerEndpoint(inputs(useDefault)).address.socketPath, '/var/run/docker.sock');
  });

  it('reads a context TLS material and speaks https to its tcp endpoint', () => {
    const pem = (name: string) => readFileSync(join(tlsMaterial().client, name), 'utf8');
    const tlsDir = configDir({ secure: meta('secure', 'tcp://127.0.0.1:2376') }, undefined, {
      secure: { 'ca.pem': pem('ca.pem'), 'cert.pem': pem('cert.pem'), 'key.pem': pem('key.pem') },
    });
    const found = resolveDockerEndpoint(inputs(tlsDir, { DOCKER_CONTEXT: 'secure' }));
    assert.equal(found.address.host, 'https://127.0.0.1');
    assert.equal(found.address.port, 2376);
    assert.equal(found.address.tls?.ca?.toString(), pem('ca.pem'));
    assert.equal(found.address.tls?.cert?.toString(), pem('cert.pem'));
    assert.equal(found.address.tls?.key?.toString(), pem('key.pem'));
  });

  it('a DOCKER_TLS_VERIFY of the environment does not leak into a named context', () => {
    const found = resolveDockerEndpoint(inputs(dir, { DOCKER_CONTEXT: 'other', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexistent' }));
    assert.deepEqual(found.address, { host: 'http://127.0.0.1', port: 2399 });
  });
});

describe('resolveDockerEndpoint: a context that cannot be read is exit 2, never the local socket', () => {
  it('an unknown name (DOCKER_CONTEXT or currentContext)', () => {
    const dir = configDir({}, { currentContext: 'gone' });
    assertInputError(() => resolveDockerEndpoint(inputs(dir, { DOCKER_CONTEXT: 'nosuch' })), 'docker.context-unknown', '"nosuch"', 'DOCKER_CONTEXT');
    assertInputError(() => resolveDockerEndpoint(inputs(dir)), 'docker.context-unknown', '"gone"', 'currentContext');
  });

  it('meta.json that is not JSON, or names no docker endpoint', () => {
    const dir = configDir({
      bad: '{not json',
      empty: { Name: 'empty', Endpoints: {} },
      skip: { Endpoints: { docker: { Host: 'tcp://h:2376', SkipTLSVerify: true } } },
    });
    assertInputError(() => resolveDockerEndpoint(inputs(dir, { DOCKER_CONTEXT: 'bad' })), 'docker.context-invalid', '"bad"', 'meta.json', 'not valid JSON');
    assertInputError(() => resolveDockerEndpoint(inputs(dir, { DOCKER_CONTEXT: 'empty' })), 'docker.context-invalid', 'Endpoints.docker.Host');
    assertInputError(() => resolveDockerEndpoint(inputs(dir, { DOCKER_CONTEXT: 'skip' })), 'docker.context-invalid', 'SkipTLSVerify');
  });

  it('an endpoint it cannot speak to, and a config.json that is not JSON', () => {
    const dir = configDir({ pipe: meta('pipe', 'npipe:////./pipe/docker_engine') }, '{oops');
    assertInputError(() => resolveDockerEndpoint(inputs(dir, { DOCKER_CONTEXT: 'pipe' })), 'docker.host-invalid', 'docker context "pipe"', 'npipe:');
    assertInputError(() => resolveDockerEndpoint(inputs(dir)), 'docker-config.invalid', join(dir, 'config.json'));
  });

  it('the engine reports the resolution error on first use, not when constructed', async () => {
    const dir = configDir({}, { currentContext: 'gone' });
    const engine = new DockerodeEngine({ locate: () => resolveDockerEndpoint(inputs(dir)) });
    await assert.rejects(engine.info(), (err: unknown) => err instanceof EnvsealError && err.code === 'docker.context-unknown' && err.exitCode === 2);
  });

  it('--verbose names the engine and what chose it', async () => {
    const dir = configDir({ dead: meta('dead', `unix://${join(root, 'dead.sock')}`) });
    const lines: string[] = [];
    const logger = { info: () => {}, warn: () => {}, progress: () => {}, debug: (m: string) => lines.push(m) };
    const engine = new DockerodeEngine({ locate: () => resolveDockerEndpoint(inputs(dir, { DOCKER_CONTEXT: 'dead' })), logger });
    await assert.rejects(
      engine.info(),
      (err: unknown) => err instanceof EnvsealError && err.code === 'docker.unreachable' && err.message.includes(join(root, 'dead.sock')),
    );
    assert.deepEqual(lines, [`Docker engine: ${join(root, 'dead.sock')} (from docker context "dead" (DOCKER_CONTEXT))`]);
  });
});

describe('ssh:// engines', () => {
  const home = join(root, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  writeFileSync(
    join(home, '.ssh', 'config'),
    ['# lab', 'Host builder gpu-*', '  HostName 127.0.0.1', '  User alice', '  Port 2222', '  IdentityFile ~/.ssh/lab_key', 'Host *', '  User nobody', ''].join(
      '\n',
    ),
  );
  writeFileSync(join(home, '.ssh', 'lab_key'), 'PRIVATE KEY');

  it('applies ~/.ssh/config (HostName, User, Port, IdentityFile) and the agent; the URL wins', () => {
    const found = resolveDockerEndpoint({ env: { DOCKER_HOST: 'ssh://builder', SSH_AUTH_SOCK: '/run/agent.sock' }, configDir: root, home });
    assert.equal(found.address.ssh?.host, '127.0.0.1');
    assert.equal(found.address.ssh?.username, 'alice');
    assert.equal(found.address.ssh?.port, 2222);
    assert.equal(found.address.ssh?.agent, '/run/agent.sock');
    assert.equal(found.address.ssh?.privateKey?.toString(), 'PRIVATE KEY');
    const explicit = resolveDockerEndpoint({ env: { DOCKER_HOST: 'ssh://bob@gpu-1:2200' }, configDir: root, home });
    assert.equal(explicit.address.ssh?.username, 'bob');
    assert.equal(explicit.address.ssh?.port, 2200);
    assert.equal(explicit.address.ssh?.host, '127.0.0.1');
    const other = resolveDockerEndpoint({ env: { DOCKER_HOST: 'ssh://elsewhere' }, configDir: root, home });
    assert.deepEqual({ ...other.address.ssh }, { alias: 'elsewhere', host: 'elsewhere', port: 22, username: 'nobody' });
  });

  it('parses Host patterns with negation and first-value-wins', () => {
    const text = 'Host !secret *.lab\n Port 1\nHost *\n Port 2\n HostName x\n';
    assert.equal(sshConfigFor(text, 'a.lab', 'cfg').port, 1);
    assert.equal(sshConfigFor(text, 'secret', 'cfg').port, 2);
    assertInputError(() => sshConfigFor('Port many', 'h', 'cfg'), 'docker.ssh-config', 'cfg:1');
  });

  it('a missing IdentityFile without an agent is exit 2', () => {
    const home2 = join(root, 'home2');
    mkdirSync(join(home2, '.ssh'), { recursive: true });
    writeFileSync(join(home2, '.ssh', 'config'), 'Host h\n IdentityFile ~/.ssh/missing\n');
    assertInputError(() => resolveDockerEndpoint({ env: { DOCKER_HOST: 'ssh://h' }, configDir: root, home: home2 }), 'docker.ssh-identity', '~/.ssh/missing');
  });
});
