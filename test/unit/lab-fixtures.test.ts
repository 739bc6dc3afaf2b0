import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildFixtureFiles, FIXTURE_SDISTS, FIXTURE_WHEELS, writeFixtureIndex } from '../lab/fixtures-index.js';
import { extractSdistPkgInfo, extractWheelMetadata, parseCoreMetadata, parseDistFilename } from '../lab/wheel.js';

describe('lab fixture index', () => {
  it('builds the same bytes every time', () => {
    const first = buildFixtureFiles({ hostWheelsDir: null });
    const second = buildFixtureFiles({ hostWheelsDir: null });
    assert.equal(first.length, FIXTURE_WHEELS.length + FIXTURE_SDISTS.length);
    assert.deepEqual(
      first.map((f) => [f.filename, f.bytes.toString('base64')]),
      second.map((f) => [f.filename, f.bytes.toString('base64')]),
    );
  });

  it('holds real metadata: versions, a yanked release, markers, an extra and an sdist-only project', () => {
    const files = buildFixtureFiles({ hostWheelsDir: null });
    const byName = new Map(files.map((f) => [f.filename, f]));
    assert.deepEqual([...byName.keys()].map((n) => `${parseDistFilename(n)!.project}==${parseDistFilename(n)!.version}`).sort(), [
      'seal-legacy==0.5.0',
      'seal-metrics==1.0.0',
      'seal-metrics==1.1.0',
      'seal-plot==0.1.0',
      'seal-utils==0.9.0',
      'seal-utils==1.0.0',
      'seal-utils==1.0.1',
      'tinyconfig==1.0.0',
      'tinyconfig==1.1.0',
    ]);
    assert.equal(byName.get('seal_utils-1.0.1-py3-none-any.whl')!.yankedReason, 'broken import, use 1.0.0');
    const metrics = parseCoreMetadata(extractWheelMetadata(byName.get('seal_metrics-1.1.0-py3-none-any.whl')!.bytes));
    assert.deepEqual(metrics.get('provides-extra'), ['plot']);
    assert.ok(metrics.get('requires-dist')!.includes('colorama-lite>=0.4; sys_platform == "win32"'));
    const legacy = parseCoreMetadata(extractSdistPkgInfo(byName.get('seal_legacy-0.5.0.tar.gz')!.bytes));
    assert.deepEqual(legacy.get('metadata-version'), ['2.2']);
    assert.equal(legacy.get('dynamic'), undefined);
  });

  it('adds host wheels from a directory as they are', () => {
    const dir = mkdtempSync(join(tmpdir(), 'envseal-hostwheels-'));
    try {
      writeFileSync(join(dir, 'pip-99.0-py3-none-any.whl'), 'pretend wheel');
      writeFileSync(join(dir, 'README'), 'not a wheel');
      const files = buildFixtureFiles({ hostWheelsDir: dir });
      const pip = files.find((f) => f.filename === 'pip-99.0-py3-none-any.whl');
      assert.equal(pip?.bytes.toString(), 'pretend wheel');
      assert.ok(!files.some((f) => f.filename === 'README'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes a directory idempotently and removes stale distributions only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'envseal-fixtures-'));
    try {
      writeFileSync(join(dir, 'old-0.1-py3-none-any.whl'), 'stale');
      writeFileSync(join(dir, 'keep-me.txt'), 'not ours to delete');
      const first = writeFixtureIndex(dir, { hostWheelsDir: null });
      assert.equal(first.written.length, first.files.length + 1, 'files plus one .yanked sidecar');
      assert.deepEqual(first.removed, ['old-0.1-py3-none-any.whl']);
      const snapshot = readdirSync(dir)
        .sort()
        .map((n) => [n, readFileSync(join(dir, n)).toString('base64')]);
      const second = writeFixtureIndex(dir, { hostWheelsDir: null });
      assert.deepEqual(second.written, []);
      assert.deepEqual(second.removed, []);
      assert.deepEqual(
        readdirSync(dir)
          .sort()
          .map((n) => [n, readFileSync(join(dir, n)).toString('base64')]),
        snapshot,
      );
      assert.equal(readFileSync(join(dir, 'seal_utils-1.0.1-py3-none-any.whl.yanked'), 'utf8'), 'broken import, use 1.0.0\n');
      assert.ok(existsSync(join(dir, 'keep-me.txt')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
