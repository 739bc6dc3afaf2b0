/**
 * How DockerodeEngine copes with stream failures a healthy engine cannot be made to produce on demand: a
 * connection cut mid-build, a stream that ends without an image ID, malformed lines, a stream that hangs,
 * a push without a digest. A small HTTP server on a unix socket answers the Engine API paths with these
 * recorded-shape bodies. Real-engine behaviour is covered by test/e2e/docker-engine-*.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { BuildEvent } from '../../src/core/ports.js';
import { DockerodeEngine } from '../../src/engines/docker/dockerode-engine.js';
import { EnvsealError, inputError } from '../../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'envseal-fake-engine-'));
const socketPath = join(dir, 'engine.sock');
const ID = `sha256:${'e'.repeat(64)}`;
let server: Server;
const seen: { path: string; query: URLSearchParams; headers: IncomingMessage['headers']; body: Buffer }[] = [];

type Scenario = (res: ServerResponse) => void | Promise<void>;

/** What GET /info reports as `Driver` and `DriverStatus`. */
let engineDriver: [string, string[][]] = ['overlay2', [['Backing Filesystem', 'extfs']]];

function writeLines(res: ServerResponse, lines: string[]): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  for (const line of lines) res.write(`${line}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const BUILD_SCENARIOS: Record<string, Scenario> = {
  cut: (res) => {
    writeLines(res, [
      '{"stream":"Step 1/2 : FROM x"}',
      '{"stream":"\\n"}',
      '{"stream":"Step 2/2 : RUN make"}',
      '{"stream":"\\n"}',
      '{"stream":"compiling\\n"}',
    ]);
    setTimeout(() => res.socket?.destroy(), 20);
  },
  noid: (res) => {
    writeLines(res, ['{"stream":"Step 1/1 : FROM x"}', '{"stream":"\\n"}', '{"stream":"Successfully built 123\\n"}']);
    res.end();
  },
  malformed: (res) => {
    writeLines(res, [
      '{"stream":"Step 1/1 : FROM x"}',
      '{"stream":"\\n"}',
      '<html>proxy hiccup</html>',
      '{"stream":"still fine\\n"}',
      `{"aux":{"ID":"${ID}"}}`,
    ]);
    res.end();
  },
  split: async (res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const body = Buffer.from(`{"stream":"Step 1/1 : RUN echo ✓"}\n{"stream":"\\n"}\n{"stream":"✓ done\\n"}\n{"aux":{"ID":"${ID}"}}\n`);
    for (let i = 0; i < body.length; i += 3) {
      res.write(body.subarray(i, i + 3));
      await sleep(1);
    }
    res.end();
  },
  reject: (res) => {
    res.writeHead(500, { 'Content-Type': 'application/json' });
    res.end('{"message":"Cannot locate specified Dockerfile: envseal.Dockerfile"}\n');
  },
  hang: (res) => {
    writeLines(res, ['{"stream":"Step 1/1 : RUN sleep infinity"}', '{"stream":"\\n"}']);
  },
};

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://engine');
      seen.push({ path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks) });
      if (url.pathname === '/build') {
        const scenario = BUILD_SCENARIOS[url.searchParams.get('t') ?? ''];
        if (scenario) return void scenario(res);
      }
      const silentPull = url.pathname === '/images/create' && url.searchParams.get('fromImage') === 'silent';
      if (silentPull || url.pathname === '/images/silent/get') {
        // Starts answering, then says nothing more (a stuck pull or export); other pulls get the 404 below.
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return void res.write(silentPull ? '{"status":"Pulling from x"}\n' : 'partial tar');
      }
      if (url.pathname.endsWith('/info') || url.pathname.endsWith('/version')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const info = { ServerVersion: '27.0.0', Driver: engineDriver[0], DriverStatus: engineDriver[1] };
        return void res.end(JSON.stringify(url.pathname.endsWith('/info') ? info : { Version: '27.0.0', ApiVersion: '1.46', Os: 'linux', Arch: 'amd64' }));
      }
      if (url.pathname.endsWith('/push')) {
        writeLines(res, ['{"status":"The push refers to repository [reg.example/x]"}', '{"status":"Pushed","progressDetail":{},"id":"abc"}']);
        return void res.end();
      }
      if (url.pathname === '/images/load') {
        writeLines(res, ['{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}']);
        return void res.end();
      }
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"message":"page not found"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const engine = new DockerodeEngine({
  socketPath,
  authFor: (registry) => (registry === 'reg.example' ? { username: 'ci', password: 's3cret' } : undefined),
});
const context = () => Readable.from([Buffer.alloc(1024)]);

function buildError(code: string, message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof EnvsealError, String(err));
    assert.equal(err.code, code, err.message);
    assert.equal(err.exitCode, 3);
    assert.match(err.message, message);
    return true;
  };
}

describe('DockerodeEngine against a misbehaving engine', () => {
  it('fails when the connection breaks mid-build, naming the step and keeping its output', async () => {
    await assert.rejects(engine.build(context(), { dockerfile: 'Dockerfile', tags: ['cut'] }), (err: unknown) => {
      buildError('build.failed', /^build failed: the connection to the Docker engine at .* broke during step 2\/2: /)(err);
      assert.deepEqual((err as EnvsealError).details, ['compiling']);
      return true;
    });
  });

  it('fails when the stream ends without an image ID', async () => {
    await assert.rejects(engine.build(context(), { dockerfile: 'Dockerfile', tags: ['noid'] }), buildError('build.failed', /ended without an image ID/));
  });

  it('treats a malformed line as output and still succeeds', async () => {
    const events: BuildEvent[] = [];
    const result = await engine.build(context(), { dockerfile: 'Dockerfile', tags: ['malformed'], onEvent: (e) => events.push(e) });
    assert.equal(result.imageId, ID);
    assert.ok(result.log.includes('<html>proxy hiccup</html>'));
    assert.ok(events.some((e) => e.kind === 'output' && e.text === 'still fine'));
  });

  it('reassembles lines and characters split into tiny chunks', async () => {
    const result = await engine.build(context(), { dockerfile: 'Dockerfile', tags: ['split'] });
    assert.equal(result.imageId, ID);
    assert.ok(result.log.includes('✓ done'));
  });

  it('reports an HTTP-level rejection with the daemon message', async () => {
    await assert.rejects(
      engine.build(context(), { dockerfile: 'envseal.Dockerfile', tags: ['reject'] }),
      buildError('build.failed', /^build failed: the Docker engine rejected the build: Cannot locate specified Dockerfile: envseal\.Dockerfile$/),
    );
  });

  it('times out a build that stops making progress', async () => {
    const started = Date.now();
    await assert.rejects(
      engine.build(context(), { dockerfile: 'Dockerfile', tags: ['hang'], timeoutMs: 300 }),
      buildError('build.timeout', /^build stopped after 300 ms at step 1\/1 \(RUN sleep infinity\)$/),
    );
    assert.ok(Date.now() - started < 5000);
  });

  it('cancels a build that sends nothing for the silence limit (exit 3), naming the step', async () => {
    const quiet = new DockerodeEngine({ socketPath, streamIdleTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(
      quiet.build(context(), { dockerfile: 'Dockerfile', tags: ['hang'] }),
      buildError('build.timeout', /^build cancelled: the Docker engine at .* sent nothing for 300 ms at step 1\/1 \(RUN sleep infinity\)$/),
    );
    assert.ok(Date.now() - started < 3000);
  });

  it('cancels a pull that goes silent, and an export whose body stops', async () => {
    const quiet = new DockerodeEngine({ socketPath, streamIdleTimeoutMs: 300 });
    await assert.rejects(quiet.pullImage('silent:1'), buildError('docker.timeout', /^Docker engine: pull silent:1 sent nothing for 300 ms; cancelled$/));
    const exported = await quiet.exportImage('silent');
    const chunks: Buffer[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of exported) chunks.push(chunk as Buffer);
      })(),
      buildError('docker.timeout', /^Docker engine: export image silent sent nothing for 300 ms$/),
    );
    assert.equal(Buffer.concat(chunks).toString(), 'partial tar');
  });

  it('aborts a build on the signal', async () => {
    const controller = new AbortController();
    const build = engine.build(context(), {
      dockerfile: 'Dockerfile',
      tags: ['hang'],
      signal: controller.signal,
      onEvent: (event) => {
        if (event.kind === 'step') setTimeout(() => controller.abort(), 10);
      },
    });
    await assert.rejects(build, buildError('build.aborted', /^build cancelled at step 1\/1/));
  });

  it('sends the query the Engine API expects', async () => {
    await engine.build(context(), {
      dockerfile: 'sub/envseal.Dockerfile',
      tags: ['malformed', 'second:tag'],
      target: 'runtime',
      networkMode: 'host',
      noCache: true,
      pull: true,
      platform: 'linux/amd64',
      labels: { 'org.envseal.fingerprint': 'sha256:abc' },
      buildArgs: { PIP_INDEX: 'http://127.0.0.1:8080/simple' },
    });
    const request = seen.filter((r) => r.path === '/build').pop()!;
    assert.equal(request.headers['content-type'], 'application/tar');
    assert.equal(request.body.length, 1024, 'the context is the request body');
    const q = request.query;
    assert.deepEqual(q.getAll('t'), ['malformed', 'second:tag']);
    assert.deepEqual(Object.fromEntries([...q.entries()].filter(([key]) => key !== 't')), {
      dockerfile: 'sub/envseal.Dockerfile',
      version: '1',
      rm: 'true',
      forcerm: 'true',
      target: 'runtime',
      networkmode: 'host',
      nocache: 'true',
      pull: 'true',
      platform: 'linux/amd64',
      labels: '{"org.envseal.fingerprint":"sha256:abc"}',
      buildargs: '{"PIP_INDEX":"http://127.0.0.1:8080/simple"}',
    });
  });

  it('fails a push whose stream reports no digest, sending the registry credentials', async () => {
    await assert.rejects(engine.pushImage('reg.example/x:1'), buildError('docker.push-failed', /ended without a manifest digest/));
    const request = seen.filter((r) => r.path === '/images/reg.example/x/push').pop()!;
    const auth = JSON.parse(Buffer.from(String(request.headers['x-registry-auth']), 'base64url').toString('utf8'));
    assert.deepEqual(auth, { username: 'ci', password: 's3cret', serveraddress: 'reg.example' });
  });

  it('sends an anonymous X-Registry-Auth when there are no credentials', async () => {
    await assert.rejects(engine.pushImage('other.example/x:1'));
    const request = seen.filter((r) => r.path === '/images/other.example/x/push').pop()!;
    assert.equal(Buffer.from(String(request.headers['x-registry-auth']), 'base64url').toString('utf8'), '{}');
  });

  it('pulls by the parts core/image-ref.ts parses: the name, the digest in `tag`, credentials of its registry', async () => {
    const digest = `sha256:${'d'.repeat(64)}`;
    await assert.rejects(engine.pullImage(`reg.example/team/x:1@${digest}`, { platform: 'linux/amd64' }), buildError('docker.pull-failed', /page not found/));
    const request = seen.filter((r) => r.path === '/images/create').pop()!;
    assert.deepEqual(Object.fromEntries(request.query), { fromImage: 'reg.example/team/x', tag: digest, platform: 'linux/amd64' });
    const auth = JSON.parse(Buffer.from(String(request.headers['x-registry-auth']), 'base64url').toString('utf8'));
    assert.equal(auth.serveraddress, 'reg.example');
  });

  it('sends an identity token (from a credential helper) as identitytoken, without a password', async () => {
    const tokenEngine = new DockerodeEngine({ socketPath, authFor: () => ({ username: '', password: '', identityToken: 'refresh-1' }) });
    await assert.rejects(tokenEngine.pushImage('tok.example/x:1'));
    const request = seen.filter((r) => r.path === '/images/tok.example/x/push').pop()!;
    const auth = JSON.parse(Buffer.from(String(request.headers['x-registry-auth']), 'base64url').toString('utf8'));
    assert.deepEqual(auth, { identitytoken: 'refresh-1', serveraddress: 'tok.example' });
  });

  it('fails the pull when the credential lookup fails, without calling the engine', async () => {
    const before = seen.length;
    const failing = new DockerodeEngine({
      socketPath,
      authFor: () => Promise.reject(inputError('registry.credential-helper-missing', 'credential helper docker-credential-x is not installed')),
    });
    await assert.rejects(failing.pullImage('reg.example/x:1'), (err: unknown) => err instanceof EnvsealError && err.exitCode === 2);
    assert.equal(seen.length, before);
  });

  it('asks for Docker Hub credentials under the normalised registry name', async () => {
    const asked: string[] = [];
    const hub = new DockerodeEngine({ socketPath, authFor: (registry) => void asked.push(registry) });
    await assert.rejects(hub.pullImage('index.docker.io/org/img:1'));
    await assert.rejects(hub.pullImage('python:3.11'));
    assert.deepEqual(asked, ['docker.io', 'docker.io']);
    assert.deepEqual(Object.fromEntries(seen.filter((r) => r.path === '/images/create').pop()!.query), { fromImage: 'python', tag: '3.11' });
  });

  it('rejects a malformed reference before sending anything, as docker.bad-reference', async () => {
    const before = seen.length;
    for (const call of [
      () => engine.pullImage('Team/X:1'),
      () => engine.pushImage('reg.example/x:-bad'),
      () => engine.tagImage('abc123', 'reg.example/UP:1'),
    ]) {
      await assert.rejects(call(), (err: unknown) => err instanceof EnvsealError && err.code === 'docker.bad-reference' && err.exitCode === 2);
    }
    assert.equal(seen.length, before);
    await assert.rejects(engine.pushImage('Reg.example/Team/x:1'), {
      message: 'cannot push "Reg.example/Team/x:1": repository name "Team/x" must be lowercase',
    });
  });

  it('fails a load whose stream carries an error', async () => {
    await assert.rejects(engine.loadImage(Readable.from([Buffer.alloc(512)])), buildError('docker.load-failed', /^loading the image failed: unexpected EOF$/));
  });
});

it('info: a graph driver is the classic image store, containerd snapshotters the containerd one', async () => {
  engineDriver = ['overlay2', [['Backing Filesystem', 'extfs']]];
  const classic = await engine.info();
  assert.equal(classic.storageDriver, 'overlay2');
  assert.equal(classic.imageStore, 'classic');
  engineDriver = ['overlayfs', [['driver-type', 'io.containerd.snapshotter.v1']]];
  assert.equal((await engine.info()).imageStore, 'containerd');
});
