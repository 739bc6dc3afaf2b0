/**
 * The PEP 508 marker vectors (test/fixtures/conformance/pep440-508.json, computed with `packaging` 26.2)
 * pushed through the whole resolver: a project whose Requires-Dist carries every vector's marker is
 * resolved for each CPython environment of the vectors, with and without the extra, and exactly the
 * dependencies whose markers hold are in the closure. Markers `packaging` cannot evaluate make the
 * metadata `python.bad-metadata`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolvePython } from '../../src/ecosystems/python/resolver/resolve-python.js';
import type { TargetProbe } from '../../src/core/ground.js';
import { isEnvsealError } from '../../src/core/errors.js';
import { MemoryIndex } from '../fixtures/resolve/memory-index.js';

interface MarkerVector {
  marker: string;
  environment: string;
  extra: string | null;
  result: boolean | string;
}

const vectors = JSON.parse(readFileSync(new URL('../fixtures/conformance/pep440-508.json', import.meta.url), 'utf8')) as {
  environments: Record<string, Record<string, string>>;
  markers: MarkerVector[];
};

const INDEX = 'http://127.0.0.1:9/simple';

function targetFor(markers: Record<string, string>): TargetProbe {
  const linux = markers.sys_platform === 'linux';
  return {
    os: { id: 'debian', versionId: '12', codename: 'bookworm' },
    architecture: markers.platform_machine!,
    machine: markers.platform_machine!,
    path: '/usr/bin:/bin',
    libc: linux ? { kind: 'glibc', version: '2.36' } : null,
    hasApt: linux,
    python: {
      executable: '/usr/bin/python3',
      version: markers.python_full_version!,
      implementation: markers.implementation_name!,
      abiflags: '',
      soabi: null,
      externallyManaged: false,
      markers,
    },
  };
}

async function closure(target: TargetProbe, deps: string[], requirement: string): Promise<Set<string>> {
  const projects: Record<string, { version: string; deps?: string[]; extras?: Record<string, string[]> }[]> = {
    app: [{ version: '1.0', extras: { test: [] }, deps }],
  };
  for (let i = 0; i < deps.length; i++) projects[`d${i}`] = [{ version: '1.0' }];
  const index = new MemoryIndex({ [INDEX]: projects });
  const result = await resolvePython(
    {
      requirements: [{ requirement, hashes: [], source: 'requirements.txt', kind: 'requirement', targets: ['deploy'] }],
      indexes: [INDEX],
      target,
      options: {},
    },
    { index },
  );
  return new Set(result.packages.map((p) => p.name));
}

// The resolver resolves for CPython (wheel tags); the PyPy environment of the vectors is left out.
const environments = Object.keys(vectors.environments).filter((e) => vectors.environments[e]!.implementation_name === 'cpython');

describe('marker vectors through the resolver', () => {
  for (const env of environments) {
    it(`installs exactly the dependencies whose markers hold on ${env}`, async () => {
      const byMarker = new Map<string, { none?: boolean | string; test?: boolean | string }>();
      for (const v of vectors.markers.filter((m) => m.environment === env)) {
        const entry = byMarker.get(v.marker) ?? {};
        if (v.extra === null) entry.none = v.result;
        else if (v.extra === 'test') entry.test = v.result;
        byMarker.set(v.marker, entry);
      }
      // Every marker with a known result without the extra (with the extra, a dependency is installed when
      // the marker holds for "" or for "test", so both results are needed to check that case).
      const usable = [...byMarker].filter(([, r]) => typeof r.none === 'boolean');
      assert.ok(usable.length >= 30, `${usable.length} markers for ${env}`);
      // Requires-Dist `dN; (marker)` and, for the extra, `dN; (marker) and extra == "test"` is not what a
      // project writes; a project writes the marker itself, which pip evaluates once per requested extra.
      const deps = usable.map(([marker], i) => `d${i}; ${marker}`);
      const target = targetFor(vectors.environments[env]!);
      const plain = await closure(target, deps, 'app');
      const withExtra = await closure(target, deps, 'app[test]');
      const wrong: string[] = [];
      usable.forEach(([marker, r], i) => {
        if (plain.has(`d${i}`) !== r.none) wrong.push(`${marker} without the extra: want ${r.none}`);
        if (typeof r.test === 'boolean' && withExtra.has(`d${i}`) !== (r.none === true || r.test)) {
          wrong.push(`${marker} with extra "test": want ${r.none || r.test}`);
        }
      });
      assert.deepEqual(wrong, []);
    });
  }

  it('reports a marker packaging cannot evaluate as python.bad-metadata', async () => {
    const failing = vectors.markers.find((m) => m.environment === 'cp311-linux-x86_64' && m.extra === null && m.result === 'error:UndefinedComparison');
    assert.ok(failing, 'the vectors have an UndefinedComparison marker');
    await assert.rejects(closure(targetFor(vectors.environments['cp311-linux-x86_64']!), [`d0; ${failing.marker}`], 'app'), (err: unknown) => {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'python.bad-metadata');
      assert.match(err.message, /app 1\.0/);
      return true;
    });
  });
});
