/**
 * `envseal export k8s-job`: a Kubernetes batch/v1 Job that runs the project's deploy image as `envseal run`
 * would, for clusters envseal does not drive itself. The image is pinned by the repo digest `build --push`
 * recorded (a cluster pulls by name, never by a local image ID), the environment fingerprint, lock digest and
 * target ride along as annotations (the image labels' names), and the seed is in the environment exactly as
 * `run` sets it. `--seeds 1-8` makes an Indexed Job: completion index i runs the i-th seed.
 *
 * Read the lock and the deploy build record → buildK8sJob (pure: plain data in, a manifest object out) →
 * renderK8sJob (canonical YAML: fixed key order, no anchors, no line folding) → the CLI prints or writes it.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { checkFailed, inputError } from '../core/errors.js';
import { LABEL_FINGERPRINT, LABEL_LOCK_DIGEST, LABEL_TARGET } from '../core/image-contract.js';
import { formatPinnedImageRef, parseImageRef } from '../core/image-ref.js';
import { toRel } from '../core/paths.js';
import { lockDigest } from '../lock/lock-file.js';
import { BUILDS_DIR, readImageBuildRecord } from '../record/image-build-record.js';
import { loadLockFile } from './generate-dockerfile.js';
import type { ProjectPaths } from './load-inputs.js';
import { seedEnvironment } from './run-command.js';

/** Kubernetes' limit on completions of an Indexed Job. */
const MAX_INDEXED_COMPLETIONS = 100_000;
const MAX_SEED = 2 ** 32 - 1;
/** The annotation naming the seeds of the Job (canonical `--seeds` form). */
const ANNOTATION_SEEDS = 'dev.envseal.seeds';
/** A DNS-1123 label: what a Job name must be (its pods' `job-name` label carries it). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Seeds from `--seeds`: `1-8`, `1,2,5`, `0-3,10`, each 0..4294967295, in the order given (a seed may repeat:
 * equal seeds must give equal outputs, which is worth checking).
 */
export function parseSeeds(text: string): number[] {
  const bad = (why: string) =>
    inputError('usage.seeds', `--seeds ${text}: ${why}`, { hint: 'give a range or a list of integers from 0 to 4294967295: --seeds 1-8, --seeds 1,2,5' });
  const seeds: number[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) throw bad(part === '' ? 'an empty item' : `"${part}" is not an integer or a range A-B`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (first > MAX_SEED || last > MAX_SEED) throw bad(`"${part}" is above 4294967295`);
    if (last < first) throw bad(`the range "${part}" ends before it starts`);
    if (seeds.length + (last - first + 1) > MAX_INDEXED_COMPLETIONS) throw bad(`more than ${MAX_INDEXED_COMPLETIONS} seeds (a Kubernetes Indexed Job's limit)`);
    for (let seed = first; seed <= last; seed++) seeds.push(seed);
  }
  return seeds;
}

/** The canonical text of a seed list: runs of consecutive seeds as `A-B`, joined by commas. */
export function formatSeeds(seeds: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < seeds.length;) {
    let j = i;
    while (j + 1 < seeds.length && seeds[j + 1] === seeds[j]! + 1) j++;
    parts.push(j === i ? String(seeds[i]) : `${seeds[i]}-${seeds[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export interface K8sJobInput {
  name: string;
  namespace?: string;
  /** `name[:tag]@sha256:…`: what the cluster pulls. */
  image: string;
  /** The project name, for the `app.kubernetes.io/name` label. */
  project: string;
  fingerprint: string;
  lockDigest: string;
  target: string;
  /** The image's ENTRYPOINT as the lock declares it (an Indexed Job's seed wrapper has to run it itself). */
  entrypoint: readonly string[];
  /** The command (the image's CMD is replaced by it, as with `envseal run -- CMD`). Empty: the image's CMD. */
  command: readonly string[];
  /** The image's CMD as the lock declares it (used by the seed wrapper when `command` is empty). */
  imageCommand: readonly string[];
  /** Environment besides the seed's, in the order given. */
  env: Readonly<Record<string, string>>;
  /** One seed: a plain Job. More: an Indexed Job with one completion per seed. */
  seeds: readonly number[];
  parallelism?: number;
}

/** What the seed decides per run; everything else seedEnvironment sets is the same for every seed. */
const SEED_VARIABLES = ['ENVSEAL_SEED', 'PYTHONHASHSEED'];

/**
 * Kubernetes expands `$(NAME)` in a container's command, args and env values and turns `$$` into `$`:
 * doubling every `$` keeps the text exactly as written.
 */
function literal(text: string): string {
  return text.replaceAll('$', '$$$$');
}

/**
 * The shell script an Indexed Job's container starts with: it turns JOB_COMPLETION_INDEX (set by the Job
 * controller) into ENVSEAL_SEED and PYTHONHASHSEED, which must be set before Python starts, then execs the
 * image's entrypoint and the command (`"$@"`). A run of consecutive seeds is arithmetic, anything else a case.
 */
export function seedWrapperScript(seeds: readonly number[]): string {
  const consecutive = seeds.every((seed, i) => i === 0 || seed === seeds[i - 1]! + 1);
  const lines = ['set -eu', 'i="${JOB_COMPLETION_INDEX:?envseal: JOB_COMPLETION_INDEX is not set (this pod is not part of an Indexed Job)}"'];
  if (consecutive) {
    lines.push(
      `case "$i" in *[!0-9]*|"") echo "envseal: bad completion index $i" >&2; exit 2 ;; esac`,
      `if [ "$i" -ge ${seeds.length} ]; then echo "envseal: no seed for completion index $i" >&2; exit 2; fi`,
      `seed=$((${seeds[0]} + i))`,
    );
  } else {
    lines.push('case "$i" in');
    seeds.forEach((seed, index) => lines.push(`  ${index}) seed=${seed} ;;`));
    lines.push('  *) echo "envseal: no seed for completion index $i" >&2; exit 2 ;;', 'esac');
  }
  // PYTHONHASHSEED is the seed modulo 2^32 (seedEnvironment); every seed here is below 2^32.
  lines.push('export ENVSEAL_SEED="$seed" PYTHONHASHSEED="$seed"', 'exec "$@"');
  return `${lines.join('\n')}\n`;
}

/** The Job manifest as a plain object, keys in the order Kubernetes users read them. */
export function buildK8sJob(input: K8sJobInput): Record<string, unknown> {
  if (!DNS_LABEL.test(input.name) || input.name.length > 63) {
    throw inputError('usage.k8s-name', `--name ${JSON.stringify(input.name)} is not a valid Job name`, {
      hint: 'use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit',
    });
  }
  if (input.namespace !== undefined && (!DNS_LABEL.test(input.namespace) || input.namespace.length > 63)) {
    throw inputError('usage.k8s-namespace', `--namespace ${JSON.stringify(input.namespace)} is not a valid namespace name`, {
      hint: 'use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit',
    });
  }
  if (input.seeds.length === 0) throw inputError('usage.seeds', 'no seed given', { hint: 'give --seed N or --seeds A-B' });
  const indexed = input.seeds.length > 1;
  if (input.parallelism !== undefined && (!Number.isInteger(input.parallelism) || input.parallelism < 1)) {
    throw inputError('usage.parallelism', `--parallelism ${input.parallelism}: expected a positive integer`);
  }
  // As in `envseal run`: the seed's variables, then the caller's (which may replace all but the seed itself).
  const env = new Map(Object.entries(seedEnvironment(input.seeds[0]!)));
  for (const [name, value] of Object.entries(input.env)) {
    if (SEED_VARIABLES.includes(name))
      throw inputError('usage.env', `-e ${name}: envseal sets ${name} from the seed`, { hint: 'give the seed with --seed or --seeds' });
    env.set(name, value);
  }
  // An Indexed Job's wrapper sets these from the completion index.
  if (indexed) for (const name of SEED_VARIABLES) env.delete(name);
  const container: Record<string, unknown> = { name: 'run', image: input.image };
  if (indexed) {
    const argv = [...input.entrypoint, ...(input.command.length ? input.command : input.imageCommand)];
    if (!argv.length) {
      throw inputError('usage.k8s-command', 'nothing to run: give the command after --', {
        hint: 'envseal export k8s-job --seeds 1-8 -- python train.py',
      });
    }
    container.command = ['/bin/sh', '-c', seedWrapperScript(input.seeds), 'envseal-seed'].map(literal);
    container.args = argv.map(literal);
  } else if (input.command.length) {
    container.args = input.command.map(literal);
  }
  container.env = [...env].map(([name, value]) => ({ name, value: literal(value) }));

  const labels = { 'app.kubernetes.io/name': labelValue(input.project), 'app.kubernetes.io/managed-by': 'envseal' };
  const annotations: Record<string, string> = {
    [LABEL_FINGERPRINT]: input.fingerprint,
    [LABEL_LOCK_DIGEST]: input.lockDigest,
    [LABEL_TARGET]: input.target,
    [ANNOTATION_SEEDS]: formatSeeds(input.seeds),
  };
  const spec: Record<string, unknown> = {};
  if (indexed) {
    spec.completionMode = 'Indexed';
    spec.completions = input.seeds.length;
    spec.parallelism = Math.min(input.parallelism ?? input.seeds.length, input.seeds.length);
  }
  // A failed run is a result to look at, not something to retry: the same seed fails the same way.
  spec.backoffLimit = 0;
  spec.template = {
    metadata: { labels, annotations },
    spec: { restartPolicy: 'Never', containers: [container] },
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: input.name, ...(input.namespace !== undefined ? { namespace: input.namespace } : {}), labels, annotations },
    spec,
  };
}

/** A label value from a project name: at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric. */
function labelValue(text: string): string {
  const cleaned = text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned;
}

/** A default Job name: the project name as a DNS label and the fingerprint's first 12 hex digits. */
export function defaultJobName(project: string, fingerprint: string): string {
  const hex = fingerprint.replace(/^sha256:/, '').slice(0, 12);
  const base = project
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63 - hex.length - 1)
    .replace(/-+$/, '');
  return base ? `${base}-${hex}` : `envseal-${hex}`;
}

/** Canonical YAML: a comment saying what made it, then the manifest with keys in buildK8sJob's order. */
export function renderK8sJob(manifest: Record<string, unknown>, comment: string): string {
  const body = stringify(manifest, { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false, indentSeq: true });
  return `# ${comment}\n${body}`;
}

export interface K8sJobRequest {
  name?: string;
  namespace?: string;
  /** `--seed`/`--seeds` parsed; empty: the lock's declared seed. */
  seeds: number[];
  command: string[];
  env: Record<string, string>;
  parallelism?: number;
}

/** The manifest for the project's last pushed deploy build, as YAML text. */
export async function exportK8sJob(paths: ProjectPaths, request: K8sJobRequest): Promise<{ text: string; image: string; seeds: number[]; name: string }> {
  const { lock, text: lockText } = await loadLockFile(paths);
  const target = 'deploy';
  const file = join(paths.dir, BUILDS_DIR, `${target}.json`);
  const label = toRel(paths.dir, file);
  const build = await readImageBuildRecord(file, label);
  const digest = lockDigest(lockText);
  const lockRel = toRel(paths.dir, paths.lock);
  if (build.fingerprint !== lock.fingerprint || build.lockDigest !== digest) {
    throw checkFailed(
      'export.k8s-build-stale',
      `${label} is a build of another lock (fingerprint ${build.fingerprint}); ${lockRel} has ${lock.fingerprint}: the Job would run another environment`,
      { hint: 'build and push the image from this lock: `envseal build --target deploy --push -t REGISTRY/REPO:TAG`' },
    );
  }
  const pushed = build.pushed[0];
  if (!pushed) {
    throw inputError('export.k8s-not-pushed', `${label}: the deploy image ${build.imageId} was never pushed; a cluster cannot pull a local image ID`, {
      hint: 'push it first: `envseal build --target deploy --push -t REGISTRY/REPO:TAG`',
    });
  }
  const image = formatPinnedImageRef(parseImageRef(pushed.tag), pushed.digest);
  const seeds = request.seeds.length ? request.seeds : lock.declared.seed !== undefined ? [lock.declared.seed] : [];
  if (!seeds.length) {
    throw inputError('usage.seeds', `no seed: give --seed N or --seeds A-B (${lockRel} declares none)`, {
      hint: 'a Job that picks its own seed cannot be reproduced: envseal export k8s-job --seed 42 -- python train.py',
    });
  }
  const name = request.name ?? defaultJobName(lock.name, lock.fingerprint);
  const manifest = buildK8sJob({
    name,
    ...(request.namespace !== undefined ? { namespace: request.namespace } : {}),
    image,
    project: lock.name,
    fingerprint: lock.fingerprint,
    lockDigest: digest,
    target,
    entrypoint: lock.targets.deploy.entrypoint ?? [],
    command: request.command,
    imageCommand: lock.targets.deploy.command ?? [],
    env: { ENVSEAL_FINGERPRINT: lock.fingerprint, ENVSEAL_TARGET: target, ENVSEAL_IMAGE_ID: build.imageId, ...request.env },
    seeds,
    ...(request.parallelism !== undefined ? { parallelism: request.parallelism } : {}),
  });
  const text = renderK8sJob(manifest, `envseal export k8s-job: ${lock.name}, environment ${lock.fingerprint}`);
  return { text, image, seeds, name };
}
