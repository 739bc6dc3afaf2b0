/**
 * DockerodeEngine.build against the real engine (classic builder), with contexts from createBuildContext.
 * Needs the lab: `bash .ci/lab-up` (engine + local/python:bookworm). Never skips.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BuildEvent } from '../../src/core/ports.js';
import { createBuildContext } from '../../src/image/context/context.js';
import { DockerodeEngine } from '../../src/engines/docker/dockerode-engine.js';
import { EnvsealError } from '../../src/core/errors.js';

const BASE = 'local/python:bookworm';
const engine = new DockerodeEngine({ socketPath: '/var/run/docker.sock' });
const work = mkdtempSync(join(tmpdir(), 'envseal-build-e2e-'));
const suffix = randomBytes(4).toString('hex');
const createdTags: string[] = [];

async function assertLab(): Promise<void> {
  try {
    await engine.info();
  } catch (err) {
    assert.fail(`the Docker engine is not reachable (${(err as Error).message}): run \`bash .ci/lab-up\` first`);
  }
  if (!(await engine.inspectImage(BASE))) assert.fail(`the base image ${BASE} is missing: run \`bash .ci/lab-up\` first`);
}

function project(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) writeFileSync(join(dir, path), content);
  return dir;
}

function tag(name: string): string {
  const t = `envseal-test/${name}:${suffix}`;
  createdTags.push(t);
  return t;
}

before(assertLab);
after(async () => {
  for (const t of createdTags) await engine.removeImage(t, { force: true }).catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

describe('DockerodeEngine.build', () => {
  it('builds a tiny Dockerfile: step events, output, image ID, tags, labels and build args', async () => {
    const dir = project('ok', {
      Dockerfile: `FROM ${BASE}\nARG GREETING=none\nRUN echo "hi $GREETING" && echo to-stderr >&2\nCOPY hello.txt /hello.txt\n`,
      'hello.txt': 'hello\n',
    });
    const context = createBuildContext({ dir });
    const events: BuildEvent[] = [];
    const tags = [tag('ok'), tag('ok-alias')];
    const result = await engine.build(context.stream, {
      dockerfile: 'Dockerfile',
      tags,
      networkMode: 'none',
      noCache: true,
      labels: { 'org.envseal.test': 'yes' },
      buildArgs: { GREETING: 'envseal' },
      onEvent: (event) => events.push(event),
    });
    assert.match(result.imageId, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(
      events.filter((e) => e.kind === 'step').map((e) => [e.step, e.totalSteps, e.text]),
      [
        [1, 5, `FROM ${BASE}`],
        [2, 5, 'ARG GREETING=none'],
        [3, 5, 'RUN echo "hi $GREETING" && echo to-stderr >&2'],
        [4, 5, 'COPY hello.txt /hello.txt'],
        // The classic builder adds the labels as a last LABEL step.
        [5, 5, 'LABEL org.envseal.test=yes'],
      ],
    );
    assert.ok(
      events.some((e) => e.kind === 'output' && e.text === 'hi envseal'),
      'the build arg reached RUN',
    );
    assert.ok(result.log.includes('to-stderr'), 'stderr of RUN is in the log, without colour codes');
    assert.ok((await context.done).files >= 2);

    const image = await engine.inspectImage(tags[0]!);
    assert.equal(image?.id, result.imageId);
    assert.deepEqual([...(image?.repoTags ?? [])].sort(), [...tags].sort());
    assert.equal(image?.labels['org.envseal.test'], 'yes');
  });

  it('builds the requested target stage for the requested platform', async () => {
    const dir = project('target', { Dockerfile: `FROM ${BASE} AS base\nRUN echo in-base\nFROM base AS broken\nRUN exit 1\n` });
    const info = await engine.info();
    const result = await engine.build(createBuildContext({ dir }).stream, {
      dockerfile: 'Dockerfile',
      tags: [tag('target')],
      target: 'base',
      platform: `linux/${info.architecture}`,
      networkMode: 'none',
    });
    assert.ok(result.log.includes('in-base'));
    assert.equal((await engine.inspectImage(result.imageId))?.architecture, info.architecture);
  });

  it('pulls the base image from the registry when asked to, reporting the pull as status events', async () => {
    const dir = project('pull', { Dockerfile: 'FROM 127.0.0.1:5000/python:bookworm\nRUN echo pulled-base\n' });
    const events: BuildEvent[] = [];
    const result = await engine.build(createBuildContext({ dir }).stream, {
      dockerfile: 'Dockerfile',
      tags: [tag('pull')],
      pull: true,
      networkMode: 'none',
      onEvent: (event) => events.push(event),
    });
    assert.match(result.imageId, /^sha256:/);
    const statuses = events.filter((e) => e.kind === 'status').map((e) => e.text);
    assert.ok(
      statuses.some((text) => /Digest: sha256:[0-9a-f]{64}/.test(text)),
      statuses.join(' | '),
    );
  });

  it('reports a failing RUN with its step, instruction, exit code and last output lines', async () => {
    // The failing RUN comes right after FROM so that the failed build leaves no dangling layer behind.
    const dir = project('fail', {
      Dockerfile: `FROM ${BASE}\nRUN echo line-one && echo line-two >&2 && exit 3\nRUN echo never\n`,
    });
    const context = createBuildContext({ dir });
    await assert.rejects(engine.build(context.stream, { dockerfile: 'Dockerfile', tags: [tag('fail')], networkMode: 'none' }), (err: unknown) => {
      assert.ok(err instanceof EnvsealError, String(err));
      assert.equal(err.code, 'build.failed');
      assert.equal(err.exitCode, 3);
      assert.equal(
        err.message,
        "build failed at step 2/3 (RUN echo line-one && echo line-two >&2 && exit 3): The command '/bin/sh -c echo line-one && echo line-two >&2 && exit 3' returned a non-zero code: 3",
      );
      // Only the failing step's own output: no builder chatter (" ---> Running in ...").
      assert.deepEqual([...err.details].sort(), ['line-one', 'line-two']);
      assert.deepEqual(err.data, { step: 2, totalSteps: 3, instruction: 'RUN echo line-one && echo line-two >&2 && exit 3', exitCode: 3 });
      return true;
    });
  });

  it('fails with the daemon message when the Dockerfile is missing from the context', async () => {
    const dir = project('nodockerfile', { 'main.py': 'print(1)\n' });
    const context = createBuildContext({ dir });
    await assert.rejects(engine.build(context.stream, { dockerfile: 'envseal.Dockerfile', tags: [tag('nodockerfile')] }), (err: unknown) => {
      assert.ok(err instanceof EnvsealError, String(err));
      assert.equal(err.code, 'build.failed');
      assert.equal(err.exitCode, 3);
      assert.match(err.message, /Cannot locate specified Dockerfile: envseal\.Dockerfile/);
      return true;
    });
  });

  it('fails on a Dockerfile syntax error', async () => {
    const dir = project('syntax', { Dockerfile: `FROM ${BASE}\nFORM nothing\n` });
    await assert.rejects(engine.build(createBuildContext({ dir }).stream, { dockerfile: 'Dockerfile', tags: [tag('syntax')] }), (err: unknown) => {
      assert.ok(err instanceof EnvsealError && err.code === 'build.failed', String(err));
      assert.match(err.message, /unknown instruction: FORM/i);
      return true;
    });
  });

  it('passes the network mode: a hermetic build cannot reach the registry, a host-network build can', async () => {
    const probe = `import socket; socket.create_connection(("127.0.0.1", 5000), timeout=3); print("reached")`;
    const dir = project('network', { Dockerfile: `FROM ${BASE}\nRUN python3 -c '${probe}'\n` });
    const host = await engine.build(createBuildContext({ dir }).stream, {
      dockerfile: 'Dockerfile',
      tags: [tag('net-host')],
      networkMode: 'host',
      noCache: true,
    });
    assert.ok(host.log.includes('reached'));
    await assert.rejects(
      engine.build(createBuildContext({ dir }).stream, { dockerfile: 'Dockerfile', tags: [tag('net-none')], networkMode: 'none', noCache: true }),
      (err: unknown) => err instanceof EnvsealError && err.code === 'build.failed' && /step 2\/2/.test(err.message),
    );
  });

  it('cancels a running build on abort, and the engine removes the step container', async () => {
    const dir = project('abort', { Dockerfile: `FROM ${BASE}\nRUN echo started && sleep 120\n` });
    const controller = new AbortController();
    let stepContainer: string | undefined;
    const started = Date.now();
    const build = engine.build(createBuildContext({ dir }).stream, {
      dockerfile: 'Dockerfile',
      tags: [tag('abort')],
      networkMode: 'none',
      noCache: true,
      signal: controller.signal,
      onEvent: (event) => {
        const running = / ---> Running in ([0-9a-f]+)/.exec(event.text);
        if (running) stepContainer = running[1];
        if (event.text === 'started') controller.abort();
      },
    });
    await assert.rejects(build, (err: unknown) => {
      assert.ok(err instanceof EnvsealError, String(err));
      assert.equal(err.code, 'build.aborted');
      assert.match(err.message, /^build cancelled at step 2\/2 \(RUN echo started && sleep 120\)$/);
      return true;
    });
    assert.ok(Date.now() - started < 60_000, 'the abort did not wait for the step to finish');
    assert.ok(stepContainer, 'saw the step container');
    // The daemon notices the closed connection, cancels the build and removes the container (forcerm).
    const deadline = Date.now() + 30_000;
    let gone = false;
    while (!gone && Date.now() < deadline) {
      gone = !(await containerIsPresent(stepContainer!));
      if (!gone) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(gone, `step container ${stepContainer} was not removed`);
  });

  it('stops a build that exceeds its timeout', async () => {
    const dir = project('timeout', { Dockerfile: `FROM ${BASE}\nRUN sleep 120\n` });
    await assert.rejects(
      engine.build(createBuildContext({ dir }).stream, {
        dockerfile: 'Dockerfile',
        tags: [tag('timeout')],
        networkMode: 'none',
        noCache: true,
        timeoutMs: 3000,
      }),
      (err: unknown) => err instanceof EnvsealError && err.code === 'build.timeout' && err.exitCode === 3 && /after 3000 ms at step 2\/2/.test(err.message),
    );
  });

  it('fails when the context cannot be read, with the context error', async () => {
    const context = createBuildContext({ dir: join(work, 'does-not-exist') });
    await assert.rejects(
      engine.build(context.stream, { dockerfile: 'Dockerfile', tags: [tag('nocontext')] }),
      (err: unknown) => err instanceof EnvsealError && err.code === 'build.context-missing',
    );
  });
});

/** Whether the engine still has a container with this ID (GET /containers/{id}/json: 404 means gone). */
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
