import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSnapshotUrl, formatSnapshotTimestamp, isSnapshotTimestamp, snapshotSources } from '../../src/ecosystems/apt/apt-sources.js';
import { aptScript } from '../../src/ecosystems/apt/resolve-apt.js';

test('snapshot timestamps use the snapshot services format', () => {
  assert.equal(formatSnapshotTimestamp('2026-11-27T12:34:56.789Z'), '20261127T123456Z');
  assert.equal(formatSnapshotTimestamp(new Date(Date.UTC(2025, 0, 2, 3, 4, 5))), '20250102T030405Z');
  assert.ok(isSnapshotTimestamp('20261127T123456Z'));
  assert.ok(!isSnapshotTimestamp('2026-11-27'));
  assert.ok(!isSnapshotTimestamp('20261327T123456Z'));
});

test('Debian sources: main, updates and security from snapshot.debian.org', () => {
  const f = snapshotSources({ id: 'debian', codename: 'bookworm' }, { timestamp: '20261127T120000Z', url: defaultSnapshotUrl('debian') });
  assert.equal(f.path, '/etc/apt/sources.list');
  assert.deepEqual(f.lines, [
    'deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/20261127T120000Z bookworm main',
    'deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/20261127T120000Z bookworm-updates main',
    'deb [check-valid-until=no] http://snapshot.debian.org/archive/debian-security/20261127T120000Z bookworm-security main',
  ]);
});

test('Ubuntu sources (the base of nvidia/cuda images) from snapshot.ubuntu.com, and a site mirror', () => {
  const f = snapshotSources({ id: 'ubuntu', codename: 'jammy' }, { timestamp: '20250101T000000Z', url: defaultSnapshotUrl('ubuntu') });
  assert.deepEqual(f.lines, [
    'deb [check-valid-until=no] http://snapshot.ubuntu.com/ubuntu/20250101T000000Z jammy main restricted universe multiverse',
    'deb [check-valid-until=no] http://snapshot.ubuntu.com/ubuntu/20250101T000000Z jammy-updates main restricted universe multiverse',
    'deb [check-valid-until=no] http://snapshot.ubuntu.com/ubuntu/20250101T000000Z jammy-security main restricted universe multiverse',
  ]);
  const m = snapshotSources({ id: 'debian', codename: 'trixie' }, { timestamp: '20250101T000000Z', url: 'http://mirror.internal/snap/' });
  assert.equal(m.lines[0], 'deb [check-valid-until=no] http://mirror.internal/snap/debian/20250101T000000Z trixie main');
});

test('other distributions and missing codenames are clear errors', () => {
  assert.throws(
    () => defaultSnapshotUrl('alpine'),
    (e: any) => e.code === 'apt.snapshot-unsupported' && e.exitCode === 2 && /alpine/.test(e.message),
  );
  assert.throws(
    () => snapshotSources({ id: 'debian', codename: '' }, { timestamp: '20250101T000000Z', url: 'http://x' }),
    (e: any) => e.code === 'apt.snapshot-unsupported',
  );
});

test('lock-time apt resolution uses the same snapshot sources as the Dockerfile', () => {
  const sources = snapshotSources({ id: 'debian', codename: 'bookworm' }, { timestamp: '20261127T120000Z', url: defaultSnapshotUrl('debian') });
  const script = aptScript({ main: ['jq'], dev: [], installRecommends: false, sources });
  const lines = script.split('\n');
  const write = lines.findIndex((l) => l.includes('/etc/apt/sources.list'));
  const update = lines.findIndex((l) => l.includes('apt-get update'));
  assert.ok(write >= 0 && write < update, script);
  assert.match(script, /debian-security\/20261127T120000Z bookworm-security main/);
});
