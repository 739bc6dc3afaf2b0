/**
 * Issue 14, fault injection through the real CLI: a Python index (a proxy in front of the lab's index) and a
 * Docker engine endpoint (a unix socket) that hang, answer 5xx, cut bodies, drop connections or serve bytes
 * whose sha256 is not the published one. Every case must end with its documented exit code, a message naming
 * the endpoint, within a bounded wall time, and leave the lock byte-identical with no file added.
 * The measured wall time of each case is printed as a test diagnostic (`# fault …`).
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { startFaultServer, type FaultKind, type FaultServer } from '../lab/fault-server.js';
import { LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const spec = (index: string) => `version: 1
name: faults-e2e
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${index}
`;
const FIRST = 'tinyconfig~=1.1\n';
/** The edit that makes `lock` ask the index again. */
const SECOND = 'tinyconfig~=1.1\nseal-metrics>=1.0\n';

interface Outcome {
  code: number;
  stderr: string;
  ms: number;
}

describe('issue 14: faults of the index and the engine end in the right exit code, in bounded time, with nothing lost', { concurrency: false }, () => {
  let index: FaultServer;
  const projects: TempProject[] = [];
  let validLock: Buffer;

  /** A project locked through the (healthy) proxy, then edited so the next lock must ask the index again. */
  async function lockedProject(): Promise<TempProject> {
    const project = await makeTempProject({ 'envseal.yaml': spec(`${index.address}/simple`), 'requirements.txt': FIRST, 'envseal.lock': validLock });
    projects.push(project);
    await writeFile(project.path('requirements.txt'), SECOND);
    return project;
  }

  /** Runs envseal with a fresh HTTP cache (so requests reach the endpoint) and checks nothing was lost. */
  async function run(t: TestContext, project: TempProject, args: string[], env: Record<string, string> = {}): Promise<Outcome> {
    const lockBefore = await readFile(project.path('envseal.lock')).catch(() => null);
    const listing = (await readdir(project.dir)).sort();
    const cache = await makeTempProject();
    projects.push(cache);
    const started = Date.now();
    const res = await runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: cache.dir, ...env }, timeoutMs: 120_000 });
    const ms = Date.now() - started;
    t.diagnostic(`fault ${t.name}: exit ${res.code} after ${(ms / 1000).toFixed(1)} s`);
    assert.deepEqual(await readFile(project.path('envseal.lock')).catch(() => null), lockBefore, 'the lock is byte-identical');
    assert.deepEqual((await readdir(project.dir)).sort(), listing, 'no file was added (no temp file left behind)');
    return { code: res.code, stderr: res.stderr, ms };
  }

  before(async () => {
    await requireLab();
    await requireLabIndex();
    index = await startFaultServer({ upstream: LAB_INDEX_URL });
    const project = await makeTempProject({ 'envseal.yaml': spec(`${index.address}/simple`), 'requirements.txt': FIRST });
    projects.push(project);
    const res = await runEnvseal(['lock'], { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });
    assert.equal(res.code, 0, res.stderr);
    validLock = await readFile(project.path('envseal.lock'));
  });
  after(async () => {
    await index?.close();
    for (const p of projects) await p.cleanup();
  });

  const SIMPLE = /^\/simple\//;
  const indexCases: { name: string; fault: FaultKind; path?: RegExp; args: string[]; code: number; message: RegExp; maxMs: number }[] = [
    {
      name: 'index hangs: the --timeout deadline ends the request',
      fault: 'hang',
      args: ['--timeout', '3', 'lock'],
      code: 3,
      message: /timed out after 3(\.0)? s|deadline of 3(\.0)? s/,
      maxMs: 20_000,
    },
    { name: 'index answers 503: retried with backoff, then exit 3', fault: { status: 503 }, args: ['lock'], code: 3, message: /HTTP 503/, maxMs: 30_000 },
    { name: 'index cuts a page mid-body: retried, then exit 3', fault: 'cut', args: ['lock'], code: 3, message: /failed 4 times/, maxMs: 30_000 },
    { name: 'index drops the connection: retried, then exit 3', fault: 'reset', args: ['lock'], code: 3, message: /failed 4 times/, maxMs: 30_000 },
    {
      name: 'index serves metadata whose sha256 is not the published one: refused',
      fault: 'flip-byte',
      path: /\.metadata$/,
      args: ['lock'],
      code: 3,
      message: /sha256/,
      maxMs: 30_000,
    },
  ];
  for (const c of indexCases) {
    it(c.name, async (t) => {
      const project = await lockedProject();
      index.setRules([{ path: c.path ?? SIMPLE, fault: c.fault }]);
      try {
        const res = await run(t, project, c.args);
        assert.equal(res.code, c.code, res.stderr);
        assert.match(res.stderr, c.message);
        assert.match(res.stderr, new RegExp(index.address.replace('http://', '').replace(/[.]/g, '\\.')), 'the message names the index');
        assert.ok(res.ms < c.maxMs, `took ${res.ms} ms (limit ${c.maxMs})`);
      } finally {
        index.setRules([]);
      }
    });
  }

  const engineCases: { name: string; fault: FaultKind; args: string[]; message: RegExp; maxMs: number }[] = [
    {
      name: 'engine accepts and never answers: the --timeout deadline ends the call',
      fault: 'hang',
      args: ['--timeout', '3', 'lock'],
      message: /inspect image .* got no answer in 3 s/,
      maxMs: 20_000,
    },
    { name: 'engine answers 500: exit 3 with its message', fault: { status: 500 }, args: ['lock'], message: /injected fault: HTTP 500/, maxMs: 20_000 },
    { name: 'engine drops the connection: exit 3', fault: 'reset', args: ['lock'], message: /engine/i, maxMs: 20_000 },
    // The engine client cannot tell a cut answer from a slow one: the call's deadline ends it.
    {
      name: 'engine cuts an answer mid-body: the deadline ends the call, exit 3',
      fault: 'cut',
      args: ['--timeout', '5', 'lock'],
      message: /got no answer in 5 s/,
      maxMs: 20_000,
    },
  ];
  for (const c of engineCases) {
    it(c.name, async (t) => {
      // A new project: its lock must probe the base image, so the engine is asked.
      const project = await makeTempProject({ 'envseal.yaml': spec(LAB_INDEX_URL), 'requirements.txt': FIRST });
      projects.push(project);
      const engine = await startFaultServer({
        socketPath: join(project.dir, '..', `envseal-fault-engine-${process.pid}-${projects.length}.sock`),
        rules: [{ fault: c.fault }],
      });
      try {
        const res = await run(t, project, c.args, { DOCKER_HOST: `unix://${engine.address}` });
        assert.equal(res.code, 3, res.stderr);
        assert.match(res.stderr, c.message);
        assert.ok(engine.requests.length > 0, 'the engine was asked');
        assert.ok(res.ms < c.maxMs, `took ${res.ms} ms (limit ${c.maxMs})`);
      } finally {
        await engine.close();
      }
    });
  }
});
