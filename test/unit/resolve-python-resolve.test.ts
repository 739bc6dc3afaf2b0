/**
 * `resolvePython` on an in-memory index: pip's choices (newest, pre-releases, yanked, Requires-Python,
 * wheel tags, markers, extras of extras), stability with a previous lock, constraints, hashes, indexes,
 * excludeNewer, the result's via chains and targets, and every error the issue names.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePython, type ResolvePythonRequest } from '../../src/ecosystems/python/resolver/resolve-python.js';
import type { DeclaredRequirement, LockedPythonPackage } from '../../src/ecosystems/python/schema.js';
import { externalError, isEnvsealError, type EnvsealError } from '../../src/core/errors.js';
import { MemoryIndex, type MemoryProjects } from '../fixtures/resolve/memory-index.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';

const INDEX = 'http://127.0.0.1:9/simple';
const OTHER = 'http://127.0.0.1:10/simple';

function req(requirement: string, extra: Partial<DeclaredRequirement> = {}): DeclaredRequirement {
  return { requirement, hashes: [], source: 'requirements.txt', kind: 'requirement', targets: ['deploy', 'dev'], ...extra };
}

async function resolve(
  projects: MemoryProjects | MemoryIndex,
  requirements: DeclaredRequirement[],
  more: Partial<ResolvePythonRequest> = {},
): Promise<LockedPythonPackage[]> {
  const index = projects instanceof MemoryIndex ? projects : new MemoryIndex({ [INDEX]: projects });
  const result = await resolvePython({ requirements, indexes: [INDEX], target: BOOKWORM_TARGET, options: {}, ...more }, { index });
  return result.packages;
}

function pins(packages: LockedPythonPackage[]): Record<string, string> {
  return Object.fromEntries(packages.map((p) => [p.name, p.version]));
}

async function resolveError(
  projects: MemoryProjects | MemoryIndex,
  requirements: DeclaredRequirement[],
  more: Partial<ResolvePythonRequest> = {},
): Promise<EnvsealError> {
  try {
    await resolve(projects, requirements, more);
  } catch (err) {
    assert.ok(isEnvsealError(err), `expected an EnvsealError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the resolution to fail');
}

const v = (version: string, deps: string[] = [], rest: Partial<import('../fixtures/resolve/memory-index.js').MemoryRelease> = {}) => ({
  version,
  deps,
  ...rest,
});

describe('choosing versions like pip', () => {
  it('takes the newest version every requirement admits, transitively', async () => {
    const packages = await resolve(
      {
        app: [v('1.0', ['lib>=1']), v('2.0', ['lib>=2,<4', 'util'])],
        lib: [v('1.0'), v('2.0'), v('3.5'), v('4.0')],
        util: [v('0.1'), v('0.2')],
      },
      [req('app')],
    );
    assert.deepEqual(pins(packages), { app: '2.0', lib: '3.5', util: '0.2' });
  });

  it('skips pre-releases unless asked for, named, or the only match', async () => {
    const projects: MemoryProjects = {
      a: [v('1.0'), v('2.0b1')],
      b: [v('1.0'), v('1.1rc1')],
      c: [v('0.9a1'), v('1.0a2')],
    };
    assert.deepEqual(pins(await resolve(projects, [req('a'), req('b>=1.1rc1'), req('c')])), { a: '1.0', b: '1.1rc1', c: '1.0a2' });
    assert.deepEqual(pins(await resolve(projects, [req('a'), req('b'), req('c')], { options: { pre: true } })), { a: '2.0b1', b: '1.1rc1', c: '1.0a2' });
  });

  it('skips yanked releases unless pinned with ==', async () => {
    const projects: MemoryProjects = { a: [v('1.0'), v('1.1', [], { yanked: 'broken' })] };
    assert.deepEqual(pins(await resolve(projects, [req('a')])), { a: '1.0' });
    assert.deepEqual(pins(await resolve(projects, [req('a==1.1')])), { a: '1.1' });
  });

  it('honours Requires-Python from the index and from the metadata', async () => {
    const projects: MemoryProjects = {
      a: [v('1.0'), v('2.0', [], { requiresPython: '>=3.12' })],
      // The index does not repeat it (no data-requires-python): only the metadata says so.
      b: [v('1.0'), v('2.0', [], { requiresPython: '>=3.12', files: [{ requiresPython: null }] })],
    };
    assert.deepEqual(pins(await resolve(projects, [req('a'), req('b')])), { a: '1.0', b: '1.0' });
  });

  it('chooses the file pip would: best tag for the target, wheels over sdists, musllinux and too-new glibc skipped', async () => {
    const projects: MemoryProjects = {
      fast: [
        v('1.0', [], {
          files: [
            { kind: 'sdist' },
            { tag: 'py3-none-any' },
            { tag: 'cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64' },
            { tag: 'cp311-cp311-manylinux_2_28_x86_64' },
            { tag: 'cp311-cp311-musllinux_1_1_x86_64' },
            { tag: 'cp311-cp311-win_amd64' },
          ],
        }),
        v('2.0', [], { files: [{ tag: 'cp311-cp311-manylinux_2_39_x86_64' }, { tag: 'cp311-cp311-musllinux_1_2_x86_64' }] }),
      ],
      stable: [v('3.0', [], { files: [{ tag: 'cp38-abi3-manylinux_2_17_x86_64' }, { tag: 'cp312-cp312-manylinux_2_17_x86_64' }] })],
      plain: [v('1.0', [], { files: [{ kind: 'sdist' }] })],
    };
    const packages = await resolve(projects, [req('fast'), req('stable'), req('plain')]);
    const files = Object.fromEntries(packages.map((p) => [p.name, p.file.filename]));
    assert.deepEqual(files, {
      fast: 'fast-1.0-cp311-cp311-manylinux_2_28_x86_64.whl',
      stable: 'stable-3.0-cp38-abi3-manylinux_2_17_x86_64.whl',
      plain: 'plain-1.0.tar.gz',
    });
  });

  it('prefers the higher build tag among equal wheels', async () => {
    const packages = await resolve({ a: [v('1.0', [], { files: [{ build: '1' }, { build: '2' }, {}] })] }, [req('a')]);
    assert.equal(packages[0]!.file.filename, 'a-1.0-2-py3-none-any.whl');
  });

  it('evaluates markers for the target, not the host', async () => {
    const packages = await resolve(
      {
        app: [
          v('1.0', [
            'winonly; sys_platform == "win32"',
            'linuxonly; sys_platform == "linux"',
            'old; python_version < "3.9"',
            'x86; platform_machine == "x86_64"',
          ]),
        ],
        linuxonly: [v('1.0')],
        x86: [v('1.0')],
      },
      [req('app'), req('also-win; sys_platform == "win32"')],
    );
    assert.deepEqual(pins(packages), { app: '1.0', linuxonly: '1.0', x86: '1.0' });
  });

  it('installs extras, extras of extras, and follows an extra that cycles back', async () => {
    const packages = await resolve(
      {
        hub: [
          v('1.0', ['core'], {
            extras: { torch: ['torch>=2'], all: ['hub[torch,vision]'], vision: ['pillow'] },
          }),
        ],
        core: [v('1.0')],
        torch: [v('1.0'), v('2.1', [], { extras: { opt: ['einsum'] } })],
        pillow: [v('10.0')],
        einsum: [v('3.0')],
        metrics: [v('1.0', [], { extras: { plot: ['plot'] } })],
        plot: [v('0.1', ['metrics>=1.0'])],
      },
      [req('hub[all]'), req('torch[opt]'), req('metrics[plot]')],
    );
    assert.deepEqual(pins(packages), { core: '1.0', einsum: '3.0', hub: '1.0', metrics: '1.0', pillow: '10.0', plot: '0.1', torch: '2.1' });
    const torch = packages.find((p) => p.name === 'torch')!;
    assert.deepEqual(torch.via, ['requirements.txt > hub[all] > hub[torch] > torch', 'requirements.txt > torch[opt]']);
    assert.deepEqual(packages.find((p) => p.name === 'hub')!.via, [
      'requirements.txt > hub[all]',
      'requirements.txt > hub[all] > hub[torch]',
      'requirements.txt > hub[all] > hub[vision]',
    ]);
  });

  it('ignores an extra the project does not provide, as pip does', async () => {
    const packages = await resolve({ a: [v('1.0', ['b'])], b: [v('1.0')] }, [req('a[nope]')]);
    assert.deepEqual(pins(packages), { a: '1.0', b: '1.0' });
  });

  it('backtracks out of a trap and still explains nothing when it succeeds', async () => {
    const acc: ReturnType<typeof v>[] = [];
    for (let i = 0; i < 12; i++) acc.push(v(`0.${i}.0`, i >= 4 ? ['numpy<1.0'] : []));
    const index = new MemoryIndex({ [INDEX]: { accelerate: acc, numpy: [v('0.9'), v('1.5'), v('2.0')] } });
    const packages = await resolve(index, [req('numpy>=1.5'), req('accelerate')]);
    assert.deepEqual(pins(packages), { accelerate: '0.3.0', numpy: '2.0' });
  });

  it('gives the same closure whatever the order of the requirements', async () => {
    const projects: MemoryProjects = {
      a: [v('1.0', ['c<2']), v('1.1', ['c<3'])],
      b: [v('1.0', ['c>=1'])],
      c: [v('1.0'), v('2.0'), v('3.0')],
    };
    const one = await resolve(projects, [req('a'), req('b')]);
    const two = await resolve(projects, [req('b'), req('a')]);
    assert.deepEqual(pins(one), pins(two));
    assert.deepEqual(pins(one), { a: '1.1', b: '1.0', c: '2.0' });
  });
});

describe('the lock entries', () => {
  it('records file, sha256, size, upload time, index, via chains and targets', async () => {
    const index = new MemoryIndex({
      [INDEX]: {
        pandas: [v('2.2.0', ['numpy>=1.22'], { uploadTime: '2024-01-20T00:00:00.000000Z' })],
        numpy: [v('1.26.4', [], { uploadTime: '2024-02-05T00:00:00.000000Z' })],
        pytest: [v('8.0.0', ['pluggy'])],
        pluggy: [v('1.4.0')],
      },
    });
    const packages = await resolve(index, [req('pandas'), req('pytest', { source: 'requirements-dev.txt', targets: ['dev'] })]);
    const numpy = packages.find((p) => p.name === 'numpy')!;
    assert.deepEqual(numpy, {
      name: 'numpy',
      version: '1.26.4',
      file: {
        filename: 'numpy-1.26.4-py3-none-any.whl',
        url: `${INDEX}/../files/numpy/numpy-1.26.4-py3-none-any.whl`,
        sha256: index.sha256Of(INDEX, 'numpy-1.26.4-py3-none-any.whl'),
        size: 1000 + 'numpy-1.26.4-py3-none-any.whl'.length,
        uploadTime: '2024-02-05T00:00:00.000000Z',
      },
      index: INDEX,
      via: ['requirements.txt > pandas > numpy'],
      targets: ['deploy', 'dev'],
    });
    assert.deepEqual(packages.find((p) => p.name === 'pluggy')!.via, ['requirements-dev.txt > pytest > pluggy']);
    assert.deepEqual(packages.find((p) => p.name === 'pluggy')!.targets, ['dev']);
    assert.deepEqual(
      packages.map((p) => p.name),
      ['numpy', 'pandas', 'pluggy', 'pytest'],
    );
  });

  it('marks a package deploy when any deploy requirement reaches it, even if dev requires it too', async () => {
    const packages = await resolve({ a: [v('1.0', ['shared'])], b: [v('1.0', ['shared'])], shared: [v('1.0')] }, [
      req('a', { targets: ['dev'], source: 'requirements-dev.txt' }),
      req('b'),
    ]);
    assert.deepEqual(packages.find((p) => p.name === 'shared')!.targets, ['deploy', 'dev']);
    assert.deepEqual(packages.find((p) => p.name === 'a')!.targets, ['dev']);
    assert.deepEqual(packages.find((p) => p.name === 'shared')!.via, ['requirements-dev.txt > a > shared', 'requirements.txt > b > shared']);
  });
});

describe('stability and upgrades', () => {
  const projects: MemoryProjects = { a: [v('1.0', ['b']), v('1.1', ['b'])], b: [v('1.0'), v('2.0')] };

  it('keeps previous pins that still satisfy, and moves them on upgrade', async () => {
    const first = await resolve({ a: [v('1.0', ['b'])], b: [v('1.0')] }, [req('a')]);
    assert.deepEqual(pins(first), { a: '1.0', b: '1.0' });
    assert.deepEqual(pins(await resolve(projects, [req('a')], { previous: first })), { a: '1.0', b: '1.0' });
    assert.deepEqual(pins(await resolve(projects, [req('a')], { previous: first, upgrade: true })), { a: '1.1', b: '2.0' });
    assert.deepEqual(pins(await resolve(projects, [req('a')], { previous: first, upgrade: ['B'] })), { a: '1.0', b: '2.0' });
  });

  it('drops a previous pin that no longer satisfies the requirements', async () => {
    const first = await resolve({ a: [v('1.0', ['b'])], b: [v('1.0')] }, [req('a')]);
    assert.deepEqual(pins(await resolve(projects, [req('a'), req('b>=2')], { previous: first })), { a: '1.0', b: '2.0' });
  });
});

describe('constraints, hashes, indexes, excludeNewer', () => {
  it('applies constraints without installing what they name', async () => {
    const packages = await resolve({ a: [v('1.0', ['b']), v('2.0', ['b'])], b: [v('1.0'), v('2.0')], c: [v('1.0')] }, [
      req('a'),
      req('b<2', { kind: 'constraint', source: 'constraints.txt' }),
      req('c==1.0', { kind: 'constraint', source: 'constraints.txt' }),
    ]);
    assert.deepEqual(pins(packages), { a: '2.0', b: '1.0' });
  });

  it('picks a file from the --hash allow-list, and fails clearly when none matches', async () => {
    const index = new MemoryIndex({ [INDEX]: { a: [v('1.0'), v('2.0')] } });
    const allowed = index.sha256Of(INDEX, 'a-1.0-py3-none-any.whl');
    const packages = await resolve(index, [req('a', { hashes: [`sha256:${allowed}`] })]);
    assert.deepEqual(pins(packages), { a: '1.0' });
    assert.equal(packages[0]!.file.sha256, allowed);
    const err = await resolveError(index, [req('a', { hashes: [`sha256:${'0'.repeat(64)}`] })]);
    assert.equal(err.code, 'python.hash-mismatch');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /no file of a .* has a sha256 in the --hash list/);
  });

  it('uses the first index that has a project, and per-package index pins', async () => {
    const index = new MemoryIndex({
      [INDEX]: { a: [v('1.0')], torch: [v('2.1.0')] },
      [OTHER]: { a: [v('9.0')], b: [v('1.0')], torch: [v('2.1.0+cu121')] },
    });
    const packages = await resolve(index, [req('a'), req('b'), req('torch')], { indexes: [INDEX, OTHER], indexPins: { Torch: OTHER } });
    assert.deepEqual(pins(packages), { a: '1.0', b: '1.0', torch: '2.1.0+cu121' });
    assert.equal(packages.find((p) => p.name === 'b')!.index, OTHER);
    assert.ok(!index.calls.includes(`page ${INDEX} torch`), 'a pinned project is only looked up on its index');
  });

  it('ignores files uploaded after excludeNewer, and files without an upload time', async () => {
    const projects: MemoryProjects = {
      a: [v('1.0', [], { uploadTime: '2024-01-01T00:00:00Z' }), v('1.1', [], { uploadTime: '2024-06-01T00:00:00Z' })],
      b: [v('1.0')],
    };
    assert.deepEqual(pins(await resolve(projects, [req('a')], { options: { excludeNewer: '2024-03-01T00:00:00Z' } })), { a: '1.0' });
    const err = await resolveError(projects, [req('b')], { options: { excludeNewer: '2024-03-01T00:00:00Z' } });
    assert.equal(err.code, 'python.no-match');
    assert.match(err.message, /no upload time/);
  });

  it('takes only wheels for onlyBinary projects', async () => {
    const projects: MemoryProjects = { a: [v('1.0'), v('2.0', [], { files: [{ kind: 'sdist' }] })] };
    assert.deepEqual(pins(await resolve(projects, [req('a')])), { a: '2.0' });
    assert.deepEqual(pins(await resolve(projects, [req('a')], { options: { onlyBinary: [':all:'] } })), { a: '1.0' });
  });
});

describe('errors', () => {
  it('python.not-found: no index has the project', async () => {
    const err = await resolveError({ a: [v('1.0', ['ghost>=1'])] }, [req('a')]);
    assert.equal(err.code, 'python.not-found');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /no index has a project named ghost/);
    assert.match(err.details.join('\n'), /a depends on ghost>=1/);
  });

  it('python.no-match: lists the versions that exist', async () => {
    const err = await resolveError({ a: [v('1.0'), v('1.5'), v('2.0')] }, [req('a>=3')]);
    assert.equal(err.code, 'python.no-match');
    assert.match(err.message, /requirements\.txt requires a>=3 \(no version of a matches >=3; usable versions: 1\.0, 1\.5, 2\.0\)/);
    assert.ok(err.hint);
  });

  it('python.no-compatible-file: names the target and the files that exist', async () => {
    const err = await resolveError({ winonly: [v('1.0', [], { files: [{ tag: 'cp311-cp311-win_amd64' }, { tag: 'cp311-cp311-macosx_11_0_arm64' }] })] }, [
      req('winonly'),
    ]);
    assert.equal(err.code, 'python.no-compatible-file');
    assert.match(err.message, /CPython 3\.11\.2/);
    assert.match(err.message, /x86_64/);
    assert.match(err.message, /winonly-1\.0-cp311-cp311-win_amd64\.whl/);
  });

  it('python.needs-build: an sdist whose dependencies are dynamic, with a pin suggestion', async () => {
    const err = await resolveError({ legacy: [v('1.0'), v('2.0', ['x'], { files: [{ kind: 'sdist', dynamic: ['Requires-Dist'] }] })] }, [req('legacy')]);
    assert.equal(err.code, 'python.needs-build');
    assert.match(err.message, /legacy 2\.0 is only available as the sdist legacy-2\.0\.tar\.gz/);
    assert.match(err.hint ?? '', /legacy==1\.0/);
    assert.match(err.hint ?? '', /onlyBinary/);
  });

  it('asks buildMetadata for an sdist whose dependencies are dynamic, and resolves what the built wheel says', async () => {
    const index = new MemoryIndex({ [INDEX]: { legacy: [v('2.0', ['x'], { files: [{ kind: 'sdist', dynamic: ['Requires-Dist'] }] })], dep: [v('1.0')] } });
    const asked: string[] = [];
    const result = await resolvePython(
      { requirements: [req('legacy')], indexes: [INDEX], target: BOOKWORM_TARGET, options: {} },
      {
        index,
        buildMetadata: async (s) => {
          asked.push(`${s.name} ${s.version} ${s.file.filename} ${s.index}`);
          return 'Metadata-Version: 2.1\nName: legacy\nVersion: 2.0\nRequires-Dist: dep>=1\n';
        },
      },
    );
    assert.deepEqual(pins(result.packages), { dep: '1.0', legacy: '2.0' });
    assert.deepEqual(asked, [`legacy 2.0 legacy-2.0.tar.gz ${INDEX}`]);
  });

  it('python.bad-metadata: a built wheel whose METADATA names another version', async () => {
    const index = new MemoryIndex({ [INDEX]: { legacy: [v('2.0', [], { files: [{ kind: 'sdist', metadataVersion: '2.1' }] })] } });
    const err = await resolvePython(
      { requirements: [req('legacy')], indexes: [INDEX], target: BOOKWORM_TARGET, options: {} },
      { index, buildMetadata: async () => 'Metadata-Version: 2.1\nName: legacy\nVersion: 3.0\n' },
    ).then(
      () => assert.fail('expected an error'),
      (e: EnvsealError) => e,
    );
    assert.equal(err.code, 'python.bad-metadata');
    assert.match(err.message, /the wheel built from legacy-2\.0\.tar\.gz/);
  });

  it('reads static sdist metadata (PEP 643) and locks the sdist', async () => {
    const packages = await resolve({ legacy: [v('0.5', ['dep'], { files: [{ kind: 'sdist' }] })], dep: [v('1.0')] }, [req('legacy')]);
    assert.deepEqual(pins(packages), { dep: '1.0', legacy: '0.5' });
    assert.equal(packages.find((p) => p.name === 'legacy')!.file.filename, 'legacy-0.5.tar.gz');
  });

  it('python.bad-metadata: an unparsable Requires-Dist', async () => {
    const err = await resolveError(
      { broken: [v('1.0', [], { files: [{ metadata: 'Metadata-Version: 2.1\nName: broken\nVersion: 1.0\nRequires-Dist: numpy >>> 1\n' }] })] },
      [req('broken')],
    );
    assert.equal(err.code, 'python.bad-metadata');
    assert.match(err.message, /broken-1\.0-py3-none-any\.whl/);
  });

  it('python.unsatisfiable: says which requirements clash and through which chain', async () => {
    const err = await resolveError(
      {
        app: [v('1.0', ['framework>=2'])],
        framework: [v('2.0', ['numpy<2']), v('2.1', ['numpy<2'])],
        numpy: [v('1.26'), v('2.0')],
      },
      [req('app'), req('numpy>=2', { source: 'pyproject.toml' })],
    );
    assert.equal(err.code, 'python.unsatisfiable');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /incompatible versions of numpy/);
    assert.match(err.message, /every version of framework depends on numpy<2 \(framework comes from requirements\.txt > app > framework\)/);
    assert.match(err.message, /pyproject\.toml requires numpy>=2/);
    const text = err.details.join('\n');
    assert.match(text, /every version of framework depends on numpy<2/);
    assert.match(text, /pyproject\.toml requires numpy>=2/);
    assert.match(text, /app depends on framework>=2/);
    assert.match(text, /requirements\.txt requires app/);
  });

  it('python.no-hash: the index gives no sha256 for the chosen file', async () => {
    const err = await resolveError({ a: [v('1.0', [], { files: [{ noHash: true }] })] }, [req('a')]);
    assert.equal(err.code, 'python.no-hash');
    assert.match(err.message, /gives no sha256 for a-1\.0-py3-none-any\.whl/);
  });

  it('python.unsupported-interpreter: a target that is not CPython', async () => {
    const pypy = { ...BOOKWORM_TARGET, python: { ...BOOKWORM_TARGET.python!, implementation: 'pypy' } };
    const err = await resolveError({ a: [v('1.0')] }, [req('a')], { target: pypy });
    assert.equal(err.code, 'python.unsupported-interpreter');
    assert.equal(err.exitCode, 2);
  });

  it('passes index failures through unchanged (index.unreachable, exit 3)', async () => {
    const failing = new MemoryIndex({ [INDEX]: {} });
    failing.getProject = async () => {
      throw externalError('index.unreachable', 'package index 127.0.0.1:9/simple is unreachable');
    };
    const err = await resolveError(failing, [req('a')]);
    assert.equal(err.code, 'index.unreachable');
    assert.equal(err.exitCode, 3);
  });

  it('refuses a direct reference without its fetched wheel (our bug) and bad excludeNewer values (input error)', async () => {
    const a = await resolveError({ a: [v('1.0')] }, [req('a @ https://example.invalid/a.whl')]);
    assert.equal(a.code, 'python.direct-reference');
    assert.equal(a.exitCode, 70);
    const b = await resolveError({ a: [v('1.0')] }, [req('a')], { options: { excludeNewer: 'last tuesday' } });
    assert.equal(b.code, 'python.exclude-newer');
  });
});
