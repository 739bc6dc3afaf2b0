/**
 * The PubGrub core on plain data: the worked examples of dart-lang/pub `doc/solver.md` (with `^1.0.0`
 * written as the PEP 440 range `>=1.0.0,<2.0.0`), version-set merging, and the explanations of failures.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  PubGrubSolver,
  SolveFailure,
  listBits,
  countBits,
  type ChooseResult,
  type DependenciesResult,
  type SolverProvider,
} from '../../src/ecosystems/python/resolver/pubgrub.js';
import { IncompatibilityFormatter, classifyFailure, explainFailure } from '../../src/ecosystems/python/resolver/explain.js';
import { compareVersions } from '../../src/ecosystems/python/pep/version.js';
import { containsVersion } from '../../src/ecosystems/python/pep/specifier.js';

const ROOT = '<root>';

/** package → version → dependency → specifier */
type Graph = Record<string, Record<string, Record<string, string>>>;

function caret(v: string): string {
  const major = Number(v.split('.')[0]);
  return `>=${v},<${major + 1}.0.0`;
}

class GraphProvider implements SolverProvider {
  readonly universes = new Map<string, string[]>();
  readonly depsAsked: string[] = [];

  constructor(
    private readonly graph: Graph,
    root: Record<string, string>,
  ) {
    this.graph = { ...graph, [ROOT]: { '0': root } };
    for (const [pkg, versions] of Object.entries(this.graph)) {
      this.universes.set(pkg, Object.keys(versions).sort(compareVersions));
    }
  }

  versions(pkg: string): readonly string[] {
    const v = this.universes.get(pkg);
    if (!v) throw new Error(`unknown package ${pkg}`);
    return v;
  }

  displayName(pkg: string): string {
    return pkg === ROOT ? 'root' : pkg;
  }

  pickPackage(candidates: readonly { pkg: string; allowed: bigint }[]): string {
    // pub's heuristic: the package with the fewest allowed versions, then by name.
    return [...candidates].sort((a, b) => countBits(a.allowed) - countBits(b.allowed) || (a.pkg < b.pkg ? -1 : 1))[0]!.pkg;
  }

  async chooseVersion(pkg: string, allowed: bigint): Promise<ChooseResult> {
    const bits = listBits(allowed);
    if (bits.length === 0) return { kind: 'none', code: 'no-match', text: `no versions of ${pkg} left` };
    return { kind: 'version', version: bits[bits.length - 1]! };
  }

  async getDependencies(pkg: string, version: number): Promise<DependenciesResult> {
    const v = this.versions(pkg)[version]!;
    this.depsAsked.push(`${pkg} ${v}`);
    const deps = this.graph[pkg]![v]!;
    return {
      kind: 'dependencies',
      dependencies: Object.entries(deps).map(([dep, spec]) => {
        const universe = this.universes.get(dep) ?? [];
        if (!this.universes.has(dep)) this.universes.set(dep, universe);
        let set = 0n;
        universe.forEach((u, i) => {
          if (containsVersion(spec, u, { prereleases: true })) set |= 1n << BigInt(i);
        });
        return {
          pkg: dep,
          set,
          label: `${dep}${spec}`,
          ...(pkg === ROOT ? { by: 'requirements.txt' } : {}),
          ...(set === 0n
            ? {
                empty: {
                  code: universe.length ? 'no-match' : 'not-found',
                  text: universe.length ? `no version of ${dep} matches ${spec}` : `there is no project ${dep}`,
                },
              }
            : {}),
        };
      }),
    };
  }
}

async function solve(graph: Graph, root: Record<string, string>): Promise<Record<string, string>> {
  const provider = new GraphProvider(graph, root);
  const solver = new PubGrubSolver(ROOT, provider);
  const solution = await solver.solve();
  const out: Record<string, string> = {};
  for (const [pkg, v] of solution.decisions) if (pkg !== ROOT) out[pkg] = provider.versions(pkg)[v]!;
  return out;
}

async function fail(graph: Graph, root: Record<string, string>): Promise<{ lines: string[]; code: string }> {
  const provider = new GraphProvider(graph, root);
  const solver = new PubGrubSolver(ROOT, provider);
  try {
    await solver.solve();
  } catch (err) {
    assert.ok(err instanceof SolveFailure, `expected a SolveFailure, got ${String(err)}`);
    const formatter = new IncompatibilityFormatter(solver, provider);
    const cls = classifyFailure(err.incompatibility, solver, ['no-compatible-file', 'no-match']);
    return { lines: explainFailure(err.incompatibility, formatter), code: cls.code };
  }
  assert.fail('expected the solve to fail');
}

describe('PubGrub solver (pub solver.md examples)', () => {
  it('solves a graph without conflicts', async () => {
    const result = await solve(
      {
        a: { '1.0.0': { 'aa': caret('1.0.0'), ab: caret('1.0.0') } },
        b: { '1.0.0': { ba: caret('1.0.0'), bb: caret('1.0.0') } },
        aa: { '1.0.0': {} },
        ab: { '1.0.0': {} },
        ba: { '1.0.0': {} },
        bb: { '1.0.0': {} },
      },
      { a: caret('1.0.0'), b: caret('1.0.0') },
    );
    assert.deepEqual(result, { a: '1.0.0', aa: '1.0.0', ab: '1.0.0', b: '1.0.0', ba: '1.0.0', bb: '1.0.0' });
  });

  it('avoids a conflict during decision making', async () => {
    const result = await solve(
      {
        foo: { '1.0.0': {}, '1.1.0': { bar: caret('2.0.0') } },
        bar: { '1.0.0': {}, '1.1.0': {}, '2.0.0': {} },
      },
      { foo: caret('1.0.0'), bar: caret('1.0.0') },
    );
    assert.deepEqual(result, { foo: '1.0.0', bar: '1.1.0' });
  });

  it('performs conflict resolution', async () => {
    const result = await solve(
      {
        foo: { '1.0.0': {}, '2.0.0': { bar: caret('1.0.0') } },
        bar: { '1.0.0': { foo: caret('1.0.0') } },
      },
      { foo: '>=1.0.0' },
    );
    assert.deepEqual(result, { foo: '1.0.0' });
  });

  it('resolves a conflict with a partial satisfier', async () => {
    const result = await solve(
      {
        foo: { '1.0.0': {}, '1.1.0': { left: caret('1.0.0'), right: caret('1.0.0') } },
        left: { '1.0.0': { shared: '>=1.0.0' } },
        right: { '1.0.0': { shared: '<2.0.0' } },
        shared: { '2.0.0': {}, '1.0.0': { target: caret('1.0.0') } },
        target: { '2.0.0': {}, '1.0.0': {} },
      },
      { foo: caret('1.0.0'), target: caret('2.0.0') },
    );
    assert.deepEqual(result, { foo: '1.0.0', target: '2.0.0' });
  });

  it('explains a linear failure', async () => {
    const { lines, code } = await fail(
      {
        foo: { '1.0.0': { bar: caret('2.0.0') } },
        bar: { '2.0.0': { baz: caret('3.0.0') } },
        baz: { '1.0.0': {}, '3.0.0': {} },
      },
      { foo: caret('1.0.0'), baz: caret('1.0.0') },
    );
    assert.equal(code, 'unsatisfiable');
    const text = lines.join('\n');
    assert.match(text, /foo depends on bar>=2\.0\.0,<3\.0\.0/);
    assert.match(text, /bar depends on baz>=3\.0\.0,<4\.0\.0/);
    assert.match(text, /requirements\.txt requires baz>=1\.0\.0,<2\.0\.0/);
    assert.match(lines[lines.length - 1]!, /the requirements cannot be satisfied together\.$/);
  });

  it('explains a branching failure with numbered lines it refers back to', async () => {
    const { lines, code } = await fail(
      {
        foo: { '1.0.0': { a: caret('1.0.0'), b: caret('1.0.0') }, '1.1.0': { x: caret('1.0.0'), y: caret('1.0.0') } },
        a: { '1.0.0': { b: caret('2.0.0') } },
        b: { '1.0.0': {}, '2.0.0': {} },
        x: { '1.0.0': { y: caret('2.0.0') } },
        y: { '1.0.0': {}, '2.0.0': {} },
      },
      { foo: caret('1.0.0') },
    );
    assert.equal(code, 'unsatisfiable');
    const text = lines.join('\n');
    assert.match(text, /foo==1\.0\.0 depends on a>=1\.0\.0,<2\.0\.0/);
    assert.match(text, /foo==1\.1\.0 depends on x>=1\.0\.0,<2\.0\.0/);
    assert.match(text, /x depends on y>=2\.0\.0,<3\.0\.0/);
    assert.match(text, /a depends on b>=2\.0\.0,<3\.0\.0/);
    // Every "(n)" used refers to a numbered line.
    for (const m of text.matchAll(/\((\d+)\)/g))
      assert.ok(
        lines.some((l) => l.startsWith(`(${m[1]}) `)),
        `line ${m[1]} is defined`,
      );
  });
});

describe('PubGrub solver on Python-shaped graphs', () => {
  it('backtracks through a trap: the newest versions of a need an old b', async () => {
    const a: Record<string, Record<string, string>> = {};
    for (let minor = 0; minor <= 9; minor++) a[`1.${minor}`] = minor >= 3 ? { b: '<1' } : {};
    const provider = new GraphProvider({ a, b: { '0.5': {}, '2.0': {}, '2.1': {} } }, { a: '', b: '>=2' });
    const solver = new PubGrubSolver(ROOT, provider);
    const solution = await solver.solve();
    const chosen = Object.fromEntries([...solution.decisions].filter(([p]) => p !== ROOT).map(([p, v]) => [p, provider.versions(p)[v]]));
    assert.deepEqual(chosen, { a: '1.2', b: '2.1' });
  });

  it('merges versions with the same dependency so the explanation names a range', async () => {
    const a: Record<string, Record<string, string>> = {};
    for (let minor = 0; minor <= 9; minor++) a[`1.${minor}`] = { b: '<1' };
    const { lines, code } = await fail({ a, b: { '0.5': {}, '2.0': {} } }, { a: '>=1.0', b: '>=2' });
    assert.equal(code, 'unsatisfiable');
    const text = lines.join('\n');
    assert.match(text, /every version of a depends on b<1/);
    assert.match(text, /requirements\.txt requires b>=2/);
  });

  it('classifies a requirement nothing matches, through its chain', async () => {
    const { lines, code } = await fail({ app: { '1.0': { lib: '>=9' } }, lib: { '1.0': {}, '2.0': {} } }, { app: '' });
    assert.equal(code, 'no-match');
    assert.match(lines.join('\n'), /app depends on lib>=9 \(no version of lib matches >=9\)/);
  });

  it('classifies a missing project as not-found even when deep in the graph', async () => {
    const { code, lines } = await fail({ app: { '1.0': { ghost: '' }, '0.9': { ghost: '>=1' } } }, { app: '' });
    assert.equal(code, 'not-found');
    assert.match(lines.join('\n'), /there is no project ghost/);
  });

  it('handles a dependency cycle through an optional package', async () => {
    const result = await solve(
      {
        metrics: { '1.0': { plot: '>=0.1' } },
        plot: { '0.1': { metrics: '>=1.0' } },
      },
      { metrics: '' },
    );
    assert.deepEqual(result, { metrics: '1.0', plot: '0.1' });
  });
});

describe('limits that arrive late', () => {
  it('backtracks when a forbidden set arrives for a package that is already decided', async () => {
    class LateLimit extends GraphProvider {
      override async getDependencies(pkg: string, version: number): Promise<DependenciesResult> {
        const result = await super.getDependencies(pkg, version);
        if (pkg === 'b' && result.kind === 'dependencies') {
          // "a 2.0 may not be used", learned only once b is looked at (like a constraint file entry).
          result.forbidden = [{ pkg: 'a', set: 1n << 1n, code: 'constraint', text: 'a 2.0 is ruled out' }];
        }
        return result;
      }
    }
    // a (two versions) is decided before b (three): a 2.0 is already chosen when the limit arrives.
    const provider = new LateLimit({ a: { '1.0': {}, '2.0': {} }, b: { '1.0': {}, '1.1': {}, '1.2': {} } }, { a: '', b: '' });
    const solver = new PubGrubSolver(ROOT, provider);
    const solution = await solver.solve();
    const chosen = Object.fromEntries([...solution.decisions].filter(([p]) => p !== ROOT).map(([p, v]) => [p, provider.versions(p)[v]]));
    assert.deepEqual(chosen, { a: '1.0', b: '1.2' });
    assert.ok(solver.stats.conflicts >= 1, 'the late limit caused a conflict and a backjump');
  });
});

describe('bit helpers', () => {
  it('lists and counts bits, also across 32-bit words', () => {
    const mask = (1n << 0n) | (1n << 5n) | (1n << 40n) | (1n << 100n);
    assert.deepEqual(listBits(mask), [0, 5, 40, 100]);
    assert.equal(countBits(mask), 4);
    assert.deepEqual(listBits(0n), []);
  });
});
