/**
 * pip as the oracle. Indexes of real wheels are served on loopback; envseal resolves through its real
 * index client for the target probed from the lab image, and pip 23.0.1 resolves in a container of that
 * image (`pip install --dry-run --ignore-installed --report -`, host network). On graphs without conflicts
 * the closures must be equal, file for file; on graphs that need backtracking envseal's must be a valid
 * solution; where no solution exists both must fail.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePython } from '../../src/ecosystems/python/resolver/resolve-python.js';
import { PythonIndexClient } from '../../src/ecosystems/python/index-client/python-index.js';
import { isEnvsealError } from '../../src/core/errors.js';
import type { TargetProbe } from '../../src/core/ground.js';
import type { DeclaredRequirement, LockedPythonPackage } from '../../src/ecosystems/python/schema.js';
import { requireLab } from '../lab/lab.js';
import { startIndex, type FileSpec, type LabIndex } from '../lab/index-server.js';
import { buildWheel, type WheelSpec } from '../lab/wheel.js';
import { generateMlIndex, type MlIndex } from '../../bench/lib/ml-index.js';
import { checkClosure, probeLabTarget, runPipReport, startHtmlView, type HtmlView, type PipReport } from '../fixtures/resolve/pip-oracle.js';

function declared(requirements: string[]): DeclaredRequirement[] {
  return requirements.map((requirement) => ({ requirement, hashes: [], source: 'requirements.txt', kind: 'requirement', targets: ['deploy', 'dev'] }));
}

function wheel(spec: WheelSpec, extra: Partial<FileSpec> = {}): FileSpec {
  const built = buildWheel(spec);
  return { filename: built.filename, bytes: built.bytes, ...extra };
}

async function resolveWithEnvseal(indexUrl: string, requirements: string[], target: TargetProbe): Promise<LockedPythonPackage[]> {
  const client = new PythonIndexClient({ http: { retries: 1 } });
  return (await resolvePython({ requirements: declared(requirements), indexes: [indexUrl], target, options: {} }, { index: client })).packages;
}

function closureOf(packages: LockedPythonPackage[]): string[] {
  return packages.map((p) => `${p.name}==${p.version} ${p.file.filename}`).sort();
}

function pipClosureOf(report: PipReport): string[] {
  return report.install.map((i) => `${i.name}==${i.version} ${i.filename}`).sort();
}

/** Serves projects as JSON+HTML for envseal and through an HTML-only view for pip 23.0.1. */
async function serve(projects: Record<string, FileSpec[]>): Promise<{ index: LabIndex; html: HtmlView; close(): Promise<void> }> {
  const index = await startIndex({ projects });
  const html = await startHtmlView(index.url);
  return { index, html, close: async () => (await html.close(), await index.close()) };
}

let target: TargetProbe;

before(async () => {
  await requireLab();
  target = await probeLabTarget();
});

describe('pip oracle: a graph of platform wheels, markers, extras, yanked and pre-releases', () => {
  const py = (name: string, version: string, rest: Partial<WheelSpec> = {}, file: Partial<FileSpec> = {}) => wheel({ name, version, ...rest }, file);
  const projects: Record<string, FileSpec[]> = {
    fastmath: [
      py('fastmath', '1.0', { tag: 'cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64' }),
      py('fastmath', '1.0', { tag: 'cp311-cp311-musllinux_1_1_x86_64' }),
      py('fastmath', '1.0', { tag: 'cp311-cp311-win_amd64' }),
      py('fastmath', '1.1', { tag: 'cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64' }),
      py('fastmath', '1.1', { tag: 'cp311-cp311-manylinux_2_28_x86_64' }),
      py('fastmath', '1.1', { tag: 'cp310-cp310-manylinux_2_28_x86_64' }),
      py('fastmath', '1.2', { tag: 'cp311-cp311-manylinux_2_39_x86_64' }),
    ],
    stableabi: [py('stableabi', '3.0', { tag: 'cp38-abi3-manylinux_2_17_x86_64' }), py('stableabi', '3.0', { tag: 'cp312-cp312-manylinux_2_17_x86_64' })],
    purelib: [...['1.0', '1.1', '1.2', '1.3', '1.4'].map((v) => py('purelib', v)), py('purelib', '1.5', {}, { yanked: 'broken' }), py('purelib', '2.0b1')],
    onlypre: [py('onlypre', '0.1a1'), py('onlypre', '0.2b2')],
    newpy: [py('newpy', '1.0'), py('newpy', '2.0', { requiresPython: '>=3.12' }, { requiresPython: null })],
    oldpy: [py('oldpy', '1.0', { requiresPython: '>=3.7' }), py('oldpy', '2.0', { requiresPython: '>=3.12' })],
    framework: [
      py('framework', '1.0', { requiresDist: ['purelib'] }),
      py('framework', '2.0', {
        providesExtra: ['gpu', 'all', 'plot'],
        requiresDist: [
          'purelib>=1.2',
          'fastmath; platform_machine == "x86_64"',
          'winhelper; sys_platform == "win32"',
          'old-backport; python_version < "3.8"',
          'stableabi>=2; extra == "gpu"',
          'framework[gpu]; extra == "all"',
          'plotlib; extra == "plot"',
        ],
      }),
    ],
    plotlib: [py('plotlib', '0.1', { requiresDist: ['framework>=2'] })],
    localver: [py('localver', '2.1.0'), py('localver', '2.1.0+cu121')],
    buildtags: [py('buildtags', '1.0', { buildTag: '1' }), py('buildtags', '1.0', { buildTag: '2' }), py('buildtags', '0.9')],
  };
  const requirements = ['framework[all,plot]', 'onlypre', 'newpy', 'oldpy', 'localver==2.1.0', 'buildtags', 'purelib', 'winonly; sys_platform == "win32"'];
  let served: Awaited<ReturnType<typeof serve>>;

  before(async () => {
    served = await serve(projects);
  });
  after(() => served.close());

  it('chooses exactly the files pip chooses', async () => {
    const [ours, pip] = await Promise.all([resolveWithEnvseal(served.index.url, requirements, target), runPipReport(served.html.url, requirements)]);
    assert.equal(pip.code, 0, pip.stderr);
    assert.deepEqual(closureOf(ours), pipClosureOf(pip));
    // The handful of choices this graph is about, spelled out.
    const files = Object.fromEntries(ours.map((p) => [p.name, p.file.filename]));
    assert.equal(files.fastmath, 'fastmath-1.1-cp311-cp311-manylinux_2_28_x86_64.whl');
    assert.equal(files.stableabi, 'stableabi-3.0-cp38-abi3-manylinux_2_17_x86_64.whl');
    assert.equal(files.purelib, 'purelib-1.4-py3-none-any.whl');
    assert.equal(files.onlypre, 'onlypre-0.2b2-py3-none-any.whl');
    assert.equal(files.newpy, 'newpy-1.0-py3-none-any.whl');
    assert.equal(files.localver, 'localver-2.1.0+cu121-py3-none-any.whl');
    assert.equal(files.buildtags, 'buildtags-1.0-2-py3-none-any.whl');
    // The probe's marker environment is the one pip evaluates markers with in that image.
    for (const [key, value] of Object.entries(target.python!.markers)) assert.equal(pip.environment[key], value, key);
  });

  it('fails where pip fails: unknown project, no matching version, conflicting requirements', async () => {
    const cases: [string[], string, RegExp][] = [
      [['no-such-project'], 'python.not-found', /No matching distribution found for no-such-project/],
      [['purelib>=9'], 'python.no-match', /from versions: 1\.0, 1\.1, 1\.2, 1\.3, 1\.4/],
      [['framework>=2', 'purelib<1.2'], 'python.unsatisfiable', /ResolutionImpossible|conflicting dependencies/],
      [['fastmath>=1.2'], 'python.no-compatible-file', /No matching distribution found for fastmath>=1\.2/],
    ];
    for (const [reqs, code, pipPattern] of cases) {
      const pip = await runPipReport(served.html.url, reqs);
      assert.notEqual(pip.code, 0, `pip should fail for ${reqs.join(' ')}`);
      assert.match(pip.stderr, pipPattern);
      await assert.rejects(resolveWithEnvseal(served.index.url, reqs, target), (err: unknown) => {
        assert.ok(isEnvsealError(err), String(err));
        assert.equal(err.code, code, `${reqs.join(' ')}: ${err.message}`);
        assert.equal(err.exitCode, 2);
        return true;
      });
    }
  });
});

describe('pip oracle: an ML-shaped index', () => {
  let plain: MlIndex;
  let trapped: MlIndex;
  let servedPlain: Awaited<ReturnType<typeof serve>>;
  let servedTrap: Awaited<ReturnType<typeof serve>>;

  before(async () => {
    plain = generateMlIndex({ trap: false });
    trapped = generateMlIndex({ trap: true });
    servedPlain = await serve(plain.projects);
    servedTrap = await serve(trapped.projects);
  });
  after(async () => {
    await servedPlain.close();
    await servedTrap.close();
  });

  it('equals pip on the conflict-free stack (dozens of packages, many versions, markers, extras of extras)', async () => {
    assert.ok(Object.keys(plain.projects).length >= 80);
    const [ours, pip] = await Promise.all([
      resolveWithEnvseal(servedPlain.index.url, plain.requirements, target),
      runPipReport(servedPlain.html.url, plain.requirements),
    ]);
    assert.equal(pip.code, 0, pip.stderr);
    assert.ok(ours.length >= 30, `a closure of ${ours.length} packages`);
    assert.deepEqual(closureOf(ours), pipClosureOf(pip));
    assert.deepEqual(checkClosure(plain.releases, plain.requirements, new Map(ours.map((p) => [p.name, p.version])), target), []);
  });

  it('finds a valid solution through the backtracking trap, as pip does', async () => {
    const [ours, pip] = await Promise.all([
      resolveWithEnvseal(servedTrap.index.url, trapped.requirements, target),
      runPipReport(servedTrap.html.url, trapped.requirements),
    ]);
    assert.equal(pip.code, 0, pip.stderr);
    const installed = new Map(ours.map((p) => [p.name, p.version]));
    assert.deepEqual(checkClosure(trapped.releases, trapped.requirements, installed, target), []);
    assert.deepEqual(checkClosure(trapped.releases, trapped.requirements, new Map(pip.install.map((i) => [i.name, i.version])), target), []);
    // The trap is real: the newest accelerate caps numpy below what the requirements need.
    const accelerate = trapped.releases.get('accelerate')!;
    assert.notEqual(installed.get('accelerate'), accelerate.at(-1)!.version);
  });
});
