/**
 * The Python install steps (issue 11): platform-specific wheels one step each, largest first, then the
 * pure-Python wheels, then the sdist-built packages; bounded; a function of the lock only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { installGroups, isPlatformWheel, MAX_PLATFORM_STEPS } from '../../src/ecosystems/python/install-layers.js';
import type { LockedPythonPackage } from '../../src/ecosystems/python/schema.js';

const HASH = 'a'.repeat(64);

function pkg(name: string, tag: string, size?: number, build = false): LockedPythonPackage {
  const filename = build ? `${name}-1.0.tar.gz` : `${name}-1.0-${tag}.whl`;
  return {
    name,
    version: '1.0',
    file: { filename, url: `https://files.example/${filename}`, sha256: HASH, ...(size !== undefined ? { size } : {}) },
    index: 'https://pypi.org/simple',
    via: [],
    targets: ['deploy', 'dev'],
    ...(build ? { build: { requires: [], sourceDateEpoch: 0, deps: [], wheel: { filename: `${name}-1.0-py3-none-any.whl`, sha256: HASH } } } : {}),
  } as unknown as LockedPythonPackage;
}

const names = (groups: ReturnType<typeof installGroups>) => groups.map((g) => `${g.kind}:${g.packages.map((p) => p.name).join(',')}`);

describe('Python install steps', () => {
  it('puts each platform wheel alone, largest first (unknown sizes last, by name), then pure, then built', () => {
    const lock = [
      pkg('attrs', 'py3-none-any', 60_000),
      pkg('legacy', '', undefined, true),
      pkg('numpy', 'cp311-cp311-manylinux_2_17_x86_64', 18_000_000),
      pkg('pyyaml', 'cp311-cp311-manylinux_2_17_x86_64'),
      pkg('regex', 'cp311-cp311-manylinux_2_17_x86_64'),
      pkg('six', 'py2.py3-none-any', 11_000),
      pkg('torch', 'cp311-cp311-manylinux_2_17_x86_64', 800_000_000),
    ];
    assert.deepEqual(names(installGroups(lock)), ['platform:torch', 'platform:numpy', 'platform:pyyaml', 'platform:regex', 'pure:attrs,six', 'built:legacy']);
  });

  it('a changed pure pin changes no step below the pure one', () => {
    const before = [pkg('numpy', 'cp311-cp311-manylinux_2_17_x86_64', 18_000_000), pkg('six', 'py3-none-any', 11_000)];
    const after = [before[0]!, { ...before[1]!, version: '1.1' }];
    assert.deepEqual(installGroups(before)[0], installGroups(after)[0]);
  });

  it('bounds the steps: past the limit, the smaller platform wheels share one step', () => {
    const many = Array.from({ length: 20 }, (_, i) => pkg(`native-${String(i).padStart(2, '0')}`, 'cp311-abi3-manylinux_2_17_x86_64', 1000 + i));
    const groups = installGroups([...many, pkg('six', 'py3-none-any')]);
    assert.equal(groups.length, MAX_PLATFORM_STEPS + 1);
    assert.deepEqual(
      groups[0]!.packages.map((p) => p.name),
      ['native-19'],
    );
    const rest = groups[MAX_PLATFORM_STEPS - 1]!;
    assert.equal(rest.kind, 'platform-rest');
    assert.deepEqual(
      rest.packages.map((p) => p.name),
      many.slice(0, 20 - (MAX_PLATFORM_STEPS - 1)).map((p) => p.name),
      'in the lock order',
    );
  });

  it('tells platform wheels from pure ones and sdists', () => {
    assert.equal(isPlatformWheel(pkg('a', 'py3-none-any')), false);
    assert.equal(isPlatformWheel(pkg('a', 'cp311-abi3-manylinux_2_17_x86_64')), true);
    assert.equal(isPlatformWheel(pkg('a', '', undefined, true)), false);
    assert.deepEqual(installGroups([]), []);
  });
});
