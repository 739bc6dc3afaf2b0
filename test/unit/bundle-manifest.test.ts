/**
 * Offline bundles (issue 15): the manifest format and the checks `envseal load` makes before loading
 * anything, on plain data and on real archives written with the project's tar writer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEnvsealError } from '../../src/core/errors.js';
import { finalizeLock, lockDigest, serializeLock } from '../../src/lock/lock-file.js';
import { createTarWriter } from '../../src/tar/tar-stream-codec.js';
import {
  checkEntries,
  aptEntryPath,
  checkManifestAgainstLock,
  parseManifest,
  pythonEntryPath,
  serializeManifest,
  type BundleEntry,
  type BundleManifest,
  type ScannedEntry,
} from '../../src/app/bundle/manifest.js';
import { verifyBundle } from '../../src/app/bundle/read-bundle.js';
import { loadBundle, offlineRebuildBlocker } from '../../src/app/bundle/load-bundle.js';
import { silentLogger, type ContainerEngine } from '../../src/core/ports.js';
import type { Lock } from '../../src/lock/schema.js';
import type { Readable } from 'node:stream';
import { sampleLock } from '../fixtures/lock/sample-lock.js';

const sha = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const lock = sampleLock();
const lockText = serializeLock(lock);
const IMAGE = `sha256:${'a'.repeat(64)}`;

/** The files of a small bundle of the sample lock, path → bytes. */
function bundleFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>([
    ['envseal.lock', Buffer.from(lockText)],
    ['envseal.Dockerfile', Buffer.from('FROM scratch\n')],
    ['image.tar', Buffer.alloc(3000, 7)],
  ]);
  for (const p of lock.python!.packages) files.set(pythonEntryPath(p.file.filename), Buffer.from(`wheel ${p.name}`));
  return files;
}

function manifestFor(files: Map<string, Buffer>, mutate: (entries: BundleEntry[]) => void = () => {}): BundleManifest {
  const kinds: Record<string, BundleEntry['kind']> = { 'envseal.lock': 'lock', 'envseal.Dockerfile': 'dockerfile', 'image.tar': 'image' };
  const entries: BundleEntry[] = [...files].map(([path, bytes]) => ({ path, kind: kinds[path] ?? 'python', size: bytes.length, sha256: sha(bytes) }));
  // The sample lock's wheels are fake: the manifest carries the lock's sha256 for them, as a real bundle would.
  for (const e of entries) {
    const p = lock.python!.packages.find((x) => pythonEntryPath(x.file.filename) === e.path);
    if (p) e.sha256 = p.file.sha256;
  }
  mutate(entries);
  return {
    bundleVersion: 1,
    envseal: '0.1.0',
    name: lock.name,
    target: 'dev',
    fingerprint: lock.fingerprint,
    lockDigest: lockDigest(lockText),
    lockPath: 'envseal.lock',
    image: { id: IMAGE, tags: ['envseal/x:dev-1'], revision: null },
    entries,
  };
}

function scannedOf(manifest: BundleManifest): Map<string, ScannedEntry> {
  return new Map(manifest.entries.map((e) => [e.path, { size: e.size, sha256: e.sha256 }]));
}

function assertDamaged(fn: () => unknown, entry: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isEnvsealError(err));
    assert.equal(err.exitCode, 2);
    assert.equal(err.code, 'bundle.damaged');
    assert.equal((err.data as { entry: string }).entry, entry);
    assert.match(err.message, message);
    return true;
  });
}

test('the manifest is canonical: entry order does not change its bytes, and it parses back', () => {
  const m = manifestFor(bundleFiles());
  const reversed = { ...m, entries: [...m.entries].reverse() };
  assert.equal(serializeManifest(m), serializeManifest(reversed));
  const text = serializeManifest(m);
  assert.ok(text.endsWith('\n'));
  assert.deepEqual(
    parseManifest(text, 'b.tar').entries.map((e) => e.path),
    m.entries.map((e) => e.path).sort(),
  );
});

test('parseManifest refuses non-JSON, unknown keys, bad paths, duplicates and other versions', () => {
  const good = JSON.parse(serializeManifest(manifestFor(bundleFiles())));
  assertDamaged(() => parseManifest('{', 'b.tar'), 'manifest.json', /b\.tar: manifest\.json is not JSON/);
  assertDamaged(() => parseManifest(JSON.stringify({ ...good, extra: 1 }), 'b.tar'), 'manifest.json', /is not a valid manifest/);
  const dotdot = { ...good, entries: [{ ...good.entries[0], path: '../etc/passwd' }] };
  assertDamaged(() => parseManifest(JSON.stringify(dotdot), 'b.tar'), 'manifest.json', /entries\.0\.path: must be a relative path/);
  const twice = { ...good, entries: [good.entries[0], good.entries[0]] };
  assertDamaged(() => parseManifest(JSON.stringify(twice), 'b.tar'), 'manifest.json', /lists .* twice/);
  assert.throws(
    () => parseManifest(JSON.stringify({ ...good, bundleVersion: 3 }), 'b.tar'),
    (err: unknown) =>
      isEnvsealError(err) &&
      err.code === 'bundle.version' &&
      err.exitCode === 2 &&
      /format version 3 is not supported \(this envseal reads versions 1 and 2\)/.test(err.message),
  );
  // Version 1 (before apt entries) and version 2 both read.
  assert.equal(parseManifest(JSON.stringify({ ...good, bundleVersion: 1 }), 'b.tar').bundleVersion, 1);
  assert.equal(parseManifest(JSON.stringify({ ...good, bundleVersion: 2 }), 'b.tar').bundleVersion, 2);
});

test('checkEntries names the entry that is missing, resized, changed or unlisted', () => {
  const m = manifestFor(bundleFiles());
  checkEntries(m, scannedOf(m), 'b.tar');
  const missing = scannedOf(m);
  missing.delete('envseal.Dockerfile');
  assertDamaged(() => checkEntries(m, missing, 'b.tar'), 'envseal.Dockerfile', /listed in manifest\.json but missing/);
  const resized = scannedOf(m);
  resized.set('image.tar', { size: 10, sha256: m.entries.find((e) => e.path === 'image.tar')!.sha256 });
  assertDamaged(() => checkEntries(m, resized, 'b.tar'), 'image.tar', /has 10 bytes, manifest\.json says 3000/);
  const changed = scannedOf(m);
  changed.set('envseal.lock', { size: Buffer.byteLength(lockText), sha256: '0'.repeat(64) });
  assertDamaged(() => checkEntries(m, changed, 'b.tar'), 'envseal.lock', /has sha256 0{64}, manifest\.json says/);
  const extra = scannedOf(m);
  extra.set('python/evil-1.0-py3-none-any.whl', { size: 1, sha256: '1'.repeat(64) });
  assertDamaged(() => checkEntries(m, extra, 'b.tar'), 'python/evil-1.0-py3-none-any.whl', /not listed in manifest\.json/);
  const noImage = manifestFor(bundleFiles(), (entries) =>
    entries.splice(
      entries.findIndex((e) => e.path === 'image.tar'),
      1,
    ),
  );
  assertDamaged(() => checkEntries(noImage, scannedOf(noImage), 'b.tar'), 'image.tar', /\(the image\) is not listed/);
});

test('checkManifestAgainstLock: fingerprint, lock digest and every locked Python file', () => {
  const m = manifestFor(bundleFiles());
  checkManifestAgainstLock(m, lock, lockDigest(lockText), 'b.tar');
  assertDamaged(
    () => checkManifestAgainstLock({ ...m, fingerprint: `sha256:${'f'.repeat(64)}` }, lock, lockDigest(lockText), 'b.tar'),
    'envseal.lock',
    /has fingerprint/,
  );
  assertDamaged(() => checkManifestAgainstLock(m, lock, `sha256:${'0'.repeat(64)}`, 'b.tar'), 'envseal.lock', /has digest/);
  const wheel = pythonEntryPath(lock.python!.packages[0]!.file.filename);
  const without = manifestFor(bundleFiles(), (entries) =>
    entries.splice(
      entries.findIndex((e) => e.path === wheel),
      1,
    ),
  );
  assertDamaged(() => checkManifestAgainstLock(without, lock, lockDigest(lockText), 'b.tar'), wheel, /in the lock\) is not in the bundle/);
  const other = manifestFor(bundleFiles(), (entries) => (entries.find((e) => e.path === wheel)!.sha256 = '9'.repeat(64)));
  assertDamaged(() => checkManifestAgainstLock(other, lock, lockDigest(lockText), 'b.tar'), wheel, /has sha256 9{64}, the lock says/);
});

test('offlineRebuildBlocker: apt packages without their recorded files, npm, and https indexes cannot be rebuilt offline', () => {
  const m = manifestFor(bundleFiles());
  assert.match(offlineRebuildBlocker(lock, m) ?? '', /installs 3 apt package\(s\), and the bundle does not hold what apt fetched for them/);
  const withApt = manifestFor(bundleFiles(), (entries) =>
    entries.push({ path: aptEntryPath('http://deb.debian.org/debian/dists/bookworm/InRelease'), kind: 'apt', size: 1, sha256: '1'.repeat(64), url: 'x' }),
  );
  assert.equal(offlineRebuildBlocker(lock, withApt), null);
  const pyOnly = { ...lock, apt: null };
  assert.equal(offlineRebuildBlocker(pyOnly, m), null);
  const https = structuredClone(pyOnly);
  https.python!.packages[0]!.file.url = 'https://files.example/x.whl';
  assert.match(offlineRebuildBlocker(https, m) ?? '', /plain-HTTP index URLs only/);
  // A git package (any scheme, ssh too) rebuilds from its bundled archive: no blocker.
  const git = structuredClone(pyOnly);
  git.python!.packages[0]!.file.url = `git+ssh://git@git.example/org/x.git@${'a'.repeat(40)}`;
  assert.equal(offlineRebuildBlocker(git, m), null);
});

test('aptEntryPath mirrors where apt fetched the file from', () => {
  assert.equal(aptEntryPath('http://deb.debian.org/debian/dists/bookworm/InRelease'), 'apt/deb.debian.org/debian/dists/bookworm/InRelease');
  assert.equal(
    aptEntryPath('http://127.0.0.1:8080/pool/main/j/jq/jq_1.6-2.1%2bdeb12u2_amd64.deb'),
    'apt/127.0.0.1:8080/pool/main/j/jq/jq_1.6-2.1+deb12u2_amd64.deb',
  );
});

/** Writes a real bundle archive: the given files, then manifest.json (as `envseal bundle` orders it). */
async function writeArchive(file: string, files: Map<string, Buffer>, manifest: BundleManifest): Promise<void> {
  const writer = createTarWriter();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of writer.stream) chunks.push(c as Buffer);
  })();
  for (const [path, bytes] of files) await writer.add({ name: path, type: 'file' }, bytes);
  await writer.add({ name: 'manifest.json', type: 'file' }, serializeManifest(manifest));
  writer.finish();
  await done;
  await writeFile(file, Buffer.concat(chunks));
}

async function rejectsDamaged(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => isEnvsealError(err) && err.exitCode === 2 && err.code === 'bundle.damaged' && message.test(err.message));
}

/** A bundle archive whose lock, wheels and manifest agree (the sample lock's sha256 values rewritten to fake wheels'). */
async function makeAgreeingBundle(file: string, change: (draft: ReturnType<typeof structuredClone<Lock>>) => void = () => {}) {
  const files = bundleFiles();
  const draft = structuredClone(lock);
  for (const p of draft.python!.packages) p.file.sha256 = sha(files.get(pythonEntryPath(p.file.filename))!);
  change(draft);
  const { fingerprint: _f, ...rest } = draft;
  const agreeing = finalizeLock(rest);
  const agreeingText = serializeLock(agreeing);
  files.set('envseal.lock', Buffer.from(agreeingText));
  const m = manifestFor(files, (entries) => {
    for (const e of entries) e.sha256 = sha(files.get(e.path)!);
  });
  m.fingerprint = agreeing.fingerprint;
  m.lockDigest = lockDigest(agreeingText);
  await writeArchive(file, files, m);
  return { lock: agreeing, manifest: m };
}

test('verifyBundle on real archives: a good one passes; a flipped byte or a cut names the entry', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bundle15-unit-'));
  try {
    const good = join(dir, 'good.tar');
    const { lock: agreeing } = await makeAgreeingBundle(good);
    const verified = await verifyBundle(good, 'good.tar');
    assert.equal(verified.lock.fingerprint, agreeing.fingerprint);
    assert.equal(verified.dockerfileText, 'FROM scratch\n');

    const archive = await readFile(good);
    const at = archive.indexOf(Buffer.alloc(3000, 7));
    const flipped = join(dir, 'flipped.tar');
    const copy = Buffer.from(archive);
    copy[at + 1500] = copy[at + 1500]! ^ 0x80;
    await writeFile(flipped, copy);
    await rejectsDamaged(verifyBundle(flipped, 'flipped.tar'), /^flipped\.tar: image\.tar has sha256 [0-9a-f]{64}, manifest\.json says/);

    const cut = join(dir, 'cut.tar');
    await writeFile(cut, archive);
    await truncate(cut, at + 1000);
    await rejectsDamaged(verifyBundle(cut, 'cut.tar'), /^cut\.tar: image\.tar cannot be read: the archive is truncated or corrupt/);

    const noManifest = join(dir, 'no-manifest.tar');
    const handle = await open(noManifest, 'w');
    await handle.close();
    await rejectsDamaged(verifyBundle(noManifest, 'no-manifest.tar'), /manifest\.json is missing/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** An engine that records what it is asked; `loaded` is what its load reports. */
function fakeEngine(options: { loaded: string[]; images: Record<string, Record<string, string>> }) {
  const calls: string[] = [];
  const engine = {
    inspectImage: async (ref: string) => {
      calls.push(`inspect ${ref}`);
      const labels = options.images[ref];
      return labels ? { id: ref, repoTags: [], repoDigests: [], labels, env: [], layers: [] } : null;
    },
    loadImage: async (tar: Readable) => {
      for await (const _chunk of tar);
      calls.push('load');
      return options.loaded;
    },
    removeImage: async (ref: string) => void calls.push(`remove ${ref}`),
    tagImage: async (id: string, tag: string) => void calls.push(`tag ${id} ${tag}`),
  };
  const deps = {
    engine: engine as unknown as ContainerEngine,
    logger: silentLogger,
    clock: { now: () => new Date(0) },
    template: '',
    seedHook: '',
    toolVersion: '0.1.0',
    revision: null,
  };
  return { calls, deps };
}

async function rejectsWith(p: Promise<unknown>, code: string, exitCode: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isEnvsealError(err), String(err));
    assert.equal(err.code, code);
    assert.equal(err.exitCode, exitCode);
    assert.match(err.message, message);
    return true;
  });
}

test('loadBundle: loads, checks the reported ID and the labels, tags; refuses a missing file and a wrong ID', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bundle15-load-'));
  try {
    const file = join(dir, 'b.tar');
    const { lock: agreeing, manifest } = await makeAgreeingBundle(file);
    const labels = { 'dev.envseal.fingerprint': agreeing.fingerprint, 'dev.envseal.lock-digest': manifest.lockDigest };

    const ok = fakeEngine({ loaded: [IMAGE], images: {} });
    ok.deps.engine.inspectImage = async (ref: string) =>
      ok.calls.includes('load') ? { id: ref, repoTags: [], repoDigests: [], labels, env: [], layers: [] } : null;
    const outcome = await loadBundle({ file, label: 'b.tar' }, ok.deps);
    assert.equal(outcome.imageId, IMAGE);
    assert.ok(ok.calls.includes(`tag ${IMAGE} envseal/x:dev-1`), ok.calls.join('\n'));

    await rejectsWith(loadBundle({ file: join(dir, 'nope.tar'), label: 'nope.tar' }, ok.deps), 'bundle.missing', 2, /nope\.tar does not exist/);

    const other = `sha256:${'b'.repeat(64)}`;
    const wrong = fakeEngine({ loaded: [other], images: {} });
    await rejectsWith(
      loadBundle({ file, label: 'b.tar' }, wrong.deps),
      'load.image-id-mismatch',
      1,
      /the engine loaded sha256:b{64}, manifest\.json says sha256:a{64}/,
    );
    assert.ok(wrong.calls.includes(`remove ${other}`), 'the wrong image is removed again');

    const unlabelled = fakeEngine({ loaded: [IMAGE], images: { [IMAGE]: { 'dev.envseal.fingerprint': 'sha256:other' } } });
    await rejectsWith(
      loadBundle({ file, label: 'b.tar' }, unlabelled.deps),
      'load.fingerprint-mismatch',
      1,
      /does not carry the fingerprint of the bundled lock/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('load --rebuild refuses up front: apt packages in the lock, or the base image not in the engine (exit 2)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bundle15-rebuild-'));
  try {
    const withApt = join(dir, 'apt.tar');
    await makeAgreeingBundle(withApt);
    const engine = fakeEngine({ loaded: [], images: {} });
    await rejectsWith(
      loadBundle({ file: withApt, label: 'apt.tar', rebuild: true }, engine.deps),
      'load.rebuild-unsupported',
      2,
      /apt\.tar: cannot rebuild offline: the lock installs 3 apt package/,
    );
    const pyOnly = join(dir, 'py.tar');
    const { lock: py } = await makeAgreeingBundle(pyOnly, (d) => void (d.apt = null));
    await rejectsWith(
      loadBundle({ file: pyOnly, label: 'py.tar', rebuild: true }, engine.deps),
      'load.base-missing',
      2,
      new RegExp(`the base image ${py.base.pinned.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not in the Docker engine`),
    );
    assert.ok(!engine.calls.includes('load'), 'nothing was loaded');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
