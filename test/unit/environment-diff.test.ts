import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffEnvironments, formatEnvironmentDiff, type EnvironmentView } from '../../src/app/environment-diff.js';

const view = (over: Partial<EnvironmentView>): EnvironmentView => ({
  label: 'a',
  kind: 'lock',
  fingerprint: 'sha256:aa',
  base: 'python@sha256:11',
  packages: { apt: { curl: '7.88' }, python: { numpy: '1.26.4' } },
  env: { A: '1' },
  ...over,
});

describe('envseal diff of environments (every ecosystem alike)', () => {
  it('finds nothing between equal views', () => {
    const d = diffEnvironments(view({}), view({ label: 'b' }));
    assert.equal(d.identical, true);
    assert.deepEqual(d.packages, {});
    assert.deepEqual(formatEnvironmentDiff(d, view({}), view({ label: 'b' })).at(-1), 'identical environments');
  });

  it('reports changes per ecosystem, including ones added later (npm, files), in id order', () => {
    const a = view({});
    const b = view({
      label: 'b',
      fingerprint: 'sha256:bb',
      packages: {
        apt: { curl: '7.88' },
        python: { numpy: '2.0.0', scipy: '1.13.0' },
        npm: { 'package-lock.json': 'sha256:cc' },
        files: { '/models/w.bin': 'sha256:dd' },
      },
    });
    const d = diffEnvironments(a, b);
    assert.equal(d.identical, false);
    assert.deepEqual(Object.keys(d.packages), ['files', 'npm', 'python']);
    assert.deepEqual(d.packages.python, [
      { name: 'numpy', before: '1.26.4', after: '2.0.0' },
      { name: 'scipy', before: null, after: '1.13.0' },
    ]);
    const lines = formatEnvironmentDiff(d, a, b);
    assert.ok(lines.includes('python: 1 changed, 1 added, 0 removed'));
    assert.ok(lines.includes('  + package-lock.json sha256:cc'));
    assert.ok(lines.includes('  + /models/w.bin sha256:dd'));
  });

  it('says so when only the fingerprint differs', () => {
    const d = diffEnvironments(view({}), view({ label: 'b', fingerprint: 'sha256:bb' }));
    assert.equal(d.identical, false);
    assert.match(formatEnvironmentDiff(d, view({}), view({ label: 'b' })).at(-1)!, /same packages and env, different fingerprint/);
  });
});
