/**
 * sdists built into wheels end to end (issue 10, "sdists"): an index served on loopback by this test holds an
 * sdist-only project and Debian's setuptools and wheel wheels. `lock` records the sdist's sha256, its build
 * requirements (resolved for the target, with hashes) and the sha256 of the wheel it built in the lab base image;
 * `generate` writes a builder stage; the deploy image built from it imports the package, and `verify --rebuild`
 * (a clean rebuild, whose builder stage builds the wheel again and checks it against the lock) gives the same
 * image ID, and so does `load --rebuild` from a bundle with the index gone (the bundle carries the build
 * requirements). Refusals leave the lock byte-identical: an sdist whose build backend is not on the index (exit 2,
 * naming it) and an sdist whose build fails (exit 2, with the build's output).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject, pythonDeploySpec } from '../lab/cli.js';
import { buildSdist } from '../lab/wheel.js';
import { startIndex, type LabIndex, type FileSpec } from '../lab/index-server.js';
import { dockerCli, requireLab } from '../lab/lab.js';
import { buildBackendProjects } from '../lab/fixtures-index.js';

const RUN = randomBytes(4).toString('hex');
const NAME = `sdist-e2e-${RUN}`;
const TAG = `envseal-sdist-e2e:${RUN}`;

const good = buildSdist({ name: 'sealbuild', version: '1.0', files: { 'sealbuild/__init__.py': '__version__ = "1.0"\n' } });
const flit = buildSdist({
  name: 'sealflit',
  version: '1.0',
  files: {
    'pyproject.toml':
      '[build-system]\nrequires = ["flit_core>=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n\n[project]\nname = "sealflit"\nversion = "1.0"\n',
    'sealflit/__init__.py': '"""x"""\n__version__ = "1.0"\n',
  },
});
const broken = buildSdist({ name: 'sealbroken', version: '1.0', files: { 'setup.py': 'raise SystemExit("this sdist does not build")\n' } });
// Metadata-Version 2.1 (before PEP 643): its PKG-INFO cannot be trusted, so envseal builds it to learn its
// dependencies, which only its pyproject.toml names (the PKG-INFO lists none).
const dynamic = buildSdist({
  name: 'sealdyn',
  version: '1.0',
  metadataVersion: '2.1',
  files: {
    'pyproject.toml':
      '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "sealdyn"\nversion = "1.0"\ndependencies = ["sealbuild>=1.0"]\n',
    'sealdyn/__init__.py': 'import sealbuild\n__version__ = "1.0"\n',
  },
});
const dynamicBroken = buildSdist({
  name: 'sealdynbroken',
  version: '1.0',
  dynamic: ['Requires-Dist'],
  files: { 'setup.py': 'raise SystemExit("this dynamic sdist does not build")\n' },
});
const projects = (): Record<string, FileSpec[]> => ({
  sealbuild: [{ filename: good.filename, bytes: good.bytes, uploadTime: '2024-01-02T03:04:05.000000Z' }],
  sealflit: [{ filename: flit.filename, bytes: flit.bytes }],
  sealbroken: [{ filename: broken.filename, bytes: broken.bytes }],
  sealdyn: [{ filename: dynamic.filename, bytes: dynamic.bytes }],
  sealdynbroken: [{ filename: dynamicBroken.filename, bytes: dynamicBroken.bytes }],
  ...buildBackendProjects(),
});

describe('sdists built into wheels (lock, builder stage, reproducible image)', { concurrency: false, timeout: 20 * 60_000 }, () => {
  let project: TempProject;
  let index: LabIndex;
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });

  before(async () => {
    await requireLab();
    index = await startIndex({ projects: projects() });
    const spec = pythonDeploySpec(NAME, index.url, `import importlib.metadata as m, sealbuild; print(sealbuild.__version__, m.version('sealbuild'))`);
    project = await makeTempProject({ 'envseal.yaml': spec, 'requirements.txt': 'sealbuild==1.0\n' });
  });

  after(async () => {
    const loaded = (await dockerCli(['images', '-q', '--filter', `reference=envseal/${NAME}`])).stdout.split('\n').filter(Boolean);
    await dockerCli(['rmi', '-f', TAG, `envseal-cache/${NAME}:deploy`, ...new Set(loaded)]).catch(() => undefined);
    await index?.close();
    await project?.cleanup();
  });

  test('lock records the sdist, its locked build requirements and the sha256 of the wheel built in the base image', async () => {
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.equal(lock.lockVersion, 4, 'a lock with a built sdist is version 4');
    const pkg = lock.python.packages.find((p: { name: string }) => p.name === 'sealbuild');
    assert.equal(pkg.file.filename, good.filename);
    assert.equal(pkg.file.sha256, good.sha256);
    assert.deepEqual(pkg.build.requires, ['setuptools>=61', 'wheel']);
    assert.equal(pkg.build.sourceDateEpoch, 1704164645);
    assert.deepEqual(
      pkg.build.deps.map((d: { name: string; version: string; file: { sha256: string } }) => `${d.name} ${d.version} ${d.file.sha256.length}`),
      ['setuptools 66.1.1 64', 'wheel 0.38.4 64'],
    );
    assert.equal(pkg.build.wheel.filename, 'sealbuild-1.0-py3-none-any.whl');
    assert.match(pkg.build.wheel.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      lock.python.packages.map((p: { name: string }) => p.name),
      ['sealbuild'],
      'build requirements are not installed in the image',
    );
  });

  test('generate writes a builder stage; the deploy image imports the package; a clean rebuild gives the same image ID', async () => {
    const generated = await envseal(['generate']);
    assert.equal(generated.code, 0, generated.stderr);
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const wheel = lock.python.packages[0].build.wheel;
    assert.match(dockerfile, / AS python-sdists\n/);
    assert.ok(dockerfile.includes(`'${wheel.sha256}  /tmp/envseal-wheels/${wheel.filename}' | sha256sum -c -`), dockerfile);
    assert.ok(dockerfile.includes('COPY --from=python-sdists /tmp/envseal-wheels/ /tmp/envseal-wheels/'));
    const built = await envseal(['build', '--target', 'deploy', '--no-cache', '-t', TAG]);
    assert.equal(built.code, 0, built.stderr);
    const ran = await dockerCli(['run', '--rm', '--network', 'none', TAG]);
    assert.equal(ran.stdout.trim(), '1.0 1.0');
    const verified = await envseal(['verify', '--rebuild', '--image', TAG]);
    assert.equal(verified.code, 0, `${verified.stdout}\n${verified.stderr}`);
    assert.match(verified.stdout, /ok {3}rebuild: a clean rebuild gives the same image sha256:[0-9a-f]{64}/);
  });

  test('a bundle carries the sdist and its build requirements; load --rebuild from the bundle alone gives the same image ID', async () => {
    const bundled = await envseal(['bundle', '-o', project.path('b.tar'), '--target', 'deploy', '--image', TAG]);
    assert.equal(bundled.code, 0, bundled.stderr);
    const listed = execFileSync('tar', ['-tf', project.path('b.tar')], { encoding: 'utf8' });
    for (const f of [good.filename, 'setuptools-66.1.1-py3-none-any.whl', 'wheel-0.38.4-py3-none-any.whl']) assert.ok(listed.includes(`python/${f}`), listed);
    await index.close();
    const loaded = await envseal(['load', project.path('b.tar'), '--rebuild']);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout + loaded.stderr, /every entry checked, same image ID/);
    index = await startIndex({ projects: projects(), port: index.port });
  });

  test('an sdist whose build backend is not on the index is refused (exit 2, naming it); the lock is byte-identical', async () => {
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    await writeFile(project.path('requirements.txt'), 'sealbuild==1.0\nsealflit==1.0\n');
    const refused = await envseal(['lock']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /cannot lock the build requirements of sealflit 1\.0 \(sealflit-1\.0\.tar\.gz\) \(flit_core>=3\.2,<4\): .*flit-core/);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);
  });

  test('an sdist whose build fails is refused with the build output (exit 2); the lock is byte-identical', async () => {
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    await writeFile(project.path('requirements.txt'), 'sealbuild==1.0\nsealbroken==1.0\n');
    const refused = await envseal(['lock']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /building sealbroken 1\.0 \(sealbroken-1\.0\.tar\.gz\) into a wheel in the base image \S+ \(linux\/amd64\) failed \(exit 1\)/);
    assert.match(refused.stderr, /this sdist does not build/);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);
  });

  test('an sdist with dynamic metadata (Metadata-Version 2.1) is built at lock time: its built dependencies are locked', async () => {
    await writeFile(project.path('requirements.txt'), 'sealdyn==1.0\n');
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    assert.match(locked.stderr, /building sealdyn 1\.0 \(sealdyn-1\.0\.tar\.gz\) in the base image/);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const byName = Object.fromEntries(lock.python.packages.map((p: { name: string }) => [p.name, p]));
    assert.deepEqual(Object.keys(byName).sort(), ['sealbuild', 'sealdyn'], "sealbuild comes from the built wheel's Requires-Dist");
    assert.equal(byName.sealdyn.file.sha256, dynamic.sha256);
    assert.equal(byName.sealdyn.build.wheel.filename, 'sealdyn-1.0-py3-none-any.whl');
    assert.deepEqual(byName.sealbuild.via, ['requirements.txt > sealdyn > sealbuild']);
    const generated = await envseal(['generate']);
    assert.equal(generated.code, 0, generated.stderr);
    const built = await envseal(['build', '--target', 'deploy', '-t', TAG]);
    assert.equal(built.code, 0, built.stderr);
    const ran = await dockerCli([
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      'python',
      TAG,
      '-c',
      'import sealdyn, sealbuild; print(sealdyn.__version__)',
    ]);
    assert.equal(ran.stdout.trim(), '1.0');
  });

  test("a re-lock takes the dynamic sdist's build from the cache (by sdist sha256) instead of building again", async () => {
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    const again = await envseal(['lock', '--upgrade']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /using the cached build of sealdyn 1\.0 \(sealdyn-1\.0\.tar\.gz\)/);
    assert.doesNotMatch(again.stderr, /building sealdyn/);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);
  });

  test('a dynamic-metadata sdist whose build fails is refused with the build output (exit 2); the lock is byte-identical', async () => {
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    await writeFile(project.path('requirements.txt'), 'sealdyn==1.0\nsealdynbroken==1.0\n');
    const refused = await envseal(['lock']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /building sealdynbroken 1\.0 \(sealdynbroken-1\.0\.tar\.gz\) into a wheel in the base image \S+ \(linux\/amd64\) failed \(exit 1\)/,
    );
    assert.match(refused.stderr, /this dynamic sdist does not build/);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);
    await writeFile(project.path('requirements.txt'), 'sealdyn==1.0\n');
  });
});
