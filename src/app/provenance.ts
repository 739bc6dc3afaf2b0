/**
 * `envseal provenance`: an in-toto statement with a SLSA provenance v1 predicate for the last image `envseal
 * build` made of a target (its build record, `.envseal/builds/<target>.json`, or one named by path), from that
 * record and the lock it was built from. The build record must belong to this lock: a record of another lock
 * would attest dependencies the image does not have.
 */
import { join, resolve } from 'node:path';
import { checkFailed } from '../core/errors.js';
import { toRel } from '../core/paths.js';
import type { TargetName } from '../core/image-contract.js';
import { sourceDateEpoch } from '../dockerfile/render-dockerfile.js';
import { lockDigest } from '../lock/lock-file.js';
import { BUILDS_DIR, readImageBuildRecord } from '../record/image-build-record.js';
import { buildSbomModel } from '../attest/sbom-model.js';
import { buildProvenance, serializeProvenance } from '../attest/provenance.js';
import type { InTotoStatement } from '../attest/in-toto-schema.js';
import { loadLockFile } from './generate-dockerfile.js';
import type { ProjectPaths } from './load-inputs.js';
import { readNpmContents } from './image-sbom.js';

export interface ProvenanceRequest {
  target: TargetName;
  /** A build record file (absolute); default: the project's record of `target`. */
  buildRecord?: string;
  toolVersion: string;
}

export async function generateProvenance(
  paths: ProjectPaths,
  request: ProvenanceRequest,
): Promise<{ text: string; statement: InTotoStatement; warnings: string[] }> {
  const { lock, text: lockText } = await loadLockFile(paths);
  const file = request.buildRecord ?? join(paths.dir, BUILDS_DIR, `${request.target}.json`);
  const label = toRel(paths.dir, resolve(file));
  const build = await readImageBuildRecord(file, label);
  const digest = lockDigest(lockText);
  const lockRel = toRel(paths.dir, paths.lock);
  if (build.fingerprint !== lock.fingerprint || build.lockDigest !== digest) {
    throw checkFailed(
      'provenance.lock-mismatch',
      `${label} is a build of another lock (fingerprint ${build.fingerprint}, lock digest ${build.lockDigest}); ${lockRel} has ${lock.fingerprint}, ${digest}`,
      {
        hint: `build the image from this lock first: \`envseal build --target ${build.target}\``,
      },
    );
  }
  const warnings: string[] = [];
  const npm = lock.npm ? await readNpmContents(paths, lock, warnings) : null;
  // What the built image holds: a deploy image has no dev-only packages.
  const model = buildSbomModel(lock, { toolVersion: request.toolVersion, npm, target: build.target });
  if (!build.revision) warnings.push(`${label} records no git commit (built outside a git checkout, or by an older envseal): the statement names none`);
  const statement = buildProvenance({
    model,
    build,
    lockDigest: digest,
    lockFile: lockRel,
    sourceDateEpoch: sourceDateEpoch(lock),
    toolVersion: request.toolVersion,
  });
  return { text: serializeProvenance(statement), statement, warnings };
}
