/**
 * Wheels required by URL (`name @ https://host/name-1.0-py3-none-any.whl`): which URLs the manifests accept
 * and how the others are refused, the check against the target, fetching (sha256, fragment, previous pin),
 * the resolver treating the URL's wheel as the project's only version, the lock entry and lock version, the
 * Dockerfile line and both export formats.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { EnvsealError, inputError, isEnvsealError } from '../../src/core/errors.js';
import type { CoreMetadataDocument, FileFetcher, IndexFile, IndexProject, PackageIndex } from '../../src/core/ports.js';
import { silentLogger } from '../../src/core/ports.js';
import { checkDirectUrl } from '../../src/ecosystems/python/manifests/direct-url.js';
import { parseRequirementsText } from '../../src/ecosystems/python/manifests/requirements.js';
import { parsePyproject } from '../../src/ecosystems/python/manifests/pyproject.js';
import { collectWantedWheels, fetchDirectWheels } from '../../src/ecosystems/python/direct-wheels.js';
import { resolvePython } from '../../src/ecosystems/python/resolver/resolve-python.js';
import type { DirectWheel } from '../../src/ecosystems/python/resolver/types.js';
import type { DeclaredRequirement, LockedPythonPackage, PythonSection } from '../../src/ecosystems/python/schema.js';
import { exportPylock, exportRequirements } from '../../src/ecosystems/python/export.js';
import type { ResolveContext } from '../../src/ecosystems/types.js';
import { renderDockerfile } from '../../src/dockerfile/render-dockerfile.js';
import { finalizeLock, parseLock, serializeLock } from '../../src/lock/lock-file.js';
import { MemoryIndex, renderMetadata } from '../fixtures/resolve/memory-index.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';
import { sampleDraft } from '../fixtures/lock/sample-lock.js';
import { loadPython } from '../../src/ecosystems/python/load.js';
import { pythonSpecSchema } from '../../src/ecosystems/python/schema.js';
import { CredentialStore } from '../../src/core/url-credentials.js';

const INDEX = 'http://127.0.0.1:9/simple';
const URL_ = 'http://127.0.0.1:7/wheels/mypkg-1.0-py3-none-any.whl';
const SHA = 'ab'.repeat(32);

function req(requirement: string, extra: Partial<DeclaredRequirement> = {}): DeclaredRequirement {
  return { requirement, hashes: [], source: 'requirements.txt', kind: 'requirement', targets: ['deploy', 'dev'], ...extra };
}

function caught(fn: () => unknown): EnvsealError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof EnvsealError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

async function rejected(p: Promise<unknown>): Promise<EnvsealError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isEnvsealError(err), String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

describe('direct URLs: which ones can be locked', () => {
  it('accepts an http(s) wheel of the named project, with or without a #sha256= fragment', () => {
    const plain = checkDirectUrl('MyPkg', URL_);
    assert.ok(plain.ok && 'value' in plain);
    assert.equal(plain.value.url, URL_);
    assert.equal(plain.value.sha256, undefined);
    assert.equal(plain.value.wheel?.versionText, '1.0');
    const pinned = checkDirectUrl('mypkg', `${URL_}#sha256=${SHA.toUpperCase()}`);
    assert.ok(pinned.ok && 'value' in pinned);
    assert.equal(pinned.value.url, URL_);
    assert.equal(pinned.value.sha256, SHA);
  });

  const refused: [string, string, string, RegExp][] = [
    ['VCS other than git', 'mypkg', 'hg+https://example.org/org/mypkg@v1', /VCS requirements other than git \(hg\+…\) are not supported yet/],
    [
      'a git URL with a fragment',
      'mypkg',
      'git+https://example.org/org/mypkg.git@v1#egg=mypkg',
      /the URL fragment #egg= is not supported \(only #subdirectory=\)/,
    ],
    ['a git+ssh URL with a password', 'mypkg', 'git+ssh://git:pw@example.org/org/mypkg.git@v1', /carries credentials/],
    ['a git+svn URL', 'mypkg', 'git+svn://example.org/org/mypkg@v1', /only git\+https:\/\/, git\+http:\/\/, git\+ssh:\/\/ and git\+file:\/\/ repositories/],
    ['a git URL with credentials', 'mypkg', 'git+https://user:secret@example.org/org/mypkg.git@v1', /carries credentials/],
    ['a .tar.bz2 archive', 'mypkg', 'https://example.org/mypkg-1.0.tar.bz2', /mypkg-1\.0\.tar\.bz2 is an archive envseal cannot build/],
    ['an sdist of another project', 'mypkg', 'https://example.org/otherpkg-1.0.tar.gz', /otherpkg-1\.0\.tar\.gz is not an sdist of mypkg/],
    [
      'an sdist without a version',
      'mypkg',
      'https://example.org/mypkg-latest.tar.gz',
      /mypkg-latest\.tar\.gz is not an sdist of mypkg: "latest" is not a PEP 440 version/,
    ],
    ['not a wheel', 'mypkg', 'https://example.org/download?id=3', /names neither a wheel \(\.whl\) nor an sdist/],
    ['another project', 'otherpkg', URL_, /the wheel mypkg-1\.0-py3-none-any\.whl is mypkg, not otherpkg/],
    ['a file URL', 'mypkg', 'file:///tmp/mypkg-1.0-py3-none-any.whl', /only http:\/\/ and https:\/\/ URLs/],
    ['credentials', 'mypkg', 'https://user:secret@example.org/mypkg-1.0-py3-none-any.whl', /carries credentials/],
    ['another fragment', 'mypkg', `${URL_}#md5=abc`, /is not #sha256=<64 hex digits>/],
    ['a bad wheel name', 'mypkg', 'https://example.org/mypkg-1.0.whl', /not a valid wheel file name/],
  ];
  for (const [what, name, url, message] of refused) {
    it(`refuses ${what}, saying what to do`, () => {
      const check = checkDirectUrl(name, url);
      assert.ok(!check.ok);
      assert.match(check.problem, message);
      assert.ok(check.hint.length > 20);
    });
  }
  it('accepts a git URL: the repository and the ref (none: the default branch)', () => {
    const tagged = checkDirectUrl('mypkg', 'git+https://github.com/org/mypkg.git@v1.0');
    assert.ok(tagged.ok && 'git' in tagged);
    assert.deepEqual(tagged.git, { repo: 'https://github.com/org/mypkg.git', ref: 'v1.0' });
    const head = checkDirectUrl('mypkg', 'git+http://127.0.0.1:8080/mypkg.git');
    assert.ok(head.ok && 'git' in head);
    assert.deepEqual(head.git, { repo: 'http://127.0.0.1:8080/mypkg.git' });
  });

  it('accepts an sdist URL of the named project (.tar.gz or .zip), with or without #sha256=', () => {
    const plain = checkDirectUrl('My_Pkg', 'https://example.org/files/my_pkg-1.0.tar.gz');
    assert.deepEqual(plain, { ok: true, value: { url: 'https://example.org/files/my_pkg-1.0.tar.gz', filename: 'my_pkg-1.0.tar.gz' } });
    const pinned = checkDirectUrl('mypkg', `https://example.org/mypkg-2.0.zip#sha256=${SHA}`);
    assert.deepEqual(pinned, { ok: true, value: { url: 'https://example.org/mypkg-2.0.zip', sha256: SHA, filename: 'mypkg-2.0.zip' } });
  });

  it('names both ways out for other VCS and sdist URLs: publish a wheel, or pin a wheel URL', () => {
    const check = checkDirectUrl('mypkg', 'hg+https://example.org/org/mypkg@v1');
    assert.ok(!check.ok);
    assert.match(check.hint, /publish a wheel of mypkg to a package index/);
    assert.match(check.hint, /pin a wheel by URL: "mypkg @ https:/);
  });
});

describe('direct URLs in manifests', () => {
  it('requirements.txt keeps a wheel URL requirement with its fragment and --hash', () => {
    const [entry] = parseRequirementsText(`mypkg @ ${URL_}#sha256=${SHA} --hash=sha256:${SHA}\n`, 'requirements.txt');
    assert.ok(entry?.kind === 'requirement');
    assert.equal(entry.requirement.url, `${URL_}#sha256=${SHA}`);
    assert.deepEqual(entry.hashes, [`sha256:${SHA}`]);
  });

  it('requirements.txt refuses VCS and sdist URLs with file:line, exit 2, and masks credentials', () => {
    const vcs = caught(() => parseRequirementsText('numpy\nmypkg @ svn+https://example.org/org/mypkg@v1\n', 'requirements.txt'));
    assert.equal(vcs.code, 'manifest.direct-url');
    assert.equal(vcs.exitCode, 2);
    assert.match(
      vcs.message,
      /^requirements\.txt:2: direct URL requirement "mypkg @ svn\+https:.*VCS requirements other than git \(svn\+…\) are not supported yet/,
    );
    const sdist = caught(() => parseRequirementsText('mypkg @ https://example.org/mypkg-1.0.tar.bz2', 'requirements.txt'));
    assert.match(sdist.message, /^requirements\.txt:1: .*mypkg-1\.0\.tar\.bz2 is an archive envseal cannot build/);
    const [kept] = parseRequirementsText('mypkg @ https://example.org/mypkg-1.0.tar.gz', 'requirements.txt');
    assert.ok(kept?.kind === 'requirement');
    assert.equal(kept.requirement.url, 'https://example.org/mypkg-1.0.tar.gz');
    const secret = caught(() => parseRequirementsText('mypkg @ https://user:hunter2@example.org/mypkg-1.0-py3-none-any.whl', 'requirements.txt'));
    assert.doesNotMatch(secret.message, /hunter2/);
    assert.match(secret.message, /carries credentials/);
  });

  it('pyproject.toml [project.dependencies] accepts wheel and sdist URLs and refuses another archive with its line', () => {
    const toml = (dep: string) => `[project]\nname = "app"\nversion = "1"\ndependencies = [\n  "requests",\n  "${dep}",\n]\n`;
    const manifest = parsePyproject(toml(`mypkg @ ${URL_}`), 'pyproject.toml');
    assert.equal(manifest.dependencies[1]!.requirement.url, URL_);
    assert.equal(
      parsePyproject(toml('mypkg @ https://example.org/mypkg-1.0.tar.gz'), 'pyproject.toml').dependencies[1]!.requirement.url,
      'https://example.org/mypkg-1.0.tar.gz',
    );
    const err = caught(() => parsePyproject(toml('mypkg @ https://example.org/mypkg-1.0.tar.xz'), 'pyproject.toml'));
    assert.equal(err.code, 'manifest.direct-url');
    assert.match(err.message, /^pyproject\.toml:6: project\.dependencies\[1\]: .*mypkg-1\.0\.tar\.xz is an archive envseal cannot build/);
  });
});

describe('direct URLs against the target', () => {
  it('keeps one wheel per project, skipping requirements whose marker does not apply', () => {
    const wanted = collectWantedWheels(
      [
        req('requests'),
        req(`mypkg @ ${URL_}`),
        req(`mypkg @ ${URL_}`, { source: 'other.txt' }),
        req(`skipped @ http://h/skipped-1-py3-none-any.whl ; sys_platform == "win32"`),
      ],
      BOOKWORM_TARGET,
    );
    assert.deepEqual(
      wanted.map((w) => [w.name, w.url]),
      [['mypkg', URL_]],
    );
  });

  it('refuses a wheel for another interpreter or platform (exit 2)', () => {
    const url = 'http://127.0.0.1:7/mypkg-1.0-cp312-cp312-win_amd64.whl';
    const err = caught(() => collectWantedWheels([req(`mypkg @ ${url}`)], BOOKWORM_TARGET));
    assert.equal(err.code, 'python.direct-url-platform');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /mypkg-1\.0-cp312-cp312-win_amd64\.whl \(required by URL\) does not fit CPython 3\.11\.2 on Linux x86_64.*cp312-cp312-win_amd64/);
  });

  it('refuses two URLs for one project and a URL in a constraint (exit 2)', () => {
    const other = 'http://127.0.0.1:7/mypkg-2.0-py3-none-any.whl';
    const two = caught(() => collectWantedWheels([req(`mypkg @ ${URL_}`), req(`mypkg @ ${other}`, { source: 'dev.txt' })], BOOKWORM_TARGET));
    assert.equal(two.code, 'python.direct-url-conflict');
    assert.match(two.message, /mypkg is required from two URLs/);
    const constraint = caught(() => collectWantedWheels([req(`mypkg @ ${URL_}`, { kind: 'constraint', source: 'c.txt' })], BOOKWORM_TARGET));
    assert.equal(constraint.code, 'python.direct-url-constraint');
    assert.equal(constraint.exitCode, 2);
  });
});

const META = renderMetadata('mypkg', { version: '1.0', deps: ['dep>=1'] });

function fakeCtx(over: { digest?: FileFetcher['digest']; previous?: PythonSection | null; upgradeAll?: boolean; upgradePackages?: string[] } = {}) {
  const calls = { digest: 0, metadata: [] as IndexFile[] };
  const index: PackageIndex = {
    getProject: async () => null,
    getCoreMetadata: async (_p: IndexProject, file: IndexFile): Promise<CoreMetadataDocument> => {
      calls.metadata.push(file);
      return { text: META, source: 'wheel' };
    },
  };
  const files: FileFetcher = {
    digest: async (url, opts) => {
      calls.digest += 1;
      return over.digest ? over.digest(url, opts) : { sha256: SHA, size: 1234 };
    },
  };
  const ctx = {
    index,
    files,
    logger: silentLogger,
    options: { upgradeAll: over.upgradeAll ?? false, ...(over.upgradePackages ? { upgradePackages: over.upgradePackages } : {}) },
    previous: over.previous ?? null,
  } as unknown as ResolveContext<PythonSection>;
  return { ctx, calls };
}

describe('fetching wheels required by URL', () => {
  it('pins the sha256 and size of the download and reads the METADATA checked against it', async () => {
    const { ctx, calls } = fakeCtx();
    const [wheel] = await fetchDirectWheels(collectWantedWheels([req(`mypkg @ ${URL_}#sha256=${SHA}`)], BOOKWORM_TARGET), ctx);
    assert.equal(calls.digest, 1);
    assert.deepEqual(wheel!.file, {
      filename: 'mypkg-1.0-py3-none-any.whl',
      url: URL_,
      hashes: { sha256: SHA },
      yanked: false,
      coreMetadata: false,
      size: 1234,
    });
    assert.equal(calls.metadata[0]!.hashes.sha256, SHA);
    assert.equal(wheel!.metadata, META);
  });

  it('refuses a download that disagrees with the #sha256= fragment (exit 2)', async () => {
    const { ctx } = fakeCtx({ digest: async () => ({ sha256: 'cd'.repeat(32), size: 1 }) });
    const err = await rejected(fetchDirectWheels(collectWantedWheels([req(`mypkg @ ${URL_}#sha256=${SHA}`)], BOOKWORM_TARGET), ctx));
    assert.equal(err.code, 'python.direct-url-hash');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, new RegExp(`has sha256 ${'cd'.repeat(32)}, but its #sha256= fragment says ${SHA}`));
  });

  it('says which requirement names a URL the host does not serve (exit 2)', async () => {
    const { ctx } = fakeCtx({
      digest: async () => {
        throw inputError('files.not-found', `fetching ${URL_} answered 404 Not Found`);
      },
    });
    const err = await rejected(fetchDirectWheels(collectWantedWheels([req(`mypkg @ ${URL_}`)], BOOKWORM_TARGET), ctx));
    assert.equal(err.code, 'python.direct-url-not-found');
    assert.match(err.message, /^requirements\.txt: fetching .* answered 404/);
  });

  it('keeps the previous pin of the same URL without downloading again, unless upgrading', async () => {
    const previous = { packages: [directPackage()] } as unknown as PythonSection;
    const kept = fakeCtx({ previous, digest: async () => ({ sha256: 'ee'.repeat(32), size: 9 }) });
    const [wheel] = await fetchDirectWheels(collectWantedWheels([req(`mypkg @ ${URL_}`)], BOOKWORM_TARGET), kept.ctx);
    assert.equal(kept.calls.digest, 0);
    assert.equal(wheel!.file.hashes.sha256, SHA);
    const upgraded = fakeCtx({ previous, upgradeAll: true, digest: async () => ({ sha256: 'ee'.repeat(32), size: 9 }) });
    const [fresh] = await fetchDirectWheels(collectWantedWheels([req(`mypkg @ ${URL_}`)], BOOKWORM_TARGET), upgraded.ctx);
    assert.equal(upgraded.calls.digest, 1);
    assert.equal(fresh!.file.hashes.sha256, 'ee'.repeat(32));
    const one = fakeCtx({ previous, upgradePackages: ['MyPkg'], digest: async () => ({ sha256: 'ee'.repeat(32), size: 9 }) });
    await fetchDirectWheels(collectWantedWheels([req(`mypkg @ ${URL_}`)], BOOKWORM_TARGET), one.ctx);
    assert.equal(one.calls.digest, 1, '--upgrade-package names the project as written');
    const moved = fakeCtx({ previous });
    await fetchDirectWheels(collectWantedWheels([req(`mypkg @ ${URL_.replace('1.0', '1.0.0')}`)], BOOKWORM_TARGET), moved.ctx);
    assert.equal(moved.calls.digest, 1, 'another URL is fetched');
  });
});

function directWheel(): DirectWheel {
  return {
    name: 'mypkg',
    file: { filename: 'mypkg-1.0-py3-none-any.whl', url: URL_, hashes: { sha256: SHA }, yanked: false, coreMetadata: false, size: 1234 },
    metadata: META,
  };
}

function directPackage(): LockedPythonPackage {
  return {
    name: 'mypkg',
    version: '1.0',
    file: { filename: 'mypkg-1.0-py3-none-any.whl', url: URL_, sha256: SHA, size: 1234 },
    index: URL_,
    direct: true,
    via: ['requirements.txt > mypkg'],
    targets: ['deploy', 'dev'],
  };
}

describe('resolving with a wheel required by URL', () => {
  // The index has mypkg 3.0 too: the URL's 1.0 is the only version the resolver may take.
  const index = () => new MemoryIndex({ [INDEX]: { mypkg: [{ version: '3.0' }], dep: [{ version: '1.0' }, { version: '2.0' }] } });
  const resolve = (requirements: DeclaredRequirement[], more: object = {}) =>
    resolvePython({ requirements, indexes: [INDEX], target: BOOKWORM_TARGET, options: {}, direct: [directWheel()], ...more }, { index: index() });

  it('takes the URL wheel as the only version and resolves its dependencies from the index', async () => {
    const { packages } = await resolve([req(`mypkg @ ${URL_}`)]);
    const byName = Object.fromEntries(packages.map((p) => [p.name, p]));
    assert.deepEqual(byName.mypkg, directPackage());
    assert.equal(byName.dep!.version, '2.0');
    assert.equal(byName.dep!.index, INDEX);
    assert.equal(byName.dep!.direct, undefined);
  });

  it('is not left out by excludeNewer (the URL pins it; it has no upload time)', async () => {
    const idx = new MemoryIndex({ [INDEX]: { dep: [{ version: '1.0', uploadTime: '2019-01-01T00:00:00Z' }] } });
    const { packages } = await resolvePython(
      {
        requirements: [req(`mypkg @ ${URL_}`)],
        indexes: [INDEX],
        target: BOOKWORM_TARGET,
        options: { excludeNewer: '2020-01-01T00:00:00Z' },
        direct: [directWheel()],
      },
      { index: idx },
    );
    assert.deepEqual(packages.map((p) => p.name).sort(), ['dep', 'mypkg']);
  });

  it('a requirement elsewhere that the URL version does not satisfy is a normal resolver failure (exit 2)', async () => {
    const err = await rejected(resolve([req(`mypkg @ ${URL_}`), req('mypkg>=2', { source: 'dev.txt' })]));
    assert.equal(err.exitCode, 2);
    assert.match(err.code, /^python\.(no-match|unsatisfiable)$/);
    assert.match(err.message, /mypkg/);
    assert.match(err.message, /dev\.txt requires mypkg>=2 \(mypkg is required by URL as 1\.0, which does not match >=2\)/);
  });

  it('a URL requirement whose marker does not apply is skipped like any other', async () => {
    const { packages } = await resolvePython(
      {
        requirements: [req('dep'), req(`other @ http://h/other-1-py3-none-any.whl ; sys_platform == "win32"`)],
        indexes: [INDEX],
        target: BOOKWORM_TARGET,
        options: {},
      },
      { index: index() },
    );
    assert.deepEqual(
      packages.map((p) => p.name),
      ['dep'],
    );
  });

  it('a URL requirement without its fetched wheel is an internal error, never an index lookup', async () => {
    const err = await rejected(
      resolvePython({ requirements: [req(`other @ ${URL_}`)], indexes: [INDEX], target: BOOKWORM_TARGET, options: {} }, { index: index() }),
    );
    assert.equal(err.code, 'python.direct-reference');
    assert.equal(err.exitCode, 70);
  });
});

describe('a wheel required by URL in the lock, the Dockerfile and the exports', () => {
  const draft = () => {
    const d = sampleDraft();
    d.python!.packages = [...d.python!.packages, directPackage()];
    return d;
  };

  it('makes the lock version 2 (version 1 cannot say `direct`), and reads back byte for byte', () => {
    assert.equal(finalizeLock(sampleDraft()).lockVersion, 1);
    const lock = finalizeLock(draft());
    assert.equal(lock.lockVersion, 2);
    const text = serializeLock(lock);
    assert.equal(serializeLock(parseLock(text)), text);
    assert.match(text, /"direct": true/);
  });

  it('installs it by URL with its hash, still with --only-binary :all:', () => {
    const text = renderDockerfile(finalizeLock(draft()), {
      template: readFileSync(new URL('../../templates/Dockerfile.tmpl', import.meta.url), 'utf8'),
      seedHook: readFileSync(new URL('../../templates/envseal_seed.py', import.meta.url), 'utf8'),
      lockPath: 'envseal.lock',
      lockDigest: `sha256:${'7'.repeat(64)}`,
      toolVersion: '0.1.0',
      sbom: { path: 'envseal.sbom.cdx.json', digest: `sha256:${'5'.repeat(64)}` },
    });
    assert.ok(text.includes(`'mypkg @ ${URL_} --hash=sha256:${SHA}'`), text);
    assert.match(text, /--require-hashes --only-binary :all:/);
  });

  it('exports it as `name @ url --hash` and as a pylock wheel with its url and no index', () => {
    const lock = finalizeLock(draft());
    const source = { section: lock.python!, target: lock.target, fingerprint: lock.fingerprint, lockFile: 'envseal.lock', toolVersion: '0.1.0' };
    const reqs = exportRequirements(source, 'deploy');
    assert.ok(reqs.includes(`\nmypkg @ ${URL_} \\\n    --hash=sha256:${SHA}\n`), reqs);
    assert.ok(!reqs.includes(`--extra-index-url ${URL_}`), reqs);
    const entries = parseRequirementsText(reqs, 'exported.txt').filter((e) => e.kind === 'requirement');
    assert.ok(entries.some((e) => e.kind === 'requirement' && e.requirement.url === URL_ && e.hashes[0] === `sha256:${SHA}`));
    const doc = parseToml(exportPylock(source)) as { packages: Record<string, unknown>[] };
    const mypkg = JSON.parse(JSON.stringify(doc.packages.find((p) => p.name === 'mypkg')));
    assert.equal(mypkg.index, undefined);
    assert.deepEqual(mypkg.wheels, [{ name: 'mypkg-1.0-py3-none-any.whl', url: URL_, size: 1234, hashes: { sha256: SHA } }]);
  });
});

describe('direct URLs inline in envseal.yaml (python.packages)', () => {
  const load = (packages: string[]) =>
    loadPython({ ...pythonSpecSchema.parse({}), packages }, undefined, {
      specFile: 'envseal.yaml',
      readManifest: async () => '',
      readOptional: async () => null,
      credentials: new CredentialStore(),
    });

  it('keeps a wheel URL (fragment included, so the input hash covers it)', async () => {
    const loaded = await load([`mypkg @ ${URL_}#sha256=${SHA}`]);
    assert.deepEqual(
      loaded!.declared.requirements.map((r) => r.requirement),
      [`mypkg @ ${URL_}#sha256=${SHA}`],
    );
  });

  it('refuses a non-git VCS URL with the spec path (exit 2)', async () => {
    const err = await rejected(load(['numpy', 'mypkg @ bzr+https://example.org/org/mypkg@v1']));
    assert.equal(err.code, 'manifest.direct-url');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /^envseal\.yaml: python\.packages\.1: direct URL requirement .*VCS requirements other than git \(bzr\+…\) are not supported yet/);
  });
});
