/**
 * Git requirements (issue 10, "VCS requirements"): parsing `git+` URLs, choosing the commit a ref names among
 * the remote's refs, the lock-time steps through fake GitSources and engine ports (the real ones in
 * test/e2e/cli-vcs.test.ts), the static metadata read from the commit's pyproject.toml, the builder stage that
 * COPYs the archive, and the exports.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { parse as parseToml } from 'smol-toml';
import { EnvsealError } from '../../src/core/errors.js';
import { silentLogger, type ContainerEngine, type ContainerRunOptions, type GitSources } from '../../src/core/ports.js';
import { chooseCommit, lockedGitUrl, parseGitUrl, parseLockedGitUrl, vcsArchivePath } from '../../src/ecosystems/python/manifests/vcs-url.js';
import { collectWantedGit, fetchGitSources, staticCoreMetadata } from '../../src/ecosystems/python/vcs.js';
import { lockSdistBuilds } from '../../src/ecosystems/python/sdist-build.js';
import { collectWantedWheels } from '../../src/ecosystems/python/direct-wheels.js';
import { exportPylock, exportRequirements } from '../../src/ecosystems/python/export.js';
import type { DeclaredRequirement, LockedPythonPackage, PythonSection } from '../../src/ecosystems/python/schema.js';
import type { ResolveContext } from '../../src/ecosystems/types.js';
import { renderDockerfile } from '../../src/dockerfile/render-dockerfile.js';
import { finalizeLock, parseLock, serializeLock } from '../../src/lock/lock-file.js';
import { MemoryIndex } from '../fixtures/resolve/memory-index.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';
import { sampleDraft } from '../fixtures/lock/sample-lock.js';
import { buildSdist } from '../lab/wheel.js';

const C1 = '1'.repeat(40);
const C2 = '2'.repeat(40);
const TAGOBJ = '3'.repeat(40);
const REPO = 'https://git.test/org/pkg.git';
const REFS = [
  { name: 'HEAD', oid: C2 },
  { name: 'refs/heads/main', oid: C2 },
  { name: 'refs/heads/release', oid: C1 },
  { name: 'refs/tags/v1.0', oid: TAGOBJ },
  { name: 'refs/tags/v1.0^{}', oid: C1 },
  { name: 'refs/tags/light', oid: C1 },
];
const PYPROJECT = (version = '1.0', extra = '') =>
  `[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "Pkg"\nversion = "${version}"\ndependencies = ["dep>=1"]\n${extra}`;

async function caught(p: Promise<unknown> | (() => unknown)): Promise<EnvsealError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof EnvsealError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

function req(requirement: string, extra: Partial<DeclaredRequirement> = {}): DeclaredRequirement {
  return { requirement, hashes: [], source: 'requirements.txt', kind: 'requirement', targets: ['deploy', 'dev'], ...extra };
}

describe('git+ URLs', () => {
  it('splits the repository from the ref (the last @ of the path); no ref means the default branch', () => {
    assert.deepEqual(parseGitUrl(`git+${REPO}@v1.0`), { ok: true, value: { repo: REPO, ref: 'v1.0' } });
    assert.deepEqual(parseGitUrl(`git+${REPO}@feature/x`), { ok: true, value: { repo: REPO, ref: 'feature/x' } });
    assert.deepEqual(parseGitUrl(`git+${REPO}`), { ok: true, value: { repo: REPO } });
    assert.deepEqual(parseGitUrl('git+http://127.0.0.1:8080/r.git@main'), { ok: true, value: { repo: 'http://127.0.0.1:8080/r.git', ref: 'main' } });
    assert.deepEqual(parseGitUrl('git+file:///srv/git/r.git@' + C1), { ok: true, value: { repo: 'file:///srv/git/r.git', ref: C1 } });
  });

  it('takes git+ssh:// with a login user (an account name, not a secret) and a port; the ref is after the last @', () => {
    assert.deepEqual(parseGitUrl('git+ssh://git@git.test/org/pkg.git@v1'), { ok: true, value: { repo: 'ssh://git@git.test/org/pkg.git', ref: 'v1' } });
    assert.deepEqual(parseGitUrl('git+ssh://git@127.0.0.1:2222/srv/pkg.git'), { ok: true, value: { repo: 'ssh://git@127.0.0.1:2222/srv/pkg.git' } });
    assert.deepEqual(parseGitUrl('git+ssh://mirror/srv/pkg.git@main'), { ok: true, value: { repo: 'ssh://mirror/srv/pkg.git', ref: 'main' } });
  });

  it('refuses what cannot be locked, saying why', () => {
    const problems: [string, RegExp][] = [
      [`git+${REPO}@`, /ends in "@" without a ref/],
      [`git+${REPO}@v1#egg=pkg`, /fragment/],
      ['git+svn://git.test/org/pkg.git@v1', /not git\+svn:/],
      ['git+ssh://git:secret@git.test/org/pkg.git@v1', /credentials/],
      ['git+https://u:p@git.test/org/pkg.git@v1', /credentials/],
      ['git+https://git.test/org/pkg.git@v1?x=1', /query string/],
      ['git+not a url', /is not a URL/],
    ];
    for (const [url, problem] of problems) {
      const check = parseGitUrl(url);
      assert.ok(!check.ok, url);
      assert.match(check.problem, problem, url);
    }
  });

  it('the lock names the commit in pip syntax, and reads it back', () => {
    const url = lockedGitUrl(REPO, C1);
    assert.equal(url, `git+${REPO}@${C1}`);
    assert.deepEqual(parseLockedGitUrl(url), { repo: REPO, commit: C1 });
    assert.equal(parseLockedGitUrl(`git+${REPO}@main`), null);
    assert.equal(parseLockedGitUrl('http://index.test/files/pkg-1.0.tar.gz'), null);
    assert.equal(vcsArchivePath(C1, 'pkg-1.0.tar.gz'), `.envseal/vcs/${C1}/pkg-1.0.tar.gz`);
  });
});

describe('the commit a ref names', () => {
  it('peels an annotated tag; takes a light tag, a branch, a full ref name, HEAD without a ref, a full commit as is', () => {
    assert.deepEqual(chooseCommit('v1.0', REFS), { ok: true, commit: C1, via: 'tag v1.0' });
    assert.deepEqual(chooseCommit('light', REFS), { ok: true, commit: C1, via: 'tag light' });
    assert.deepEqual(chooseCommit('main', REFS), { ok: true, commit: C2, via: 'branch main' });
    assert.deepEqual(chooseCommit('refs/heads/release', REFS), { ok: true, commit: C1, via: 'refs/heads/release' });
    assert.deepEqual(chooseCommit(undefined, REFS), { ok: true, commit: C2, via: 'HEAD (the default branch)' });
    assert.deepEqual(chooseCommit('a'.repeat(40), REFS), { ok: true, commit: 'a'.repeat(40), via: 'commit' });
  });

  it('refuses an unknown ref naming the known ones, an abbreviated commit, and a repository without HEAD', () => {
    const unknown = chooseCommit('v9', REFS);
    assert.ok(!unknown.ok);
    assert.equal(unknown.code, 'python.vcs-ref');
    assert.match(unknown.problem, /no tag or branch "v9"/);
    assert.match(unknown.hint, /main, release, v1\.0, light/);
    const short = chooseCommit('1111111', REFS);
    assert.ok(!short.ok);
    assert.equal(short.code, 'python.vcs-short-commit');
    assert.match(short.hint, /full 40-character commit/);
    const empty = chooseCommit(undefined, []);
    assert.ok(!empty.ok);
    assert.match(empty.problem, /no HEAD/);
  });
});

describe('static metadata of a commit', () => {
  it('writes Metadata-Version 2.2 from [project], with extras as markers', () => {
    const meta = staticCoreMetadata(
      PYPROJECT('1.2', 'requires-python = ">=3.9"\n\n[project.optional-dependencies]\nfast = ["speed", "win; sys_platform == \'win32\'"]\n'),
      'pkg',
      'x',
    );
    assert.equal(meta.version, '1.2');
    assert.equal(
      meta.text,
      [
        'Metadata-Version: 2.2',
        'Name: Pkg',
        'Version: 1.2',
        'Requires-Python: >=3.9',
        'Requires-Dist: dep>=1',
        'Provides-Extra: fast',
        'Requires-Dist: speed; extra == "fast"',
        `Requires-Dist: win; (sys_platform == 'win32') and extra == "fast"`,
        '',
      ].join('\n'),
    );
  });

  it('refuses what only a build could tell, another project, or no pyproject.toml (exit 2, python.vcs-metadata)', async () => {
    const cases: [string | undefined, string, RegExp][] = [
      [undefined, 'pkg', /has no pyproject\.toml/],
      ['[project\n', 'pkg', /not valid TOML/],
      ['[tool.x]\n', 'pkg', /no \[project\] table/],
      [PYPROJECT('1.0', 'dynamic = ["version"]\n').replace('version = "1.0"\n', ''), 'pkg', /dynamic lists version/],
      [PYPROJECT(), 'other', /\[project\]\.name is "Pkg", not other/],
      [PYPROJECT('one'), 'pkg', /is not a PEP 440 version/],
    ];
    for (const [text, name, message] of cases) {
      const err = await caught(() => staticCoreMetadata(text, name, 'requirements.txt: pkg @ git+x'));
      assert.equal(err.code, 'python.vcs-metadata');
      assert.equal(err.exitCode, 2);
      assert.match(err.message, message);
      assert.match(err.hint ?? '', /static \[project\] table/);
    }
  });
});

function fakeGit(pyproject = PYPROJECT()) {
  const archive = buildSdist({ name: 'pkg', version: '1.0', files: { 'pyproject.toml': pyproject, 'pkg/__init__.py': '' } });
  const calls: string[] = [];
  const git: GitSources = {
    listRefs: async (repo) => {
      calls.push(`ls-remote ${repo}`);
      return REFS;
    },
    archive: async (repo, commit, prefix) => {
      calls.push(`archive ${repo} ${commit} ${prefix}`);
      return { data: archive.bytes, commitTime: 1704164645 };
    },
  };
  return { git, calls, archive };
}

function fakeCtx(git: GitSources, run = { exitCode: 0, stdout: `${'c'.repeat(64)}  pkg-1.0-py3-none-any.whl\n` }) {
  const index = new MemoryIndex({ 'http://index.test/simple': { setuptools: [{ version: '66.1.1' }], wheel: [{ version: '0.38.4' }] } });
  const runs: ContainerRunOptions[] = [];
  const engine = {
    // The platform image (by its manifest digest) is there already: nothing is pulled.
    inspectImage: async () => ({ id: 'sha256:x', repoTags: [], repoDigests: [], labels: {}, env: [], layers: [], os: 'linux', architecture: 'amd64' }),
    runContainer: async (options: ContainerRunOptions) => {
      runs.push(options);
      (options.stdout as Writable).write(run.stdout);
      return { exitCode: run.exitCode, containerId: 'x' };
    },
  } as unknown as ContainerEngine;
  const ctx = {
    ground: { base: { pinned: `base@sha256:${'e'.repeat(64)}`, reference: 'base:1', platform: 'linux/amd64' }, target: BOOKWORM_TARGET },
    engine,
    index,
    git,
    logger: silentLogger,
    options: {},
    previous: null,
  } as unknown as ResolveContext<PythonSection>;
  return { ctx, runs };
}

describe('locking a git requirement', () => {
  it('collects one requirement per project for the target; two refs of one project conflict (exit 2)', async () => {
    const wanted = collectWantedGit(
      [
        req(`pkg @ git+${REPO}@v1.0`),
        req('numpy'),
        req(`other @ git+${REPO}@main ; sys_platform == "win32"`),
        req(`pkg @ git+${REPO}@v1.0`, { source: 'b.txt' }),
      ],
      BOOKWORM_TARGET,
    );
    assert.deepEqual(
      wanted.map((w) => `${w.name} ${w.repo} ${w.ref}`),
      [`pkg ${REPO} v1.0`],
    );
    const err = await caught(() => collectWantedGit([req(`pkg @ git+${REPO}@v1.0`), req(`pkg @ git+${REPO}@main`)], BOOKWORM_TARGET));
    assert.equal(err.code, 'python.direct-url-conflict');
  });

  it('a git URL in a constraint is refused like any URL, before anything is fetched (exit 2)', async () => {
    const err = await caught(() => collectWantedWheels([req(`pkg @ git+${REPO}@v1.0`, { kind: 'constraint' })], BOOKWORM_TARGET));
    assert.equal(err.code, 'python.direct-url-constraint');
    assert.equal(err.exitCode, 2);
    assert.deepEqual(collectWantedWheels([req(`pkg @ git+${REPO}@v1.0`)], BOOKWORM_TARGET), [], 'git requirements are not wheels');
  });

  it('pins the commit, the archive sha256 and the commit time; the resolver sees an sdist with static metadata', async () => {
    const { git, calls, archive } = fakeGit();
    const { ctx } = fakeCtx(git);
    const [source] = await fetchGitSources(collectWantedGit([req(`pkg @ git+${REPO}@v1.0`)], BOOKWORM_TARGET), ctx);
    assert.deepEqual(calls, [`ls-remote ${REPO}`, `archive ${REPO} ${C1} pkg-${C1}`]);
    assert.equal(source!.commit, C1);
    assert.equal(source!.direct.file.url, `git+${REPO}@${C1}`);
    assert.equal(source!.direct.file.filename, 'pkg-1.0.tar.gz');
    assert.equal(source!.direct.file.hashes.sha256, createHash('sha256').update(archive.bytes).digest('hex'));
    assert.equal(source!.direct.file.uploadTime, '2024-01-02T03:04:05Z');
    assert.match(source!.direct.metadata, /^Metadata-Version: 2\.2\nName: Pkg\nVersion: 1\.0\n/);
  });

  it('names the requirement and the ref when the ref is unknown or abbreviated (exit 2)', async () => {
    const { git } = fakeGit();
    const { ctx } = fakeCtx(git);
    const unknown = await caught(fetchGitSources(collectWantedGit([req(`pkg @ git+${REPO}@nope`)], BOOKWORM_TARGET), ctx));
    assert.equal(unknown.code, 'python.vcs-ref');
    assert.equal(unknown.exitCode, 2);
    assert.match(
      unknown.message,
      new RegExp(`^requirements\\.txt: pkg @ git\\+${REPO.replace(/[.]/g, '\\.')}@nope: the repository has no tag or branch "nope"`),
    );
    const short = await caught(fetchGitSources(collectWantedGit([req(`pkg @ git+${REPO}@${C1.slice(0, 12)}`)], BOOKWORM_TARGET), ctx));
    assert.equal(short.code, 'python.vcs-short-commit');
    assert.equal(short.exitCode, 2);
  });

  it('builds it in the base from the archive sent on stdin, hash-checked by pip as a file', async () => {
    const { git } = fakeGit();
    const { ctx, runs } = fakeCtx(git);
    const [source] = await fetchGitSources(collectWantedGit([req(`pkg @ git+${REPO}@v1.0`)], BOOKWORM_TARGET), ctx);
    const pkg: LockedPythonPackage = {
      name: 'pkg',
      version: '1.0',
      file: {
        filename: source!.direct.file.filename,
        url: source!.direct.file.url,
        sha256: source!.direct.file.hashes.sha256!,
        uploadTime: '2024-01-02T03:04:05Z',
      },
      index: source!.direct.file.url,
      direct: true,
      via: ['requirements.txt'],
      targets: ['deploy', 'dev'],
    };
    const [built] = await lockSdistBuilds(
      [pkg],
      { interpreter: 'python3', indexes: ['http://index.test/simple'] },
      ctx,
      new Map([[pkg.file.url, source!.archive]]),
    );
    assert.equal(built!.build!.sourceDateEpoch, 1704164645);
    assert.deepEqual(built!.build!.requires, ['setuptools>=61', 'wheel']);
    assert.ok(runs[0]!.stdin, 'the archive goes in on stdin');
    const script = runs[0]!.cmd[2]!;
    assert.match(script, new RegExp(`^mkdir -p /tmp/envseal-vcs/${C1} && cat > /tmp/envseal-vcs/${C1}/pkg-1\\.0\\.tar\\.gz && `));
    assert.ok(script.includes(`'pkg @ file:///tmp/envseal-vcs/${C1}/pkg-1.0.tar.gz --hash=sha256:${pkg.file.sha256}'`), script);
  });
});

const gitPackage = (): LockedPythonPackage => ({
  name: 'pkg',
  version: '1.0',
  file: { filename: 'pkg-1.0.tar.gz', url: `git+${REPO}@${C1}`, sha256: 'd'.repeat(64), uploadTime: '2024-01-02T03:04:05Z' },
  index: `git+${REPO}@${C1}`,
  direct: true,
  build: {
    requires: ['setuptools>=61', 'wheel'],
    sourceDateEpoch: 1704164645,
    deps: [
      {
        name: 'setuptools',
        version: '66.1.1',
        file: { filename: 'setuptools-66.1.1-py3-none-any.whl', url: 'http://index.test/files/s.whl', sha256: '1'.repeat(64) },
        index: 'http://index.test/simple',
      },
    ],
    wheel: { filename: 'pkg-1.0-py3-none-any.whl', sha256: 'c'.repeat(64) },
  },
  via: ['requirements.txt'],
  targets: ['deploy', 'dev'],
});

describe('a git package in the lock, the Dockerfile and the exports', () => {
  const lock = () => {
    const d = sampleDraft();
    d.python!.packages = [...d.python!.packages, gitPackage()];
    return finalizeLock(d);
  };

  it('is a version 4 lock (it has `build`) that reads back byte for byte', () => {
    const text = serializeLock(lock());
    assert.equal(lock().lockVersion, 4);
    assert.equal(serializeLock(parseLock(text)), text);
  });

  it('the builder stage COPYs the archive from .envseal/vcs and builds it as a hash-checked file', () => {
    const text = renderDockerfile(lock(), {
      template: readFileSync(new URL('../../templates/Dockerfile.tmpl', import.meta.url), 'utf8'),
      seedHook: readFileSync(new URL('../../templates/envseal_seed.py', import.meta.url), 'utf8'),
      lockPath: 'envseal.lock',
      lockDigest: `sha256:${'7'.repeat(64)}`,
      toolVersion: '0.1.0',
      sbom: { path: 'envseal.sbom.cdx.json', digest: `sha256:${'5'.repeat(64)}` },
    });
    assert.ok(text.includes(`COPY .envseal/vcs/${C1}/pkg-1.0.tar.gz /tmp/envseal-vcs/${C1}/pkg-1.0.tar.gz\n`), text);
    assert.ok(text.includes(`'pkg @ file:///tmp/envseal-vcs/${C1}/pkg-1.0.tar.gz --hash=sha256:${'d'.repeat(64)}'`), text);
    assert.ok(text.includes(`'pkg @ file:///tmp/envseal-wheels/pkg-1.0-py3-none-any.whl --hash=sha256:${'c'.repeat(64)}'`), text);
    assert.ok(!text.includes('@main'), 'no moving ref');
  });

  it('exports pylock [packages.vcs] with the commit, and requirements with the commit (installed apart: pip cannot hash a checkout)', () => {
    const l = lock();
    const source = { section: l.python!, target: l.target, fingerprint: l.fingerprint, lockFile: 'envseal.lock', toolVersion: '0.1.0' };
    const doc = parseToml(exportPylock(source)) as { packages: Record<string, unknown>[] };
    const pkg = doc.packages.find((p) => p.name === 'pkg')!;
    assert.deepEqual(JSON.parse(JSON.stringify(pkg.vcs)), { type: 'git', url: REPO, 'commit-id': C1 });
    for (const other of ['sdist', 'wheels', 'index']) assert.equal(pkg[other], undefined);
    const reqs = exportRequirements(source, 'deploy');
    assert.ok(reqs.includes(`#   pip install --no-deps 'pkg @ git+${REPO}@${C1}'`), reqs);
    assert.ok(!/^pkg @/m.test(reqs), 'not a hash-checked line');
  });
});
