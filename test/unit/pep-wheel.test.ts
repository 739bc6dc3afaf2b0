import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { formatTag } from '../../src/ecosystems/python/pep/tags.js';
import {
  compareBuildTags,
  parseSdistFilename,
  parseWheelFilename,
  tryParseSdistFilename,
  tryParseWheelFilename,
} from '../../src/ecosystems/python/pep/wheel.js';

describe('wheel file names (PEP 427)', () => {
  it('parses name, version, tags, and expands compressed tag sets', () => {
    const w = parseWheelFilename('numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl');
    assert.equal(w.name, 'numpy');
    assert.equal(w.normalizedName, 'numpy');
    assert.equal(w.versionText, '2.1.0');
    assert.equal(w.buildTag, null);
    assert.deepEqual(w.tags.map(formatTag), ['cp311-cp311-manylinux_2_17_x86_64', 'cp311-cp311-manylinux2014_x86_64']);

    const u = parseWheelFilename('six-1.16.0-py2.py3-none-any.whl');
    assert.deepEqual(u.tags.map(formatTag), ['py2-none-any', 'py3-none-any']);
  });

  it('accepts names that are not normalised and versions that are not canonical', () => {
    const w = parseWheelFilename('Foo_Bar.baz-1.0_RC1-py3-none-any.whl');
    assert.equal(w.name, 'Foo_Bar.baz');
    assert.equal(w.normalizedName, 'foo-bar-baz');
    assert.equal(w.versionText, '1.0rc1');
    assert.deepEqual(parseWheelFilename('pkg-1.0-PY3-NONE-ANY.whl').tags.map(formatTag), ['py3-none-any']);
  });

  it('parses the build tag and orders builds like pip', () => {
    const a = parseWheelFilename('pkg-1.0-1-py3-none-any.whl');
    const b = parseWheelFilename('pkg-1.0-2abc-py3-none-any.whl');
    assert.deepEqual(a.buildTag, { number: 1, suffix: '' });
    assert.deepEqual(b.buildTag, { number: 2, suffix: 'abc' });
    assert.ok(compareBuildTags(null, a.buildTag) < 0);
    assert.ok(compareBuildTags(a.buildTag, b.buildTag) < 0);
    assert.ok(compareBuildTags({ number: 2, suffix: 'a' }, { number: 2, suffix: 'b' }) < 0);
    assert.equal(compareBuildTags(b.buildTag, { number: 2, suffix: 'abc' }), 0);
  });

  const invalid: [string, string][] = [
    ['pkg-1.0-py3-none-any.zip', 'extension is not .whl'],
    ['pkg-1.0-py3-none.whl', 'found 4 dash-separated parts'],
    ['pkg-1.0-1-2-py3-none-any.whl', 'found 7 dash-separated parts'],
    ['foo__bar-1.0-py3-none-any.whl', 'not an escaped project name'],
    ['foo+bar-1.0-py3-none-any.whl', 'not an escaped project name'],
    ['pkg-one-py3-none-any.whl', '"one" is not a PEP 440 version'],
    ['pkg-1.0-x1-py3-none-any.whl', 'build tag "x1" does not start with a number'],
    ['pkg-1.0--none-any.whl', 'tags are not all present'],
  ];
  for (const [name, reason] of invalid) {
    it(`rejects ${name}: ${reason}`, () => {
      const r = tryParseWheelFilename(name);
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.reason.includes(reason), !r.ok ? r.reason : '');
      assert.throws(
        () => parseWheelFilename(name),
        (err: unknown) => err instanceof EnvsealError && err.code === 'wheel.filename.invalid' && err.message.includes(name) && err.message.includes(reason),
      );
    });
  }
});

describe('source distribution file names (PEP 625)', () => {
  it('splits at the last dash without a project name, as packaging does', () => {
    const s = parseSdistFilename('Django-4.2.tar.gz');
    assert.deepEqual([s.name, s.normalizedName, s.versionText, s.extension], ['Django', 'django', '4.2', '.tar.gz']);
    const z = parseSdistFilename('python-dateutil-2.8.2.zip');
    assert.deepEqual([z.name, z.versionText, z.extension], ['python-dateutil', '2.8.2', '.zip']);
  });

  it('matches the project name first when it is given, as pip does', () => {
    const s = parseSdistFilename('foo-bar-1.0-1.tar.gz', 'Foo_Bar');
    assert.deepEqual([s.name, s.versionText], ['foo-bar', '1.0.post1']);
    // Without the name the same file splits differently (and here, wrongly).
    assert.deepEqual([parseSdistFilename('foo-bar-1.0-1.tar.gz').name], ['foo-bar-1.0']);
    assert.equal(parseSdistFilename('python_dateutil-2.8.2.tar.gz', 'python-dateutil').versionText, '2.8.2');
  });

  const invalid: [string, string | undefined, string][] = [
    ['pkg-1.0.tar.bz2', undefined, 'neither .tar.gz nor .zip'],
    ['pkg.tar.gz', undefined, 'no "-" between the name and the version'],
    ['pkg-one.tar.gz', undefined, '"one" is not a PEP 440 version'],
    ['-1.0.tar.gz', undefined, 'the name is empty'],
    ['other-1.0.tar.gz', 'pkg', 'does not start with the project name "pkg"'],
  ];
  for (const [name, project, reason] of invalid) {
    it(`rejects ${name}${project ? ` for ${project}` : ''}: ${reason}`, () => {
      const r = tryParseSdistFilename(name, project);
      assert.ok(!r.ok && r.reason.includes(reason), !r.ok ? r.reason : 'parsed');
      assert.throws(() => parseSdistFilename(name, project), { code: 'sdist.filename.invalid' });
    });
  }
});
