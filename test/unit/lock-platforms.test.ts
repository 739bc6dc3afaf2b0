/**
 * Several platforms in one lock (issue 10), on plain data: the spec's platform list, the target derived for a
 * platform the engine cannot run, per-platform wheel selection (a platform_machine marker, a release with a
 * wheel for one platform only), the lock's version 2 section (canonical form, fingerprint, strict reading,
 * version 1 locks unchanged), the lock as one platform sees it, and the refusal of an unlocked platform.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { deriveTarget } from '../../src/ecosystems/base/derive-target.js';
import { resolvePython } from '../../src/ecosystems/python/resolver/resolve-python.js';
import type { DeclaredRequirement, LockedPythonPackage } from '../../src/ecosystems/python/schema.js';
import { isEnvsealError, type EnvsealError } from '../../src/core/errors.js';
import { finalizeLock, parseLock, serializeLock } from '../../src/lock/lock-file.js';
import { computeFingerprint } from '../../src/lock/fingerprint.js';
import { declaredPlatform, lockForPlatform, lockedPlatforms, platformList } from '../../src/lock/platforms.js';
import type { Lock, LockWithoutFingerprint, PlatformEntry } from '../../src/lock/schema.js';
import { renderDockerfile } from '../../src/dockerfile/render-dockerfile.js';
import { parseSpec } from '../../src/envspec/load-spec.js';
import { renderInitSpec } from '../../src/app/init-project.js';
import { MemoryIndex } from '../fixtures/resolve/memory-index.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';
import { sampleDraft } from '../fixtures/lock/sample-lock.js';

const INDEX = 'http://127.0.0.1:9/simple';
const ARM64 = deriveTarget(BOOKWORM_TARGET, 'linux/amd64', 'linux/arm64');

function thrown(fn: () => unknown): EnvsealError {
  try {
    fn();
  } catch (err) {
    assert.ok(isEnvsealError(err), String(err));
    return err;
  }
  assert.fail('expected an error');
}

describe('the target of a platform the engine cannot run', () => {
  it('is the primary probe with the architecture swapped: same Python, libc and OS', () => {
    assert.equal(ARM64.architecture, 'arm64');
    assert.equal(ARM64.machine, 'aarch64');
    assert.equal(ARM64.python?.markers.platform_machine, 'aarch64');
    assert.equal(ARM64.python?.soabi, 'cpython-311-aarch64-linux-gnu');
    assert.equal(ARM64.python?.version, BOOKWORM_TARGET.python?.version);
    assert.deepEqual(ARM64.libc, BOOKWORM_TARGET.libc);
    assert.deepEqual(ARM64.os, BOOKWORM_TARGET.os);
    assert.equal(BOOKWORM_TARGET.machine, 'x86_64', 'the probe it came from is not changed');
  });

  it('refuses an architecture it does not know (exit 2)', () => {
    const err = thrown(() => deriveTarget(BOOKWORM_TARGET, 'linux/amd64', 'linux/mips64le'));
    assert.equal(err.exitCode, 2);
    assert.equal(err.code, 'lock.platform-unknown');
    assert.match(err.message, /cannot lock for platform linux\/mips64le/);
  });
});

describe('per-platform wheel selection', () => {
  const req = (requirement: string): DeclaredRequirement => ({
    requirement,
    hashes: [],
    source: 'requirements.txt',
    kind: 'requirement',
    targets: ['deploy', 'dev'],
  });
  const index = new MemoryIndex({
    [INDEX]: {
      // One release, a wheel per architecture: each platform gets its own file.
      fastmath: [{ version: '1.0', deps: [], files: [{ tag: 'cp311-cp311-manylinux_2_17_x86_64' }, { tag: 'cp311-cp311-manylinux_2_17_aarch64' }] }],
      // The newest release has an x86_64 wheel only: arm64 falls back to the pure 1.0.
      accel: [
        { version: '1.0', deps: [] },
        { version: '2.0', deps: [], files: [{ tag: 'cp311-cp311-manylinux_2_17_x86_64' }] },
      ],
      // Wanted on aarch64 only, and only has an aarch64 wheel.
      armkit: [{ version: '0.5', deps: [], files: [{ tag: 'py3-none-manylinux_2_17_aarch64' }] }],
    },
  });
  const requirements = [req('fastmath'), req('accel'), req("armkit; platform_machine == 'aarch64'")];
  const resolve = async (target: typeof BOOKWORM_TARGET): Promise<Record<string, LockedPythonPackage>> => {
    const result = await resolvePython({ requirements, indexes: [INDEX], target, options: {} }, { index });
    return Object.fromEntries(result.packages.map((p) => [p.name, p]));
  };

  it('gives each platform the wheels and marker-selected packages that fit it', async () => {
    const amd = await resolve(BOOKWORM_TARGET);
    const arm = await resolve(ARM64);
    assert.deepEqual(Object.keys(amd).sort(), ['accel', 'fastmath']);
    assert.deepEqual(Object.keys(arm).sort(), ['accel', 'armkit', 'fastmath']);
    assert.match(amd.fastmath!.file.filename, /x86_64\.whl$/);
    assert.match(arm.fastmath!.file.filename, /aarch64\.whl$/);
    assert.notEqual(amd.fastmath!.file.sha256, arm.fastmath!.file.sha256);
    assert.equal(amd.accel!.version, '2.0');
    assert.equal(arm.accel!.version, '1.0');
    assert.match(arm.armkit!.file.filename, /aarch64\.whl$/);
  });
});

/** The sample lock with linux/arm64 added: its base manifest and Python section differ. */
function twoPlatformDraft(): LockWithoutFingerprint {
  const draft = sampleDraft();
  const python = draft.python!;
  const entry: PlatformEntry = {
    base: { ...draft.base, platform: 'linux/arm64', platformDigest: `sha256:${'c'.repeat(64)}` },
    target: deriveTarget(draft.target, 'linux/amd64', 'linux/arm64'),
    targetDerivedFrom: 'linux/amd64',
    python: {
      ...python,
      packages: [...python.packages].reverse().map((p) => ({ ...p, file: { ...p.file, sha256: '9'.repeat(64) } })),
    },
  };
  return { ...draft, declared: { ...draft.declared, platform: ['linux/amd64', 'linux/arm64'] }, platforms: { 'linux/arm64': entry } };
}

describe('a lock of several platforms', () => {
  it('is version 2 with a canonical platforms section; one platform stays version 1 with its fingerprint', () => {
    const single = finalizeLock(sampleDraft());
    assert.equal(single.lockVersion, 1);
    assert.equal('platforms' in single, false);
    const multi = finalizeLock(twoPlatformDraft());
    assert.equal(multi.lockVersion, 2);
    assert.notEqual(multi.fingerprint, single.fingerprint, 'the other platform is part of the environment');
    const names = multi.platforms!['linux/arm64']!.python!.packages.map((p) => p.name);
    assert.deepEqual(names, [...names].sort(), 'per-platform packages are sorted like the top-level ones');
    const text = serializeLock(multi);
    assert.deepEqual(parseLock(text), multi);
    assert.deepEqual(lockedPlatforms(multi), ['linux/amd64', 'linux/arm64']);
  });

  it('reads the repository’s own version 1 lock unchanged (fingerprint and bytes)', () => {
    const text = readFileSync(new URL('../../envseal.lock', import.meta.url), 'utf8');
    const lock = parseLock(text);
    assert.equal(lock.lockVersion, 1);
    assert.equal(serializeLock(finalizeLock({ ...lock })), text);
  });

  it('changes its fingerprint when a wheel of the other platform changes', () => {
    const a = finalizeLock(twoPlatformDraft());
    const draft = twoPlatformDraft();
    const py = draft.platforms!['linux/arm64']!.python!;
    py.packages[0] = { ...py.packages[0]!, file: { ...py.packages[0]!.file, sha256: 'e'.repeat(64) } };
    assert.notEqual(finalizeLock(draft).fingerprint, a.fingerprint);
  });

  it('refuses a version that does not match its content (exit 2)', () => {
    const multi = finalizeLock(twoPlatformDraft());
    const { fingerprint: _f, ...rest } = { ...multi, lockVersion: 1 as const };
    const text = serializeLock({ ...rest, fingerprint: computeFingerprint(rest) } as Lock);
    const err = thrown(() => parseLock(text));
    assert.equal(err.exitCode, 2);
    assert.equal(err.code, 'lock.invalid');
    assert.match(err.details?.join('\n') ?? '', /lockVersion: must be 2 for a lock with platforms/);
  });

  it('is seen by one platform with that platform’s base and Python section, and renders FROM the pinned base', () => {
    const multi = finalizeLock(twoPlatformDraft());
    assert.equal(lockForPlatform(multi, undefined, 'envseal.lock', 'build'), multi);
    assert.equal(lockForPlatform(multi, 'linux/amd64', 'envseal.lock', 'build'), multi);
    const arm = lockForPlatform(multi, 'linux/arm64/v8', 'envseal.lock', 'build');
    assert.equal(arm.base.platformDigest, `sha256:${'c'.repeat(64)}`);
    assert.equal(arm.target.machine, 'aarch64');
    assert.equal(arm.python!.packages[0]!.file.sha256, '9'.repeat(64));
    assert.equal(arm.fingerprint, multi.fingerprint, 'images of every platform carry the lock’s fingerprint');
    const template = readFileSync(new URL('../../templates/Dockerfile.tmpl', import.meta.url), 'utf8');
    const seedHook = readFileSync(new URL('../../templates/envseal_seed.py', import.meta.url), 'utf8');
    const opts = {
      template,
      seedHook,
      lockPath: 'envseal.lock',
      lockDigest: `sha256:${'7'.repeat(64)}`,
      toolVersion: '0.1.0',
      sbom: { path: 's.json', digest: `sha256:${'5'.repeat(64)}` },
    };
    const text = renderDockerfile(arm, opts);
    assert.match(text, new RegExp(`FROM ${arm.base.pinned.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(text, /\(linux\/arm64\)/);
    assert.match(text, new RegExp(`--hash=sha256:${'9'.repeat(64)}`));
    assert.doesNotMatch(renderDockerfile(multi, opts), new RegExp(`--hash=sha256:${'9'.repeat(64)}`));
  });

  it('refuses a platform it does not hold, naming the locked platforms (exit 2)', () => {
    const err = thrown(() => lockForPlatform(finalizeLock(twoPlatformDraft()), 'linux/s390x', 'envseal.lock', 'build'));
    assert.equal(err.exitCode, 2);
    assert.equal(err.code, 'build.platform-not-locked');
    assert.equal(err.message, '--platform linux/s390x: envseal.lock is locked for linux/amd64, linux/arm64');
    assert.match(err.hint ?? '', /platform: \[linux\/amd64, linux\/arm64, linux\/s390x\]/);
  });
});

describe('platform in envseal.yaml and init', () => {
  const spec = (platform: string) => `version: 1\nname: p\nbase: python:3.12\nplatform: ${platform}\n`;

  it('takes a string or a list; a one-entry list is the same input as the string', () => {
    assert.equal(parseSpec(spec('linux/arm64'), 'envseal.yaml').platform, 'linux/arm64');
    const list = parseSpec(spec('[linux/amd64, linux/arm64]'), 'envseal.yaml').platform;
    assert.deepEqual(list, ['linux/amd64', 'linux/arm64']);
    assert.deepEqual(declaredPlatform(list), ['linux/amd64', 'linux/arm64']);
    assert.equal(declaredPlatform(['linux/amd64']), 'linux/amd64');
    assert.deepEqual(platformList('linux/amd64'), ['linux/amd64']);
  });

  it('refuses an empty list, a repeated platform and a malformed one (exit 2, with the path)', () => {
    for (const [value, message] of [
      ['[]', /platform: must name at least one platform/],
      ['[linux/amd64, linux/amd64]', /platform: must not name a platform twice/],
      ['[linux/amd64, arm64]', /platform\.1: must look like os\/arch/],
    ] as const) {
      const err = thrown(() => parseSpec(spec(value), 'envseal.yaml'));
      assert.equal(err.exitCode, 2);
      assert.match([err.message, ...(err.details ?? [])].join('\n'), message);
    }
  });

  it('init writes the platforms it is given as a list that parses back', () => {
    const text = renderInitSpec({ name: 'p', base: 'python:3.12', platforms: ['linux/amd64', 'linux/arm64'], detected: {} });
    assert.match(text, /^platform: \[linux\/amd64, linux\/arm64\]$/m);
    assert.deepEqual(parseSpec(text, 'envseal.yaml').platform, ['linux/amd64', 'linux/arm64']);
  });
});
