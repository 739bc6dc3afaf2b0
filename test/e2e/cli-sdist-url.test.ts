/**
 * sdists required by URL end to end (issue 10, "direct-URL requirements", the sdist part): a test HTTP server on
 * loopback serves two sdists, and an index on loopback has only the build backend (setuptools, wheel).
 *
 *   - `sealurl @ http://…/sealurl-1.0.tar.gz`: static metadata (Metadata-Version 2.2), read from its PKG-INFO;
 *   - `sealurldyn @ http://…/sealurldyn-1.0.tar.gz#sha256=…`: Metadata-Version 2.1, so its dependency
 *     (`sealurl>=1.0`, named only in its pyproject.toml) is learnt from the lock-time build.
 *
 * `lock` records each URL, its sha256 and the build (build requirements and the built wheel's sha256); the deploy
 * image imports both. Refusals leave the lock byte-identical: a #sha256= the download contradicts (exit 2), a URL
 * that answers 404 (exit 2), an sdist of another project (exit 2), an unreachable server (exit 3).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeTempProject, runEnvseal, type TempProject, pythonDeploySpec } from '../lab/cli.js';
import { buildSdist } from '../lab/wheel.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { dockerCli, requireLab } from '../lab/lab.js';
import { buildBackendProjects } from '../lab/fixtures-index.js';

const RUN = randomBytes(4).toString('hex');
const NAME = `sdisturl-e2e-${RUN}`;
const TAG = `envseal-sdisturl-e2e:${RUN}`;

const staticSdist = buildSdist({ name: 'sealurl', version: '1.0', files: { 'sealurl/__init__.py': '__version__ = "1.0"\n' } });
const dynamicSdist = buildSdist({
  name: 'sealurldyn',
  version: '1.0',
  metadataVersion: '2.1',
  files: {
    'pyproject.toml':
      '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "sealurldyn"\nversion = "1.0"\ndependencies = ["sealurl>=1.0"]\n',
    'sealurldyn/__init__.py': 'import sealurl\n__version__ = "1.0"\n',
  },
});

describe('sdists required by URL (fetched, pinned, built like index sdists)', { concurrency: false, timeout: 20 * 60_000 }, () => {
  let project: TempProject;
  let index: LabIndex;
  let server: Server;
  let base = '';
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });
  const lockText = () => readFile(project.path('envseal.lock'), 'utf8');
  const requirements = () =>
    `sealurl @ ${base}/sdists/${staticSdist.filename}\nsealurldyn @ ${base}/sdists/${dynamicSdist.filename}#sha256=${dynamicSdist.sha256}\n`;

  before(async () => {
    await requireLab();
    index = await startIndex({
      projects: buildBackendProjects(),
    });
    const files = new Map([staticSdist, dynamicSdist].map((s) => [`/sdists/${s.filename}`, s.bytes]));
    server = createServer((req, res) => {
      const bytes = files.get(req.url ?? '');
      if (bytes) res.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/gzip' }).end(bytes);
      else res.writeHead(404).end('no such file\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const spec = pythonDeploySpec(NAME, index.url, `import importlib.metadata as m, sealurl, sealurldyn; print(sealurl.__version__, m.version('sealurldyn'))`);
    project = await makeTempProject({ 'envseal.yaml': spec, 'requirements.txt': requirements() });
  });

  after(async () => {
    const loaded = (await dockerCli(['images', '-q', '--filter', `reference=envseal/${NAME}`])).stdout.split('\n').filter(Boolean);
    await dockerCli(['rmi', '-f', TAG, `envseal-cache/${NAME}:deploy`, ...new Set(loaded)]).catch(() => undefined);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await index?.close();
    await project?.cleanup();
  });

  test('lock records URL, sha256 and build for both; the dynamic one dependency comes from its lock-time build', async () => {
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    const lock = JSON.parse(await lockText());
    const byName = Object.fromEntries(lock.python.packages.map((p: { name: string }) => [p.name, p]));
    assert.deepEqual(Object.keys(byName).sort(), ['sealurl', 'sealurldyn']);
    for (const [name, sdist] of [
      ['sealurl', staticSdist],
      ['sealurldyn', dynamicSdist],
    ] as const) {
      const p = byName[name];
      assert.equal(p.direct, true, name);
      assert.equal(p.file.url, `${base}/sdists/${sdist.filename}`, name);
      assert.equal(p.file.sha256, sdist.sha256, name);
      assert.equal(p.build.wheel.filename, `${name}-1.0-py3-none-any.whl`, name);
      assert.ok(
        p.build.deps.some((d: { name: string }) => d.name === 'setuptools'),
        `${name}: its build requirements are locked`,
      );
    }
  });

  test('the deploy image builds both from their URLs (hash-checked) and imports them', async () => {
    const built = await envseal(['build', '--target', 'deploy', '-t', TAG]);
    assert.equal(built.code, 0, built.stderr);
    const generated = await envseal(['generate']);
    assert.equal(generated.code, 0, generated.stderr);
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    assert.ok(dockerfile.includes(`'sealurl @ ${base}/sdists/${staticSdist.filename} --hash=sha256:${staticSdist.sha256}'`), dockerfile);
    const ran = await dockerCli(['run', '--rm', '--network', 'none', TAG]);
    assert.equal(ran.stdout.trim(), '1.0 1.0');
  });

  test('refusals: exit code and message, the lock byte-identical', async () => {
    const before = await lockText();
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const cases: [string, string, number, RegExp][] = [
      [
        '#sha256= that disagrees',
        `sealurl @ ${base}/sdists/${staticSdist.filename}#sha256=${'0'.repeat(64)}`,
        2,
        new RegExp(`has sha256 ${staticSdist.sha256}, but its #sha256= fragment says 0{64}`),
      ],
      ['404', `sealurl @ ${base}/sdists/sealurl-2.0.tar.gz`, 2, /requirements\.txt: fetching .*sealurl-2\.0\.tar\.gz answered 404/],
      [
        'sdist of another project',
        `otherpkg @ ${base}/sdists/${staticSdist.filename}`,
        2,
        /requirements\.txt:1: .*sealurl-1\.0\.tar\.gz is not an sdist of otherpkg/,
      ],
      [
        'unreachable server',
        `sealurl @ http://127.0.0.1:${deadPort}/sealurl-1.0.tar.gz`,
        3,
        /fetching http:\/\/127\.0\.0\.1:\d+\/sealurl-1\.0\.tar\.gz failed/,
      ],
    ];
    for (const [what, line, code, message] of cases) {
      await writeFile(project.path('requirements.txt'), `${line}\n`);
      const res = await envseal(['lock']);
      assert.equal(res.code, code, `${what}: ${res.stderr}`);
      assert.match(res.stderr, message, what);
      assert.equal(await lockText(), before, `${what}: the lock is unchanged`);
    }
    await writeFile(project.path('requirements.txt'), requirements());
  });
});
