/**
 * The lock use case with in-memory ports: what gets resolved again when which input changes (stability), that
 * an unchanged lock is not rewritten, and that a failing lock leaves the old file intact. The real resolver runs
 * over an in-memory index; registry and engine are fakes that count their calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerRunOptions, ContainerEngine, ImageRegistry } from '../../src/core/ports.js';
import { silentLogger } from '../../src/core/ports.js';
import { checkLock, lockEnvironment } from '../../src/app/lock-environment.js';
import { MemoryIndex } from '../fixtures/resolve/memory-index.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';

const INDEX = 'http://index.test/simple';
const DIGEST = (c: string) => `sha256:${c.repeat(64)}`;

function fakes(aptVersion = { value: '1.6-1' }) {
  const calls = { registry: 0, probe: 0, apt: 0 };
  const registry: ImageRegistry = {
    async resolveImage(ref) {
      calls.registry++;
      const d = ref.tag === 'trixie' ? DIGEST('2') : DIGEST('1');
      return { digest: d, platformDigest: d, mediaType: 'application/vnd.oci.image.manifest.v1+json', isIndex: false };
    },
  };
  const engine = {
    async inspectImage() {
      return { id: DIGEST('9'), repoTags: [], repoDigests: [], labels: {}, env: [], layers: [] };
    },
    async runContainer(options: ContainerRunOptions) {
      const script = options.cmd.join(' ');
      if (script.includes('ENVSEAL_OS=')) {
        calls.probe++;
        const t = BOOKWORM_TARGET;
        options.stdout!.write(
          [
            `ENVSEAL_OS=${t.os.id}|${t.os.versionId}|${t.os.codename}`,
            `ENVSEAL_PATH=${t.path}`,
            `ENVSEAL_MACHINE=${t.machine}`,
            `ENVSEAL_ARCH=${t.architecture}`,
            'ENVSEAL_APT=1',
            'ENVSEAL_LIBC=glibc|2.36',
            `ENVSEAL_PY=${JSON.stringify(t.python)}`,
            '',
          ].join('\n'),
        );
      } else {
        calls.apt++;
        const names = /apt-get install -s[^\n]*?--no-install-recommends ([^\n]*)/.exec(script)![1]!.split(' ');
        const inst = names.map((n) => `Inst ${n} (${aptVersion.value} Debian:12 [amd64])`).join('\n');
        options.stdout!.write(`__ENVSEAL_SIM_MAIN__\n${inst}\n__ENVSEAL_SIM_ALL__\n${inst}\n__ENVSEAL_DPKG__\n`);
      }
      return { exitCode: 0, containerId: 'c' };
    },
  } as unknown as ContainerEngine;
  const index = new MemoryIndex({
    [INDEX]: {
      alpha: [
        { version: '1.0.0', deps: ['beta>=1'] },
        { version: '1.1.0', deps: ['beta>=1'] },
      ],
      beta: [{ version: '1.0.0' }, { version: '2.0.0' }],
      gamma: [{ version: '0.5.0' }],
    },
  });
  const deps = { registry, engine, index, clock: { now: () => new Date('2026-11-27T12:00:00Z') }, logger: silentLogger, toolVersion: '0.1.0' };
  return { calls, deps, index };
}

async function project(files: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'envseal-lockuc-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return { dir, paths: { dir, spec: join(dir, 'envseal.yaml'), lock: join(dir, 'envseal.lock') }, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const SPEC = (base = 'registry.test/python:bookworm') =>
  `version: 1\nname: t\nbase: ${base}\npython:\n  requirements: [requirements.txt]\n  index: ${INDEX}\napt:\n  lists: [apt.txt]\n`;

test('only what changed is resolved again; an unchanged lock is not rewritten', async () => {
  const p = await project({ 'envseal.yaml': SPEC(), 'requirements.txt': 'alpha\n', 'apt.txt': 'jq\ncurl\n' });
  try {
    const { calls, deps } = fakes();
    const first = await lockEnvironment(p.paths, deps);
    assert.equal(first.status, 'created');
    assert.deepEqual(calls, { registry: 1, probe: 1, apt: 1 });
    assert.deepEqual(
      first.lock.python!.packages.map((x) => `${x.name}==${x.version}`),
      ['alpha==1.1.0', 'beta==2.0.0'],
    );
    const text = await readFile(p.paths.lock, 'utf8');

    const again = await lockEnvironment(p.paths, deps);
    assert.equal(again.written, false);
    assert.deepEqual(calls, { registry: 1, probe: 1, apt: 1 });
    assert.equal(await readFile(p.paths.lock, 'utf8'), text);

    // Reordering and reformatting the inputs changes nothing.
    await writeFile(join(p.dir, 'apt.txt'), '# tools\ncurl\n\njq\n');
    assert.equal((await lockEnvironment(p.paths, deps)).written, false);

    // A Python change re-resolves Python only, keeping pins that still satisfy (the apt list is in a
    // different order from the lock's sorted copy: that must not count as an apt change).
    await writeFile(join(p.dir, 'apt.txt'), 'jq\ncurl\n');
    await writeFile(join(p.dir, 'requirements.txt'), 'gamma\nalpha\n');
    const py = await lockEnvironment(p.paths, deps);
    assert.equal(py.status, 'updated');
    assert.deepEqual(calls, { registry: 1, probe: 1, apt: 1 }, 'no registry, probe or apt work for a Python change');
    assert.deepEqual(
      py.lock.python!.packages.map((x) => x.name),
      ['alpha', 'beta', 'gamma'],
    );
    assert.deepEqual(py.lock.apt, first.lock.apt);

    // An apt change re-resolves apt only.
    await writeFile(join(p.dir, 'apt.txt'), 'jq\ncurl\ngit\n');
    const apt = await lockEnvironment(p.paths, deps);
    assert.deepEqual(calls, { registry: 1, probe: 1, apt: 2 });
    assert.ok(apt.lock.apt!.packages.some((x) => x.name === 'git'));

    // A base change re-resolves the base, probes it and resolves apt in it.
    await writeFile(p.paths.spec, SPEC('registry.test/python:trixie'));
    const base = await lockEnvironment(p.paths, deps);
    assert.deepEqual(calls, { registry: 2, probe: 2, apt: 3 });
    assert.equal(base.lock.base.digest, DIGEST('2'));
    assert.notEqual(base.lock.fingerprint, apt.lock.fingerprint);
  } finally {
    await p.cleanup();
  }
});

test("resolvedAt (the Dockerfile's SOURCE_DATE_EPOCH) moves only when something resolved changes, not for env or copy edits", async () => {
  const p = await project({ 'envseal.yaml': SPEC(), 'requirements.txt': 'alpha\n', 'apt.txt': 'jq\n', 'train.py': 'print(1)\n' });
  try {
    const { deps } = fakes();
    let now = new Date('2026-11-27T12:00:00Z');
    const moving = { ...deps, clock: { now: () => now } };
    const first = await lockEnvironment(p.paths, moving);
    assert.equal(first.lock.resolvedAt, '2026-11-27T12:00:00Z');

    now = new Date('2026-11-28T08:30:00Z');
    await writeFile(p.paths.spec, `${SPEC()}env:\n  OMP_NUM_THREADS: "1"\ntargets:\n  deploy:\n    copy: [train.py]\n`);
    const edited = await lockEnvironment(p.paths, moving);
    assert.equal(edited.status, 'updated');
    assert.notEqual(edited.lock.fingerprint, first.lock.fingerprint);
    assert.equal(edited.lock.resolvedAt, first.lock.resolvedAt, 'env and copy are not resolved: the resolution time stays');

    now = new Date('2026-11-29T09:00:00Z');
    await writeFile(join(p.dir, 'requirements.txt'), 'alpha\ngamma\n');
    const resolved = await lockEnvironment(p.paths, moving);
    assert.equal(resolved.lock.resolvedAt, '2026-11-29T09:00:00Z', 'a new Python closure is a new resolution');
  } finally {
    await p.cleanup();
  }
});

test('--upgrade re-resolves everything; without it the archive moving on changes no apt pin', async () => {
  const p = await project({ 'envseal.yaml': SPEC(), 'requirements.txt': 'alpha\n', 'apt.txt': 'jq\n' });
  try {
    const version = { value: '1.6-1' };
    const { calls, deps } = fakes(version);
    await lockEnvironment(p.paths, deps);
    version.value = '1.7-1';
    await writeFile(join(p.dir, 'requirements.txt'), 'alpha\ngamma\n');
    const kept = await lockEnvironment(p.paths, deps);
    assert.equal(kept.lock.apt!.packages[0]!.version, '1.6-1');
    const up = await lockEnvironment(p.paths, deps, { upgrade: true });
    assert.equal(up.lock.apt!.packages[0]!.version, '1.7-1');
    assert.deepEqual(calls, { registry: 2, probe: 2, apt: 2 });
  } finally {
    await p.cleanup();
  }
});

test('a failing lock leaves the previous lock byte-identical', async () => {
  const p = await project({ 'envseal.yaml': SPEC(), 'requirements.txt': 'alpha\n', 'apt.txt': 'jq\n' });
  try {
    const { deps } = fakes();
    await lockEnvironment(p.paths, deps);
    const before = await readFile(p.paths.lock);
    await writeFile(join(p.dir, 'requirements.txt'), 'alpha\nno-such-project\n');
    await assert.rejects(lockEnvironment(p.paths, deps), (e: any) => e.code === 'python.not-found' && e.exitCode === 2);
    await writeFile(join(p.dir, 'requirements.txt'), 'alpha>=5\n');
    await assert.rejects(lockEnvironment(p.paths, deps), (e: any) => e.code === 'python.no-match');
    assert.deepEqual(await readFile(p.paths.lock), before);
  } finally {
    await p.cleanup();
  }
});

test('never silently ignore an input: a recognised file envseal does not read is exit 2 until the spec ignores it', async () => {
  const p = await project({
    'envseal.yaml': SPEC(),
    'requirements.txt': 'alpha\n',
    'apt.txt': 'jq\n',
    'uv.lock': 'version = 1\n',
    'environment.yml': 'name: x\n',
  });
  try {
    const { deps } = fakes();
    await assert.rejects(lockEnvironment(p.paths, deps), (err: any) => {
      assert.equal(err.code, 'input.unused');
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /2 project files envseal recognises would be ignored: environment\.yml, uv\.lock/);
      assert.match(err.details.join('\n'), /uv\.lock: a Python lock: name it in python\.lockfile to follow its pins/);
      assert.match(err.hint, /ignore:/);
      return true;
    });
    await assert.rejects(readFile(p.paths.lock, 'utf8'), /ENOENT/, 'nothing is written');
    await writeFile(p.paths.spec, `${SPEC()}ignore: [uv.lock, environment.yml]\n`);
    const result = await lockEnvironment(p.paths, deps);
    assert.equal(result.status, 'created');
  } finally {
    await p.cleanup();
  }
});

test('a lock that would pin zero packages from the manifests it read is exit 2, not a success', async () => {
  const p = await project({ 'envseal.yaml': SPEC(), 'requirements.txt': '# nothing yet\n', 'apt.txt': '\n' });
  try {
    const { deps } = fakes();
    await assert.rejects(lockEnvironment(p.paths, deps), (err: any) => {
      assert.equal(err.code, 'lock.empty');
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /apt\.txt, requirements\.txt were read but declare no packages/);
      return true;
    });
    await assert.rejects(readFile(p.paths.lock, 'utf8'), /ENOENT/, 'nothing is written');
  } finally {
    await p.cleanup();
  }
});

test('python.lockfile: lock follows pylock.toml without resolving; an edit to it is drift; mixing it with requirements is exit 2', async () => {
  const { deps, index } = fakes();
  const wheel = (name: string) => `${name}-1.0.0-py3-none-any.whl`;
  const entry = (name: string) =>
    `[[packages]]\nname = "${name}"\nversion = "1.0.0"\nindex = "${INDEX}"\nwheels = [{ name = "${wheel(name)}", hashes = { sha256 = "${index.sha256Of(INDEX, wheel(name))}" } }]\n`;
  // beta 1.0.0 although the resolver would pick 2.0.0: the lock is followed, not re-solved.
  const pylock = `lock-version = "1.0"\n${entry('alpha')}${entry('beta')}`;
  const spec = `version: 1\nname: t\nbase: registry.test/python:bookworm\npython:\n  lockfile: pylock.toml\n`;
  const p = await project({ 'envseal.yaml': spec, 'pylock.toml': pylock });
  try {
    const result = await lockEnvironment(p.paths, deps);
    assert.equal(result.status, 'created');
    const lock = JSON.parse(await readFile(p.paths.lock, 'utf8'));
    assert.deepEqual(
      lock.python.packages.map((x: { name: string; version: string }) => `${x.name}==${x.version}`),
      ['alpha==1.0.0', 'beta==1.0.0'],
    );
    assert.ok(!index.calls.some((c) => c.startsWith('metadata')), 'no metadata read: nothing was resolved');
    assert.equal((await checkLock(p.paths)).drift.length, 0);
    for (const options of [{ excludeNewer: '2026-01-01T00:00:00Z' }, { upgradePackages: ['beta'] }]) {
      await assert.rejects(lockEnvironment(p.paths, deps, options), (err: any) => {
        assert.equal(err.code, 'python.import-conflict');
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /^--(exclude-newer|upgrade-package) cannot apply: the Python packages follow pylock\.toml pin for pin/);
        return true;
      });
    }
    await writeFile(join(p.dir, 'pylock.toml'), pylock.replace(entry('beta'), ''));
    const { drift } = await checkLock(p.paths);
    assert.deepEqual(
      drift.map((d) => `${d.file} ${d.kind} ${d.subject}`),
      ['pylock.toml changed pylock.toml (sha256)', 'pylock.toml removed requirement beta'],
    );
    await writeFile(p.paths.spec, `${spec}  packages: [gamma]\n`);
    const before = await readFile(p.paths.lock);
    await assert.rejects(lockEnvironment(p.paths, deps), (err: any) => {
      assert.equal(err.code, 'python.import-conflict');
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /envseal\.yaml: python\.lockfile \(pylock\.toml\) is followed pin for pin, so python\.packages would be ignored/);
      return true;
    });
    assert.deepEqual(await readFile(p.paths.lock), before);
  } finally {
    await p.cleanup();
  }
});
