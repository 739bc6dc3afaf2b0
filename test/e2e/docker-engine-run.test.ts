/**
 * DockerodeEngine.runContainer against the real engine. Needs the lab (`bash .ci/lab-up`); never skips.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { DockerodeEngine } from '../../src/engines/docker/dockerode-engine.js';
import { EnvsealError } from '../../src/core/errors.js';

const BASE = 'local/python:bookworm';
const engine = new DockerodeEngine({ socketPath: '/var/run/docker.sock', stopGraceSeconds: 1 });
const work = mkdtempSync(join(tmpdir(), 'envseal-run-e2e-'));

before(async () => {
  try {
    await engine.info();
  } catch (err) {
    assert.fail(`the Docker engine is not reachable (${(err as Error).message}): run \`bash .ci/lab-up\` first`);
  }
  if (!(await engine.inspectImage(BASE))) assert.fail(`the base image ${BASE} is missing: run \`bash .ci/lab-up\` first`);
});
after(() => rmSync(work, { recursive: true, force: true }));

function collector(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** GET /containers/{id}/json straight on the socket: whether the engine still has the container. */
function containerIsPresent(id: string): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const req = request({ socketPath: '/var/run/docker.sock', path: `/containers/${id}/json`, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', reject);
    req.end();
  });
}

function isError(code: string, exitCode: number, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof EnvsealError, String(err));
    assert.equal(err.code, code, err.message);
    assert.equal(err.exitCode, exitCode);
    if (message) assert.match(err.message, message);
    return true;
  };
}

describe('DockerodeEngine.runContainer', () => {
  it('separates stdout and stderr, propagates the exit code, and removes the container', async () => {
    const out = collector();
    const err = collector();
    const script = 'for i in 1 2 3; do echo out-$i; echo err-$i >&2; done; printf "no newline"; exit 7';
    const result = await engine.runContainer({ image: BASE, cmd: ['sh', '-c', script], networkMode: 'none', stdout: out.stream, stderr: err.stream });
    assert.equal(result.exitCode, 7);
    assert.equal(result.interrupted, undefined);
    assert.equal(out.text(), 'out-1\nout-2\nout-3\nno newline');
    assert.equal(err.text(), 'err-1\nerr-2\nerr-3\n');
    assert.equal(await containerIsPresent(result.containerId), false);
  });

  it('passes env, working directory, user and read-write/read-only binds', async () => {
    const rw = mkdtempSync(join(work, 'rw-'));
    const ro = mkdtempSync(join(work, 'ro-'));
    writeFileSync(join(ro, 'input.txt'), 'from host\n');
    // The container runs as uid 1234: let it traverse, read the input and write the output.
    for (const dir of [work, ro]) chmodSync(dir, 0o755);
    chmodSync(rw, 0o777);
    const result = await engine.captureContainerOutput(
      BASE,
      ['sh', '-c', 'echo "$GREETING|$(pwd)|$(id -u)"; cat /in/input.txt; echo written > /out/result.txt; touch /in/x 2>/dev/null || echo ro-refused'],
      {
        env: { GREETING: 'hello world' },
        workdir: '/tmp',
        user: '1234:1234',
        networkMode: 'none',
        binds: [
          { source: rw, target: '/out' },
          { source: ro, target: '/in', readOnly: true },
        ],
      },
    );
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, 'hello world|/tmp|1234\nfrom host\nro-refused\n');
    assert.equal(readFileSync(join(rw, 'result.txt'), 'utf8'), 'written\n');
  });

  it('feeds stdin and closes it at the end', async () => {
    const result = await engine.captureContainerOutput(BASE, ['sh', '-c', 'wc -l; echo end'], {
      stdin: Readable.from(['a\n', 'b\n', 'c\n']),
      networkMode: 'none',
    });
    assert.deepEqual({ exitCode: result.exitCode, stdout: result.stdout }, { exitCode: 0, stdout: '3\nend\n' });
  });

  it('passes TTY output through unchanged', async () => {
    const out = collector();
    const result = await engine.runContainer({
      image: BASE,
      cmd: ['sh', '-c', 'test -t 1 && echo is-a-tty'],
      tty: true,
      networkMode: 'none',
      stdout: out.stream,
    });
    assert.equal(result.exitCode, 0);
    assert.equal(out.text(), 'is-a-tty\r\n');
  });

  it('reports a command that is not in the image as run.command-not-found (exit 2), and removes the container', async () => {
    await assert.rejects(engine.runContainer({ image: BASE, cmd: ['train-model', '--epochs', '3'], networkMode: 'none' }), (err: unknown) => {
      isError('run.command-not-found', 2, /^command not found in image local\/python:bookworm: train-model$/)(err);
      assert.match((err as EnvsealError).hint ?? '', /PATH/);
      return true;
    });
    await assert.rejects(
      engine.runContainer({ image: BASE, cmd: ['/opt/missing/bin/tool'], networkMode: 'none' }),
      isError('run.command-not-found', 2, /\/opt\/missing\/bin\/tool/),
    );
    await assert.rejects(
      engine.runContainer({ image: BASE, cmd: ['/etc/passwd'], networkMode: 'none' }),
      isError('run.command-not-executable', 2, /\/etc\/passwd/),
    );
  });

  it('reports a GPU request on an engine without a GPU runtime as run.no-gpu (exit 3)', async () => {
    await assert.rejects(
      engine.runContainer({ image: BASE, cmd: ['nvidia-smi'], gpus: { count: -1 }, networkMode: 'none' }),
      isError('run.no-gpu', 3, /GPUs were requested.*could not select device driver "" with capabilities: \[\[gpu\]\]/),
    );
    await assert.rejects(engine.runContainer({ image: BASE, cmd: ['true'], gpus: { deviceIds: ['0'] }, networkMode: 'none' }), isError('run.no-gpu', 3));
  });

  it('reports a missing image as docker.image-missing with a hint to build it', async () => {
    await assert.rejects(engine.runContainer({ image: 'envseal-test/not-built:never', cmd: ['true'] }), (err: unknown) => {
      isError('docker.image-missing', 2, /envseal-test\/not-built:never does not exist/)(err);
      assert.match((err as EnvsealError).hint ?? '', /build it/);
      return true;
    });
  });

  it('stops the container on abort, reports interrupted: signal, and removes it', async () => {
    const controller = new AbortController();
    const out = collector();
    out.stream.on('data', () => controller.abort());
    const started = Date.now();
    const result = await engine.runContainer({
      image: BASE,
      cmd: ['sh', '-c', 'echo ready; exec sleep 300'],
      networkMode: 'none',
      stdout: out.stream,
      signal: controller.signal,
    });
    assert.equal(result.interrupted, 'signal');
    assert.notEqual(result.exitCode, 0);
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    assert.equal(out.text(), 'ready\n');
    assert.equal(await containerIsPresent(result.containerId), false);
  });

  it('kills a container that ignores SIGTERM after the grace period on timeout', async () => {
    const started = Date.now();
    const result = await engine.runContainer({
      image: BASE,
      cmd: ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done'],
      networkMode: 'none',
      timeoutMs: 1500,
    });
    assert.equal(result.interrupted, 'timeout');
    assert.equal(result.exitCode, 137, 'SIGKILL');
    assert.ok(Date.now() - started < 30_000);
    assert.equal(await containerIsPresent(result.containerId), false);
  });

  it('keeps the container with remove: false, with the labels it was given', async () => {
    const result = await engine.runContainer({ image: BASE, cmd: ['true'], networkMode: 'none', remove: false, labels: { 'org.envseal.run': 'r1' } });
    try {
      const inspected = await new Promise<{ Config?: { Labels?: Record<string, string> } }>((resolve, reject) => {
        const req = request({ socketPath: '/var/run/docker.sock', path: `/containers/${result.containerId}/json`, method: 'GET' }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk));
          res.on('end', () => resolve(JSON.parse(body)));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(inspected.Config?.Labels?.['org.envseal.run'], 'r1');
    } finally {
      await new Promise<void>((resolve, reject) => {
        const req = request({ socketPath: '/var/run/docker.sock', path: `/containers/${result.containerId}?force=1`, method: 'DELETE' }, (res) => {
          res.resume();
          resolve();
        });
        req.on('error', reject);
        req.end();
      });
    }
  });

  it('refuses to start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(engine.runContainer({ image: BASE, cmd: ['true'], signal: controller.signal }), isError('run.aborted', 3));
  });

  it('captures output as strings (what the target probe uses)', async () => {
    const result = await engine.captureContainerOutput(
      BASE,
      ['python3', '-c', 'import sys, platform; print(platform.python_version()); print("warn", file=sys.stderr)'],
      { networkMode: 'none' },
    );
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /^3\.\d+\.\d+\n$/);
    assert.equal(result.stderr, 'warn\n');
    assert.equal(result.truncated, false);
  });
});
