/**
 * Issue 2, "Bad input gets a clear error and changes nothing", through the real CLI: every error path exits
 * with the documented code (2 the input is wrong, 3 an outside system failed) and a message that says where
 * (file:line, dotted spec path, the registry or index asked) and what to do next. Each lock case starts from
 * a valid envseal.lock, breaks one input, and checks that the failing `envseal lock` left the lock byte for
 * byte as it was, and wrote nothing else into the project.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';
import { buildWheel } from '../lab/wheel.js';

const SPEC = `version: 1
name: errors-e2e
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  pyproject: pyproject.toml
  index: ${LAB_INDEX_URL}
targets:
  deploy:
    copy: [app.py]
    command: [python, app.py]
`;

const REQUIREMENTS = '# pinned helpers\nseal-metrics==1.1.0\nseal-utils==1.0.0\n';
const PYPROJECT = '[project]\nname = "errors-e2e"\nversion = "0.1.0"\ndependencies = [\n  "tinyconfig>=1.1",\n]\n';
const APP = 'print("hello")\n';

/** The Docker socket that is not there: DOCKER_HOST pointing at it is "the engine is not running". */
const NO_ENGINE = 'unix:///tmp/nonexistent.sock';

/** A loopback HTTP server for one test; `handler` answers every request. */
async function startServer(handler: RequestListener): Promise<{ origin: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port nothing listens on (bound, then released). */
async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('issue 2 bad input: clear errors, right exit codes, the lock untouched', { concurrency: false }, () => {
  let validLock: Buffer;
  const projects: TempProject[] = [];
  let cacheDir: TempProject;

  /** The valid project (with its valid lock) and `changes` applied: content replaces a file, null deletes it. */
  async function brokenProject(changes: Record<string, string | null>): Promise<TempProject> {
    const project = await makeTempProject({
      'envseal.yaml': SPEC,
      'requirements.txt': REQUIREMENTS,
      'pyproject.toml': PYPROJECT,
      'app.py': APP,
      'envseal.lock': validLock,
    });
    projects.push(project);
    for (const [file, content] of Object.entries(changes)) {
      if (content === null) await rm(project.path(file));
      else await writeFile(project.path(file), content);
    }
    return project;
  }

  /** Runs the CLI in `project` and checks that the lock is byte-identical and no other file appeared. */
  async function runAndKeepLock(project: TempProject, args: string[], env: Record<string, string> = {}) {
    const listing = (await readdir(project.dir)).sort();
    const res = await runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: cacheDir.dir, ...env }, timeoutMs: 60_000 });
    assert.deepEqual(await readFile(project.path('envseal.lock')), validLock, 'the failing command left envseal.lock byte-identical');
    assert.deepEqual((await readdir(project.dir)).sort(), listing, 'and wrote no other file (no temp file left behind)');
    assert.equal(res.stdout, '', 'errors go to stderr; stdout stays empty without --json');
    return res;
  }

  before(async () => {
    await requireLab();
    await requireLabIndex();
    cacheDir = await makeTempProject();
    const project = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': REQUIREMENTS, 'pyproject.toml': PYPROJECT, 'app.py': APP });
    projects.push(project);
    const res = await runEnvseal(['lock'], { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: cacheDir.dir } });
    assert.equal(res.code, 0, res.stderr);
    validLock = await readFile(project.path('envseal.lock'));
    // The copies are valid: `lock --check` passes in a fresh directory holding the same inputs.
    const copy = await brokenProject({});
    const check = await runEnvseal(['lock', '--check'], { cwd: copy.dir, env: { ENVSEAL_CACHE_DIR: cacheDir.dir } });
    assert.equal(check.code, 0, check.stderr);
  });

  after(async () => {
    for (const p of projects) await p.cleanup();
    await cacheDir?.cleanup();
  });

  test('malformed YAML in envseal.yaml: exit 2 with file:line:column', async () => {
    const project = await brokenProject({ 'envseal.yaml': SPEC.replace('name: errors-e2e', 'name: errors: e2e') });
    const res = await runAndKeepLock(project, ['lock']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: envseal\.yaml is not valid YAML/);
    assert.match(res.stderr, /envseal\.yaml:2:7: Nested mappings are not allowed/, 'the line and column of the problem');
    assert.match(res.stderr, /hint: fix the YAML syntax/);
  });

  test('malformed TOML in pyproject.toml: exit 2 with file:line and the offending line', async () => {
    const project = await brokenProject({ 'pyproject.toml': '[project]\nname = "errors-e2e"\ndependencies = [\n  "tinyconfig>=1.1",\n  broken = \n]\n' });
    const res = await runAndKeepLock(project, ['lock']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: pyproject\.toml:5:\d+: invalid TOML/);
    assert.match(res.stderr, /5: +broken =/, 'shows the line');
    assert.match(res.stderr, /hint: fix the TOML syntax/);
  });

  test('malformed requirements.txt: exit 2 with file:line and what is wrong', async () => {
    const project = await brokenProject({ 'requirements.txt': `${REQUIREMENTS}tinyconfig = = 1.1\n` });
    const res = await runAndKeepLock(project, ['lock']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: requirements\.txt:4: invalid requirement "tinyconfig = = 1\.1"/);
    assert.match(res.stderr, /hint: requirements look like/);
  });

  test('unknown spec keys: exit 2, every one reported at once by dotted path', async () => {
    const spec = `${SPEC.replace('    command: [python, app.py]', '    comand: [python, app.py]')}bogus: true\n`;
    const project = await brokenProject({ 'envseal.yaml': spec });
    const res = await runAndKeepLock(project, ['lock']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: envseal\.yaml has 2 problems/);
    assert.match(res.stderr, /envseal\.yaml: targets\.deploy\.comand: unknown key/);
    assert.match(res.stderr, /envseal\.yaml: bogus: unknown key/);
  });

  test('missing manifest: exit 2 naming the file and where the spec lists it', async () => {
    const project = await brokenProject({ 'requirements.txt': null });
    const res = await runAndKeepLock(project, ['lock']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: requirements\.txt: no such file \(listed in envseal\.yaml python\.requirements\.0\)/);
    assert.match(res.stderr, /hint: create it or remove it from the spec/);
  });

  test('missing spec: exit 2 and how to create one', async () => {
    const project = await brokenProject({ 'envseal.yaml': null });
    const res = await runAndKeepLock(project, ['lock']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: envseal\.yaml: no such file/);
    assert.match(res.stderr, /envseal init/);
  });

  test('unknown base image tag: the registry answers 404, exit 2', async () => {
    const project = await brokenProject({ 'envseal.yaml': SPEC.replace(LAB_BASE_IMAGE, `${LAB_BASE_IMAGE.replace(/:bookworm$/, '')}:no-such-tag-e2e`) });
    const res = await runAndKeepLock(project, ['lock']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: no such image: 127\.0\.0\.1:5000\/python:no-such-tag-e2e/);
    assert.match(res.stderr, /MANIFEST_UNKNOWN/);
    assert.match(res.stderr, /hint: check the repository name and tag/);
  });

  test('registry unreachable (nothing listens): retried with backoff, then exit 3 within seconds', async () => {
    const port = await findFreePort();
    const project = await brokenProject({ 'envseal.yaml': SPEC.replace('127.0.0.1:5000/', `127.0.0.1:${port}/`) });
    const started = Date.now();
    const res = await runAndKeepLock(project, ['lock']);
    const elapsed = Date.now() - started;
    assert.equal(res.code, 3, res.stderr);
    assert.match(
      res.stderr,
      new RegExp(
        `envseal: error: registry 127\\.0\\.0\\.1:${port} is unreachable: HEAD http://127\\.0\\.0\\.1:${port}/v2/python/manifests/bookworm failed 4 times`,
      ),
    );
    assert.match(res.stderr, /ECONNREFUSED/);
    assert.equal(res.stderr.match(/retrying in/g)?.length, 3, 'three retries, each announced');
    assert.match(res.stderr, /hint: check that 127\.0\.0\.1:\d+ is reachable/);
    // Default policy: 4 attempts, backoff 0.5 + 1 + 2 s.
    assert.ok(elapsed < 20_000, `took ${elapsed} ms`);
  });

  test('registry answering 5xx: retried, then exit 3 with the status (and --json carries the error)', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('registry exploded\n');
    });
    try {
      const host = server.origin.replace('http://', '');
      const project = await brokenProject({ 'envseal.yaml': SPEC.replace('127.0.0.1:5000/', `${host}/`) });
      const listing = (await readdir(project.dir)).sort();
      const res = await runEnvseal(['lock', '--json'], { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: cacheDir.dir }, timeoutMs: 60_000 });
      assert.equal(res.code, 3, res.stderr);
      assert.match(
        res.stderr,
        new RegExp(
          `registry ${host} is unreachable: HEAD ${server.origin}/v2/python/manifests/bookworm failed 4 times; last error: HTTP 500 Internal Server Error`,
        ),
      );
      assert.equal(res.stderr.match(/retrying in/g)?.length, 3, 'three retries, each announced');
      assert.equal(server.requests.length, 4, `4 attempts: ${server.requests.join(', ')}`);
      const out = JSON.parse(res.stdout);
      assert.equal(out.ok, false);
      assert.equal(out.error.code, 'registry.unreachable');
      assert.equal(out.error.exitCode, 3);
      assert.equal(out.error.data.status, 500);
      assert.deepEqual(await readFile(project.path('envseal.lock')), validLock);
      assert.deepEqual((await readdir(project.dir)).sort(), listing);
    } finally {
      await server.close();
    }
  });

  test('index missing a package: exit 2 naming the project and the index asked', async () => {
    const project = await brokenProject({ 'requirements.txt': `${REQUIREMENTS}no-such-project-e2e==1.0\n` });
    const res = await runAndKeepLock(project, ['lock']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(
      res.stderr,
      /requirements\.txt requires no-such-project-e2e==1\.0 \(no index has a project named no-such-project-e2e; asked http:\/\/127\.0\.0\.1:5080\/simple\)/,
    );
    assert.match(res.stderr, /hint: check the spelling of the project name/);
  });

  test('a --hash that matches no file on the index: exit 2 naming the file and its real sha256', async () => {
    const wrong = 'a'.repeat(64);
    const project = await brokenProject({ 'requirements.txt': REQUIREMENTS.replace('seal-metrics==1.1.0', `seal-metrics==1.1.0 --hash=sha256:${wrong}`) });
    const res = await runAndKeepLock(project, ['lock']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /requirements\.txt requires seal-metrics==1\.1\.0 \(no file of seal-metrics 1\.1\.0 has a sha256 in the --hash list/);
    assert.match(res.stderr, /seal_metrics-1\.1\.0-py3-none-any\.whl: its sha256 [0-9a-f]{64} is not in the --hash list/);
    assert.match(res.stderr, /hint: update the --hash values/);
  });

  test('an index that publishes no sha256 for a file: exit 2, it cannot be pinned', async () => {
    const wheel = buildWheel({ name: 'tinyconfig', version: '1.1.0', requiresPython: '>=3.8' });
    // PEP 503 makes the hash fragment optional; this index leaves it out (and offers only HTML).
    const server = await startServer((req, res) => {
      if (req.url === '/simple/tinyconfig/') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(`<!DOCTYPE html><html><body><a href="/files/${wheel.filename}">${wheel.filename}</a></body></html>\n`);
      } else if (req.url === `/files/${wheel.filename}`) {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': wheel.bytes.length });
        res.end(wheel.bytes);
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found\n');
      }
    });
    try {
      const project = await brokenProject({
        'envseal.yaml': SPEC.replace(LAB_INDEX_URL, `${server.origin}/simple`),
        'requirements.txt': 'tinyconfig==1.1.0\n',
      });
      const res = await runAndKeepLock(project, ['lock']);
      assert.equal(res.code, 2, res.stderr);
      assert.match(
        res.stderr,
        new RegExp(`the index ${server.origin}/simple gives no sha256 for tinyconfig-1\\.1\\.0-py3-none-any\\.whl, so it cannot be pinned`),
      );
      assert.match(res.stderr, /hint: use an index that publishes sha256 digests/);
      assert.ok(
        server.requests.some((r) => r.startsWith('GET /simple/tinyconfig/')),
        server.requests.join(', '),
      );
    } finally {
      await server.close();
    }
  });

  test('Docker engine not running: exit 3 and how to start it', async () => {
    // Adding an apt package needs the engine (the closure is resolved in a container of the base image).
    const project = await brokenProject({ 'envseal.yaml': `${SPEC}apt:\n  packages: [jq]\n` });
    const res = await runAndKeepLock(project, ['lock'], { DOCKER_HOST: NO_ENGINE });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /envseal: error: cannot reach the Docker engine at \/tmp\/nonexistent\.sock/);
    assert.match(res.stderr, /hint: start it \(e\.g\. `dockerd` \/ `systemctl start docker`/);
  });

  test('package.json without package-lock.json: exit 2, says how to create one', async () => {
    const project = await brokenProject({
      'envseal.yaml': `${SPEC}npm:\n  dir: .\n`,
      'package.json': '{ "name": "errors-e2e", "version": "1.0.0", "dependencies": { "left-pad": "1.3.0" } }\n',
    });
    const res = await runAndKeepLock(project, ['lock']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: package\.json has no package-lock\.json next to it/);
    assert.match(res.stderr, /npm install --package-lock-only/);
  });

  test('init: refuses to overwrite the spec without --force; --force overwrites it', async () => {
    const project = await brokenProject({});
    const spec = await readFile(project.path('envseal.yaml'));
    const res = await runEnvseal(['init', '--base', LAB_BASE_IMAGE], { cwd: project.dir });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: envseal\.yaml already exists/);
    assert.match(res.stderr, /hint: pass --force to overwrite it/);
    assert.deepEqual(await readFile(project.path('envseal.yaml')), spec, 'the spec is untouched');

    const forced = await runEnvseal(['init', '--base', LAB_BASE_IMAGE, '--force'], { cwd: project.dir });
    assert.equal(forced.code, 0, forced.stderr);
    const text = await readFile(project.path('envseal.yaml'), 'utf8');
    assert.notEqual(text, spec.toString('utf8'));
    assert.match(text, /^ {2}requirements: \["requirements\.txt"\]$/m);
    assert.match(text, /pyproject: \{ path: pyproject\.toml/);
  });

  test('init: a package.json without package-lock.json is refused before anything is written', async () => {
    const project = await makeTempProject({ 'package.json': '{ "name": "web", "version": "1.0.0" }\n', 'requirements.txt': 'tinyconfig==1.1.0\n' });
    projects.push(project);
    const res = await runEnvseal(['init', '--base', LAB_BASE_IMAGE], { cwd: project.dir });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /envseal: error: package\.json has no package-lock\.json next to it/);
    assert.match(res.stderr, /npm install --package-lock-only/);
    assert.deepEqual((await readdir(project.dir)).sort(), ['package.json', 'requirements.txt'], 'no envseal.yaml was written');
  });
});
