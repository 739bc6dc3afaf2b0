/**
 * Git requirements built at lock time (vcs-dynamic.ts): when a commit's metadata needs a build, the exact
 * setuptools-scm version of a tagged commit, `#subdirectory=` in git URLs and locked URLs, the build command
 * with the pretend version, and the ref the lock remembers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dynamicMetadataReason, scmVersionAt, usesScmVersion } from '../../src/ecosystems/python/vcs-dynamic.js';
import { lockedGitUrl, parseGitUrl, parseLockedGitUrl } from '../../src/ecosystems/python/manifests/vcs-url.js';
import { buildCommands } from '../../src/ecosystems/python/sdist-build.js';
import { withGitRefs, type GitSource } from '../../src/ecosystems/python/vcs.js';

const C = 'a'.repeat(40);
const D = 'b'.repeat(40);
const TAG_OBJ = 'c'.repeat(40);

describe('git requirements: which commits need a build', () => {
  it('static [project] metadata needs none; setup.py, no [project] table and dynamic fields do', () => {
    assert.equal(dynamicMetadataReason({ pyproject: '[project]\nname = "x"\nversion = "1"\n' }), null);
    assert.equal(dynamicMetadataReason({ pyproject: '[project]\nname = "x"\nversion = "1"\ndynamic = ["readme"]\n' }), null);
    assert.equal(dynamicMetadataReason({ setupPy: 'setup()' }), 'it has a setup.py and no pyproject.toml');
    assert.match(dynamicMetadataReason({ pyproject: '[build-system]\nrequires = ["poetry-core"]\n' })!, /no \[project\] table/);
    assert.equal(
      dynamicMetadataReason({ pyproject: '[project]\nname = "x"\ndynamic = ["version", "dependencies"]\n' }),
      '[project].dynamic lists version, dependencies',
    );
    // Nothing to build from: the static reader reports it.
    assert.equal(dynamicMetadataReason({}), null);
    assert.equal(dynamicMetadataReason({ pyproject: '[tool.black]\n' }), null);
  });

  it('recognises versions from git: setuptools-scm, hatch-vcs, use_scm_version', () => {
    assert.ok(usesScmVersion({ pyproject: '[build-system]\nrequires = ["setuptools", "setuptools_scm[toml]>=8"]\n' }));
    assert.ok(usesScmVersion({ pyproject: '[build-system]\nrequires = ["hatchling", "hatch-vcs"]\n' }));
    assert.ok(usesScmVersion({ pyproject: '[tool.setuptools_scm]\n' }));
    assert.ok(usesScmVersion({ pyproject: '[tool.hatch.version]\nsource = "vcs"\n' }));
    assert.ok(usesScmVersion({ setupPy: 'setup(use_scm_version=True)' }));
    assert.ok(!usesScmVersion({ pyproject: '[build-system]\nrequires = ["setuptools>=61"]\n' }));
    assert.ok(!usesScmVersion({ setupPy: 'setup(version="1")' }));
  });
});

describe('git requirements: the setuptools-scm version of a commit', () => {
  it('a commit with one version tag (annotated: peeled; lightweight; name- prefix, v) gives its version', () => {
    const annotated = [
      { name: 'refs/tags/v1.2.0', oid: TAG_OBJ },
      { name: 'refs/tags/v1.2.0^{}', oid: C },
      { name: 'refs/heads/main', oid: D },
    ];
    assert.deepEqual(scmVersionAt(C, annotated, {}), { ok: true, version: '1.2.0', tag: 'v1.2.0' });
    assert.deepEqual(scmVersionAt(C, [{ name: 'refs/tags/mypkg-2.0rc1', oid: C }], {}), { ok: true, version: '2.0rc1', tag: 'mypkg-2.0rc1' });
    // Tags without a digit are not seen by git describe --match *[0-9]*; two spellings of one version are one.
    const same = [
      { name: 'refs/tags/latest', oid: C },
      { name: 'refs/tags/v3.0', oid: C },
      { name: 'refs/tags/3.0.0', oid: C },
    ];
    assert.deepEqual(scmVersionAt(C, same.slice(0, 2), {}), { ok: true, version: '3.0', tag: 'v3.0' });
  });

  it('refuses a commit past a tag, several version tags and a custom tag regex (not exact)', () => {
    const past = scmVersionAt(D, [{ name: 'refs/tags/v1.0', oid: C }], {});
    assert.ok(!past.ok);
    assert.match(past.problem, /commit b{40} is not the commit of a version tag/);
    assert.match(past.hint, /require the commit of a version tag/);
    const several = scmVersionAt(
      C,
      [
        { name: 'refs/tags/v1.0', oid: C },
        { name: 'refs/tags/v2.0', oid: C },
      ],
      {},
    );
    assert.ok(!several.ok);
    assert.match(several.problem, /several version tags \(v1\.0, v2\.0\)/);
    const custom = scmVersionAt(C, [{ name: 'refs/tags/v1.0', oid: C }], { pyproject: '[tool.setuptools_scm]\ntag_regex = "^rel-(?P<version>.*)$"\n' });
    assert.ok(!custom.ok);
    assert.match(custom.problem, /custom tag_regex/);
  });
});

describe('git requirements: #subdirectory=', () => {
  it('parses the subdirectory with or without a ref, and round-trips it through the locked URL', () => {
    assert.deepEqual(parseGitUrl('git+https://h.example/mono.git@v1#subdirectory=libs/pkg'), {
      ok: true,
      value: { repo: 'https://h.example/mono.git', ref: 'v1', subdirectory: 'libs/pkg' },
    });
    assert.deepEqual(parseGitUrl('git+https://h.example/mono.git#subdirectory=pkg/'), {
      ok: true,
      value: { repo: 'https://h.example/mono.git', subdirectory: 'pkg' },
    });
    const url = lockedGitUrl('https://h.example/mono.git', C, 'libs/pkg');
    assert.equal(url, `git+https://h.example/mono.git@${C}#subdirectory=libs/pkg`);
    assert.deepEqual(parseLockedGitUrl(url), { repo: 'https://h.example/mono.git', commit: C, subdirectory: 'libs/pkg' });
    assert.deepEqual(parseLockedGitUrl(lockedGitUrl('https://h.example/x.git', C)), { repo: 'https://h.example/x.git', commit: C });
  });

  it('refuses paths that leave the repository or need quoting, and other fragments', () => {
    for (const [fragment, message] of [
      ['subdirectory=../x', /is not a relative path inside the repository/],
      ['subdirectory=/abs', /is not a relative path inside the repository/],
      ['subdirectory=a//b', /is not a relative path inside the repository/],
      ['subdirectory=a%20b', /is not a relative path inside the repository/],
      ['subdirectory=', /is not a relative path inside the repository/],
      ['egg=mypkg', /#egg= is not supported \(only #subdirectory=\)/],
    ] as const) {
      const check = parseGitUrl(`git+https://h.example/mono.git@v1#${fragment}`);
      assert.ok(!check.ok, fragment);
      assert.match(check.problem, message);
      assert.match(check.hint, /#subdirectory=path\/in\/repo/);
    }
  });
});

describe('git requirements: the build and the lock', () => {
  const py = { interpreter: '/usr/bin/python3', indexes: ['http://127.0.0.1:5080/simple'] };
  const pkg = {
    name: 'mypkg',
    version: '1.2.0',
    index: `git+https://h.example/mono.git@${C}#subdirectory=libs/pkg`,
    direct: true as const,
    file: { filename: 'mypkg-1.2.0.tar.gz', url: `git+https://h.example/mono.git@${C}#subdirectory=libs/pkg`, sha256: 'e'.repeat(64) },
  };
  it('pip builds the archive in the subdirectory; setuptools-scm is given the locked version', () => {
    const text = buildCommands(py, pkg, { deps: [], sourceDateEpoch: 1700000000, scmVersion: '1.2.0' }).join(' && ');
    assert.ok(text.includes(`mypkg @ file:///tmp/envseal-vcs/${C}/mypkg-1.2.0.tar.gz#subdirectory=libs/pkg --hash=sha256:${'e'.repeat(64)}`), text);
    assert.ok(text.includes('SOURCE_DATE_EPOCH=1700000000 SETUPTOOLS_SCM_PRETEND_VERSION=1.2.0 /tmp/envseal-build/mypkg/bin/python -m pip wheel'), text);
    const plain = buildCommands(py, pkg, { deps: [], sourceDateEpoch: 1700000000 }).join(' && ');
    assert.ok(!plain.includes('SETUPTOOLS_SCM_PRETEND_VERSION'));
  });

  it('the lock remembers the ref of each git package (HEAD for the default branch)', () => {
    const url = lockedGitUrl('https://h.example/x.git', C);
    const git = [{ direct: { name: 'x', file: { url } }, commit: C, ref: 'main', archive: Buffer.alloc(0) }] as unknown as GitSource[];
    const out = withGitRefs(
      [
        { name: 'x', file: { url } },
        { name: 'y', file: { url: 'https://files.example/y-1.whl' } },
      ],
      git,
    );
    assert.deepEqual(out, [
      { name: 'x', file: { url }, ref: 'main' },
      { name: 'y', file: { url: 'https://files.example/y-1.whl' } },
    ]);
  });
});
