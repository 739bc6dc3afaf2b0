import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DockerodeEngine } from '../../src/engines/docker/dockerode-engine.js';
import { addressFromEnv, parseDockerHost } from '../../src/engines/docker/endpoint.js';
import { EnvsealError } from '../../src/core/errors.js';
import { tlsMaterial } from './tls-material.js';

const hostInputs = { env: {}, home: '/nonexistent' };

describe('parseDockerHost', () => {
  it('maps the DOCKER_HOST forms', () => {
    assert.deepEqual(addressFromEnv({}, '/nonexistent'), { socketPath: '/var/run/docker.sock' });
    assert.deepEqual(addressFromEnv({ DOCKER_HOST: '' }, '/nonexistent'), { socketPath: '/var/run/docker.sock' });
    assert.deepEqual(parseDockerHost('unix:///run/user/1000/docker.sock', 'DOCKER_HOST', hostInputs), { socketPath: '/run/user/1000/docker.sock' });
    assert.deepEqual(parseDockerHost('tcp://127.0.0.1:2375', 'DOCKER_HOST', hostInputs), { host: 'http://127.0.0.1', port: 2375 });
    assert.deepEqual(parseDockerHost('tcp://docker.internal', 'DOCKER_HOST', hostInputs), { host: 'http://docker.internal', port: 2375 });
    assert.deepEqual(parseDockerHost('https://docker.internal', 'DOCKER_HOST', hostInputs), { host: 'https://docker.internal', port: 2376 });
  });

  it('rejects what it cannot connect to, with exit code 2', () => {
    for (const value of ['ssh://me@host/path', 'npipe:////./pipe/docker_engine', 'tcp://', 'host:2375/x']) {
      assert.throws(
        () => parseDockerHost(value, 'DOCKER_HOST', hostInputs),
        (err: unknown) => err instanceof EnvsealError && err.code === 'docker.host-invalid' && err.exitCode === 2 && err.message.includes(value),
        value,
      );
    }
  });
});

describe('addressFromEnv', () => {
  const certs = mkdtempSync(join(tmpdir(), 'envseal-certs-'));
  after(() => rmSync(certs, { recursive: true, force: true }));
  const material = tlsMaterial();
  cpSync(material.client, certs, { recursive: true });
  const pem = (name: string) => readFileSync(join(material.client, name), 'utf8');

  it('uses the default socket without DOCKER_HOST, whatever else is set', () => {
    assert.deepEqual(addressFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs }, '/nonexistent'), { socketPath: '/var/run/docker.sock' });
  });

  it('speaks https with the certificates from DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set', () => {
    const options = addressFromEnv({ DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs }, '/nonexistent');
    assert.equal(options.host, 'https://10.0.0.5');
    assert.equal(options.port, 2376);
    assert.equal(options.tls?.ca?.toString(), pem('ca.pem'));
    assert.equal(options.tls?.cert?.toString(), pem('cert.pem'));
    assert.equal(options.tls?.key?.toString(), pem('key.pem'));
  });

  it('files that are read but unusable are exit 2 naming the file: not PEM, a key of another certificate, a directory', () => {
    const broken = (name: string, files: Record<string, string | null>, code: string, message: RegExp) => {
      const dir = join(certs, name);
      cpSync(material.client, dir, { recursive: true });
      for (const [file, text] of Object.entries(files)) {
        rmSync(join(dir, file), { force: true });
        if (text === null) mkdirSync(join(dir, file));
        else writeFileSync(join(dir, file), text);
      }
      assert.throws(
        () => addressFromEnv({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir }, '/nonexistent'),
        (err: unknown) => err instanceof EnvsealError && err.code === code && err.exitCode === 2 && message.test(err.message),
        name,
      );
    };
    broken('garbage-key', { 'key.pem': 'junk\n' }, 'docker.tls-files', /garbage-key\/key\.pem \(DOCKER_CERT_PATH\) cannot be used .*: not a PEM private key/);
    broken('garbage-ca', { 'ca.pem': 'junk\n' }, 'docker.tls-files', /garbage-ca\/ca\.pem .*: not a PEM certificate/);
    broken(
      'other-key',
      { 'key.pem': readFileSync(join(material.other, 'client', 'key.pem'), 'utf8') },
      'docker.tls-files',
      /other-key\/key\.pem .*: it is not the private key of cert\.pem/,
    );
    broken('dir-cert', { 'cert.pem': null }, 'docker.tls-files', /cannot read .*dir-cert\/cert\.pem \(DOCKER_CERT_PATH\).*EISDIR/);
  });

  it('keeps plain http for tcp:// without DOCKER_TLS_VERIFY', () => {
    assert.deepEqual(addressFromEnv({ DOCKER_HOST: 'tcp://10.0.0.5:2375', DOCKER_CERT_PATH: certs }, '/nonexistent'), { host: 'http://10.0.0.5', port: 2375 });
  });

  it('fails with the path when DOCKER_TLS_VERIFY is set but the certificates are missing', () => {
    const empty = join(certs, 'none');
    assert.throws(
      () => addressFromEnv({ DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: empty }, '/nonexistent'),
      (err: unknown) => err instanceof EnvsealError && err.code === 'docker.tls-files' && err.exitCode === 2 && err.message.includes(join(empty, 'ca.pem')),
    );
  });
});

describe('DockerodeEngine connection errors (no engine needed)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envseal-engine-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function assertUnreachable(engine: DockerodeEngine, where: string, reason: RegExp): Promise<void> {
    await assert.rejects(engine.info(), (err: unknown) => {
      assert.ok(err instanceof EnvsealError, String(err));
      assert.equal(err.code, 'docker.unreachable');
      assert.equal(err.exitCode, 3);
      assert.ok(err.message.startsWith(`cannot reach the Docker engine at ${where}: `), err.message);
      assert.match(err.message, reason);
      assert.match(err.hint ?? '', /bash \.ci\/lab-up/);
      assert.match(err.hint ?? '', /DOCKER_HOST/);
      return true;
    });
  }

  it('maps a missing socket to docker.unreachable, for every kind of call', async () => {
    const socketPath = join(dir, 'missing.sock');
    const engine = new DockerodeEngine({ socketPath });
    await assertUnreachable(engine, socketPath, /no such socket \(ENOENT\)/);
    for (const call of [
      () => engine.inspectImage('x:1'),
      () => engine.tagImage('x:1', 'y:1'),
      () => engine.removeImage('x:1'),
      () => engine.pullImage('x:1'),
      () => engine.pushImage('127.0.0.1:5000/x:1'),
      () => engine.exportImage('x:1'),
      () => engine.runContainer({ image: 'x:1', cmd: ['true'] }),
    ]) {
      await assert.rejects(call(), (err: unknown) => err instanceof EnvsealError && err.code === 'docker.unreachable' && err.exitCode === 3);
    }
  });

  it('maps a refused connection (a socket file nobody listens on) to docker.unreachable', async () => {
    const socketPath = join(dir, 'dead.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    // Closing the server leaves no listener; on Linux the path then refuses (or no longer exists).
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await assertUnreachable(new DockerodeEngine({ socketPath }), socketPath, /\((ECONNREFUSED|ENOENT)\)$/);
  });

  it('maps a refused TCP connection to docker.unreachable', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await assertUnreachable(new DockerodeEngine({ host: 'tcp://127.0.0.1', port }), `http://127.0.0.1:${port}`, /connection refused \(ECONNREFUSED\)/);
  });

  it('a failed TLS handshake is docker.tls-failed (exit 3) saying which side: an untrusted engine certificate, a refused client certificate', async () => {
    const material = tlsMaterial();
    const read = (path: string) => readFileSync(path);
    // A TLS server with the lab's engine certificate that, like dockerd --tlsverify, wants a client certificate of its CA.
    const server = createTlsServer({
      key: read(join(material.dir, 'server-key.pem')),
      cert: read(join(material.dir, 'server-cert.pem')),
      ca: read(join(material.dir, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
      // TLS 1.2: the refusal comes as an alert inside the handshake (under 1.3 Node's client sees only a reset).
      maxVersion: 'TLSv1.2',
    });
    server.on('secureConnection', (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK'));
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const engineWith = (ca: string, client: string) =>
      new DockerodeEngine({
        host: 'https://127.0.0.1',
        port,
        tls: { ca: read(join(ca, 'ca.pem')), cert: read(join(client, 'cert.pem')), key: read(join(client, 'key.pem')) },
      });
    const assertTls = async (engine: DockerodeEngine, reason: RegExp, hint: RegExp) =>
      assert.rejects(engine.info(), (err: unknown) => {
        assert.ok(err instanceof EnvsealError, String(err));
        assert.equal(err.code, 'docker.tls-failed', err.message);
        assert.equal(err.exitCode, 3);
        assert.ok(err.message.startsWith(`cannot reach the Docker engine at https://127.0.0.1:${port}: TLS: `), err.message);
        assert.match(err.message, reason);
        assert.match(err.hint ?? '', hint);
        return true;
      });
    try {
      await assertTls(
        engineWith(material.other, material.client),
        /its certificate is not trusted: .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\)/,
        /ca\.pem/,
      );
      await assertTls(
        engineWith(material.client, join(material.other, 'client')),
        /the engine (refused the connection: .*\(ERR_SSL_\w*ALERT\w*\)|closed the connection during the handshake \(ECONNRESET\))/,
        /--tlscacert/,
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('ignores DOCKER_HOST in the environment: only the options decide', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
    try {
      const socketPath = join(dir, 'only-this.sock');
      await assertUnreachable(new DockerodeEngine({ socketPath }), socketPath, /ENOENT/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it('rejects a reference that could escape the API path before calling the engine', async () => {
    const engine = new DockerodeEngine({ socketPath: join(dir, 'missing.sock') });
    for (const ref of ['../../containers/x', 'x?force=1', 'x#y', '', ' x']) {
      await assert.rejects(
        engine.inspectImage(ref),
        (err: unknown) => err instanceof EnvsealError && err.code === 'docker.bad-reference' && err.exitCode === 2,
        ref,
      );
    }
  });

  it('refuses to push a reference without a tag', async () => {
    const engine = new DockerodeEngine({ socketPath: join(dir, 'missing.sock') });
    await assert.rejects(engine.pushImage('127.0.0.1:5000/x'), (err: unknown) => err instanceof EnvsealError && err.code === 'docker.push-needs-tag');
    await assert.rejects(
      engine.pushImage(`127.0.0.1:5000/x@sha256:${'a'.repeat(64)}`),
      (err: unknown) => err instanceof EnvsealError && err.code === 'docker.push-needs-tag',
    );
  });

  it('rejects relative bind paths before creating anything', async () => {
    const engine = new DockerodeEngine({ socketPath: join(dir, 'missing.sock') });
    await assert.rejects(
      engine.runContainer({ image: 'x:1', cmd: ['true'], binds: [{ source: 'data', target: '/data' }] }),
      (err: unknown) => err instanceof EnvsealError && err.code === 'run.bad-bind' && err.exitCode === 2,
    );
  });
});
