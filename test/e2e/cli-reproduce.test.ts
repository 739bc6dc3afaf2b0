/**
 * Issue 12 end to end on the real engine: `envseal reproduce` of a seeded CPU training run gives byte-identical
 * outputs (exit 0), also after the image was removed (rebuilt from the lock at the recorded commit, same image
 * ID); an edited input is exit 1 naming it; a script that writes the clock is exit 1 naming that output; a
 * missing secret is exit 2, an unusable record exit 2, an image that cannot be had exit 3. And `run` catches
 * stale and dirty runs: a warning and the reason in the record, `--strict` and ENVSEAL_STRICT=1 refuse.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const NAME = 'repro12-reproduce';

const SPEC = `version: 1
name: ${NAME}
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
`;

/** Seeded "training": random restarts of a threshold classifier; writes a JSON model and a CSV of the restarts. */
const TRAIN = `import json, os, random, sys
from seal_metrics import accuracy

out = sys.argv[1]
rows = [(float(x), int(y)) for x, y in (l.strip().split(",") for l in open("data/train.csv"))]
best, history = None, []
for step in range(50):
    t = random.uniform(0, 10)
    acc = accuracy([y for _, y in rows], [1 if x > t else 0 for x, _ in rows])
    history.append("%d,%.6f,%.4f" % (step, t, acc))
    if best is None or acc > best[0]:
        best = (acc, t)
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "model.json"), "w") as f:
    json.dump({"accuracy": best[0], "threshold": best[1], "weights": [random.random() for _ in range(3)], "token": os.environ.get("API_TOKEN", "")[:2]}, f, sort_keys=True)
with open(os.path.join(out, "history.csv"), "w") as f:
    f.write("step,threshold,accuracy\\n" + "\\n".join(history) + "\\n")
print("accuracy %.3f" % best[0])
`;

/** Writes the clock into its output: never the same twice. */
const CLOCK = `import json, os, sys, time
os.makedirs(sys.argv[1], exist_ok=True)
json.dump({"finished": time.time_ns(), "label": "run"}, open(os.path.join(sys.argv[1], "stamp.json"), "w"))
`;

const DATA = Array.from({ length: 30 }, (_, i) => `${((i * 37) % 100) / 10},${(i * 37) % 100 > 55 ? 1 : 0}`).join('\n') + '\n';

type Json = any;

function git(cwd: string, args: string[]): string {
  const res = spawnSync('git', ['-c', 'user.name=envseal test', '-c', 'user.email=test@envseal.invalid', ...args], { cwd, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${res.stderr}`);
  return res.stdout.trim();
}

describe('envseal reproduce and stale/dirty runs on the real engine', { concurrency: false }, () => {
  let project: TempProject;
  let env: Record<string, string>;
  let imageId: string;
  let seeded: Json;
  const images = new Set<string>();

  const envseal = (args: string[], extra: Record<string, string> = {}) =>
    runEnvseal(args, { cwd: project.dir, env: { ...env, ...extra }, timeoutMs: 15 * 60_000 });
  const records = async (): Promise<string[]> => (await readdir(project.path('.envseal/runs')).catch(() => [])).filter((n) => n.endsWith('.json')).sort();
  const readRecord = async (runId: string): Promise<Json> => JSON.parse(await readFile(project.path(`.envseal/runs/${runId}.json`), 'utf8'));
  const run = async (args: string[], extra: Record<string, string> = {}) => {
    const res = await envseal(['run', '--json', ...args], extra);
    return { ...res, out: res.code === 0 || res.code === 1 ? (JSON.parse(res.stdout || '{}') as Json) : null };
  };

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({
      'envseal.yaml': SPEC,
      'requirements.txt': 'seal-metrics==1.1.0\n',
      'train.py': TRAIN,
      'clock.py': CLOCK,
      'data/train.csv': DATA,
      '.gitignore': '.envseal/\n.cache/\nout*/\n',
    });
    env = { ENVSEAL_CACHE_DIR: project.path('.cache') };
    assert.equal((await envseal(['lock'])).code, 0);
    assert.equal((await envseal(['generate'])).code, 0);
    git(project.dir, ['init', '-q', '-b', 'main']);
    git(project.dir, ['add', '-A']);
    git(project.dir, ['commit', '-q', '-m', 'reproduce e2e project']);
    const built = await envseal(['build', '--json']);
    assert.equal(built.code, 0, built.stderr.slice(-3000));
    const out = JSON.parse(built.stdout);
    imageId = out.imageId;
    images.add(out.imageId);
    for (const t of out.tags) images.add(t);
  });

  after(async () => {
    if (images.size) await dockerCli(['rmi', '-f', ...images]);
    await project?.cleanup();
  });

  test('a seeded training run, then reproduce of its record: byte-identical outputs, exit 0, a record that points at the original', async () => {
    const res = await run(['--seed', '7', '--input', 'data/train.csv', '--output', 'out', '-e', 'API_TOKEN=tk-secret', '--', 'python', 'train.py', 'out']);
    assert.equal(res.code, 0, res.stderr);
    assert.doesNotMatch(res.stderr, /git-dirty|lock-stale|image-mismatch/);
    seeded = await readRecord(res.out.runId);
    assert.equal(seeded.recordVersion, 4);
    assert.deepEqual(seeded.reasons, []);
    assert.equal(seeded.reproduces, null);
    assert.equal(seeded.env.user.API_TOKEN, '<redacted>');

    const again = await envseal(['reproduce', res.out.record, '--json'], { API_TOKEN: 'tk-secret' });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const report = JSON.parse(again.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.original, seeded.runId);
    assert.deepEqual(report.image, { id: imageId, source: 'local' });
    assert.deepEqual(
      report.outputs.map((o: Json) => [o.path, o.status]),
      [['out', 'identical']],
    );
    assert.equal(report.originalDirty, false);
    const own = await readRecord(report.runId);
    assert.equal(own.reproduces, seeded.runId);
    assert.equal(own.seed, 7);
    assert.deepEqual(own.outputs, seeded.outputs);
    assert.equal(git(project.dir, ['status', '--porcelain']), '', 'reproduce leaves the work tree as it was');
  });

  test('a secret the record keeps by name only must be in the environment: exit 2 naming it', async () => {
    const res = await envseal(['reproduce', seeded.runId]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /the record keeps API_TOKEN by name only \(a secret\)/);
  });

  test('the image removed: rebuilt from the lock at the recorded commit, same image ID, exit 0 (record given by run ID)', async () => {
    const rm = await dockerCli(['rmi', '-f', imageId]);
    assert.equal(rm.code, 0, rm.stderr);
    const res = await envseal(['reproduce', seeded.runId, '--json'], { API_TOKEN: 'tk-secret' });
    assert.equal(res.code, 0, res.stdout + res.stderr.slice(-3000));
    const report = JSON.parse(res.stdout);
    assert.deepEqual(report.image, { id: imageId, source: 'rebuild' });
    assert.equal(report.ok, true);
    assert.match(git(project.dir, ['worktree', 'list']), /^\S+\s+\S+\s+\[main\]$/, 'the temporary worktree is gone');
  });

  test('an edited input file: exit 1 naming it, before anything runs', async () => {
    const before = await records();
    await writeFile(project.path('data/train.csv'), DATA + '9.9,1\n');
    try {
      const res = await envseal(['reproduce', seeded.runId], { API_TOKEN: 'tk-secret' });
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, /1 recorded input has changed: data\/train\.csv/);
      assert.match(res.stderr, /data\/train\.csv: content differs \(recorded sha256:/);
      assert.deepEqual(await records(), before);
    } finally {
      git(project.dir, ['checkout', '--', 'data/train.csv']);
    }
  });

  test('a script that writes the clock: exit 1 naming the output and the value that differs', async () => {
    const res = await run(['--output', 'out-clock', '--', 'python', 'clock.py', 'out-clock']);
    assert.equal(res.code, 0, res.stderr);
    const again = await envseal(['reproduce', res.out.record]);
    assert.equal(again.code, 1, again.stdout + again.stderr);
    assert.match(again.stdout, /DIFF out-clock: content differs/);
    assert.match(again.stdout, /out-clock\/stamp\.json: content\n\s+finished: \d+ → \d+/);
    assert.match(again.stdout, /not reproduced: 1 of 1 outputs differ/);
    const json = await envseal(['reproduce', res.out.record, '--json']);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.outputs[0].files[0].path, 'out-clock/stamp.json');
    assert.equal(report.outputs[0].files[0].change, 'content');
  });

  test('a dirty work tree: a warning and the reason in the record; --strict and ENVSEAL_STRICT=1 refuse with exit 1; reproduce reports the dirty original', async () => {
    await writeFile(project.path('notes.txt'), 'uncommitted\n');
    try {
      const res = await run(['--seed', '7', '--input', 'data/train.csv', '--output', 'out-dirty', '--', 'python', 'train.py', 'out-dirty']);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, /git-dirty: the git work tree has 1 uncommitted change \(notes\.txt\)/);
      const record = await readRecord(res.out.runId);
      assert.deepEqual(record.reasons, [{ code: 'git-dirty', message: 'the git work tree has 1 uncommitted change (notes.txt)', files: ['notes.txt'] }]);

      const before = await records();
      const strict = await envseal(['run', '--strict', '--', 'python', 'train.py', 'out-strict']);
      assert.equal(strict.code, 1, strict.stderr);
      assert.match(strict.stderr, /refusing to run \(strict\): git-dirty/);
      const strictEnv = await envseal(['run', '--', 'python', 'train.py', 'out-strict'], { ENVSEAL_STRICT: '1' });
      assert.equal(strictEnv.code, 1, strictEnv.stderr);
      assert.match(strictEnv.stderr, /refusing to run \(strict\): git-dirty/);
      const badEnv = await envseal(['run', '--', 'python', 'train.py', 'out-strict'], { ENVSEAL_STRICT: 'maybe' });
      assert.equal(badEnv.code, 2, badEnv.stderr);
      assert.match(badEnv.stderr, /ENVSEAL_STRICT="maybe": expected 1 or 0/);
      assert.deepEqual(await records(), before, 'a refused run starts nothing and writes no record');

      const again = await envseal(['reproduce', res.out.runId, '--json']);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      const report = JSON.parse(again.stdout);
      assert.equal(report.originalDirty, true);
      assert.ok(
        report.notes.some((n: string) => /dirty work tree/.test(n)),
        report.notes.join('\n'),
      );
    } finally {
      await rm(project.path('notes.txt'), { force: true });
    }
  });

  test('a stale lock: a lock-stale warning naming the manifest, and --strict refuses', async () => {
    await writeFile(project.path('requirements.txt'), 'seal-metrics==1.1.0\nseal-plot==0.1.0\n');
    try {
      const res = await run(['--', 'python', '-c', 'print(1)']);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, /lock-stale: envseal\.lock is stale: 1 input change \(requirements\.txt\)/);
      const record = await readRecord(res.out.runId);
      assert.deepEqual(
        record.reasons.map((r: Json) => [r.code, r.files]),
        [
          ['lock-stale', ['requirements.txt']],
          ['git-dirty', ['requirements.txt']],
        ],
      );
      const strict = await envseal(['run', '--strict', '--', 'python', '-c', 'print(1)']);
      assert.equal(strict.code, 1);
      assert.match(strict.stderr, /refusing to run \(strict\): lock-stale, git-dirty/);
    } finally {
      git(project.dir, ['checkout', '--', 'requirements.txt']);
    }
  });

  test('an unusable record is exit 2; an image that cannot be had is exit 3 with what each attempt said', async () => {
    const missing = await envseal(['reproduce', 'no-such-record.json']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no run record no-such-record\.json/);
    await writeFile(project.path('broken.json'), '{"recordVersion": 2,');
    const broken = await envseal(['reproduce', 'broken.json']);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /broken\.json:1:\d+: not valid JSON/);

    const ghost = structuredClone(seeded);
    ghost.image.id = `sha256:${'0'.repeat(64)}`;
    ghost.git.commit = 'f'.repeat(40);
    await writeFile(project.path('ghost.json'), JSON.stringify(ghost));
    const res = await envseal(['reproduce', 'ghost.json'], { API_TOKEN: 'tk-secret' });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, new RegExp(`image sha256:0{64} of run ${seeded.runId} cannot be had`));
    assert.match(res.stderr, /rebuild at commit ffffffffffff: git worktree add/);
    await rm(project.path('broken.json'));
    await rm(project.path('ghost.json'));
  });
});
