/**
 * `envseal verify`: every check that applies, as a report. Exit 0 only if all pass; a failed check is exit 1;
 * bad input (a malformed record, a missing image) and outside failures keep their own exit codes (2, 3).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, ContainerEngine, ImageInfo, Logger } from '../core/ports.js';
import { inputError, isEnvsealError } from '../core/errors.js';
import {
  DEFAULT_DOCKERFILE,
  LABEL_FINGERPRINT,
  LABEL_LOCK_DIGEST,
  LABEL_SBOM_DIGEST,
  LABEL_TARGET,
  SBOM_PATH_IN_IMAGE,
  type TargetName,
} from '../core/image-contract.js';
import { formatDrift } from '../core/drift.js';
import { lockDigest } from '../lock/lock-file.js';
import type { Lock } from '../lock/schema.js';
import { ECOSYSTEMS } from '../ecosystems/registry.js';
import { readSbomFile, renderFromLock, type GenerateDeps, type RenderedDockerfile } from './generate-dockerfile.js';
import { checkLock } from './lock-environment.js';
import type { OpenArtifacts } from './attachments.js';
import { toRel, type ProjectPaths } from './load-inputs.js';

export interface VerifyCheck {
  name: string;
  ok: boolean;
  summary: string;
  details: string[];
  /** How to fix it, when it failed. */
  fix?: string;
}

export interface VerifyReport {
  ok: boolean;
  fingerprint: string;
  checks: VerifyCheck[];
}

export interface VerifyRequest {
  image?: string;
  record?: string;
  dockerfile?: string;
  /** Extra checks contributed by other use cases (e.g. the rebuild check). */
  extra?: (lock: Lock) => Promise<VerifyCheck[]>;
}

export interface VerifyDeps extends GenerateDeps {
  /**
   * The engine, asked for only by the checks that need one (--image, --record): the lock and Dockerfile
   * checks load no engine adapter and start nothing, so a plain `verify` stays fast.
   */
  engine: () => Promise<ContainerEngine>;
  logger: Logger;
  /** When given, each check's duration is measured (for reports that show it, such as JUnit). */
  clock?: Clock;
  /** The registry's artifacts, for `--image REGISTRY/REPO@sha256:…` (attached SBOM and provenance). */
  artifacts?: OpenArtifacts;
}

/** Milliseconds each check took, in report order; checks made together (the image's two) share their time evenly. */
export type CheckDurations = number[];

/** The report, and how long each check took (zeros without a clock). */
export async function verifyEnvironment(
  paths: ProjectPaths,
  request: VerifyRequest,
  deps: VerifyDeps,
): Promise<{ report: VerifyReport; durations: CheckDurations }> {
  const checks: VerifyCheck[] = [];
  const durations: CheckDurations = [];
  const now = () => deps.clock?.now().getTime() ?? 0;
  let mark = now();
  const timed = (made: VerifyCheck[]) => {
    const t = now();
    checks.push(...made);
    durations.push(...made.map(() => (t - mark) / made.length));
    mark = t;
  };
  const lockRel = toRel(paths.dir, paths.lock);

  const { lock, lockText, drift } = await checkLock(paths);
  timed([
    drift.length
      ? { name: 'lock-fresh', ok: false, summary: `${lockRel} is stale`, details: drift.map(formatDrift), fix: 'run `envseal lock` and commit the result' }
      : { name: 'lock-fresh', ok: true, summary: `${lockRel} matches the spec and manifests`, details: [] },
  ]);

  const rendered = await renderFromLock(paths, deps, { command: 'verify', loaded: { lock, text: lockText } });
  const digest = lockDigest(rendered.lockText);
  timed([await dockerfileCheck(paths, request.dockerfile ?? DEFAULT_DOCKERFILE, rendered)]);

  if (request.image) {
    timed(await verifyImage(request.image, lock, { lock: digest, sbom: rendered.sbom.digest }, deps));
    const { registryDigestRef, verifyAttachments } = await import('./attachments.js');
    const registryRef = registryDigestRef(request.image);
    if (registryRef && deps.artifacts) timed([await verifyAttachments(registryRef, lock, rendered.sbom.text, deps.artifacts)]);
  }
  if (request.record) timed([await verifyRecord(request.record, paths, lock, deps)]);
  if (request.extra) timed(await request.extra(lock));

  return { report: { ok: checks.every((c) => c.ok), fingerprint: lock.fingerprint, checks }, durations };
}

/** The Dockerfile and the SBOM file it copies into the image must be what the lock renders. */
async function dockerfileCheck(paths: ProjectPaths, dockerfileRel: string, rendered: RenderedDockerfile): Promise<VerifyCheck> {
  const sbomRel = toRel(paths.dir, rendered.sbom.file);
  const onDisk = await readFile(join(paths.dir, dockerfileRel), 'utf8').catch(() => null);
  const sbomOnDisk = await readSbomFile(rendered.sbom.file, sbomRel);
  const problems = [
    ...(onDisk === null ? [`${dockerfileRel} does not exist`] : onDisk === rendered.text ? [] : [`${dockerfileRel} is not what the lock renders`]),
    ...(sbomOnDisk === null ? [`${sbomRel} does not exist`] : sbomOnDisk === rendered.sbom.text ? [] : [`${sbomRel} is not the lock's SBOM`]),
  ];
  if (!problems.length) return { name: 'dockerfile', ok: true, summary: `${dockerfileRel} and ${sbomRel} are what the lock renders`, details: [] };
  return { name: 'dockerfile', ok: false, summary: problems.join('; '), details: [], fix: 'run `envseal generate` and commit the result' };
}

async function verifyImage(ref: string, lock: Lock, digests: { lock: string; sbom: string }, deps: VerifyDeps): Promise<VerifyCheck[]> {
  const engine = await deps.engine();
  let info = await engine.inspectImage(ref);
  // A digest names exactly one image: pulling it is safe, and it is what CI on a fresh runner needs.
  if (!info && /@sha256:[0-9a-f]{64}$/.test(ref)) {
    await engine.pullImage(ref, { platform: lock.base.platform });
    info = await engine.inspectImage(ref);
  }
  if (!info) {
    throw inputError('verify.image-missing', `image ${ref} does not exist locally`, {
      hint: 'build it (`envseal build`) or pull it first (a REPOSITORY@sha256:… reference is pulled)',
    });
  }
  const checks: VerifyCheck[] = [];
  const label = info.labels[LABEL_FINGERPRINT];
  const target = (info.labels[LABEL_TARGET] === 'deploy' ? 'deploy' : 'dev') as TargetName;
  const sbomLabel = info.labels[LABEL_SBOM_DIGEST];
  const rebuild = `rebuild it from this lock: \`envseal build --target ${target}\``;
  if (label !== lock.fingerprint) {
    const lockLabel = info.labels[LABEL_LOCK_DIGEST];
    checks.push({
      name: 'image-label',
      ok: false,
      summary: `${ref} carries fingerprint ${label ?? '(none)'}, the lock has ${lock.fingerprint}`,
      details: lockLabel && lockLabel !== digests.lock ? [`lock digest label ${lockLabel} ≠ ${digests.lock}`] : [],
      fix: rebuild,
    });
  } else if (sbomLabel !== digests.sbom) {
    checks.push({
      name: 'image-label',
      ok: false,
      summary: `${ref} carries SBOM digest ${sbomLabel ?? '(none)'}, the lock's SBOM is ${digests.sbom}`,
      details: [`label ${LABEL_SBOM_DIGEST}`],
      fix: rebuild,
    });
  } else {
    checks.push({ name: 'image-label', ok: true, summary: `${ref} (${target}) carries the lock's fingerprint and SBOM digest`, details: [] });
  }
  const problems = await imageContentProblems(info, lock, target, digests.sbom, engine);
  checks.push(
    problems.length
      ? {
          name: 'image-contents',
          ok: false,
          summary: `${ref} does not contain exactly what the lock pins (${problems.length} difference${problems.length === 1 ? '' : 's'})`,
          details: problems,
          fix: `rebuild it from this lock (\`envseal build --target ${target} --no-cache\`); do not install packages into images by hand`,
        }
      : { name: 'image-contents', ok: true, summary: `${ref} has exactly the locked Python and apt packages and the lock's SBOM`, details: [] },
  );
  return checks;
}

/** The difference between the SBOM file an image holds (`sha256sum` output, or null) and the lock's. */
export function sbomFileProblems(output: string | null, expected: string): string[] {
  const hex = /^([0-9a-f]{64})\s/.exec(output ?? '')?.[1];
  if (!hex) return [`${SBOM_PATH_IN_IMAGE} is missing from the image`];
  return `sha256:${hex}` === expected ? [] : [`${SBOM_PATH_IN_IMAGE} has digest sha256:${hex}, the lock's SBOM is ${expected}`];
}

/**
 * Each wing with a contents check prints what the image holds (one container of the image, and one of the base
 * for wings that compare with it); each wing then lists its differences from the lock. The same container
 * hashes the SBOM file the image carries.
 */
async function imageContentProblems(info: ImageInfo, lock: Lock, target: TargetName, sbomDigest: string, engine: ContainerEngine): Promise<string[]> {
  const { captureContainerOutput } = await import('../core/container-output.js');
  const checked = ECOSYSTEMS.flatMap((wing) => {
    const section = (lock as Record<string, unknown>)[wing.id];
    return section && wing.contents ? [{ id: wing.id, section, contents: wing.contents }] : [];
  });
  const marked = (scripts: { id: string; script: string }[]) =>
    scripts.map(({ id, script }) => `echo __ENVSEAL_BEGIN_${id}__; ( ${script} ); echo __ENVSEAL_END_${id}__`).join('\n');
  const outputOf = (stdout: string, id: string) => new RegExp(`__ENVSEAL_BEGIN_${id}__\\n([\\s\\S]*?)__ENVSEAL_END_${id}__`).exec(stdout)?.[1] ?? null;
  const sbomScript = { id: 'sbomfile', script: `sha256sum ${SBOM_PATH_IN_IMAGE} 2>/dev/null || true` };
  const run = await captureContainerOutput(engine, {
    image: info.id,
    cmd: ['/bin/sh', '-c', marked([...checked.map((c) => ({ id: c.id, script: c.contents.script(c.section) })), sbomScript])],
    networkMode: 'none',
    user: '0',
  });
  const withBase = checked.filter((c) => c.contents.baseScript);
  let baseStdout = '';
  if (withBase.length) {
    if (!(await engine.inspectImage(lock.base.pinned))) await engine.pullImage(lock.base.pinned, { platform: lock.base.platform });
    const script = marked(withBase.map((c) => ({ id: c.id, script: c.contents.baseScript!(c.section) })));
    baseStdout = (await captureContainerOutput(engine, { image: lock.base.pinned, cmd: ['/bin/sh', '-c', script], networkMode: 'none', user: '0' })).stdout;
  }
  return [
    ...checked.flatMap((c) => c.contents.compare(c.section, target, outputOf(run.stdout, c.id), c.contents.baseScript ? outputOf(baseStdout, c.id) : null)),
    ...sbomFileProblems(outputOf(run.stdout, 'sbomfile'), sbomDigest),
  ];
}

async function verifyRecord(file: string, paths: ProjectPaths, lock: Lock, deps: VerifyDeps): Promise<VerifyCheck> {
  const { readRunRecord } = await import('../record/store.js');
  const record = await readRunRecord(file);
  const rel = toRel(paths.dir, file);
  const details: string[] = [];
  if (record.environment.fingerprint !== lock.fingerprint) {
    details.push(`record fingerprint ${record.environment.fingerprint} ≠ lock fingerprint ${lock.fingerprint}`);
  }
  try {
    const info = await (await deps.engine()).inspectImage(record.image.id);
    if (info && info.labels[LABEL_FINGERPRINT] !== record.environment.fingerprint) {
      details.push(
        `image ${record.image.id} now carries fingerprint ${info.labels[LABEL_FINGERPRINT] ?? '(none)'}, the record says ${record.environment.fingerprint}`,
      );
    }
  } catch (err) {
    // The image is optional evidence; an unreachable engine must not hide the fingerprint result.
    if (!isEnvsealError(err)) throw err;
    deps.logger.warn(`could not inspect the record's image: ${err.message}`);
  }
  return details.length
    ? {
        name: 'record',
        ok: false,
        summary: `${rel} was not made with this lock`,
        details,
        fix: 'rerun the experiment with the current lock (`envseal run`), or check out the lock the record was made with',
      }
    : { name: 'record', ok: true, summary: `${rel} was made with this lock (run ${record.runId})`, details: [] };
}
