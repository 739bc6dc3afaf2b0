/**
 * Issue 10, export: what `envseal export --format requirements` writes, real pip (23.0.1 in the lab's base
 * image) installs in hash-checking mode to exactly the locked versions; `export -o` is atomic and idempotent,
 * `--check` exits 1 on a stale file, and a lock without Python packages is refused with exit 2.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_LOCAL_BASE_IMAGE, requireLab, requireLabIndex } from '../lab/lab.js';

const SPEC = `version: 1
name: export-e2e
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
  targets: string[];
}

describe('envseal export: hashed requirements that real pip installs, pylock.toml', { concurrency: false }, () => {
  let project: TempProject;
  let locked: LockedPackage[];
  const env = { ENVSEAL_CACHE_DIR: '' };

  before(async () => {
    await requireLab();
    await requireLabIndex();
    // seal-legacy is published as an sdist only: the lock builds it, the export names the sdist with its hash.
    project = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'seal-metrics>=1.0\ntinyconfig~=1.1\nseal-legacy==0.5.0\n' });
    env.ENVSEAL_CACHE_DIR = project.path('.cache');
    const res = await runEnvseal(['lock'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stderr);
    locked = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8')).python.packages;
  });
  after(async () => {
    await project?.cleanup();
  });

  for (const target of ['deploy', 'dev'] as const) {
    it(`pip installs the ${target} export with --require-hashes --no-deps to exactly the locked versions`, async () => {
      const file = `requirements.${target}.txt`;
      const res = await runEnvseal(['export', '--format', 'requirements', '--target', target, '-o', file], { cwd: project.dir, env });
      assert.equal(res.code, 0, res.stderr);
      const text = await readFile(project.path(file), 'utf8');
      const legacy = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8')).python.packages.find((p: { name: string }) => p.name === 'seal-legacy');
      assert.ok(text.includes(`\nseal-legacy==0.5.0 \\\n    --hash=sha256:${legacy.file.sha256}\n`), text);
      assert.ok(!text.includes('--only-binary :all:'), 'pip may build the sdist');
      assert.match(text, /# seal_legacy-0\.5\.0\.tar\.gz is an sdist: pip builds it; envseal built it with setuptools 66\.1\.1, wheel 0\.38\.4/);
      const pip = await dockerCli(
        [
          'run',
          '--rm',
          '-i',
          '--network',
          'host',
          '-e',
          'PIP_DISABLE_PIP_VERSION_CHECK=1',
          '-e',
          'PIP_NO_CACHE_DIR=1',
          LAB_LOCAL_BASE_IMAGE,
          'sh',
          '-c',
          'python3 -m venv /tmp/v && /tmp/v/bin/pip install --quiet --no-deps --require-hashes -r /dev/stdin >&2 && /tmp/v/bin/pip freeze --all',
        ],
        { input: text, timeoutMs: 180_000 },
      );
      assert.equal(pip.code, 0, pip.stderr);
      const frozen = Object.fromEntries(
        pip.stdout
          .split('\n')
          .filter((l) => l.includes('=='))
          .map((l) => {
            const [name = '', version = ''] = l.split('==');
            return [name.toLowerCase().replace(/[-_.]+/g, '-'), version];
          }),
      );
      const expected = locked.filter((p) => p.targets.includes(target));
      assert.ok(expected.length > 0);
      for (const p of expected) assert.equal(frozen[p.name], p.version, `${p.name} in ${JSON.stringify(frozen)}`);
      // Nothing else was installed besides pip/setuptools of the venv itself.
      const extra = Object.keys(frozen).filter((n) => !expected.some((p) => p.name === n) && !['pip', 'setuptools', 'wheel'].includes(n));
      assert.deepEqual(extra, []);
    });
  }

  it('pylock.toml holds both targets; -o is idempotent and --check catches a stale file (exit 1)', async () => {
    const first = await runEnvseal(['export', '-o', 'pylock.toml', '--json'], { cwd: project.dir, env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).written, true);
    const doc = parseToml(await readFile(project.path('pylock.toml'), 'utf8')) as {
      packages: { name: string; version: string; sdist?: { name: string; url: string; hashes: { sha256: string } }; wheels?: unknown[] }[];
    };
    assert.deepEqual(doc.packages.map((p) => `${p.name}==${p.version}`).sort(), locked.map((p) => `${p.name}==${p.version}`).sort());
    const legacy = doc.packages.find((p) => p.name === 'seal-legacy')!;
    const lockedLegacy = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8')).python.packages.find(
      (p: { name: string }) => p.name === 'seal-legacy',
    );
    assert.equal(legacy.wheels, undefined);
    assert.deepEqual(
      [legacy.sdist?.name, legacy.sdist?.url, legacy.sdist?.hashes.sha256],
      [lockedLegacy.file.filename, lockedLegacy.file.url, lockedLegacy.file.sha256],
    );
    const again = await runEnvseal(['export', '-o', 'pylock.toml', '--json'], { cwd: project.dir, env });
    assert.equal(JSON.parse(again.stdout).written, false);
    const ok = await runEnvseal(['export', '-o', 'pylock.toml', '--check'], { cwd: project.dir, env });
    assert.equal(ok.code, 0, ok.stderr);
    await writeFile(project.path('pylock.toml'), 'lock-version = "1.0"\n');
    const stale = await runEnvseal(['export', '-o', 'pylock.toml', '--check'], { cwd: project.dir, env });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /pylock\.toml differs from what the lock exports/);
    const missing = await runEnvseal(['export', '-o', 'nope.toml', '--check'], { cwd: project.dir, env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.toml does not exist/);
  });

  it('refuses bad requests with exit 2: --check without -o, an unknown format, a lock without Python', async () => {
    const noOutput = await runEnvseal(['export', '--check'], { cwd: project.dir, env });
    assert.equal(noOutput.code, 2);
    assert.match(noOutput.stderr, /--check compares with a file: give it with -o FILE/);
    const badFormat = await runEnvseal(['export', '--format', 'conda'], { cwd: project.dir, env });
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.stderr, /conda/);
    const aptOnly = await makeTempProject({ 'envseal.yaml': `version: 1\nname: apt-only\nbase: ${LAB_BASE_IMAGE}\napt:\n  packages: [jq]\n` });
    try {
      const lock = await runEnvseal(['lock'], { cwd: aptOnly.dir, env });
      assert.equal(lock.code, 0, lock.stderr);
      const res = await runEnvseal(['export'], { cwd: aptOnly.dir, env });
      assert.equal(res.code, 2);
      assert.match(res.stderr, /envseal\.lock pins no Python packages: there is nothing to export/);
      const noLock = await runEnvseal(['export'], { cwd: project.path('.cache'), env });
      assert.equal(noLock.code, 2, noLock.stderr);
    } finally {
      await aptOnly.cleanup();
    }
  });
});
