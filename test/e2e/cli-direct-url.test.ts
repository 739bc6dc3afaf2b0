/**
 * Wheels required by URL end to end (issue 10, "VCS and direct-URL requirements", the wheel part): a wheel
 * served on loopback by this test is required as `urlpkg @ http://127.0.0.1:PORT/wheels/urlpkg-1.0-…whl` next
 * to an index requirement; `lock` pins its URL and sha256 and resolves its dependency from the lab index,
 * `generate` installs it by URL with its hash, the deploy image built on the lab base has it at that version,
 * `export` writes it for pip (and real pip installs that export). Every refusal has its exit code and message
 * and leaves the lock byte-identical: archives that are not sdists, VCS URLs, a wheel for another platform, a #sha256= the download
 * contradicts, a wheel of another project, a URL that answers 404, an unreachable URL (exit 3), and a version
 * requirement elsewhere that the URL's version does not meet.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { buildSdist, buildWheel, type BuiltWheel } from '../lab/wheel.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_LOCAL_BASE_IMAGE, requireLab, requireLabIndex } from '../lab/lab.js';

const NAME = 'direct-url-e2e';

describe('wheels required by URL (name @ http://…/name-1.0-py3-none-any.whl)', { concurrency: false, timeout: 20 * 60_000 }, () => {
  let project: TempProject;
  let server: Server;
  let base = '';
  const images = new Set<string>();
  const wheels = new Map<string, BuiltWheel>();
  const pure = buildWheel({
    name: 'urlpkg',
    version: '1.0',
    requiresDist: ['tinyconfig>=1.0'],
    files: { 'urlpkg/__init__.py': '__version__ = "1.0"\n' },
  });
  const windows = buildWheel({ name: 'urlpkg', version: '1.0', tag: 'cp311-cp311-win_amd64' });
  const urlSdist = buildSdist({ name: 'urlsdist', version: '1.0', files: { 'urlsdist/__init__.py': '__version__ = "1.0"\n' } });
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });
  const url = (w: BuiltWheel) => `${base}/wheels/${w.filename}`;
  const SPEC = `version: 1
name: ${NAME}
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
targets:
  deploy:
    command: [python, -c, "import importlib.metadata as m, tinyconfig, urlpkg; print(urlpkg.__version__, m.version('urlpkg'), m.version('tinyconfig'))"]
`;

  before(async () => {
    await requireLab();
    await requireLabIndex();
    for (const w of [pure, windows]) wheels.set(`/wheels/${w.filename}`, w);
    wheels.set(`/sdists/${urlSdist.filename}`, urlSdist as unknown as BuiltWheel);
    server = createServer((req, res) => {
      const w = wheels.get(req.url ?? '');
      if (w) res.writeHead(200, { 'content-length': w.bytes.length, 'content-type': 'application/octet-stream' }).end(w.bytes);
      else res.writeHead(404).end('no such file\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    project = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': `urlpkg @ ${url(pure)}\nseal-metrics>=1.0\n` });
  });

  after(async () => {
    if (images.size) await dockerCli(['rmi', '-f', ...images]);
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await project?.cleanup();
  });

  test('lock pins the URL and sha256 and resolves its dependency from the index; the image has it at that version', async () => {
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    const text = await readFile(project.path('envseal.lock'), 'utf8');
    const lock = JSON.parse(text);
    assert.equal(lock.lockVersion, 2, 'a lock with a wheel required by URL is version 2');
    const byName = Object.fromEntries((lock.python.packages as { name: string }[]).map((p) => [p.name, p])) as Record<string, Record<string, unknown>>;
    assert.deepEqual(byName.urlpkg, {
      name: 'urlpkg',
      version: '1.0',
      file: { filename: pure.filename, url: url(pure), sha256: pure.sha256, size: pure.bytes.length },
      index: url(pure),
      direct: true,
      via: ['requirements.txt > urlpkg'],
      targets: ['deploy', 'dev'],
    });
    assert.equal(byName.tinyconfig?.index, LAB_INDEX_URL, 'its dependency comes from the index');
    assert.ok(byName['seal-metrics'], 'the index requirement is locked too');
    assert.equal(byName.tinyconfig?.direct, undefined);
    // Nothing changed: lock again changes no byte, and --check passes.
    assert.equal((await envseal(['lock'])).code, 0);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), text);
    assert.equal((await envseal(['lock', '--check'])).code, 0);

    const gen = await envseal(['generate']);
    assert.equal(gen.code, 0, gen.stderr);
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    assert.ok(dockerfile.includes(`'urlpkg @ ${url(pure)} --hash=sha256:${pure.sha256}'`), dockerfile);
    assert.match(dockerfile, /--require-hashes --only-binary :all:/);

    const built = await envseal(['build', '--target', 'deploy', '--json']);
    assert.equal(built.code, 0, built.stderr);
    const { imageId } = JSON.parse(built.stdout) as { imageId: string };
    images.add(imageId);
    const ran = await dockerCli(['run', '--rm', '--network', 'none', imageId]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), `1.0 1.0 ${String(byName.tinyconfig?.version)}`);
    const verify = await envseal(['verify', '--image', imageId]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });

  test('export writes it as name @ url --hash (real pip installs it) and as a pylock wheel with its url', async () => {
    const res = await envseal(['export', '--format', 'requirements', '--target', 'deploy', '-o', 'req.txt']);
    assert.equal(res.code, 0, res.stderr);
    const text = await readFile(project.path('req.txt'), 'utf8');
    assert.ok(text.includes(`\nurlpkg @ ${url(pure)} \\\n    --hash=sha256:${pure.sha256}\n`), text);
    const pip = await dockerCli(
      [
        ...['run', '--rm', '-i', '--network', 'host', '-e', 'PIP_DISABLE_PIP_VERSION_CHECK=1', LAB_LOCAL_BASE_IMAGE, 'sh', '-c'],
        'python3 -m venv /tmp/v && /tmp/v/bin/pip install --quiet --no-cache-dir --no-deps --require-hashes -r /dev/stdin >&2 && /tmp/v/bin/pip freeze --all',
      ],
      { input: text, timeoutMs: 180_000 },
    );
    assert.equal(pip.code, 0, pip.stderr);
    assert.match(pip.stdout, /^urlpkg @ http:\/\/127\.0\.0\.1:\d+\/wheels\/urlpkg-1\.0-py3-none-any\.whl$|^urlpkg==1\.0$/m);
    const pylock = await envseal(['export', '--format', 'pylock', '-o', 'pylock.toml']);
    assert.equal(pylock.code, 0, pylock.stderr);
    const toml = await readFile(project.path('pylock.toml'), 'utf8');
    assert.ok(toml.includes(`url = "${url(pure)}"`), toml);
    // A pylock.toml in the project is an input `lock` would refuse to ignore: it was only for reading here.
    await rm(project.path('pylock.toml'));
  });

  test('an imported pylock.toml ([packages.archive]) and uv.lock (source = { url }) pin files by URL; a wrong sha256 is exit 2', async () => {
    const main = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const tiny = main.python.packages.find((p: { name: string }) => p.name === 'tinyconfig');
    const sdistUrl = `${base}/sdists/${urlSdist.filename}`;
    const pylock = (sha: string) => `lock-version = "1.0"
created-by = "hand"

[[packages]]
name = "urlpkg"
version = "1.0"
archive = { url = "${url(pure)}", hashes = { sha256 = "${sha}" } }

[[packages]]
name = "tinyconfig"
version = "${tiny.version}"
index = "${LAB_INDEX_URL}"
wheels = [{ name = "${tiny.file.filename}", hashes = { sha256 = "${tiny.file.sha256}" } }]
`;
    const spec = SPEC.replace('requirements: [requirements.txt]', 'lockfile: pylock.toml');
    const other = await makeTempProject({ 'envseal.yaml': spec, 'pylock.toml': pylock(pure.sha256) });
    const uvProject = await makeTempProject({
      'envseal.yaml': SPEC.replace('requirements: [requirements.txt]', 'lockfile: uv.lock\n  pyproject: pyproject.toml'),
      'pyproject.toml': `[project]\nname = "app"\nversion = "0.1"\ndependencies = ["urlpkg", "urlsdist"]\n`,
      'uv.lock': `version = 1
requires-python = ">=3.9"

[[package]]
name = "app"
version = "0.1"
source = { virtual = "." }
dependencies = [{ name = "urlpkg" }, { name = "urlsdist" }]

[package.metadata]
requires-dist = [{ name = "urlpkg" }, { name = "urlsdist" }]

[[package]]
name = "urlpkg"
version = "1.0"
source = { url = "${url(pure)}" }
dependencies = [{ name = "tinyconfig" }]
wheels = [{ url = "${url(pure)}", hash = "sha256:${pure.sha256}" }]

[[package]]
name = "urlsdist"
version = "1.0"
source = { url = "${sdistUrl}" }
sdist = { hash = "sha256:${urlSdist.sha256}" }

[[package]]
name = "tinyconfig"
version = "${tiny.version}"
source = { registry = "${LAB_INDEX_URL}" }
wheels = [{ url = "${tiny.file.url}", hash = "sha256:${tiny.file.sha256}" }]
`,
    });
    const run = (p: TempProject, args: string[]) => runEnvseal(args, { cwd: p.dir, env: { ENVSEAL_CACHE_DIR: p.path('.cache') } });
    try {
      const locked = await run(other, ['lock']);
      assert.equal(locked.code, 0, locked.stderr);
      const lock = JSON.parse(await readFile(other.path('envseal.lock'), 'utf8'));
      const urlpkg = lock.python.packages.find((p: { name: string }) => p.name === 'urlpkg');
      assert.deepEqual([urlpkg.file.url, urlpkg.file.sha256, urlpkg.direct, urlpkg.via], [url(pure), pure.sha256, true, ['pylock.toml']]);
      const before = await readFile(other.path('envseal.lock'), 'utf8');
      await writeFile(other.path('pylock.toml'), pylock('0'.repeat(64)));
      const refused = await run(other, ['lock']);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(`pylock\\.toml: package urlpkg 1\\.0: the lock's sha256 of urlpkg-1\\.0-py3-none-any\\.whl is 0{64}, \\S+ gives ${pure.sha256}`),
      );
      assert.equal(await readFile(other.path('envseal.lock'), 'utf8'), before, 'the lock is unchanged');

      const uvLocked = await run(uvProject, ['lock']);
      assert.equal(uvLocked.code, 0, uvLocked.stderr);
      const uv = JSON.parse(await readFile(uvProject.path('envseal.lock'), 'utf8'));
      const byName = Object.fromEntries(uv.python.packages.map((p: { name: string }) => [p.name, p]));
      assert.deepEqual(Object.keys(byName).sort(), ['tinyconfig', 'urlpkg', 'urlsdist']);
      assert.equal(byName.urlsdist.direct, true);
      assert.equal(byName.urlsdist.file.url, sdistUrl);
      assert.equal(byName.urlsdist.file.sha256, urlSdist.sha256);
      assert.equal(byName.urlsdist.build.wheel.filename, 'urlsdist-1.0-py3-none-any.whl', 'the sdist from a URL is built like any other');
      const generated = await run(uvProject, ['generate']);
      assert.equal(generated.code, 0, generated.stderr);
      const dockerfile = await readFile(uvProject.path('envseal.Dockerfile'), 'utf8');
      assert.ok(dockerfile.includes(`'urlsdist @ ${sdistUrl} --hash=sha256:${urlSdist.sha256}'`), dockerfile);
      assert.ok(dockerfile.includes(`'urlpkg @ ${url(pure)} --hash=sha256:${pure.sha256}'`), dockerfile);
    } finally {
      await other.cleanup();
      await uvProject.cleanup();
    }
  });

  test('pyproject.toml [project.dependencies] takes a wheel URL too', async () => {
    const other = await makeTempProject({
      'envseal.yaml': SPEC.replace('requirements: [requirements.txt]', 'pyproject: pyproject.toml'),
      'pyproject.toml': `[project]\nname = "app"\nversion = "0.1"\ndependencies = ["urlpkg @ ${url(pure)}#sha256=${pure.sha256}"]\n`,
    });
    try {
      const res = await runEnvseal(['lock'], { cwd: other.dir, env: { ENVSEAL_CACHE_DIR: other.path('.cache') } });
      assert.equal(res.code, 0, res.stderr);
      const lock = JSON.parse(await readFile(other.path('envseal.lock'), 'utf8'));
      const urlpkg = lock.python.packages.find((p: { name: string }) => p.name === 'urlpkg');
      assert.deepEqual([urlpkg.file.url, urlpkg.file.sha256, urlpkg.direct], [url(pure), pure.sha256, true]);
      assert.ok(lock.python.packages.some((p: { name: string }) => p.name === 'tinyconfig'));
    } finally {
      await other.cleanup();
    }
  });

  test('refusals: exit code and message, the lock byte-identical', async () => {
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const cases: [string, string, number, RegExp][] = [
      [
        'an archive that is no sdist',
        `urlpkg @ ${base}/wheels/urlpkg-1.0.tar.bz2`,
        2,
        /requirements\.txt:1: .*urlpkg-1\.0\.tar\.bz2 is an archive envseal cannot build/,
      ],
      [
        'VCS URL',
        'urlpkg @ hg+https://example.invalid/org/urlpkg@v1',
        2,
        /VCS requirements other than git \(hg\+…\) are not supported yet[\s\S]*publish a wheel of urlpkg/,
      ],
      ['wheel for another platform', `urlpkg @ ${url(windows)}`, 2, /urlpkg-1\.0-cp311-cp311-win_amd64\.whl \(required by URL\) does not fit CPython 3\.11/],
      [
        '#sha256= that disagrees',
        `urlpkg @ ${url(pure)}#sha256=${'0'.repeat(64)}`,
        2,
        new RegExp(`has sha256 ${pure.sha256}, but its #sha256= fragment says 0{64}`),
      ],
      ['wheel of another project', `otherpkg @ ${url(pure)}`, 2, /the wheel urlpkg-1\.0-py3-none-any\.whl is urlpkg, not otherpkg/],
      [
        'credentials in the URL',
        `urlpkg @ ${url(pure).replace('://', '://seal-user:seal-s3cret@')}`,
        2,
        /requirements\.txt:1: direct URL requirement "urlpkg @ http:\/\/<redacted>@.*carries credentials[\s\S]*netrc/,
      ],
      ['404', `urlpkg @ ${base}/wheels/missing/urlpkg-1.0-py3-none-any.whl`, 2, /requirements\.txt: fetching .*urlpkg-1\.0-py3-none-any\.whl answered 404/],
      [
        'unreachable URL',
        `urlpkg @ http://127.0.0.1:${deadPort}/urlpkg-1.0-py3-none-any.whl`,
        3,
        /fetching http:\/\/127\.0\.0\.1:\d+\/urlpkg-1\.0-py3-none-any\.whl failed/,
      ],
      [
        'conflicting version',
        `urlpkg @ ${url(pure)}\nurlpkg>=2`,
        2,
        /requirements\.txt requires urlpkg>=2 \(urlpkg is required by URL as 1\.0, which does not match >=2\)/,
      ],
    ];
    for (const [what, line, code, message] of cases) {
      await writeFile(project.path('requirements.txt'), `${line}\nseal-metrics>=1.0\n`);
      const res = await envseal(['lock']);
      assert.equal(res.code, code, `${what}: ${res.stderr}`);
      assert.match(res.stderr, message, what);
      assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before, `${what}: the lock is unchanged`);
      assert.doesNotMatch(`${res.stdout}\n${res.stderr}`, /seal-s3cret|seal-user/, `${what}: no credentials in the output`);
    }
    assert.doesNotMatch(before, /seal-s3cret/);
    assert.doesNotMatch(await readFile(project.path('envseal.Dockerfile'), 'utf8').catch(() => ''), /seal-s3cret/);
    await writeFile(project.path('requirements.txt'), `urlpkg @ ${url(pure)}\nseal-metrics>=1.0\n`);
  });
});
