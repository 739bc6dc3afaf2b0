/**
 * sdists built into wheels (issue 10, "sdists"): reading [build-system] from an sdist, the build requirements
 * resolved and locked, the lock-time build through the engine port (a fake engine here; the real one in
 * test/e2e/cli-sdist.test.ts), the lock's `build` entry (version 4) and the Dockerfile's builder stage.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { EnvsealError } from '../../src/core/errors.js';
import { silentLogger, type ContainerRunOptions, type ContainerEngine, type IndexFile, type IndexProject } from '../../src/core/ports.js';
import { buildEpoch, buildRequires, DEFAULT_BUILD_REQUIRES, lockSdistBuilds, SdistBuilder } from '../../src/ecosystems/python/sdist-build.js';
import { readSdistTopFile } from '../../src/ecosystems/python/index-client/python-archive.js';
import { lockedPythonFiles, type LockedPythonPackage, type PythonSection } from '../../src/ecosystems/python/schema.js';
import { renderProjectPages } from '../../src/app/bundle/offline-index.js';
import { checkManifestAgainstLock } from '../../src/app/bundle/manifest.js';
import type { ResolveContext } from '../../src/ecosystems/types.js';
import { renderDockerfile } from '../../src/dockerfile/render-dockerfile.js';
import { finalizeLock, parseLock, serializeLock } from '../../src/lock/lock-file.js';
import { MemoryIndex } from '../fixtures/resolve/memory-index.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';
import { sampleDraft } from '../fixtures/lock/sample-lock.js';
import { buildSdist } from '../lab/wheel.js';

const INDEX = 'http://index.test/simple';
const WHEEL_SHA = 'c'.repeat(64);
const PYPROJECT = (requires: string, backend = 'setuptools.build_meta') => `[build-system]\nrequires = ${requires}\nbuild-backend = "${backend}"\n`;

async function caught(p: Promise<unknown> | (() => unknown)): Promise<EnvsealError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof EnvsealError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('[build-system] of an sdist', () => {
  it('reads pyproject.toml from the top directory of a .tar.gz, and nothing deeper', async () => {
    const sdist = buildSdist({
      name: 'pkg',
      version: '1.0',
      files: { 'pyproject.toml': PYPROJECT('["flit_core>=3.2"]', 'flit_core.buildapi'), 'sub/pyproject.toml': 'x' },
    });
    assert.equal(await readSdistTopFile(sdist.bytes, sdist.filename, 'pyproject.toml'), PYPROJECT('["flit_core>=3.2"]', 'flit_core.buildapi'));
    assert.equal(await readSdistTopFile(sdist.bytes, sdist.filename, 'setup.cfg'), undefined);
  });

  it("defaults to setuptools' requirements and adds wheel for setuptools' backend (its get_requires_for_build_wheel)", () => {
    assert.deepEqual(buildRequires(undefined, 'a.tar.gz'), DEFAULT_BUILD_REQUIRES);
    assert.deepEqual(buildRequires('[project]\nname = "a"\n', 'a.tar.gz'), DEFAULT_BUILD_REQUIRES);
    assert.deepEqual(buildRequires(PYPROJECT('["setuptools>=61"]'), 'a.tar.gz'), ['setuptools>=61', 'wheel']);
    assert.deepEqual(buildRequires(PYPROJECT('["setuptools>=61", "Wheel>=0.38"]'), 'a.tar.gz'), ['setuptools>=61', 'Wheel>=0.38']);
    assert.deepEqual(buildRequires(PYPROJECT('["flit_core>=3.2"]', 'flit_core.buildapi'), 'a.tar.gz'), ['flit_core>=3.2']);
  });

  it('refuses a pyproject.toml that is not TOML, or requires that are not strings (exit 2)', async () => {
    const bad = await caught(() => buildRequires('[build-system\n', 'a-1.0.tar.gz'));
    assert.equal(bad.code, 'python.sdist-build');
    assert.equal(bad.exitCode, 2);
    assert.match(bad.message, /^a-1\.0\.tar\.gz: its pyproject\.toml is not valid TOML/);
    const list = await caught(() => buildRequires('[build-system]\nrequires = "setuptools"\n', 'a-1.0.tar.gz'));
    assert.match(list.message, /a-1\.0\.tar\.gz: \[build-system\]\.requires in its pyproject\.toml is not a list of strings/);
  });

  it('takes SOURCE_DATE_EPOCH from the upload time, else 1980-01-01', () => {
    assert.equal(buildEpoch('2024-01-02T03:04:05Z'), 1704164645);
    assert.equal(buildEpoch(undefined), 315532800);
    assert.equal(buildEpoch('1970-01-01T00:00:00Z'), 315532800);
  });
});

function sdistPackage(over: Partial<LockedPythonPackage> = {}): LockedPythonPackage {
  return {
    name: 'pkg',
    version: '1.0',
    file: { filename: 'pkg-1.0.tar.gz', url: 'http://index.test/files/pkg/pkg-1.0.tar.gz', sha256: 'd'.repeat(64), uploadTime: '2024-01-02T03:04:05Z' },
    index: INDEX,
    via: ['requirements.txt > pkg'],
    targets: ['deploy', 'dev'],
    ...over,
  };
}

function fakeCtx(pyproject: string | undefined, run: { exitCode: number; stdout: string; stderr?: string }) {
  const sdist = buildSdist({ name: 'pkg', version: '1.0', files: { 'pkg/__init__.py': '', ...(pyproject ? { 'pyproject.toml': pyproject } : {}) } });
  const index = new MemoryIndex({ [INDEX]: { setuptools: [{ version: '66.1.1' }, { version: '50.0' }], wheel: [{ version: '0.38.4' }] } });
  const fetched: string[] = [];
  const withFiles = Object.assign(index, {
    getFile: async (_p: IndexProject, file: IndexFile) => {
      fetched.push(`${file.url} ${file.hashes.sha256}`);
      return sdist.bytes;
    },
  });
  const runs: ContainerRunOptions[] = [];
  const engine = {
    // The platform image (by its manifest digest) is there already: nothing is pulled.
    inspectImage: async () => ({ id: 'sha256:x', repoTags: [], repoDigests: [], labels: {}, env: [], layers: [], os: 'linux', architecture: 'amd64' }),
    runContainer: async (options: ContainerRunOptions) => {
      runs.push(options);
      (options.stdout as Writable).write(run.stdout);
      (options.stderr as Writable).write(run.stderr ?? '');
      return { exitCode: run.exitCode, containerId: 'x' };
    },
  } as unknown as ContainerEngine;
  const ctx = {
    ground: {
      base: {
        pinned: `base:1@sha256:${'e'.repeat(64)}`,
        repository: 'base',
        platformDigest: `sha256:${'e'.repeat(64)}`,
        reference: 'base:1',
        platform: 'linux/amd64',
      },
      target: BOOKWORM_TARGET,
    },
    engine,
    index: withFiles,
    logger: silentLogger,
    options: {},
    previous: null,
  } as unknown as ResolveContext<PythonSection>;
  return { ctx, runs, fetched };
}

const PY = { interpreter: 'python3', indexes: [INDEX] };
const BUILT_METADATA = 'Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Dist: tinyconfig>=1.0\n';
const BUILT_STDOUT = `${WHEEL_SHA}  pkg-1.0-py3-none-any.whl\nenvseal-metadata ${Buffer.from(BUILT_METADATA).toString('base64')}\n`;

/** An in-memory BuildResultCache. */
function memoryCache() {
  const entries = new Map<string, string>();
  return { entries, get: async (k: string) => entries.get(k), put: async (k: string, v: string) => void entries.set(k, v) };
}

describe('locking an sdist build', () => {
  it('resolves the build requirements (wheels, locked with their hashes), builds once in the base and records the wheel', async () => {
    const { ctx, runs, fetched } = fakeCtx(PYPROJECT('["setuptools>=61"]'), { exitCode: 0, stdout: BUILT_STDOUT });
    const [wheelPkg, built] = await lockSdistBuilds(
      [{ ...sdistPackage({ name: 'tinyconfig' }), file: { filename: 'tinyconfig-1.0-py3-none-any.whl', url: 'u', sha256: 'f'.repeat(64) } }, sdistPackage()],
      PY,
      ctx,
    );
    assert.equal(wheelPkg!.build, undefined, 'a wheel is not built');
    assert.deepEqual(fetched, [`http://index.test/files/pkg/pkg-1.0.tar.gz ${'d'.repeat(64)}`]);
    const build = built!.build!;
    assert.deepEqual(build.requires, ['setuptools>=61', 'wheel']);
    assert.equal(build.sourceDateEpoch, 1704164645);
    assert.deepEqual(
      build.deps.map((d) => `${d.name} ${d.version} ${d.file.filename}`),
      ['setuptools 66.1.1 setuptools-66.1.1-py3-none-any.whl', 'wheel 0.38.4 wheel-0.38.4-py3-none-any.whl'],
    );
    assert.match(build.deps[0]!.file.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(build.wheel, { filename: 'pkg-1.0-py3-none-any.whl', sha256: WHEEL_SHA });
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.image, `base@sha256:${'e'.repeat(64)}`, "the platform's own manifest");
    const script = runs[0]!.cmd[2]!;
    assert.match(script, new RegExp(`'setuptools==66\\.1\\.1 --hash=sha256:${build.deps[0]!.file.sha256}'`));
    assert.match(script, /--require-hashes --only-binary :all: --index-url http:\/\/index\.test\/simple/);
    assert.match(script, new RegExp(`'pkg==1\\.0 --hash=sha256:${'d'.repeat(64)}'`));
    assert.match(script, /SOURCE_DATE_EPOCH=1704164645 \S+ -m pip wheel --no-input --no-deps --no-build-isolation --require-hashes --no-binary pkg /);
  });

  it('names a build backend the index does not have (exit 2)', async () => {
    const { ctx, runs } = fakeCtx(PYPROJECT('["flit_core>=3.2"]', 'flit_core.buildapi'), { exitCode: 0, stdout: '' });
    const err = await caught(lockSdistBuilds([sdistPackage()], PY, ctx));
    assert.equal(err.code, 'python.sdist-build');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^cannot lock the build requirements of pkg 1\.0 \(pkg-1\.0\.tar\.gz\) \(flit_core>=3\.2\): .*flit-core/);
    assert.equal(runs.length, 0, 'nothing is built');
  });

  it('refuses a build that fails in the base image, with its output (exit 2)', async () => {
    const { ctx } = fakeCtx(undefined, { exitCode: 1, stdout: '', stderr: 'error: invalid command bdist_wheel\n' });
    const err = await caught(lockSdistBuilds([sdistPackage()], PY, ctx));
    assert.equal(err.code, 'python.sdist-build');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^building pkg 1\.0 \(pkg-1\.0\.tar\.gz\) into a wheel in the base image base:1 \(linux\/amd64\) failed \(exit 1\)$/);
    assert.deepEqual(err.details, ['error: invalid command bdist_wheel']);
  });
});

describe('building an sdist whose metadata is dynamic (PEP 643)', () => {
  it("gives the built wheel's METADATA to the resolver and reuses that build for the lock (one container)", async () => {
    const { ctx, runs } = fakeCtx(PYPROJECT('["setuptools>=61"]'), { exitCode: 0, stdout: BUILT_STDOUT });
    const builder = new SdistBuilder(PY, ctx);
    const p = sdistPackage();
    const metadata = await builder.metadataOf({
      name: 'pkg',
      version: '1.0',
      index: INDEX,
      file: {
        filename: p.file.filename,
        url: p.file.url,
        hashes: { sha256: p.file.sha256 },
        yanked: false,
        coreMetadata: false,
        uploadTime: p.file.uploadTime!,
      },
    });
    assert.equal(metadata, BUILT_METADATA);
    const [locked] = await lockSdistBuilds([p], PY, ctx, builder);
    assert.deepEqual(locked!.build!.wheel, { filename: 'pkg-1.0-py3-none-any.whl', sha256: WHEEL_SHA });
    assert.equal(runs.length, 1, 'built once');
    assert.match(runs[0]!.cmd[2]!, /-c '.*envseal-metadata/s);
  });

  it('caches the result by the sdist sha256, base and build requirements: a second lock builds nothing', async () => {
    const cache = memoryCache();
    const first = fakeCtx(undefined, { exitCode: 0, stdout: BUILT_STDOUT });
    Object.assign(first.ctx.index, { buildCache: cache });
    await lockSdistBuilds([sdistPackage()], PY, first.ctx);
    assert.equal(first.runs.length, 1);
    assert.equal(cache.entries.size, 1);
    const [key] = [...cache.entries.keys()];
    assert.match(key!, new RegExp(`"sdist":"${'d'.repeat(64)}"`));
    assert.match(key!, /"base":"base(:1)?@sha256:e{64}","platform":"linux\/amd64"/);
    const second = fakeCtx(undefined, { exitCode: 1, stdout: '' });
    Object.assign(second.ctx.index, { buildCache: cache });
    const [again] = await lockSdistBuilds([sdistPackage()], PY, second.ctx);
    assert.equal(second.runs.length, 0, 'no container');
    assert.equal(again!.build!.wheel.sha256, WHEEL_SHA);
    const other = fakeCtx(undefined, { exitCode: 0, stdout: BUILT_STDOUT });
    Object.assign(other.ctx.index, { buildCache: cache });
    await lockSdistBuilds([sdistPackage({ file: { ...sdistPackage().file, sha256: 'a'.repeat(64) } })], PY, other.ctx);
    assert.equal(other.runs.length, 1, 'another sdist sha256 is another entry');
  });

  it('refuses a build that fails, with the tail of its output, and does not cache it (exit 2)', async () => {
    const cache = memoryCache();
    const { ctx } = fakeCtx(undefined, { exitCode: 1, stdout: '', stderr: 'line\n'.repeat(30) + 'error: no\n' });
    Object.assign(ctx.index, { buildCache: cache });
    const builder = new SdistBuilder(PY, ctx);
    const p = sdistPackage();
    const err = await caught(
      builder.metadataOf({
        name: 'pkg',
        version: '1.0',
        index: INDEX,
        file: { filename: p.file.filename, url: p.file.url, hashes: { sha256: p.file.sha256 }, yanked: false, coreMetadata: false },
      }),
    );
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^building pkg 1\.0 \(pkg-1\.0\.tar\.gz\) into a wheel in the base image base:1 \(linux\/amd64\) failed \(exit 1\)$/);
    assert.equal(err.details.length, 15);
    assert.equal(err.details.at(-1), 'error: no');
    assert.equal(cache.entries.size, 0);
  });

  it('refuses an sdist the index lists without a sha256 (exit 2)', async () => {
    const { ctx } = fakeCtx(undefined, { exitCode: 0, stdout: BUILT_STDOUT });
    const err = await caught(
      new SdistBuilder(PY, ctx).metadataOf({
        name: 'pkg',
        version: '1.0',
        index: INDEX,
        file: { filename: 'pkg-1.0.tar.gz', url: 'u', hashes: {}, yanked: false, coreMetadata: false },
      }),
    );
    assert.equal(err.code, 'python.sdist-build');
    assert.match(err.message, /gives no sha256/);
  });

  it('passes index credentials on stdin as netrc, never in the command or the environment', async () => {
    const { ctx, runs } = fakeCtx(undefined, { exitCode: 0, stdout: BUILT_STDOUT });
    Object.assign(ctx.index, { netrcFor: (urls: string[]) => (urls.includes(INDEX) ? 'machine index.test login u password s3cret\n' : '') });
    await lockSdistBuilds([sdistPackage()], PY, ctx);
    const run = runs[0]!;
    assert.ok(run.stdin, 'stdin is given');
    const chunks: Buffer[] = [];
    for await (const c of run.stdin) chunks.push(Buffer.from(c as Buffer));
    assert.equal(Buffer.concat(chunks).toString(), '43\nmachine index.test login u password s3cret\n', 'its byte count on a line, then the netrc');
    assert.doesNotMatch(JSON.stringify({ cmd: run.cmd, env: run.env ?? {} }), /s3cret/);
    assert.match(
      run.cmd[2]!,
      /^read n && netrc="\$\(dd bs=1 count="\$n" 2>\/dev\/null\)" && \(umask 077 && printf .* > \/tmp\/envseal-netrc\) && export NETRC=\/tmp\/envseal-netrc/,
    );
    assert.match(run.cmd[2]!, /; status=\$\?; rm -f \/tmp\/envseal-netrc; exit \$status$/);
  });

  it('gives no stdin when there are no credentials', async () => {
    const { ctx, runs } = fakeCtx(undefined, { exitCode: 0, stdout: BUILT_STDOUT });
    Object.assign(ctx.index, { netrcFor: () => '' });
    await lockSdistBuilds([sdistPackage()], PY, ctx);
    assert.equal(runs[0]!.stdin, undefined);
    assert.doesNotMatch(runs[0]!.cmd[2]!, /netrc/);
  });
});

const built = (): LockedPythonPackage =>
  sdistPackage({
    build: {
      requires: ['setuptools>=61', 'wheel'],
      sourceDateEpoch: 1704164645,
      deps: [
        {
          name: 'setuptools',
          version: '66.1.1',
          file: { filename: 'setuptools-66.1.1-py3-none-any.whl', url: 'http://index.test/files/s.whl', sha256: '1'.repeat(64) },
          index: INDEX,
        },
        {
          name: 'wheel',
          version: '0.38.4',
          file: { filename: 'wheel-0.38.4-py3-none-any.whl', url: 'http://index.test/files/w.whl', sha256: '2'.repeat(64) },
          index: INDEX,
        },
      ],
      wheel: { filename: 'pkg-1.0-py3-none-any.whl', sha256: WHEEL_SHA },
    },
  });

describe('a built sdist in the lock and the Dockerfile', () => {
  const draft = (pkg: LockedPythonPackage) => {
    const d = sampleDraft();
    d.python!.packages = [...d.python!.packages, pkg];
    return d;
  };
  const render = (pkg: LockedPythonPackage) =>
    renderDockerfile(finalizeLock(draft(pkg)), {
      template: readFileSync(new URL('../../templates/Dockerfile.tmpl', import.meta.url), 'utf8'),
      seedHook: readFileSync(new URL('../../templates/envseal_seed.py', import.meta.url), 'utf8'),
      lockPath: 'envseal.lock',
      lockDigest: `sha256:${'7'.repeat(64)}`,
      toolVersion: '0.1.0',
      sbom: { path: 'envseal.sbom.cdx.json', digest: `sha256:${'5'.repeat(64)}` },
    });

  it('makes the lock version 4 only when a package has `build`; it reads back byte for byte; the fingerprint covers the built wheel', () => {
    assert.equal(finalizeLock(sampleDraft()).lockVersion, 1);
    assert.equal(finalizeLock(draft(sdistPackage())).lockVersion, 1, 'an sdist without build is what older locks held');
    const lock = finalizeLock(draft(built()));
    assert.equal(lock.lockVersion, 4);
    const text = serializeLock(lock);
    assert.equal(serializeLock(parseLock(text)), text);
    const other = built();
    other.build!.wheel.sha256 = 'a'.repeat(64);
    assert.notEqual(finalizeLock(draft(other)).fingerprint, lock.fingerprint);
  });

  it('refuses a lock with `build` that says version 3 (exit 2)', async () => {
    const { fingerprint: _f, ...rest } = { ...finalizeLock(draft(built())), lockVersion: 3 as const };
    const { computeFingerprint } = await import('../../src/lock/fingerprint.js');
    const err = await caught(() => parseLock(serializeLock({ ...rest, fingerprint: computeFingerprint(rest) } as never)));
    assert.equal(err.code, 'lock.invalid');
    assert.match(err.details.join('\n'), /lockVersion: must be 4 for a lock with Python sdists built into wheels/);
  });

  it('builds the wheel in a builder stage from the hash-checked sdist and checks it against the lock; deps installs it hash-checked', () => {
    const text = render(built());
    const stage = text.slice(text.indexOf('AS python-sdists'), text.indexOf(' AS deps'));
    assert.match(text, /\nFROM 127\.0\.0\.1:5000\/python:bookworm@sha256:[0-9a-f]{64} AS python-sdists\n/);
    assert.ok(text.indexOf('AS python-sdists') < text.indexOf('AS deps'));
    assert.match(
      stage,
      /--require-hashes --only-binary :all: --index-url http:\/\/127\.0\.0\.1:5080\/simple -r \/tmp\/envseal-build\/pkg\/build-requirements\.txt/,
    );
    assert.match(stage, new RegExp(`'setuptools==66\\.1\\.1 --hash=sha256:${'1'.repeat(64)}' 'wheel==0\\.38\\.4 --hash=sha256:${'2'.repeat(64)}'`));
    assert.match(
      stage,
      /SOURCE_DATE_EPOCH=1704164645 \/tmp\/envseal-build\/pkg\/bin\/python -m pip wheel --no-input --no-deps --no-build-isolation --require-hashes --no-binary pkg/,
    );
    assert.ok(stage.includes(`printf '%s\\n' '${WHEEL_SHA}  /tmp/envseal-wheels/pkg-1.0-py3-none-any.whl' | sha256sum -c -`), stage);
    assert.match(text, /\nCOPY --from=python-sdists \/tmp\/envseal-wheels\/ \/tmp\/envseal-wheels\/\n/);
    assert.ok(text.includes(`'pkg @ file:///tmp/envseal-wheels/pkg-1.0-py3-none-any.whl --hash=sha256:${WHEEL_SHA}'`), text);
    assert.match(text, /--require-hashes --only-binary :all:/);
  });

  it('renders no builder stage without built sdists', () => {
    assert.ok(!render(sdistPackage()).includes('python-sdists'));
  });
});

describe('a built sdist in a bundle', () => {
  const lock = () => {
    const d = sampleDraft();
    d.python!.packages = [...d.python!.packages, built()];
    return finalizeLock(d);
  };

  it('serves the build requirements on the offline index next to the sdist', () => {
    const pages = renderProjectPages(lock());
    assert.match(pages.get('http://index.test/simple/setuptools') ?? '', /setuptools-66\.1\.1-py3-none-any\.whl/);
    assert.match(pages.get('http://index.test/simple/wheel') ?? '', /#sha256=2{64}/);
    assert.match(pages.get('http://index.test/simple/pkg') ?? '', /pkg-1\.0\.tar\.gz/);
  });

  it('is damaged when a build requirement the lock names is missing (exit 2)', async () => {
    const l = lock();
    const entries = lockedPythonFiles(l.python)
      .filter((p) => p.name !== 'wheel')
      .map((p) => ({ path: `python/${p.file.filename}`, kind: 'python' as const, sha256: p.file.sha256, size: 1 }));
    const err = await caught(() => checkManifestAgainstLock({ fingerprint: l.fingerprint, lockDigest: 'd', entries } as never, l, 'd', 'b.tar'));
    assert.equal(err.code, 'bundle.damaged');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^b\.tar: python\/wheel-0\.38\.4-py3-none-any\.whl \(wheel 0\.38\.4, in the lock\) is not in the bundle/);
  });
});
