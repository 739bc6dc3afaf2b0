/**
 * `envseal export k8s-job`: the pure manifest builder (plain data in), the seed list syntax, the Indexed Job's
 * seed wrapper (run for real with /bin/sh), validation of every manifest against the Kubernetes schema for
 * batch/v1 Job (kubernetes-models: ajv over the Kubernetes OpenAPI schema), and the CLI: determinism, -o,
 * and the error paths with their exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { buildK8sJob, defaultJobName, formatSeeds, parseSeeds, renderK8sJob, seedWrapperScript, type K8sJobInput } from '../../src/app/export-k8s-job.js';
import { isEnvsealError } from '../../src/core/errors.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { finalizeLock, lockDigest, serializeLock } from '../../src/lock/lock-file.js';
import { sampleDraft, sampleLock } from '../fixtures/lock/sample-lock.js';
import { makeTempDir, runCliInProcess } from './cli-harness.js';

const H = (c: string) => `sha256:${c.repeat(64)}`;
const IMAGE = `127.0.0.1:5000/iris:deploy@${H('9')}`;

function input(overrides: Partial<K8sJobInput> = {}): K8sJobInput {
  return {
    name: 'iris-train',
    image: IMAGE,
    project: 'iris',
    fingerprint: H('f'),
    lockDigest: H('d'),
    target: 'deploy',
    entrypoint: [],
    command: ['python', 'train.py'],
    imageCommand: ['python', 'serve.py'],
    env: { ENVSEAL_FINGERPRINT: H('f') },
    seeds: [42],
    ...overrides,
  };
}

/** Kubernetes' own schema for the kind: throws with ajv's messages when the manifest is not a valid Job. */
function validateJob(manifest: unknown): void {
  new Job(manifest as ConstructorParameters<typeof Job>[0]).validate();
}

type Container = { name: string; image: string; command?: string[]; args?: string[]; env: { name: string; value: string }[] };
const containerOf = (manifest: Record<string, unknown>) =>
  (manifest as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec.containers[0]!;
const envOf = (manifest: Record<string, unknown>) => Object.fromEntries(containerOf(manifest).env.map((e) => [e.name, e.value]));

/** What a container runtime runs after Kubernetes' `$(VAR)` expansion: `$$` becomes `$`. */
const unescape = (text: string) => text.replaceAll('$$', '$');

test('k8s-job: one seed is a plain Job with the digest-pinned image, the seed in the environment and the fingerprint as annotation', () => {
  const manifest = buildK8sJob(input());
  validateJob(manifest);
  const job = manifest as { metadata: { name: string; annotations: Record<string, string>; labels: Record<string, string> }; spec: Record<string, unknown> };
  assert.equal(job.metadata.name, 'iris-train');
  assert.deepEqual(job.metadata.annotations, {
    'dev.envseal.fingerprint': H('f'),
    'dev.envseal.lock-digest': H('d'),
    'dev.envseal.target': 'deploy',
    'dev.envseal.seeds': '42',
  });
  assert.equal(job.metadata.labels['app.kubernetes.io/managed-by'], 'envseal');
  assert.equal(job.spec.completionMode, undefined);
  assert.equal(job.spec.backoffLimit, 0);
  const container = containerOf(manifest);
  assert.equal(container.image, IMAGE);
  assert.equal(container.command, undefined, "the image's ENTRYPOINT stays, as with envseal run");
  assert.deepEqual(container.args, ['python', 'train.py']);
  const env = envOf(manifest);
  assert.equal(env.ENVSEAL_SEED, '42');
  assert.equal(env.PYTHONHASHSEED, '42');
  assert.equal(env.CUBLAS_WORKSPACE_CONFIG, ':4096:8');
  assert.equal(env.ENVSEAL_FINGERPRINT, H('f'));
  // No command: the image's CMD runs.
  assert.equal(containerOf(buildK8sJob(input({ command: [] }))).args, undefined);
});

test('k8s-job: --seeds makes an Indexed Job whose wrapper maps JOB_COMPLETION_INDEX to the seed, then runs entrypoint and command', () => {
  const manifest = buildK8sJob(input({ seeds: parseSeeds('1-8'), entrypoint: ['tini', '--'], parallelism: 3 }));
  validateJob(manifest);
  const spec = (manifest as { spec: Record<string, unknown> }).spec;
  assert.equal(spec.completionMode, 'Indexed');
  assert.equal(spec.completions, 8);
  assert.equal(spec.parallelism, 3);
  const container = containerOf(manifest);
  assert.deepEqual(container.command!.slice(0, 2), ['/bin/sh', '-c']);
  assert.deepEqual(container.args, ['tini', '--', 'python', 'train.py']);
  const env = envOf(manifest);
  assert.equal(env.ENVSEAL_SEED, undefined, 'the wrapper sets the seed per completion');
  assert.equal(env.PYTHONHASHSEED, undefined);
  assert.equal(env.TF_DETERMINISTIC_OPS, '1');
  assert.equal(buildK8sJob(input({ seeds: [1, 2, 3] })).spec !== undefined, true);
  assert.equal((buildK8sJob(input({ seeds: [1, 2, 3], parallelism: 10 })) as { spec: { parallelism: number } }).spec.parallelism, 3);
});

/** Runs a wrapper the way the pod would: sh -c SCRIPT envseal-seed CMD… with JOB_COMPLETION_INDEX set. */
function runWrapper(command: string[], index: string | undefined) {
  const [sh, flag, script, name] = command.map(unescape);
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  if (index !== undefined) env.JOB_COMPLETION_INDEX = index;
  return spawnSync(sh!, [flag!, script!, name!, 'sh', '-c', 'echo "$ENVSEAL_SEED $PYTHONHASHSEED $*"', 'x', 'a$b'], { env, encoding: 'utf8' });
}

test('k8s-job: the seed wrapper, run by /bin/sh: ranges by arithmetic, lists by case, out-of-range and missing indices fail with exit 2', () => {
  const range = containerOf(buildK8sJob(input({ seeds: parseSeeds('5-12') }))).command!;
  assert.equal(runWrapper(range, '0').stdout, '5 5 a$b\n');
  assert.equal(runWrapper(range, '7').stdout, '12 12 a$b\n');
  const over = runWrapper(range, '8');
  assert.equal(over.status, 2);
  assert.match(over.stderr, /no seed for completion index 8/);
  const list = containerOf(buildK8sJob(input({ seeds: parseSeeds('3,1,4,1,5') }))).command!;
  assert.equal(runWrapper(list, '0').stdout, '3 3 a$b\n');
  assert.equal(runWrapper(list, '3').stdout, '1 1 a$b\n');
  assert.equal(runWrapper(list, '5').status, 2);
  const unset = runWrapper(list, undefined);
  assert.notEqual(unset.status, 0);
  assert.match(unset.stderr, /JOB_COMPLETION_INDEX is not set/);
  assert.equal(runWrapper(range, '1x').status, 2);
  assert.match(seedWrapperScript([4294967294, 4294967295]), /seed=\$\(\(4294967294 \+ i\)\)/);
});

test('k8s-job: "$" in the command and environment is escaped from Kubernetes\' $(VAR) expansion', () => {
  const manifest = buildK8sJob(input({ command: ['sh', '-c', 'echo $(HOME) $$'], env: { PRICE: '$5' } }));
  assert.deepEqual(containerOf(manifest).args, ['sh', '-c', 'echo $$(HOME) $$$$']);
  assert.equal(envOf(manifest).PRICE, '$$5');
});

test('k8s-job: --seeds syntax, canonical form and errors (exit 2)', () => {
  assert.deepEqual(parseSeeds('1-4'), [1, 2, 3, 4]);
  assert.deepEqual(parseSeeds('1,2,5'), [1, 2, 5]);
  assert.deepEqual(parseSeeds(' 0-2 , 10 '), [0, 1, 2, 10]);
  assert.deepEqual(parseSeeds('4294967295'), [4294967295]);
  assert.equal(formatSeeds([0, 1, 2, 10, 11, 7]), '0-2,10-11,7');
  assert.equal(formatSeeds([3]), '3');
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(isEnvsealError(err), String(err));
      return [err.exitCode, err.message];
    }
    return [0, ''];
  };
  for (const [text, why] of [
    ['', /an empty item/],
    ['1,,2', /an empty item/],
    ['a-b', /"a-b" is not an integer or a range/],
    ['-3', /is not an integer/],
    ['8-1', /ends before it starts/],
    ['4294967296', /above 4294967295/],
    ['0-100000', /more than 100000 seeds/],
  ] as const) {
    const [exit, message] = code(() => parseSeeds(text));
    assert.equal(exit, 2, text);
    assert.match(String(message), why);
  }
  assert.equal(code(() => parseSeeds('0-99999'))[0], 0);
});

test('k8s-job builder errors are exit 2 naming the flag', () => {
  const code = (overrides: Partial<K8sJobInput>) => {
    try {
      buildK8sJob(input(overrides));
    } catch (err) {
      assert.ok(isEnvsealError(err));
      return `${err.exitCode} ${err.message}`;
    }
    return 'ok';
  };
  assert.match(code({ name: 'Iris_Train' }), /^2 --name "Iris_Train" is not a valid Job name/);
  assert.match(code({ name: 'a'.repeat(64) }), /^2 --name/);
  assert.match(code({ namespace: '-x' }), /^2 --namespace "-x"/);
  assert.match(code({ seeds: [] }), /^2 no seed/);
  assert.match(code({ env: { ENVSEAL_SEED: '1' } }), /^2 -e ENVSEAL_SEED: envseal sets ENVSEAL_SEED from the seed/);
  assert.match(code({ seeds: [1, 2], command: [], imageCommand: [], entrypoint: [] }), /^2 nothing to run/);
  assert.match(code({ seeds: [1, 2], parallelism: 0 }), /^2 --parallelism 0/);
  assert.equal(code({ namespace: 'ml' }), 'ok');
  // Without a command an Indexed Job runs the image's CMD through the wrapper.
  assert.deepEqual(containerOf(buildK8sJob(input({ seeds: [1, 2], command: [] }))).args, ['python', 'serve.py']);
});

test('k8s-job: default names are DNS labels; the YAML is canonical and the Kubernetes schema rejects what is not a Job', () => {
  assert.equal(defaultJobName('Iris Model_v2', H('ab')), 'iris-model-v2-abababababab');
  assert.equal(defaultJobName('___', H('c')), 'envseal-cccccccccccc');
  assert.ok(defaultJobName('x'.repeat(100), H('c')).length <= 63);
  const manifest = buildK8sJob(input({ seeds: [1, 2] }));
  const text = renderK8sJob(manifest, 'made by a test');
  assert.equal(renderK8sJob(buildK8sJob(input({ seeds: [1, 2] })), 'made by a test'), text);
  assert.ok(text.startsWith('# made by a test\napiVersion: batch/v1\nkind: Job\nmetadata:\n'));
  assert.deepEqual(parse(text), manifest);
  assert.match(text, /ENVSEAL_SEED="\$\$seed"/, 'the wrapper script is one literal block');
  assert.throws(() => validateJob({ ...manifest, spec: { ...(manifest.spec as object), completionMode: 'Sometimes' } }), /completionMode/);
  assert.throws(() => validateJob({ ...manifest, spec: { template: { spec: { containers: [{ image: IMAGE }] } } } }), /name/);
});

const lockText = serializeLock(sampleLock());

function buildRecord(overrides: Record<string, unknown> = {}) {
  return {
    buildRecordVersion: 1 as const,
    builtAt: '2026-11-28T09:00:00.000Z',
    imageId: H('a'),
    tags: ['127.0.0.1:5000/iris:deploy'],
    target: 'deploy' as const,
    fingerprint: sampleLock().fingerprint,
    lockDigest: lockDigest(lockText),
    diffIds: [H('1')],
    reproducible: true,
    pushed: [{ tag: '127.0.0.1:5000/iris:deploy', digest: H('9') }],
    steps: 12,
    ...overrides,
  };
}

async function project(build: unknown, lock = lockText) {
  const tmp = await makeTempDir('envseal-k8s-');
  await writeFile(join(tmp.dir, 'envseal.lock'), lock);
  await mkdir(join(tmp.dir, '.envseal/builds'), { recursive: true });
  if (build !== undefined) await writeFile(join(tmp.dir, '.envseal/builds/deploy.json'), canonicalJson(build));
  return tmp;
}

test('envseal export k8s-job: the same bytes on stdout and in -o, a valid Job pinned to the pushed digest', async () => {
  const { dir, cleanup } = await project(buildRecord());
  try {
    const a = await runCliInProcess(['export', 'k8s-job', '--seeds', '1-8', '--', 'python', 'train.py', '--epochs', '3'], { cwd: dir });
    assert.equal(a.code, 0, a.stderr);
    const b = await runCliInProcess(['export', 'k8s-job', '--seeds', '1-8', '-o', 'job.yaml', '--', 'python', 'train.py', '--epochs', '3'], { cwd: dir });
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /wrote job\.yaml \(Job iris-[0-9a-f]{12}, 8 seeds, 127\.0\.0\.1:5000\/iris:deploy@sha256:9{64}\)/);
    assert.equal(await readFile(join(dir, 'job.yaml'), 'utf8'), a.stdout);
    const manifest = parse(a.stdout) as Record<string, unknown>;
    validateJob(manifest);
    const container = containerOf(manifest);
    assert.equal(container.image, `127.0.0.1:5000/iris:deploy@${H('9')}`);
    assert.deepEqual(container.args, ['python', 'train.py', '--epochs', '3']);
    assert.equal(envOf(manifest).ENVSEAL_IMAGE_ID, H('a'));
    assert.equal(envOf(manifest).ENVSEAL_TARGET, 'deploy');
    assert.equal((manifest as { metadata: { annotations: Record<string, string> } }).metadata.annotations['dev.envseal.fingerprint'], sampleLock().fingerprint);
    const json = await runCliInProcess(['export', 'k8s-job', '--seed', '7', '--name', 'iris-7', '--namespace', 'ml', '-e', 'EPOCHS=3', '--json'], { cwd: dir });
    assert.equal(json.code, 0, json.stderr);
    const out = JSON.parse(json.stdout) as { name: string; seeds: number[]; text: string };
    assert.deepEqual([out.name, out.seeds], ['iris-7', [7]]);
    const single = parse(out.text) as Record<string, unknown>;
    validateJob(single);
    assert.equal(envOf(single).ENVSEAL_SEED, '7');
    assert.equal(envOf(single).EPOCHS, '3');
  } finally {
    await cleanup();
  }
});

test('envseal export k8s-job errors: not pushed and no seed are exit 2 with a hint, another lock exit 1, bad flags exit 2', async () => {
  const local = await project(buildRecord({ pushed: [] }));
  try {
    const r = await runCliInProcess(['export', 'k8s-job', '--seed', '1', '--', 'python', 'train.py'], { cwd: local.dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the deploy image sha256:a{64} was never pushed; a cluster cannot pull a local image ID/);
    assert.match(r.stderr, /hint: push it first: `envseal build --target deploy --push -t REGISTRY\/REPO:TAG`/);
    assert.equal(r.stdout, '');
  } finally {
    await local.cleanup();
  }
  const other = await project(buildRecord({ fingerprint: H('e') }));
  try {
    const r = await runCliInProcess(['export', 'k8s-job', '--seed', '1'], { cwd: other.dir });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /\.envseal\/builds\/deploy\.json is a build of another lock/);
  } finally {
    await other.cleanup();
  }
  const none = await project(undefined);
  try {
    const r = await runCliInProcess(['export', 'k8s-job', '--seed', '1'], { cwd: none.dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot read build record \.envseal\/builds\/deploy\.json/);
  } finally {
    await none.cleanup();
  }
  const ok = await project(buildRecord());
  try {
    const cases: [string[], RegExp][] = [
      [[], /no seed: give --seed N or --seeds A-B \(envseal\.lock declares none\)/],
      [['--seed', '1', '--seeds', '1-2'], /give --seed or --seeds, not both/],
      [['--seed', '-1'], /--seed -1: expected an integer/],
      [['--seeds', '9-1'], /--seeds 9-1: the range "9-1" ends before it starts/],
      [['--seeds', '1-2', '--parallelism', '0'], /--parallelism 0: expected a positive integer/],
      [['--seed', '1', '--name', 'Bad_Name'], /--name "Bad_Name" is not a valid Job name/],
      [['--seed', '1', '-e', 'PYTHONHASHSEED=3'], /-e PYTHONHASHSEED: envseal sets PYTHONHASHSEED from the seed/],
      [['--seed', '1', '--check', '-o', 'job.yaml'], /--check is for `envseal export`/],
    ];
    for (const [args, message] of cases) {
      const r = await runCliInProcess(['export', 'k8s-job', ...args], { cwd: ok.dir });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  } finally {
    await ok.cleanup();
  }
  // A seed the spec declares is the default.
  const seeded = finalizeLock({ ...sampleDraft(), declared: { ...sampleDraft().declared, seed: 11 } });
  const declared = await project(buildRecord({ fingerprint: seeded.fingerprint, lockDigest: lockDigest(serializeLock(seeded)) }), serializeLock(seeded));
  try {
    const r = await runCliInProcess(['export', 'k8s-job'], { cwd: declared.dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(envOf(parse(r.stdout) as Record<string, unknown>).ENVSEAL_SEED, '11');
  } finally {
    await declared.cleanup();
  }
});
