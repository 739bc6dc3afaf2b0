/**
 * Issue 13, "a remote engine that drops mid-build or mid-run": envseal talks to the lab's real engine through a
 * byte-level proxy on a unix socket (what a remote engine's network is to the client), and the proxy cuts the
 * connection that carries the build, or the one waiting for the container, a moment after the request went by.
 * The build exits 3 and tags nothing; the run exits 3 and its record marks the run as failed with the cause.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, requireLab } from '../lab/lab.js';

const NAME = 'engine-drop-e2e';

interface DropProxy {
  socketPath: string;
  /** Cut the connection carrying a request whose first line matches, `afterMs` after it was seen. */
  dropOn(pattern: RegExp | null, afterMs?: number): void;
  dropped: string[];
  close(): Promise<void>;
}

async function startDropProxy(socketPath: string, upstream = '/var/run/docker.sock'): Promise<DropProxy> {
  let rule: { pattern: RegExp; afterMs: number } | null = null;
  const dropped: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const engine = createConnection(upstream);
    for (const s of [client, engine]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('data', (chunk: Buffer) => {
      const line = /^(GET|POST|PUT|DELETE|HEAD) (\S+)/m.exec(chunk.toString('latin1'));
      if (rule && line && rule.pattern.test(`${line[1]} ${line[2]}`)) {
        const seen = `${line[1]} ${line[2]}`;
        setTimeout(() => {
          dropped.push(seen);
          client.destroy();
          engine.destroy();
        }, rule.afterMs);
      }
    });
    client.pipe(engine);
    engine.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    dropped,
    dropOn(pattern, afterMs = 1000) {
      rule = pattern ? { pattern, afterMs } : null;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('a remote engine that drops mid-build or mid-run (issue 13)', { concurrency: false, timeout: 15 * 60_000 }, () => {
  let project: TempProject;
  let proxy: DropProxy;
  let imageId = '';
  const envseal = (args: string[], viaProxy = true) =>
    runEnvseal(args, {
      cwd: project.dir,
      env: { ENVSEAL_CACHE_DIR: project.path('.cache'), ...(viaProxy ? { DOCKER_HOST: `unix://${proxy.socketPath}` } : {}) },
      timeoutMs: 10 * 60_000,
    });
  const tagsOf = async () => (await dockerCli(['images', '--format', '{{.Repository}}:{{.Tag}}', `envseal/${NAME}`], { check: true })).stdout.trim();

  before(async () => {
    await requireLab();
    project = await makeTempProject({
      'envseal.yaml': `version: 1\nname: ${NAME}\nbase: ${LAB_BASE_IMAGE}\napt:\n  packages: [jq]\ntargets:\n  deploy:\n    command: [jq, --version]\n`,
    });
    proxy = await startDropProxy(join(project.dir, '..', `envseal-drop-${process.pid}.sock`));
    for (const step of [['lock'], ['generate']]) {
      const res = await envseal(step, false);
      assert.equal(res.code, 0, res.stderr);
    }
  });

  after(async () => {
    await proxy?.close();
    if (imageId) {
      const ours = (await dockerCli(['ps', '-aq', '--filter', `ancestor=${imageId}`])).stdout.trim().split('\n').filter(Boolean);
      if (ours.length) await dockerCli(['rm', '-f', ...ours]);
    }
    const tags = await tagsOf().catch(() => '');
    if (tags) await dockerCli(['rmi', '-f', ...tags.split('\n')]);
    await project?.cleanup();
  });

  test('the connection drops while the engine builds: exit 3 naming the engine, nothing tagged', async () => {
    proxy.dropOn(/^POST (\/v[\d.]+)?\/build\b/, 3000);
    const started = Date.now();
    const res = await envseal(['build', '--target', 'deploy', '--no-cache']);
    proxy.dropOn(null);
    assert.equal(res.code, 3, res.stderr);
    assert.ok(
      proxy.dropped.some((d) => d.includes('/build')),
      'the build connection was cut',
    );
    assert.match(res.stderr, /engine|socket|connection/i);
    assert.ok(Date.now() - started < 120_000, 'a dropped build ends promptly');
    assert.equal(await tagsOf(), '', 'nothing tagged');
  });

  test('the connection drops while the container runs: exit 3, and the record says the run failed and why', async () => {
    const built = await envseal(['build', '--target', 'deploy', '--json'], false);
    assert.equal(built.code, 0, built.stderr);
    ({ imageId } = JSON.parse(built.stdout) as { imageId: string });
    proxy.dropOn(/^POST (\/v[\d.]+)?\/containers\/[0-9a-f]+\/wait\b/, 1500);
    const res = await envseal(['run', '--target', 'deploy', '--', 'sh', '-c', 'sleep 20']);
    proxy.dropOn(null);
    assert.equal(res.code, 3, `${res.stdout}\n${res.stderr}`);
    assert.ok(
      proxy.dropped.some((d) => d.includes('/wait')),
      'the wait connection was cut',
    );
    assert.match(res.stderr, /run record: \.envseal\/runs\//);
    const files = await readdir(project.path('.envseal/runs'));
    assert.equal(files.length, 1);
    const record = JSON.parse(await readFile(project.path(`.envseal/runs/${files[0]}`), 'utf8'));
    assert.equal(record.outcome.exitCode, null);
    assert.ok(record.outcome.error, 'the record carries the failure');
    assert.match(record.outcome.error.code, /^(docker|engine)\./);
    assert.ok(record.outcome.error.message.length > 0);
  });
});
