import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../src/envspec/load-spec.js';
import { detectInFiles, renderInitSpec } from '../../src/app/init-project.js';

const minimal = 'version: 1\nname: demo\nbase: python:3.11\n';

test('a minimal spec gets the documented defaults', () => {
  const spec = parseSpec(minimal);
  assert.equal(spec.platform, 'linux/amd64');
  assert.equal(spec.workdir, '/workspace');
  assert.deepEqual(spec.env, {});
  assert.equal(spec.targets.deploy.user, 'envseal');
  assert.equal(spec.targets.deploy.uid, 10001);
  assert.equal(spec.python, undefined);
});

test('a full spec parses', () => {
  const spec = parseSpec(`version: 1
name: iris
base: 127.0.0.1:5000/python:bookworm
platform: linux/arm64/v8
workdir: /app
env: { OMP_NUM_THREADS: "1" }
seed: 42
python:
  requirements: [requirements.txt]
  constraints: [constraints.txt]
  packages: ["numpy>=1.24"]
  pyproject: { path: pyproject.toml, extras: [train] }
  index: http://127.0.0.1:5080/simple
  extraIndexes: [http://127.0.0.1:5081/simple]
  venv: true
  systemSitePackages: true
apt: { packages: [python3-sklearn, "curl=7.88.1-10+deb12u5"], lists: [apt.txt], installRecommends: false }
npm: { dir: web }
targets:
  dev: { python: { requirements: [requirements-dev.txt] }, apt: { packages: [git] }, env: { DEV: "1" } }
  deploy: { copy: [train.py, src/], command: [python, train.py], user: runner, uid: 2000 }
`);
  assert.equal(spec.seed, 42);
  assert.equal(spec.platform, 'linux/arm64/v8');
  assert.deepEqual(spec.python?.pyproject, { path: 'pyproject.toml', extras: ['train'], groups: [] });
  assert.equal(spec.npm?.target, '/opt/envseal/npm');
  assert.deepEqual(spec.targets.deploy.command, ['python', 'train.py']);
});

test('every problem is reported at once with its dotted path and line', () => {
  const text = `version: 1
name: Demo
base: python:3.11
python:
  requirements: [requirements.txt, 3]
  bogus: true
apt:
  packages: ["Bad Name"]
targets:
  deploy:
    user: root
    copy: [../outside]
extra: 1
`;
  assert.throws(
    () => parseSpec(text, 'envseal.yaml'),
    (e: any) => {
      assert.equal(e.code, 'spec.invalid');
      assert.equal(e.exitCode, 2);
      const expected = [
        'envseal.yaml: name: must be lowercase letters, digits, ".", "_" or "-" (it names the image) (line 2)',
        'envseal.yaml: python.requirements.1: expected string, got number 3 (line 5)',
        'envseal.yaml: python.bogus: unknown key (line 6)',
        'envseal.yaml: apt.packages.0: must be a Debian package name, optionally name=version (line 8)',
        'envseal.yaml: targets.deploy.user: must not be root: the deploy image runs as a non-root user (line 11)',
        'envseal.yaml: targets.deploy.copy.0: must be a path inside the project (relative, no "..") (line 12)',
        'envseal.yaml: extra: unknown key (line 13)',
      ];
      assert.deepEqual([...e.details].sort(), [...expected].sort());
      assert.match(e.message, /7 problems/);
      return true;
    },
  );
});

test('missing required keys and a wrong version are named', () => {
  assert.throws(
    () => parseSpec('version: 2\nname: x\n'),
    (e: any) =>
      e.details.includes('envseal.yaml: version: must be 1 (the only spec version this envseal reads) (line 1)') &&
      e.details.includes('envseal.yaml: base: required (string)'),
  );
});

test('YAML syntax errors carry file:line:col; duplicate keys are errors', () => {
  assert.throws(
    () => parseSpec('version: 1\nname: [x\n', 'my.yaml'),
    (e: any) => e.code === 'spec.syntax' && /^my\.yaml:\d+:\d+: /.test(e.details[0]),
  );
  assert.throws(
    () => parseSpec('version: 1\nname: a\nname: b\nbase: x\n'),
    (e: any) => e.code === 'spec.syntax' && /envseal\.yaml:3:1: .*[Mm]ap keys must be unique/.test(e.details[0]),
  );
  assert.throws(
    () => parseSpec(''),
    (e: any) => e.code === 'spec.empty',
  );
});

test('what init writes is always a valid spec', () => {
  for (const files of [[], ['apt.txt', 'package-lock.json', 'package.json', 'pyproject.toml', 'requirements-dev.txt', 'requirements.txt']]) {
    const spec = parseSpec(renderInitSpec({ name: 'proj', base: 'python:3.12', detected: detectInFiles(files) }));
    assert.equal(spec.name, 'proj');
    if (files.length) {
      assert.deepEqual(spec.python?.requirements, ['requirements.txt']);
      assert.deepEqual(spec.targets.dev.python?.requirements, ['requirements-dev.txt']);
      assert.deepEqual(spec.apt?.lists, ['apt.txt']);
      assert.equal(spec.npm?.dir, '.');
    }
  }
});

test('init names the files it recognises but does not read, and the spec it writes says how to ignore them', () => {
  const detected = detectInFiles(['requirements.txt', 'Pipfile', 'setup.py', 'train.py']);
  assert.deepEqual(
    Object.values(detected).flatMap((f) => (f.unused ?? []).map((u) => u.file)),
    ['Pipfile', 'setup.py'],
  );
  const text = renderInitSpec({ name: 'proj', base: 'python:3.12', detected });
  assert.match(text, /^# ignore: \["Pipfile", "setup\.py"\]$/m);
  const spec = parseSpec(text.replace('# ignore: ', 'ignore: '));
  assert.deepEqual(spec.ignore, ['Pipfile', 'setup.py']);
});

test('init writes a spec that follows a pylock.toml (or a uv.lock) and checks pyproject.toml against it; other locks stay listed as unused', () => {
  const detected = detectInFiles(['pylock.toml', 'pyproject.toml', 'uv.lock', 'train.py']);
  assert.deepEqual(
    Object.values(detected).flatMap((f) => (f.unused ?? []).map((u) => u.file)),
    ['uv.lock'],
  );
  const spec = parseSpec(renderInitSpec({ name: 'proj', base: 'python:3.12', detected }).replace('# ignore: ', 'ignore: '));
  assert.equal(spec.python?.lockfile, 'pylock.toml');
  assert.equal(spec.python?.pyproject, 'pyproject.toml');
  assert.deepEqual(spec.python?.requirements, []);
  const uv = detectInFiles(['uv.lock', 'pyproject.toml', 'requirements.txt']);
  assert.deepEqual(
    Object.values(uv).flatMap((f) => f.unused ?? []),
    [],
  );
  const uvSpec = parseSpec(renderInitSpec({ name: 'proj', base: 'python:3.12', detected: uv }));
  assert.equal(uvSpec.python?.lockfile, 'uv.lock');
  assert.match(renderInitSpec({ name: 'proj', base: 'python:3.12', detected: uv }), /Not read while the lock is followed: requirements\.txt/);
});
