/**
 * Issue 4 end to end through the real CLI on the real engine: `envseal build` (dev and deploy) with the
 * fingerprint labels, a failing RUN, `envseal run` with seeds, records, exit codes, stdin, the deploy target and
 * Ctrl-C, `envseal verify` passing and then failing for each reason the issue names, and `envseal diff` of
 * locks, records and images.
 *
 * The project is small on purpose (no apt, pure-Python helpers from the lab index, a training script that only
 * needs `random`), so the whole file builds three images in well under two minutes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { ENVSEAL_BIN, makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { buildFixtureFiles } from '../lab/fixtures-index.js';
import { startIndex } from '../lab/index-server.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_LOCAL_BASE_IMAGE, requireLab, requireLabIndex } from '../lab/lab.js';

const NAME = 'pipeline-e2e';

const SPEC = `version: 1
name: ${NAME}
base: ${LAB_BASE_IMAGE}
env:
  GREETING: hello
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
targets:
  dev:
    python: { packages: ["seal-plot==0.1.0"] }
  deploy:
    copy: [train.py]
    command: [python, train.py]
`;

const REQUIREMENTS = 'seal-metrics==1.1.0\n';

/** A seeded "training" run: random restarts of a threshold classifier, plus random weights. */
const TRAIN = `import json, os, random, sys
from seal_metrics import accuracy

out_dir = sys.argv[1] if len(sys.argv) > 1 else "out"
rows = []
with open(os.path.join("data", "train.csv")) as f:
    for line in f:
        x, y = line.strip().split(",")
        rows.append((float(x), int(y)))
best = None
for _ in range(200):
    t = random.uniform(0, 10)
    acc = accuracy([y for _, y in rows], [1 if x > t else 0 for x, _ in rows])
    if best is None or acc > best[0]:
        best = (acc, t)
weights = [random.random() for _ in range(4)]
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "model.json"), "w") as f:
    json.dump({"accuracy": best[0], "threshold": best[1], "weights": weights, "hashseed": os.environ.get("PYTHONHASHSEED")}, f, sort_keys=True)
print("accuracy %.3f threshold %.4f" % best)
`;

const DATA = Array.from({ length: 40 }, (_, i) => `${((i * 37) % 100) / 10},${(i * 37) % 100 > 55 ? 1 : 0}`).join('\n') + '\n';

interface Built {
  imageId: string;
  tags: string[];
  fingerprint: string;
  lockDigest: string;
}

/** Records and reports are foreign JSON here: the tests check them field by field. */
type Json = any;

function git(cwd: string, args: string[]): string {
  const res = spawnSync('git', ['-c', 'user.name=envseal test', '-c', 'user.email=test@envseal.invalid', ...args], { cwd, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${res.stderr}`);
  return res.stdout.trim();
}

async function inspectImage(ref: string): Promise<Json> {
  return JSON.parse((await dockerCli(['image', 'inspect', ref], { check: true })).stdout)[0];
}

describe('envseal build / run / verify / diff on the real engine', { concurrency: false }, () => {
  let project: TempProject;
  let env: Record<string, string>;
  let lock: Json;
  let lockA: Buffer;
  let dockerfileA: Buffer;
  let dev: Built;
  let deploy: Built;
  /** Records of the seeded dev runs (same seed), in order. */
  const seededRecords: string[] = [];
  /** A lock and a record made from another lock (other requirement and env), for verify and diff. */
  let otherLockPath: string;
  let otherRecord: string;
  /** Every tag this file creates, removed at the end. */
  const tags = new Set<string>();
  const cleanups: (() => Promise<void>)[] = [];

  const envseal = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) =>
    runEnvseal(args, { cwd: project.dir, env: { ...env, ...options.env }, ...(options.input !== undefined ? { input: options.input } : {}) });

  const readRecord = async (rel: string): Promise<Json> => JSON.parse(await readFile(project.path(rel), 'utf8'));

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({
      'envseal.yaml': SPEC,
      'requirements.txt': REQUIREMENTS,
      'train.py': TRAIN,
      'data/train.csv': DATA,
      'README.md': '# pipeline-e2e\n',
      '.gitignore': '.envseal/\n.cache/\nout*/\n*.lock.other\n',
    });
    cleanups.push(() => project.cleanup());
    env = { ENVSEAL_CACHE_DIR: project.path('.cache') };
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    const generated = await envseal(['generate']);
    assert.equal(generated.code, 0, generated.stderr);
    lockA = await readFile(project.path('envseal.lock'));
    dockerfileA = await readFile(project.path('envseal.Dockerfile'));
    lock = JSON.parse(lockA.toString('utf8'));
    git(project.dir, ['init', '-q', '-b', 'main']);
    git(project.dir, ['add', '-A']);
    git(project.dir, ['commit', '-q', '-m', 'pipeline e2e project']);
  });

  after(async () => {
    if (tags.size) await dockerCli(['rmi', '-f', ...tags]);
    // The classic builder also builds the dev stage when asked for deploy (it precedes deploy in the
    // Dockerfile) and leaves that stage's image untagged: remove this project's leftovers too.
    const leftovers = await dockerCli(['images', '-q', '--filter', 'dangling=true', '--filter', `label=org.opencontainers.image.title=${NAME}`]);
    const ids = [...new Set(leftovers.stdout.split('\n').filter(Boolean))];
    if (ids.length) await dockerCli(['rmi', ...ids]);
    for (const c of cleanups.reverse()) await c();
  });

  test('build dev and deploy: default tags, labels carry the lock fingerprint, lock digest and target', async () => {
    const fp12 = lock.fingerprint.slice('sha256:'.length, 'sha256:'.length + 12);
    const lockDigest = `sha256:${createHash('sha256').update(lockA).digest('hex')}`;
    const head = git(project.dir, ['rev-parse', 'HEAD']);

    const devRes = await envseal(['build', '--target', 'dev', '--json']);
    assert.equal(devRes.code, 0, devRes.stderr);
    dev = JSON.parse(devRes.stdout);
    for (const t of dev.tags) tags.add(t);
    assert.deepEqual(dev.tags, [`envseal/${NAME}:dev-${fp12}`]);
    assert.equal(dev.fingerprint, lock.fingerprint);
    assert.equal(dev.lockDigest, lockDigest);
    assert.match(devRes.stderr, /\[dev\] step \d+\/\d+ [\d.]+s {2}FROM /, 'progress: step N/M, elapsed, instruction');

    const deployRes = await envseal(['build', '--target', 'deploy', '--json']);
    assert.equal(deployRes.code, 0, deployRes.stderr);
    deploy = JSON.parse(deployRes.stdout);
    for (const t of deploy.tags) tags.add(t);
    assert.equal(deploy.tags.length, 1);
    assert.match(deploy.tags[0]!, new RegExp(`^envseal/${NAME}:deploy-${fp12}-[0-9a-f]{8}$`), 'deploy tags carry the source digest');
    assert.notEqual(deploy.imageId, dev.imageId);

    for (const [built, target] of [
      [dev, 'dev'],
      [deploy, 'deploy'],
    ] as const) {
      const info = await inspectImage(built.tags[0]!);
      assert.equal(info.Id, built.imageId);
      assert.equal(info.Config.Labels['dev.envseal.fingerprint'], lock.fingerprint, `${target}: fingerprint label == lock fingerprint`);
      assert.equal(info.Config.Labels['dev.envseal.lock-digest'], lockDigest);
      assert.equal(info.Config.Labels['dev.envseal.target'], target);
      assert.ok(info.Config.Env.includes(`ENVSEAL_FINGERPRINT=${lock.fingerprint}`));
    }
    const deployInfo = await inspectImage(deploy.tags[0]!);
    assert.equal(deployInfo.Config.Labels['org.opencontainers.image.revision'], head, 'the deploy image names the git commit');
    assert.notEqual(deployInfo.Config.User, '', 'deploy runs as a non-root user');
    const buildRecord = JSON.parse(await readFile(project.path('.envseal/builds/dev.json'), 'utf8'));
    assert.equal(buildRecord.imageId, dev.imageId);
  });

  test('run --seed twice: identical outputs, two complete records (fingerprint == lock == image label)', async () => {
    const head = git(project.dir, ['rev-parse', 'HEAD']);
    const outputs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await envseal(['run', '--seed', '1234', '--input', 'data', '--output', 'out', '--json', '--', 'python', 'train.py', 'out']);
      assert.equal(res.code, 0, res.stderr);
      const out = JSON.parse(res.stdout);
      assert.equal(out.ok, true);
      assert.equal(out.exitCode, 0);
      assert.equal(out.seed, 1234);
      assert.match(res.stderr, /accuracy \d\.\d{3} threshold/, 'under --json the command output goes to stderr');
      seededRecords.push(out.record);
      outputs.push(await readFile(project.path('out/model.json'), 'utf8'));
    }
    assert.equal(outputs[0], outputs[1], 'same seed, same output');
    assert.notEqual(seededRecords[0], seededRecords[1]);
    const runs = (await readdir(project.path('.envseal/runs'))).sort();
    assert.deepEqual(runs, seededRecords.map((r) => r.replace('.envseal/runs/', '')).sort(), 'one record per run, nothing else');

    const [a, b] = [await readRecord(seededRecords[0]!), await readRecord(seededRecords[1]!)];
    const image = await inspectImage(dev.tags[0]!);
    for (const [record, rel] of [
      [a, seededRecords[0]],
      [b, seededRecords[1]],
    ] as const) {
      assert.equal(rel, `.envseal/runs/${record.runId}.json`);
      assert.equal(record.recordVersion, 4);
      assert.equal(record.environment.fingerprint, lock.fingerprint);
      assert.equal(record.environment.fingerprint, image.Config.Labels['dev.envseal.fingerprint']);
      assert.equal(record.image.fingerprintLabel, lock.fingerprint);
      assert.equal(record.environment.lockDigest, dev.lockDigest);
      assert.equal(record.image.id, dev.imageId);
      assert.equal(record.image.reference, dev.tags[0]);
      assert.equal(record.image.baseDigest, lock.base.platformDigest);
      assert.equal(record.environment.base, lock.base.pinned);
      assert.deepEqual(record.environment.python, { 'seal-metrics': '1.1.0', 'seal-plot': '0.1.0', 'seal-utils': '1.0.0', tinyconfig: '1.1.0' });
      assert.deepEqual(record.environment.env, { GREETING: 'hello' });
      assert.equal(record.seed, 1234);
      assert.equal(record.env.envseal.ENVSEAL_SEED, '1234');
      assert.equal(record.env.envseal.PYTHONHASHSEED, '1234');
      assert.equal(record.env.envseal.ENVSEAL_RUN_ID, record.runId);
      assert.equal(record.env.envseal.ENVSEAL_FINGERPRINT, lock.fingerprint);
      assert.equal(record.command, 'python');
      assert.deepEqual(record.args, ['train.py', 'out']);
      assert.equal(record.target, 'dev');
      assert.deepEqual(record.outcome, { exitCode: 0, signal: null, interrupted: false, interruptReason: null, error: null });
      assert.ok(Date.parse(record.endedAt) >= Date.parse(record.startedAt));
      assert.equal(record.inputs.length, 1);
      assert.equal(record.inputs[0].path, 'data');
      assert.equal(record.inputs[0].content.type, 'directory');
      assert.equal(record.inputs[0].content.files, 1);
      assert.equal(record.inputs[0].content.bytes, Buffer.byteLength(DATA));
      assert.equal(record.outputs.length, 1);
      assert.equal(record.outputs[0].path, 'out');
      assert.equal(record.outputs[0].content.files, 1);
      assert.equal(record.git.commit, head);
      assert.equal(record.git.branch, 'main');
      assert.equal(record.git.dirty, false);
      assert.equal(record.git.diffDigest, null);
      assert.equal(record.gitUnavailable, null);
      assert.equal(record.host.engine.apiVersion, '1.41');
      assert.equal(record.network, 'none');
    }
    assert.equal(a.inputs[0].content.digest, b.inputs[0].content.digest);
    assert.equal(a.outputs[0].content.digest, b.outputs[0].content.digest, 'the output digests agree');
    assert.ok(a.runId < b.runId, 'run IDs sort by start time');

    // The seed matters: another one gives another model (and the record says so).
    const other = await envseal(['run', '--seed', '99', '--output', 'out-99', '--', 'python', 'train.py', 'out-99']);
    assert.equal(other.code, 0, other.stderr);
    assert.notEqual(await readFile(project.path('out-99/model.json'), 'utf8'), outputs[0]);
  });

  test('a dirty work tree is recorded: dirty flag, diff digest, changed file count', async () => {
    await writeFile(project.path('README.md'), '# pipeline-e2e\n\nlocal notes\n');
    try {
      const res = await envseal(['run', '--json', '--', 'true']);
      assert.equal(res.code, 0, res.stderr);
      const record = await readRecord(JSON.parse(res.stdout).record);
      assert.equal(record.git.dirty, true);
      assert.match(record.git.diffDigest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(record.git.changedFiles, 1);
      assert.equal(record.git.untrackedFiles, 0);
      assert.ok(Number.isInteger(record.seed), 'a fresh seed is chosen and recorded when none is given');
      assert.equal(record.env.envseal.ENVSEAL_SEED, String(record.seed));
    } finally {
      await writeFile(project.path('README.md'), '# pipeline-e2e\n');
    }
  });

  test('run --target deploy: the baked-in project, the same seeded result, as the non-root deploy user', async () => {
    const res = await envseal([
      'run',
      '--target',
      'deploy',
      '--seed',
      '1234',
      '--input',
      'data',
      '--output',
      'out-deploy',
      '--json',
      '--',
      'python',
      'train.py',
      'out-deploy',
    ]);
    assert.equal(res.code, 0, res.stderr);
    const record = await readRecord(JSON.parse(res.stdout).record);
    assert.equal(record.target, 'deploy');
    assert.equal(record.image.id, deploy.imageId);
    assert.equal(record.image.reference, deploy.tags[0]);
    assert.equal(record.environment.fingerprint, lock.fingerprint);
    assert.equal(record.environment.python['seal-plot'], undefined, 'dev-only packages are not in the deploy environment');
    assert.equal(await readFile(project.path('out-deploy/model.json'), 'utf8'), await readFile(project.path('out/model.json'), 'utf8'));

    const whoami = await envseal(['run', '--target', 'deploy', '--', 'sh', '-c', 'id -u; cat /workspace/train.py | head -1; echo "$GREETING"']);
    assert.equal(whoami.code, 0, whoami.stderr);
    const [uid, firstLine, greeting] = whoami.stdout.trim().split('\n');
    assert.notEqual(uid, '0');
    assert.equal(firstLine, TRAIN.split('\n')[0]);
    assert.equal(greeting, 'hello');
  });

  test("the command's exit code becomes envseal's, and the record keeps it", async () => {
    const res = await envseal(['run', '--json', '--', 'sh', '-c', 'echo failing >&2; exit 7']);
    assert.equal(res.code, 7, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.equal(out.ok, false);
    assert.equal(out.exitCode, 7);
    const record = await readRecord(out.record);
    assert.equal(record.outcome.exitCode, 7);
    assert.equal(record.outcome.error, null);
    assert.match(res.stderr, /failing/);
  });

  test('stdin piped into envseal reaches the command', async () => {
    const text = 'line one\nline two\n';
    const res = await envseal(['run', '--', 'sh', '-c', 'tr a-z A-Z'], { input: text });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, text.toUpperCase());
  });

  test('verify passes for the built images and a record of this lock', async () => {
    const res = await envseal(['verify', '--image', dev.tags[0]!, '--record', seededRecords[0]!]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /all 5 checks passed/);
    const json = await envseal(['verify', '--image', deploy.tags[0]!, '--record', seededRecords[1]!, '--json']);
    assert.equal(json.code, 0, json.stdout + json.stderr);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.fingerprint, lock.fingerprint);
    assert.deepEqual(
      report.checks.map((c: Json) => [c.name, c.ok]),
      [
        ['lock-fresh', true],
        ['dockerfile', true],
        ['image-label', true],
        ['image-contents', true],
        ['record', true],
      ],
    );
  });

  test('verify fails (exit 1) after a requirement changes, and says which', async () => {
    await writeFile(project.path('requirements.txt'), 'seal-metrics==1.0.0\n');
    try {
      const res = await envseal(['verify', '--json']);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      const report = JSON.parse(res.stdout);
      assert.equal(report.ok, false);
      const fresh = report.checks.find((c: Json) => c.name === 'lock-fresh');
      assert.equal(fresh.ok, false);
      assert.ok(
        fresh.details.some((d: string) => /requirements\.txt: changed requirement seal-metrics: seal-metrics==1\.1\.0 → seal-metrics==1\.0\.0/.test(d)),
        fresh.details.join('\n'),
      );
      assert.match(fresh.fix, /envseal lock/);
      const human = await envseal(['verify']);
      assert.equal(human.code, 1);
      assert.match(human.stdout, /FAIL lock-fresh: envseal\.lock is stale/);
      assert.match(human.stdout, /1 of 2 checks failed/);
    } finally {
      await writeFile(project.path('requirements.txt'), REQUIREMENTS);
    }
  });

  test('verify fails (exit 1) when another image has been retagged to the expected tag', async () => {
    const tag = dev.tags[0]!;
    await dockerCli(['tag', LAB_LOCAL_BASE_IMAGE, tag], { check: true });
    try {
      const res = await envseal(['verify', '--image', tag, '--json']);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      const checks = Object.fromEntries(JSON.parse(res.stdout).checks.map((c: Json) => [c.name, c]));
      assert.equal(checks['image-label'].ok, false);
      assert.match(checks['image-label'].summary, new RegExp(`${tag} carries fingerprint \\(none\\), the lock has ${lock.fingerprint}`));
      assert.match(checks['image-label'].fix, /envseal build --target dev/);
      assert.equal(checks['image-contents'].ok, false);
      assert.ok(
        checks['image-contents'].details.some((d: string) => /seal-metrics/.test(d)),
        checks['image-contents'].details.join('\n'),
      );
    } finally {
      await dockerCli(['tag', dev.imageId, tag], { check: true });
    }
    const again = await envseal(['verify', '--image', tag]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  test('a record made with another lock: run builds the missing image; verify --record then fails (exit 1)', async () => {
    // Another environment: another pin and another env value, locked, generated and run (the image is built on demand).
    await writeFile(project.path('requirements.txt'), 'seal-metrics==1.0.0\n');
    await writeFile(project.path('envseal.yaml'), SPEC.replace('GREETING: hello', 'GREETING: bonjour'));
    try {
      assert.equal((await envseal(['lock'])).code, 0);
      assert.equal((await envseal(['generate'])).code, 0);
      const otherLock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
      assert.notEqual(otherLock.fingerprint, lock.fingerprint);
      const otherTag = `envseal/${NAME}:dev-${otherLock.fingerprint.slice(7, 19)}`;
      tags.add(otherTag);
      const res = await envseal([
        'run',
        '--seed',
        '1234',
        '--json',
        '--',
        'python',
        '-c',
        'import seal_metrics, os; print(seal_metrics.__version__, os.environ["GREETING"])',
      ]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, new RegExp(`image ${otherTag} is missing: building it`));
      assert.match(res.stderr, /1\.0\.0 bonjour/);
      otherRecord = JSON.parse(res.stdout).record;
      otherLockPath = 'envseal.lock.other';
      await writeFile(project.path(otherLockPath), await readFile(project.path('envseal.lock')));
    } finally {
      await writeFile(project.path('requirements.txt'), REQUIREMENTS);
      await writeFile(project.path('envseal.yaml'), SPEC);
      await writeFile(project.path('envseal.lock'), lockA);
      await writeFile(project.path('envseal.Dockerfile'), dockerfileA);
    }
    const res = await envseal(['verify', '--record', otherRecord, '--json']);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    const checks = Object.fromEntries(JSON.parse(res.stdout).checks.map((c: Json) => [c.name, c]));
    assert.equal(checks['lock-fresh'].ok, true);
    assert.equal(checks.record.ok, false);
    assert.match(checks.record.summary, /was not made with this lock/);
    assert.match(checks.record.details.join('\n'), new RegExp(`record fingerprint sha256:[0-9a-f]{64} ≠ lock fingerprint ${lock.fingerprint}`));
    assert.match(checks.record.fix, /envseal run/);
  });

  test('diff: two locks, two records, lock vs image (exit 0 identical, 1 different, --json)', async () => {
    await writeFile(project.path('copy.lock.other'), lockA);
    const same = await envseal(['diff', 'envseal.lock', 'copy.lock.other']);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /identical environments/);

    const locks = await envseal(['diff', 'envseal.lock', otherLockPath]);
    assert.equal(locks.code, 1, locks.stderr);
    assert.match(locks.stdout, /^--- envseal\.lock \(lock, sha256:/m);
    assert.match(locks.stdout, /^\+\+\+ envseal\.lock\.other \(lock, sha256:/m);
    assert.match(locks.stdout, /^ {2}~ seal-metrics 1\.1\.0 → 1\.0\.0$/m);
    assert.match(locks.stdout, /^ {2}~ GREETING hello → bonjour$/m);
    const locksJson = await envseal(['diff', 'envseal.lock', otherLockPath, '--json']);
    assert.equal(locksJson.code, 1);
    const diff = JSON.parse(locksJson.stdout);
    assert.equal(diff.identical, false);
    assert.deepEqual(diff.diff.python, [{ name: 'seal-metrics', before: '1.1.0', after: '1.0.0' }]);
    assert.deepEqual(diff.diff.env, [{ name: 'GREETING', before: 'hello', after: 'bonjour' }]);
    assert.equal(diff.diff.base, null);
    assert.equal(diff.a.kind, 'lock');

    const records = await envseal(['diff', seededRecords[0]!, seededRecords[1]!, '--json']);
    assert.equal(records.code, 0, records.stderr);
    assert.equal(JSON.parse(records.stdout).identical, true);
    const recordsDiffer = await envseal(['diff', seededRecords[0]!, otherRecord]);
    assert.equal(recordsDiffer.code, 1, recordsDiffer.stderr);
    assert.match(recordsDiffer.stdout, /\(record, sha256:/);
    assert.match(recordsDiffer.stdout, /~ seal-metrics 1\.1\.0 → 1\.0\.0/);

    const lockVsImage = await envseal(['diff', 'envseal.lock', dev.tags[0]!, '--json']);
    assert.equal(lockVsImage.code, 0, lockVsImage.stderr);
    const liv = JSON.parse(lockVsImage.stdout);
    assert.equal(liv.identical, true);
    assert.equal(liv.b.kind, 'image');
    assert.equal(liv.b.fingerprint, lock.fingerprint);
    const otherVsImage = await envseal(['diff', otherLockPath, dev.tags[0]!]);
    assert.equal(otherVsImage.code, 1, otherVsImage.stderr);
    assert.match(otherVsImage.stdout, /~ seal-metrics 1\.0\.0 → 1\.1\.0/);
  });

  test('Ctrl-C: the container is stopped and removed, exit 130, the record is marked interrupted', async () => {
    const child = spawn(process.execPath, [ENVSEAL_BIN, 'run', '--', 'sleep', '60'], {
      cwd: project.dir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NO_COLOR: '1',
        LANG: 'C.UTF-8',
        ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stdin.end();
    let runId = '';
    try {
      // Wait for the container: it carries the run ID label and this project's fingerprint.
      const deadline = Date.now() + 60_000;
      while (!runId && Date.now() < deadline) {
        const ps = await dockerCli([
          'ps',
          '--filter',
          `label=dev.envseal.fingerprint=${lock.fingerprint}`,
          '--filter',
          'label=dev.envseal.run-id',
          '--format',
          '{{.Label "dev.envseal.run-id"}}',
        ]);
        runId = ps.stdout.trim().split('\n')[0] ?? '';
        if (!runId) await delay(200);
      }
      assert.ok(runId, `the container never started: ${Buffer.concat(stderr).toString('utf8')}`);
      const started = Date.now();
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 130, Buffer.concat(stderr).toString('utf8'));
      assert.ok(Date.now() - started < 30_000, 'stopped promptly, not after the 60 s sleep');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const text = Buffer.concat(stderr).toString('utf8');
    assert.match(text, /interrupted: stopping/);
    assert.match(text, new RegExp(`run ${runId}: exit 130 \\(interrupted\\), record \\.envseal/runs/${runId.replace(/\./g, '\\.')}\\.json`));
    const record = await readRecord(`.envseal/runs/${runId}.json`);
    assert.equal(record.outcome.interrupted, true);
    assert.equal(record.outcome.interruptReason, 'signal');
    assert.equal(record.outcome.exitCode, null);
    assert.equal(record.outcome.signal, 'SIGINT');
    const left = await dockerCli(['ps', '-a', '-q', '--filter', `label=dev.envseal.run-id=${runId}`], { check: true });
    assert.equal(left.stdout.trim(), '', 'no container is left behind');
  });

  test('a failing RUN exits 3 and names the instruction with the last lines of its output', async () => {
    // Lock against a throwaway index, then take it away: pip's RUN in the build cannot download anything.
    const files = buildFixtureFiles({ hostWheelsDir: null }).filter((f) => f.filename.startsWith('tinyconfig-1.1.0'));
    const index = await startIndex({ projects: { tinyconfig: files.map((f) => ({ filename: f.filename, bytes: f.bytes })) } });
    let indexOpen = true;
    const failing = await makeTempProject({
      'envseal.yaml': `version: 1\nname: failing-run-e2e\nbase: ${LAB_BASE_IMAGE}\npython:\n  packages: ["tinyconfig==1.1.0"]\n  index: ${index.url}\n`,
    });
    cleanups.push(() => failing.cleanup());
    try {
      const opts = { cwd: failing.dir, env: { ENVSEAL_CACHE_DIR: failing.path('.cache') } };
      const locked = await runEnvseal(['lock'], opts);
      assert.equal(locked.code, 0, locked.stderr);
      await index.close();
      indexOpen = false;
      const fp12 = JSON.parse(await readFile(failing.path('envseal.lock'), 'utf8')).fingerprint.slice(7, 19);
      tags.add(`envseal/failing-run-e2e:dev-${fp12}`);
      const res = await runEnvseal(['build', '--no-cache'], opts);
      assert.equal(res.code, 3, res.stderr);
      assert.match(
        res.stderr,
        /^envseal: error: build failed at step \d+\/\d+ \(RUN printf .*\): The command '\/bin\/sh -c printf .*python -m pip install .*' returned a non-zero code: 1$/m,
        'the failing instruction',
      );
      assert.match(res.stderr, /^ {2}WARNING: Retrying .*Connection refused/m, 'the output of the step');
      assert.match(res.stderr, /^ {2}ERROR: No matching distribution found for tinyconfig==1\.1\.0$/m, 'down to its last line');
      assert.match(res.stderr, /^hint: the last output lines of the failing step are listed/m);
      const image = await dockerCli(['image', 'inspect', `envseal/failing-run-e2e:dev-${fp12}`]);
      assert.notEqual(image.code, 0, 'no image was tagged');
      const scratch = await dockerCli(['images', '-q', 'envseal-scratch/failing-run-e2e']);
      assert.equal(scratch.stdout.trim(), '', 'no scratch image is left behind');
    } finally {
      if (indexOpen) await index.close();
    }
  });
});
