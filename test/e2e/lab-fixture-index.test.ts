/**
 * The lab's standing fixture index (http://127.0.0.1:5080/simple, started by `.ci/lab-up`) serves what
 * fixtures-index.ts builds, and real pip resolves and installs from it in the lab image.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { buildFixtureFiles } from '../lab/fixtures-index.js';
import { dockerCli, LAB_INDEX_URL, LAB_LOCAL_BASE_IMAGE, requireLab, requireLabIndex } from '../lab/lab.js';
import { sha256Hex } from '../lab/wheel.js';

interface PipReport {
  install: { download_info: { archive_info: { hashes?: { sha256?: string } } }; metadata: { name: string; version: string } }[];
}

function runInImage(script: string) {
  return dockerCli(
    ['run', '--rm', '--network', 'host', '-e', 'PIP_DISABLE_PIP_VERSION_CHECK=1', '-e', 'PIP_NO_CACHE_DIR=1', LAB_LOCAL_BASE_IMAGE, 'sh', '-c', script],
    { timeoutMs: 180_000 },
  );
}

describe('lab fixture index on 127.0.0.1:5080', () => {
  before(async () => {
    await requireLab();
    await requireLabIndex();
  });

  it('serves every fixture file with its sha256 (what lab-up generated from this checkout)', async () => {
    const res = await fetch(`${LAB_INDEX_URL}/seal-metrics/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
    assert.equal(res.status, 200);
    const page = (await res.json()) as { files: { filename: string; hashes: { sha256: string } }[] };
    const built = buildFixtureFiles({ hostWheelsDir: null }).filter((f) => f.filename.startsWith('seal_metrics-'));
    assert.deepEqual(
      page.files.map((f) => [f.filename, f.hashes.sha256]),
      built.map((f) => [f.filename, sha256Hex(f.bytes)]),
      'the running index serves other bytes than this checkout builds: run `bash .ci/lab-up` again',
    );
  });

  it('pip resolves seal-metrics[plot]: newest versions, yanked 1.0.1 skipped, win32-only dependency left out', async () => {
    const res = await runInImage(`python3 -m pip install --dry-run --ignore-installed --quiet --report - --index-url ${LAB_INDEX_URL} 'seal-metrics[plot]'`);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as PipReport;
    assert.deepEqual(Object.fromEntries(report.install.map((i) => [i.metadata.name, i.metadata.version])), {
      'seal-metrics': '1.1.0',
      'seal-utils': '1.0.0',
      tinyconfig: '1.1.0',
      'seal-plot': '0.1.0',
    });
  });

  it('a venv installs from it and the modules work together', async () => {
    const res = await runInImage(
      `python3 -m venv /venv >&2 && /venv/bin/pip install --quiet --index-url ${LAB_INDEX_URL} seal-metrics==1.1.0 >&2 && ` +
        `/venv/bin/python -c 'import seal_metrics, tinyconfig; print(seal_metrics.accuracy([1, 0, 1, 1], [1, 1, 1, 1]), tinyconfig.loads("lr = 0.5")["lr"] * 2)'`,
    );
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), '0.75 1.0');
  });
});
