/**
 * `envseal reproduce`, the pure part: what a run record allows (is it usable, where can its image come from,
 * which environment the rerun gets) and what the comparison means (exit code, report lines). No I/O here.
 */
import { checkFailed, inputError } from '../../core/errors.js';
import { REDACTED } from '../../core/url-credentials.js';
import type { DataDigest } from '../../record/data-digest.js';
import type { RunRecord } from '../../record/schema.js';
import type { OutputComparison } from './compare.js';

/** Where the recorded image can come from, in the order they are tried. */
export type ImageSource =
  | { kind: 'local'; imageId: string }
  | { kind: 'pull'; reference: string }
  | { kind: 'rebuild'; commit: string; projectPath: string; target: RunRecord['target'] };

export function planImageSources(record: RunRecord): ImageSource[] {
  const sources: ImageSource[] = [{ kind: 'local', imageId: record.image.id }];
  for (const reference of record.image.repoDigests) sources.push({ kind: 'pull', reference });
  if (record.git?.commit) sources.push({ kind: 'rebuild', commit: record.git.commit, projectPath: record.git.projectPath, target: record.target });
  return sources;
}

/** A record of a run that never started has no command result to re-create. */
export function assertUsable(record: RunRecord, file: string): void {
  if (record.outcome.error) {
    throw inputError('reproduce.unusable', `${file}: the recorded run never started (${record.outcome.error.code}: ${record.outcome.error.message})`, {
      hint: 'reproduce a record of a run that ran; list them in .envseal/runs/',
    });
  }
  if (record.outcome.interrupted) {
    throw inputError('reproduce.unusable', `${file}: the recorded run was interrupted (${record.outcome.interruptReason}), so its outputs are not a result`, {
      hint: 'reproduce a record of a run that finished',
    });
  }
}

/**
 * The rerun's own environment: the recorded `--env` values, except those the record redacted (secrets are
 * kept by name only), which must come from the caller's environment under the same name.
 */
export function planUserEnv(record: RunRecord, lookup: (name: string) => string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  const missing: string[] = [];
  for (const [name, value] of Object.entries(record.env.user)) {
    if (!value.includes(REDACTED)) {
      env[name] = value;
      continue;
    }
    const given = lookup(name);
    if (given === undefined) missing.push(name);
    else env[name] = given;
  }
  if (missing.length) {
    throw inputError(
      'reproduce.secret-missing',
      `the record keeps ${missing.join(', ')} by name only (a secret): set ${missing.length === 1 ? 'it' : 'them'} in the environment`,
      {
        hint: `e.g. ${missing[0]}=... envseal reproduce <record>`,
        data: { missing },
      },
    );
  }
  return env;
}

/** Inputs whose current content differs from the recorded digest (null: the input is gone). */
export function changedInputs(recorded: RunRecord['inputs'], current: Map<string, DataDigest | null>): string[] {
  const changed: string[] = [];
  for (const input of recorded) {
    const now = current.get(input.path);
    if (!now) changed.push(`${input.path}: missing`);
    else if (now.digest !== input.content.digest)
      changed.push(`${input.path}: content differs (recorded ${short(input.content.digest)}, now ${short(now.digest)})`);
  }
  return changed;
}

export function refuseChangedInputs(changed: string[]): void {
  if (!changed.length) return;
  throw checkFailed(
    'reproduce.inputs-changed',
    `${changed.length} recorded input${changed.length === 1 ? ' has' : 's have'} changed: ${changed.map((c) => c.split(':')[0]).join(', ')}`,
    {
      details: changed,
      hint: 'restore the inputs the run used (the record holds their digests), then reproduce again',
    },
  );
}

export interface ReproduceReport {
  ok: boolean;
  original: string;
  runId: string;
  record: string;
  image: { id: string; source: ImageSource['kind'] };
  /** The original run had uncommitted changes: the rerun used today's files, which may differ from what ran. */
  originalDirty: boolean;
  exitCode: { original: number | null; rerun: number };
  outputs: OutputComparison[];
  notes: string[];
}

/** Exit 0 only when the command ended the same way and every output is byte-identical. */
export function reportExitCode(report: Pick<ReproduceReport, 'exitCode' | 'outputs'>): 0 | 1 {
  return report.exitCode.original === report.exitCode.rerun && report.outputs.every((o) => o.status === 'identical') ? 0 : 1;
}

export function formatReport(report: ReproduceReport): string[] {
  const lines = [`reproduce ${report.original} → run ${report.runId} (image ${report.image.id}, ${IMAGE_SOURCE_TEXT[report.image.source]})`];
  for (const note of report.notes) lines.push(`note: ${note}`);
  if (report.exitCode.original !== report.exitCode.rerun) lines.push(`exit code: ${report.exitCode.original ?? 'none'} → ${report.exitCode.rerun}`);
  for (const output of report.outputs) {
    lines.push(`${output.status === 'identical' ? 'same' : 'DIFF'} ${output.path}: ${OUTPUT_STATUS_TEXT[output.status]}`);
    for (const file of output.files) {
      lines.push(`       ${file.path}: ${file.change}`);
      if (file.change === 'content') for (const s of file.summary) lines.push(`         ${s}`);
    }
    if (output.note) lines.push(`       ${output.note}`);
  }
  const differing = report.outputs.filter((o) => o.status !== 'identical').length;
  lines.push(
    report.ok
      ? `reproduced: ${report.outputs.length} output${report.outputs.length === 1 ? '' : 's'} byte-identical`
      : `not reproduced: ${differing} of ${report.outputs.length} outputs differ${report.exitCode.original !== report.exitCode.rerun ? ', and the exit code' : ''}`,
  );
  return lines;
}

const IMAGE_SOURCE_TEXT: Record<ImageSource['kind'], string> = {
  local: 'present locally',
  pull: 'pulled by its recorded digest',
  rebuild: 'rebuilt from the lock at the recorded commit',
};

const OUTPUT_STATUS_TEXT: Record<OutputComparison['status'], string> = {
  identical: 'byte-identical',
  added: 'produced now, not by the original run',
  removed: 'produced by the original run, not now',
  changed: 'content differs',
};

function short(digest: string): string {
  return digest.slice(0, 'sha256:'.length + 12);
}
