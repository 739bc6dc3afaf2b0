/**
 * `envseal verify`: every check that applies, as a report. Exit 0 only if all pass; a failed check is exit 1;
 * bad input (a malformed record, a missing image) and outside failures keep their own exit codes (2, 3).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DockerEngine, ImageInfo, Logger } from '../core/ports.js';
import { inputError, isEnvsealError } from '../core/errors.js';
import { DEFAULT_DOCKERFILE, LABEL_FINGERPRINT, LABEL_LOCK_DIGEST, LABEL_TARGET, type TargetName } from '../core/image-contract.js';
import { formatDrift } from '../core/drift.js';
import { lockDigest } from '../lock/lock-file.js';
import type { Lock } from '../lock/schema.js';
import { readRunRecord } from '../record/store.js';
import { parseDpkgQuery } from '../ecosystems/apt/resolve-apt.js';
import { captureContainerOutput } from '../core/container-output.js';
import { compareContents, contentsProblems, type ObservedPython } from './verify/compare-contents.js';
import { renderFromLock, type GenerateDeps } from './generate-dockerfile.js';
import { checkLock } from './lock-environment.js';
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
  engine: DockerEngine;
  logger: Logger;
}

export async function verifyEnvironment(paths: ProjectPaths, request: VerifyRequest, deps: VerifyDeps): Promise<VerifyReport> {
  const checks: VerifyCheck[] = [];
  const lockRel = toRel(paths.dir, paths.lock);

  const { lock, drift } = await checkLock(paths);
  checks.push(
    drift.length
      ? { name: 'lock-fresh', ok: false, summary: `${lockRel} is stale`, details: drift.map(formatDrift), fix: 'run `envseal lock` and commit the result' }
      : { name: 'lock-fresh', ok: true, summary: `${lockRel} matches the spec and manifests`, details: [] },
  );

  const rendered = await renderFromLock(paths, deps);
  const digest = lockDigest(rendered.lockText);
  const dockerfileRel = request.dockerfile ?? DEFAULT_DOCKERFILE;
  const onDisk = await readFile(join(paths.dir, dockerfileRel), 'utf8').catch(() => null);
  checks.push(
    onDisk === null
      ? { name: 'dockerfile', ok: false, summary: `${dockerfileRel} does not exist`, details: [], fix: 'run `envseal generate` and commit it' }
      : onDisk === rendered.text
        ? { name: 'dockerfile', ok: true, summary: `${dockerfileRel} is what the lock renders`, details: [] }
        : { name: 'dockerfile', ok: false, summary: `${dockerfileRel} is not what the lock renders`, details: [], fix: 'run `envseal generate`' },
  );

  if (request.image) checks.push(...(await verifyImage(request.image, lock, digest, deps)));
  if (request.record) checks.push(await verifyRecord(request.record, paths, lock, deps));
  if (request.extra) checks.push(...(await request.extra(lock)));

  return { ok: checks.every((c) => c.ok), fingerprint: lock.fingerprint, checks };
}

async function verifyImage(ref: string, lock: Lock, digest: string, deps: VerifyDeps): Promise<VerifyCheck[]> {
  const info = await deps.engine.inspectImage(ref);
  if (!info) {
    throw inputError('verify.image-missing', `image ${ref} does not exist locally`, { hint: 'build it (`envseal build`) or pull it first' });
  }
  const checks: VerifyCheck[] = [];
  const label = info.labels[LABEL_FINGERPRINT];
  const target = (info.labels[LABEL_TARGET] === 'deploy' ? 'deploy' : 'dev') as TargetName;
  checks.push(
    label === lock.fingerprint
      ? { name: 'image-label', ok: true, summary: `${ref} (${target}) carries the lock's fingerprint`, details: [] }
      : {
          name: 'image-label',
          ok: false,
          summary: `${ref} carries fingerprint ${label ?? '(none)'}, the lock has ${lock.fingerprint}`,
          details: info.labels[LABEL_LOCK_DIGEST] && info.labels[LABEL_LOCK_DIGEST] !== digest ? [`lock digest label ${info.labels[LABEL_LOCK_DIGEST]} ≠ ${digest}`] : [],
          fix: `rebuild it from this lock: \`envseal build --target ${target}\``,
        },
  );
  const observed = await readImageContents(info, lock, deps);
  const problems = contentsProblems(compareContents(lock, target, observed));
  checks.push(
    problems.length
      ? {
          name: 'image-contents',
          ok: false,
          summary: `${ref} does not contain exactly what the lock pins (${problems.length} difference${problems.length === 1 ? '' : 's'})`,
          details: problems,
          fix: `rebuild it from this lock (\`envseal build --target ${target} --no-cache\`); do not install packages into images by hand`,
        }
      : { name: 'image-contents', ok: true, summary: `${ref} has exactly the locked Python and apt packages`, details: [] },
  );
  return checks;
}

const CONTENTS_PY = String.raw`
import json, sysconfig
from importlib import metadata
paths = sysconfig.get_paths()
dists = []
for d in metadata.distributions():
    try:
        loc = str(d.locate_file(""))
    except Exception:
        loc = ""
    dists.append({"name": d.metadata["Name"] or "", "version": d.version or "", "location": loc})
print("__ENVSEAL_PY__" + json.dumps({"siteDirs": sorted({paths["purelib"], paths["platlib"]}), "dists": dists}))
`;
const DPKG = `dpkg-query -W -f='\${Package}\\t\${Version}\\t\${Architecture}\\t\${db:Status-Abbrev}\\n'`;

/** Reads the installed Python distributions and Debian packages from a container of the image. */
async function readImageContents(info: ImageInfo, lock: Lock, deps: VerifyDeps) {
  const python = lock.python ? (lock.python.venv ? `${lock.python.venv}/bin/python` : lock.python.interpreter) : null;
  const script = [
    `if command -v dpkg-query >/dev/null 2>&1; then echo __ENVSEAL_DPKG__; ${DPKG}; echo __ENVSEAL_DPKG_END__; fi`,
    python ? `${python} -c '${CONTENTS_PY.replace(/'/g, `'\\''`)}'` : 'true',
  ].join('\n');
  const run = await captureContainerOutput(deps.engine, { image: info.id, cmd: ['/bin/sh', '-c', script], networkMode: 'none', user: '0' });
  const debsText = /__ENVSEAL_DPKG__\n([\s\S]*?)__ENVSEAL_DPKG_END__/.exec(run.stdout)?.[1];
  const pyLine = run.stdout.split('\n').find((l) => l.startsWith('__ENVSEAL_PY__'));
  const pythonObserved = pyLine ? (JSON.parse(pyLine.slice('__ENVSEAL_PY__'.length)) as ObservedPython) : null;
  let baseDebs = null;
  if (debsText !== undefined && lock.apt) {
    if (!(await deps.engine.inspectImage(lock.base.pinned))) await deps.engine.pullImage(lock.base.pinned, { platform: lock.base.platform });
    const base = await captureContainerOutput(deps.engine, { image: lock.base.pinned, cmd: ['/bin/sh', '-c', DPKG], networkMode: 'none', user: '0' });
    baseDebs = parseDpkgQuery(base.stdout);
  }
  return { python: pythonObserved, debs: debsText === undefined ? null : parseDpkgQuery(debsText), baseDebs };
}

async function verifyRecord(file: string, paths: ProjectPaths, lock: Lock, deps: VerifyDeps): Promise<VerifyCheck> {
  const record = await readRunRecord(file);
  const rel = toRel(paths.dir, file);
  const details: string[] = [];
  if (record.environment.fingerprint !== lock.fingerprint) {
    details.push(`record fingerprint ${record.environment.fingerprint} ≠ lock fingerprint ${lock.fingerprint}`);
  }
  try {
    const info = await deps.engine.inspectImage(record.image.id);
    if (info && info.labels[LABEL_FINGERPRINT] !== record.environment.fingerprint) {
      details.push(`image ${record.image.id} now carries fingerprint ${info.labels[LABEL_FINGERPRINT] ?? '(none)'}, the record says ${record.environment.fingerprint}`);
    }
  } catch (err) {
    // The image is optional evidence; an unreachable engine must not hide the fingerprint result.
    if (!isEnvsealError(err)) throw err;
    deps.logger.warn(`could not inspect the record's image: ${err.message}`);
  }
  return details.length
    ? { name: 'record', ok: false, summary: `${rel} was not made with this lock`, details, fix: 'rerun the experiment with the current lock (`envseal run`), or check out the lock the record was made with' }
    : { name: 'record', ok: true, summary: `${rel} was made with this lock (run ${record.runId})`, details: [] };
}
