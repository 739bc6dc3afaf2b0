/**
 * Candidate files for the target: the probe → wheel-tag ranking agrees with what pip 23.0.1 reports in
 * the lab image (a recorded fixture), and `collectCandidates` keeps/skips/orders files like pip.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IndexFile, IndexProject } from '../../src/core/ports.js';
import { collectCandidates, completeCandidates, type FilePolicy } from '../../src/ecosystems/python/resolver/candidates.js';
import { describeTarget, targetFitFor } from '../../src/ecosystems/python/resolver/target.js';
import { parseTagSet } from '../../src/ecosystems/python/pep/tags.js';
import { BOOKWORM_TARGET } from '../fixtures/resolve/targets.js';

const pipTags = JSON.parse(readFileSync(new URL('../fixtures/resolve/pip-supported-tags-cp311-manylinux-x86_64.json', import.meta.url), 'utf8')) as {
  source: string;
  tags: string[];
};

describe('the target as the resolver sees it', () => {
  it('ranks every tag exactly where pip 23.0.1 in the lab image puts it', () => {
    const fit = targetFitFor(BOOKWORM_TARGET);
    const mismatches: string[] = [];
    pipTags.tags.forEach((tag, i) => {
      const rank = fit.rankWheelTags(parseTagSet(tag));
      if (rank !== i) mismatches.push(`${tag}: pip ${i}, envseal ${rank}`);
    });
    assert.deepEqual(mismatches.slice(0, 10), []);
    assert.equal(fit.rankWheelTags(parseTagSet('cp311-cp311-musllinux_1_1_x86_64')), undefined);
    assert.equal(fit.rankWheelTags(parseTagSet('cp311-cp311-manylinux_2_39_x86_64')), undefined);
    assert.equal(fit.rankWheelTags(parseTagSet('cp312-cp312-manylinux_2_17_x86_64')), undefined);
  });

  it('describes the target for messages', () => {
    assert.equal(describeTarget(BOOKWORM_TARGET), 'CPython 3.11.2 on Linux x86_64 (glibc 2.36)');
  });
});

const SHA = (n: number) => n.toString(16).padStart(64, '0');

function file(filename: string, rest: Partial<IndexFile> = {}): IndexFile {
  return { filename, url: `http://127.0.0.1:9/files/${filename}`, hashes: { sha256: SHA(filename.length) }, yanked: false, coreMetadata: false, ...rest };
}

function collect(files: IndexFile[], policy: Partial<FilePolicy> = {}) {
  const project: IndexProject = { index: 'http://127.0.0.1:9/simple', name: 'demo-pkg', files };
  return completeCandidates(collectCandidates(project, targetFitFor(BOOKWORM_TARGET), { onlyBinary: false, ...policy }, [project.index]));
}

describe('collectCandidates', () => {
  it("groups files by canonical version, ascending, with pip's file order inside a version", () => {
    const result = collect([
      file('demo_pkg-1.0.tar.gz'),
      file('demo_pkg-1.0-py3-none-any.whl'),
      file('demo_pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'),
      file('demo_pkg-1.0-cp311-abi3-manylinux_2_28_x86_64.whl'),
      file('Demo.Pkg-1.0.0-1-py3-none-any.whl'),
      file('demo-pkg-0.9.zip'),
      file('demo_pkg-1.10rc1-py3-none-any.whl'),
    ]);
    assert.deepEqual(
      result.usable.map((v) => v.version),
      ['0.9', '1.0', '1.10rc1'],
    );
    assert.deepEqual(
      result.usable[1]!.files.map((f) => f.file.filename),
      [
        'demo_pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
        'demo_pkg-1.0-cp311-abi3-manylinux_2_28_x86_64.whl',
        'Demo.Pkg-1.0.0-1-py3-none-any.whl',
        'demo_pkg-1.0-py3-none-any.whl',
        'demo_pkg-1.0.tar.gz',
      ],
    );
    assert.equal(result.usable[2]!.prerelease, true);
  });

  it('puts yanked files after the others and marks a version yanked only when all its usable files are', () => {
    const result = collect([
      file('demo_pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl', { yanked: 'bad wheel' }),
      file('demo_pkg-1.0-py3-none-any.whl'),
      file('demo_pkg-2.0-py3-none-any.whl', { yanked: 'broken' }),
    ]);
    assert.equal(result.usable[0]!.yanked, false);
    assert.equal(result.usable[0]!.files[0]!.file.filename, 'demo_pkg-1.0-py3-none-any.whl');
    assert.equal(result.usable[1]!.yanked, true);
    assert.equal(result.usable[1]!.yankedReason, 'broken');
  });

  it('skips files for other platforms, Pythons, upload times and hashes, saying why', () => {
    const result = collect(
      [
        file('demo_pkg-1.0-cp311-cp311-win_amd64.whl', { uploadTime: '2024-01-01T00:00:00Z' }),
        file('demo_pkg-1.1-py3-none-any.whl', { requiresPython: '>=3.12', uploadTime: '2024-01-01T00:00:00Z' }),
        file('demo_pkg-1.2-py3-none-any.whl', { uploadTime: '2024-09-01T00:00:00Z' }),
        file('demo_pkg-1.3-py3-none-any.whl'),
        file('demo_pkg-1.4-py3-none-any.whl', { uploadTime: '2024-01-01T00:00:00Z', hashes: { sha256: SHA(1) } }),
        file('demo_pkg-1.5-py3-none-any.whl', { uploadTime: '2024-01-01T00:00:00Z' }),
        file('demo_pkg-1.6.tar.gz', { uploadTime: '2024-01-01T00:00:00Z' }),
        file('otherproject-1.0-py3-none-any.whl'),
        file('demo_pkg-1.0.exe'),
      ],
      {
        excludeNewer: Date.parse('2024-06-01T00:00:00Z'),
        allowedHashes: new Set([SHA('demo_pkg-1.5-py3-none-any.whl'.length), SHA('demo_pkg-1.6.tar.gz'.length)]),
        onlyBinary: true,
      },
    );
    assert.deepEqual(
      result.usable.map((v) => v.version),
      ['1.5'],
    );
    const reasons = Object.fromEntries(result.unusable.map((v) => [v.version, v.skipped.map((s) => s.kind).join(',')]));
    assert.deepEqual(reasons, {
      '1.0': 'platform',
      '1.1': 'requires-python',
      '1.2': 'exclude-newer',
      '1.3': 'no-upload-time',
      '1.4': 'hash',
      '1.6': 'only-binary',
    });
    assert.deepEqual(
      result.invalid.map((f) => f.filename),
      ['otherproject-1.0-py3-none-any.whl', 'demo_pkg-1.0.exe'],
    );
  });
});
