import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import {
  type TargetInterpreter,
  computeLinuxPlatformTags,
  computeSupportedTags,
  formatTag,
  parseTagSet,
  rankWheel,
  tryParseTagSet,
} from '../../src/ecosystems/python/pep/tags.js';
import { parseWheelFilename } from '../../src/ecosystems/python/pep/wheel.js';

/**
 * test/fixtures/pep/sys-tags.json holds, for several targets, the tag lists computed by `packaging.tags`
 * (sys_tags order) and by pip's own `get_supported()` with the host probes replaced by the target's
 * values; test/fixtures/pep/generate-sys-tags.py regenerates it.
 */
const fixture: {
  packaging: string;
  pip: string;
  targets: { name: string; target: TargetInterpreter; tags: string[]; pip_tags: string[] }[];
} = JSON.parse(readFileSync(new URL('../fixtures/pep/sys-tags.json', import.meta.url), 'utf8'));

const x86: TargetInterpreter = {
  implementation: 'cpython',
  pythonVersion: [3, 11],
  abiFlags: '',
  machine: 'x86_64',
  libc: { kind: 'glibc', version: [2, 36] },
};

describe(`supported tags match packaging ${fixture.packaging} and pip ${fixture.pip}`, () => {
  for (const t of fixture.targets) {
    it(`${t.name}: ${t.tags.length} tags in the same order`, () => {
      const ours = computeSupportedTags(t.target).map(formatTag);
      assert.deepEqual(ours, t.tags);
      assert.deepEqual(ours, t.pip_tags);
    });
  }
  it('covers glibc and musl, x86_64 and aarch64, an abi-flagged build and a 32-bit ARM target', () => {
    const names = fixture.targets.map((t) => t.name);
    for (const part of ['glibc2.36-x86_64', 'glibc2.36-aarch64', 'musl1.2', 'cp37m', 'cp311d', 'armv7l']) {
      assert.ok(
        names.some((n) => n.includes(part)),
        part,
      );
    }
  });
});

describe('supported tags: structure', () => {
  it('starts with the exact interpreter on the newest manylinux and ends with py30-none-any', () => {
    const tags = computeSupportedTags(x86).map(formatTag);
    assert.equal(tags[0], 'cp311-cp311-manylinux_2_36_x86_64');
    assert.equal(tags.at(-1), 'py30-none-any');
    const at = (t: string) => tags.indexOf(t);
    assert.ok(at('cp311-cp311-manylinux2014_x86_64') === at('cp311-cp311-manylinux_2_17_x86_64') + 1);
    assert.ok(at('cp311-cp311-linux_x86_64') < at('cp311-abi3-manylinux_2_36_x86_64'));
    assert.ok(at('cp311-abi3-linux_x86_64') < at('cp311-none-manylinux_2_36_x86_64'));
    assert.ok(at('cp311-none-linux_x86_64') < at('cp310-abi3-manylinux_2_36_x86_64'));
    assert.ok(at('cp32-abi3-linux_x86_64') < at('py311-none-manylinux_2_36_x86_64'));
    assert.ok(at('py30-none-linux_x86_64') < at('cp311-none-any'));
    assert.ok(at('cp311-none-any') < at('py311-none-any'));
    assert.ok(at('py311-none-any') < at('py3-none-any'));
    assert.equal(at('cp31-abi3-linux_x86_64'), -1);
    assert.equal(at('cp311-cp311-manylinux_2_4_x86_64'), -1);
  });

  it('stops at manylinux 2_17 outside x86, and has no manylinux tags without glibc', () => {
    const arm = computeLinuxPlatformTags({ ...x86, machine: 'aarch64' });
    assert.equal(arm.at(-3), 'manylinux_2_17_aarch64');
    assert.equal(arm.at(-2), 'manylinux2014_aarch64');
    assert.equal(arm.at(-1), 'linux_aarch64');
    assert.deepEqual(computeLinuxPlatformTags({ ...x86, libc: { kind: 'musl', version: [1, 1] } }), [
      'musllinux_1_1_x86_64',
      'musllinux_1_0_x86_64',
      'linux_x86_64',
    ]);
    assert.deepEqual(computeLinuxPlatformTags({ ...x86, libc: null }), ['linux_x86_64']);
  });

  it('accepts the Docker spellings amd64/arm64 for the machine', () => {
    assert.deepEqual(computeSupportedTags({ ...x86, machine: 'amd64' }), computeSupportedTags(x86));
    assert.equal(computeLinuxPlatformTags({ ...x86, machine: 'arm64' }).at(-1), 'linux_aarch64');
  });

  it('gives a free-threaded build no abi3 tags', () => {
    const tags = computeSupportedTags({ ...x86, pythonVersion: [3, 13], abiFlags: 't' }).map(formatTag);
    assert.equal(tags[0], 'cp313-cp313t-manylinux_2_36_x86_64');
    assert.ok(!tags.some((t) => t.includes('-abi3-')));
  });

  it('rejects a target it cannot describe', () => {
    assert.throws(
      () => computeSupportedTags({ ...x86, implementation: 'pypy' as 'cpython', pythonVersion: [2, 7] }),
      (err: unknown) =>
        err instanceof EnvsealError &&
        err.code === 'tags.target.invalid' &&
        err.message.includes('"pypy"') &&
        err.message.includes('2.7') &&
        err.details.length === 2,
    );
  });
});

describe('ranking wheels for a target', () => {
  const supported = computeSupportedTags(x86);
  const rank = (filename: string) => rankWheel(parseWheelFilename(filename).tags, supported);

  it('prefers the file pip would pick', () => {
    const files = [
      'pkg-1.0-py3-none-any.whl',
      'pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      'pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl',
      'pkg-1.0-cp38-abi3-manylinux_2_17_x86_64.whl',
      'pkg-1.0-cp311-cp311-musllinux_1_1_x86_64.whl',
      'pkg-1.0-cp311-cp311-manylinux_2_17_aarch64.whl',
      'pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl',
    ];
    const ranked = files
      .map((f) => ({ f, r: rank(f) }))
      .filter((x) => x.r !== null)
      .sort((a, b) => a.r! - b.r!)
      .map((x) => x.f);
    assert.deepEqual(ranked, [
      'pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl',
      'pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      'pkg-1.0-cp38-abi3-manylinux_2_17_x86_64.whl',
      'pkg-1.0-py3-none-any.whl',
    ]);
  });

  it('returns null for a wheel no tag of which is supported, and uses the best tag of a set', () => {
    assert.equal(rank('pkg-1.0-cp311-cp311-win_amd64.whl'), null);
    assert.equal(rank('pkg-1.0-cp311-cp311-manylinux_2_38_x86_64.whl'), null);
    assert.equal(rank('pkg-1.0-py2.py3-none-any.whl'), rank('pkg-1.0-py3-none-any.whl'));
    assert.equal(rank('pkg-1.0-cp311-cp311-manylinux_2_36_x86_64.whl'), 0);
  });
});

describe('tag sets', () => {
  it('expands and lower-cases compressed tag sets, and rejects malformed ones', () => {
    assert.deepEqual(parseTagSet('CP311.cp312-abi3-any').map(formatTag), ['cp311-abi3-any', 'cp312-abi3-any']);
    assert.equal(tryParseTagSet('py3-none'), null);
    assert.throws(() => parseTagSet('py3--any'), { code: 'wheel.tag.invalid' });
  });
});
