/**
 * `envseal record show`: the record as canonical JSON, MLflow tags as lines or a JSON object, lookup by run ID,
 * path or "latest", and every error path with its exit code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildRunRecord } from '../../src/record/build-record.js';
import { writeRunRecord } from '../../src/record/store.js';
import { mlflowTags } from '../../src/record/tracker-tags.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { makeTempDir, runCliInProcess } from './cli-harness.js';
import { FINGERPRINT, IMAGE_ID, sampleInput } from './record-fixture.js';

const RUN_ID = '20261127T225501.123Z-7ZKQ3M9X2D4F8H1J';
const LATER = '20261128T080000.000Z-0000000000000000';

test('mlflowTags: envseal.* tags and MLflow system tags for git and the image; absent facts left out', () => {
  const record = buildRunRecord(sampleInput());
  const tags = mlflowTags(record);
  assert.deepEqual(tags, {
    'envseal.base_digest': `sha256:${'b'.repeat(64)}`,
    'envseal.exit_code': '0',
    'envseal.fingerprint': FINGERPRINT,
    'envseal.git_dirty': 'false',
    'envseal.image_digest': `127.0.0.1:5000/a@sha256:${'c'.repeat(64)}`,
    'envseal.image_id': IMAGE_ID,
    'envseal.image_ref': 'envseal/demo:dev',
    'envseal.lock_digest': `sha256:${'1'.repeat(64)}`,
    'envseal.run_id': RUN_ID,
    'envseal.seed': '42',
    'envseal.target': 'dev',
    'envseal.version': '0.1.0',
    'mlflow.docker.image.id': IMAGE_ID,
    'mlflow.docker.image.uri': `127.0.0.1:5000/a@sha256:${'c'.repeat(64)}`,
    'mlflow.source.git.branch': 'main',
    'mlflow.source.git.commit': '0123456789abcdef0123456789abcdef01234567',
    'mlflow.source.git.repoURL': 'https://github.com/org/repo.git',
  });
  const bare = buildRunRecord({
    ...sampleInput(),
    seed: null,
    outcome: { exitCode: null, signal: 'SIGKILL' },
    image: { ...sampleInput().image, info: { ...sampleInput().image.info, repoDigests: [] } },
    git: { state: null, unavailable: { reason: 'not-a-repository', message: 'not a git repository' } },
  });
  const t = mlflowTags(bare);
  assert.equal(t['envseal.image_digest'], IMAGE_ID, 'not pushed: the image ID');
  assert.equal(t['mlflow.docker.image.uri'], 'envseal/demo:dev');
  for (const key of ['envseal.seed', 'envseal.exit_code', 'envseal.git_dirty', 'mlflow.source.git.commit']) assert.equal(key in t, false, key);
});

test('record show: by run ID, by path and "latest"; json or mlflow-tags (lines, or an object with --json)', async () => {
  const { dir, cleanup } = await makeTempDir('envseal-sbom12-');
  try {
    const runs = join(dir, '.envseal/runs');
    const record = buildRunRecord(sampleInput());
    await writeRunRecord(runs, record);
    const later = buildRunRecord({ ...sampleInput(), runId: LATER, startedAt: new Date('2026-11-28T08:00:00Z'), endedAt: new Date('2026-11-28T08:01:00Z') });
    await writeRunRecord(runs, later);

    const byId = await runCliInProcess(['record', 'show', RUN_ID], { cwd: dir });
    assert.equal(byId.code, 0, byId.stderr);
    assert.equal(byId.stdout, canonicalJson(record));
    const byPath = await runCliInProcess(['record', 'show', `.envseal/runs/${RUN_ID}.json`, '--format', 'json'], { cwd: dir });
    assert.equal(byPath.stdout, byId.stdout);
    const latest = await runCliInProcess(['record', 'show', 'latest', '--format', 'mlflow-tags'], { cwd: dir });
    assert.equal(latest.code, 0, latest.stderr);
    const lines = latest.stdout.trimEnd().split('\n');
    assert.ok(lines.includes(`envseal.run_id=${LATER}`));
    assert.ok(lines.includes(`envseal.fingerprint=${FINGERPRINT}`));
    assert.deepEqual(
      lines,
      Object.entries(mlflowTags(later)).map(([k, v]) => `${k}=${v}`),
    );
    const asJson = await runCliInProcess(['--json', 'record', 'show', RUN_ID, '--format', 'mlflow-tags'], { cwd: dir });
    assert.deepEqual(JSON.parse(asJson.stdout), mlflowTags(record));
  } finally {
    await cleanup();
  }
});

test('record show errors: unknown run, no runs, not a record, malformed record, unknown format (all exit 2)', async () => {
  const { dir, cleanup } = await makeTempDir('envseal-sbom12-');
  try {
    const none = await runCliInProcess(['record', 'show', 'latest'], { cwd: dir });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no run records in \.envseal\/runs\//);

    const missing = await runCliInProcess(['record', 'show', RUN_ID], { cwd: dir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, new RegExp(`cannot read run record .*${RUN_ID.replace('.', '\\.')}\\.json`));

    const junk = await runCliInProcess(['record', 'show', 'yesterday'], { cwd: dir });
    assert.equal(junk.code, 2);
    assert.match(junk.stderr, /yesterday: not a run ID, a record file \(\.json\) or "latest"/);

    await mkdir(join(dir, '.envseal/runs'), { recursive: true });
    await writeFile(join(dir, 'bad.json'), '{"recordVersion": 1}');
    const malformed = await runCliInProcess(['record', 'show', 'bad.json'], { cwd: dir });
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /bad\.json is not a valid envseal run record/);

    await writeRunRecord(join(dir, '.envseal/runs'), buildRunRecord(sampleInput()));
    const format = await runCliInProcess(['record', 'show', RUN_ID, '--format', 'wandb'], { cwd: dir });
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--format wandb: unknown record format/);
  } finally {
    await cleanup();
  }
});
