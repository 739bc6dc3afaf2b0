/**
 * Issue 10, existing locks honoured pin for pin: a project whose only Python input is a pylock.toml written
 * by `envseal export` from another project's lock gets, from `init` and a flagless `envseal lock`, the same
 * Python pins (no resolution); its dependency group installs the dev-only packages; an edit to the pylock
 * shows as drift in `lock --check`; a tampered hash is exit 2 naming the package and leaves the lock as it was.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const SOURCE_SPEC = `version: 1
name: pylock-source
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
targets:
  dev:
    python: { packages: ["seal-plot>=0.1"] }
`;

interface LockedPackage {
  name: string;
  version: string;
  file: { filename: string; url: string; sha256: string; size?: number };
  via: string[];
  targets: string[];
}

const UV_PYPROJECT = `[project]
name = "uv-e2e"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["seal-metrics>=1.0", "tinyconfig~=1.1"]

[dependency-groups]
dev = ["seal-plot>=0.1"]
`;

/**
 * A uv.lock (version 1) as uv writes it for UV_PYPROJECT against the lab index, built from the files and the
 * requirement chains (\`via\`) of the source project's lock: each package lists the packages it pulled in.
 */
function uvLockFor(packages: LockedPackage[]): string {
  const q = JSON.stringify;
  const parentOf = (chain: string) => {
    const parts = chain.split(' > ').map((x) => x.replace(/\[.*\]$/, ''));
    return parts.length > 2 ? parts[parts.length - 2]! : null;
  };
  const children = (name: string | null) =>
    packages
      .filter((p) => p.via.some((v) => parentOf(v) === name && (name !== null || !v.startsWith('envseal.yaml'))))
      .map((p) => `    { name = ${q(p.name)} },`);
  const lines = [
    'version = 1',
    'requires-python = ">=3.9"',
    '',
    '[[package]]',
    'name = "uv-e2e"',
    'version = "0.1.0"',
    'source = { editable = "." }',
    'dependencies = [',
    ...children(null),
    ']',
    '',
    '[package.dev-dependencies]',
    'dev = [',
    '    { name = "seal-plot" },',
    ']',
    '',
    '[package.metadata]',
    'requires-dist = [',
    '    { name = "seal-metrics", specifier = ">=1.0" },',
    '    { name = "tinyconfig", specifier = "~=1.1" },',
    ']',
    '',
    '[package.metadata.requires-dev]',
    'dev = [{ name = "seal-plot", specifier = ">=0.1" }]',
  ];
  for (const p of packages) {
    const deps = children(p.name);
    lines.push('', '[[package]]', `name = ${q(p.name)}`, `version = ${q(p.version)}`, `source = { registry = ${q(LAB_INDEX_URL)} }`);
    if (deps.length) lines.push('dependencies = [', ...deps, ']');
    const size = p.file.size !== undefined ? `, size = ${p.file.size}` : '';
    lines.push('wheels = [', `    { url = ${q(p.file.url)}, hash = "sha256:${p.file.sha256}"${size} },`, ']');
  }
  return `${lines.join('\n')}\n`;
}

const pins = (packages: LockedPackage[]) => packages.map((p) => `${p.name}==${p.version} ${p.file.filename} ${p.file.sha256} ${p.targets.join()}`).sort();

describe('envseal lock follows an existing pylock.toml (PEP 751) pin for pin', { concurrency: false }, () => {
  let source: TempProject;
  let project: TempProject;
  let sourcePackages: LockedPackage[];
  let pylock: string;
  let uvProject: TempProject;
  let uvLock: string;
  const env = { ENVSEAL_CACHE_DIR: '' };

  before(async () => {
    await requireLab();
    await requireLabIndex();
    source = await makeTempProject({ 'envseal.yaml': SOURCE_SPEC, 'requirements.txt': 'seal-metrics>=1.0\ntinyconfig~=1.1\n' });
    env.ENVSEAL_CACHE_DIR = source.path('.cache');
    const locked = await runEnvseal(['lock'], { cwd: source.dir, env });
    assert.equal(locked.code, 0, locked.stderr);
    sourcePackages = JSON.parse(await readFile(source.path('envseal.lock'), 'utf8')).python.packages;
    const exported = await runEnvseal(['export', '-o', 'pylock.toml'], { cwd: source.dir, env });
    assert.equal(exported.code, 0, exported.stderr);
    pylock = await readFile(source.path('pylock.toml'), 'utf8');
    project = await makeTempProject({ 'pylock.toml': pylock, 'train.py': 'print("hi")\n' });
    uvLock = uvLockFor(sourcePackages);
    uvProject = await makeTempProject({ 'uv.lock': uvLock, 'pyproject.toml': UV_PYPROJECT, 'train.py': 'print("hi")\n' });
  });
  const tags: string[] = [];
  after(async () => {
    if (tags.length) await dockerCli(['rmi', '-f', ...tags]);
    await source?.cleanup();
    await project?.cleanup();
    await uvProject?.cleanup();
  });

  it('init writes a spec that follows pylock.toml, and a flagless lock gives the same deploy pins', async () => {
    const init = await runEnvseal(['init', '--base', LAB_BASE_IMAGE], { cwd: project.dir, env });
    assert.equal(init.code, 0, init.stderr);
    const spec = await readFile(project.path('envseal.yaml'), 'utf8');
    assert.match(spec, /^ {2}lockfile: pylock\.toml$/m);
    assert.doesNotMatch(spec, /ignore:.*pylock/);
    const res = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const deploy = sourcePackages.filter((p) => p.targets.includes('deploy'));
    assert.ok(deploy.length >= 2);
    assert.deepEqual(pins(lock.python.packages), pins(deploy));
    assert.equal(lock.declared.python.imported.path, 'pylock.toml');
    const generate = await runEnvseal(['generate'], { cwd: project.dir, env });
    assert.equal(generate.code, 0, generate.stderr);
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    for (const p of deploy) assert.match(dockerfile, new RegExp(`${p.name}==${p.version.replace(/\./g, '\\.')}`));
  });

  it('the dev dependency group adds the dev-only packages for the dev image: the source lock, targets included', async () => {
    const spec = await readFile(project.path('envseal.yaml'), 'utf8');
    await writeFile(project.path('envseal.yaml'), spec.replace(/^ {2}lockfile: pylock\.toml$/m, '  lockfile: { path: pylock.toml, groups: [dev] }'));
    const res = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.ok(sourcePackages.some((p) => !p.targets.includes('deploy')));
    assert.deepEqual(pins(lock.python.packages), pins(sourcePackages));
    await writeFile(project.path('envseal.yaml'), spec);
    assert.equal((await runEnvseal(['lock'], { cwd: project.dir, env })).code, 0);
  });

  it('an edit to pylock.toml is drift: lock --check exits 1 naming it', async () => {
    assert.equal((await runEnvseal(['lock', '--check'], { cwd: project.dir, env })).code, 0);
    await writeFile(project.path('pylock.toml'), `${pylock}# edited\n`);
    const check = await runEnvseal(['lock', '--check'], { cwd: project.dir, env });
    assert.equal(check.code, 1, check.stderr);
    assert.match(check.stderr, /pylock\.toml/);
    await writeFile(project.path('pylock.toml'), pylock);
  });

  it('a tampered hash is exit 2 naming the lock file and the package; envseal.lock stays byte-identical', async () => {
    const before = await readFile(project.path('envseal.lock'));
    const victim = sourcePackages.find((p) => p.targets.includes('deploy'))!;
    const forged = victim.file.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    assert.ok(pylock.includes(victim.file.sha256));
    await writeFile(project.path('pylock.toml'), pylock.replace(victim.file.sha256, forged));
    const res = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, new RegExp(`pylock\\.toml: package ${victim.name} ${victim.version.replace(/\./g, '\\.')}: the lock's sha256`));
    assert.match(res.stderr, new RegExp(forged));
    assert.deepEqual(await readFile(project.path('envseal.lock')), before);
    await writeFile(project.path('pylock.toml'), pylock);
  });

  it('uv.lock: init follows it, a flagless lock gives the same deploy pins, the dev group all of them', async () => {
    const init = await runEnvseal(['init', '--base', LAB_BASE_IMAGE], { cwd: uvProject.dir, env });
    assert.equal(init.code, 0, init.stderr);
    const spec = await readFile(uvProject.path('envseal.yaml'), 'utf8');
    assert.match(spec, /^ {2}lockfile: uv\.lock$/m);
    assert.match(spec, /^ {2}pyproject: pyproject\.toml$/m);
    const res = await runEnvseal(['lock'], { cwd: uvProject.dir, env });
    assert.equal(res.code, 0, res.stderr);
    const lock = JSON.parse(await readFile(uvProject.path('envseal.lock'), 'utf8'));
    assert.deepEqual(pins(lock.python.packages), pins(sourcePackages.filter((p) => p.targets.includes('deploy'))));
    assert.equal(lock.declared.python.imported.kind, 'uv');
    await writeFile(uvProject.path('envseal.yaml'), spec.replace(/^ {2}lockfile: uv\.lock$/m, '  lockfile: { path: uv.lock, groups: [dev] }'));
    const dev = await runEnvseal(['lock'], { cwd: uvProject.dir, env });
    assert.equal(dev.code, 0, dev.stderr);
    assert.deepEqual(pins(JSON.parse(await readFile(uvProject.path('envseal.lock'), 'utf8')).python.packages), pins(sourcePackages));
  });

  it('uv.lock stale against pyproject.toml, or with a tampered hash, is exit 2 naming it; envseal.lock stays byte-identical', async () => {
    const before = await readFile(uvProject.path('envseal.lock'));
    await writeFile(uvProject.path('pyproject.toml'), UV_PYPROJECT.replace('tinyconfig~=1.1', 'tinyconfig~=1.2'));
    const staleRes = await runEnvseal(['lock'], { cwd: uvProject.dir, env });
    assert.equal(staleRes.code, 2, staleRes.stderr);
    assert.match(staleRes.stderr, /uv\.lock is stale against pyproject\.toml: pyproject\.toml declares tinyconfig~=1\.2/);
    assert.match(staleRes.stderr, /uv lock/);
    await writeFile(uvProject.path('pyproject.toml'), UV_PYPROJECT);
    const victim = sourcePackages.find((p) => p.name === 'tinyconfig')!;
    const forged = victim.file.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    await writeFile(uvProject.path('uv.lock'), uvLock.replace(victim.file.sha256, forged));
    const tampered = await runEnvseal(['lock'], { cwd: uvProject.dir, env });
    assert.equal(tampered.code, 2, tampered.stderr);
    assert.match(tampered.stderr, /uv\.lock: package tinyconfig 1\.1\.0: the lock's sha256/);
    assert.deepEqual(await readFile(uvProject.path('envseal.lock')), before);
    await writeFile(uvProject.path('uv.lock'), uvLock);
    assert.equal((await runEnvseal(['lock', '--check'], { cwd: uvProject.dir, env })).code, 0);
  });

  it('the imported lock builds unchanged: generate, build --target dev, then verify passes (image contents included)', async () => {
    assert.equal((await runEnvseal(['generate'], { cwd: uvProject.dir, env })).code, 0);
    const built = await runEnvseal(['build', '--target', 'dev', '--json'], { cwd: uvProject.dir, env });
    assert.equal(built.code, 0, built.stderr);
    const { tags: builtTags } = JSON.parse(built.stdout) as { tags: string[] };
    tags.push(...builtTags);
    const verify = await runEnvseal(['verify', '--image', builtTags[0]!], { cwd: uvProject.dir, env });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });
});
