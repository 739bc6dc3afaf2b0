/**
 * A run record in the conventions experiment trackers read, so a training script can log where its result
 * came from. MLflow: `envseal.*` tags plus MLflow's own system tags for the git source and the Docker image
 * (`mlflow.source.git.*`, `mlflow.docker.image.*`, as mlflow/utils/mlflow_tags.py names them). Tag values are
 * strings; facts the record does not have are left out rather than written as "null". Pure.
 */
import type { RunRecord } from './schema.js';

/** The image by digest when it was pushed (`repo@sha256:…`), else its local image ID. */
export function imageDigestOf(record: RunRecord): string {
  return record.image.repoDigests[0] ?? record.image.id;
}

export function mlflowTags(record: RunRecord): Record<string, string> {
  const tags: Record<string, string> = {
    'envseal.run_id': record.runId,
    'envseal.fingerprint': record.environment.fingerprint,
    'envseal.lock_digest': record.environment.lockDigest,
    'envseal.image_id': record.image.id,
    'envseal.image_digest': imageDigestOf(record),
    'envseal.image_ref': record.image.reference,
    'envseal.base_digest': record.image.baseDigest,
    'envseal.target': record.target,
    'envseal.version': record.envsealVersion,
    'mlflow.docker.image.uri': record.image.repoDigests[0] ?? record.image.reference,
    'mlflow.docker.image.id': record.image.id,
  };
  if (record.seed !== null) tags['envseal.seed'] = String(record.seed);
  if (record.outcome.exitCode !== null) tags['envseal.exit_code'] = String(record.outcome.exitCode);
  if (record.git) {
    tags['envseal.git_dirty'] = String(record.git.dirty);
    if (record.git.commit) tags['mlflow.source.git.commit'] = record.git.commit;
    if (record.git.branch) tags['mlflow.source.git.branch'] = record.git.branch;
    if (record.git.remote) tags['mlflow.source.git.repoURL'] = record.git.remote.url;
  }
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
