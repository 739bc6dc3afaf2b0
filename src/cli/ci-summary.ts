/**
 * What CI shows of an envseal check command: its `--json` result turned into rows (check, status, summary,
 * fix) and a Markdown job summary. Pure: JSON in, text out. The GitHub Action's entry script uses it.
 */

export interface CheckRow {
  name: string;
  status: 'passed' | 'failed' | 'error';
  summary: string;
  details: string[];
  fix?: string;
}

export interface CommandOutcome {
  /** What ran, e.g. `verify --rebuild`. */
  command: string;
  exitCode: number;
  rows: CheckRow[];
  fingerprint?: string;
}

interface JsonError {
  message?: string;
  hint?: string;
  details?: string[];
  kind?: string;
  data?: { fingerprint?: unknown };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The check a `--check` command makes (verify names its checks itself). */
const CHECK_OF: Record<string, string> = { lock: 'lock-fresh', generate: 'dockerfile' };

/**
 * Reads the `--json` document a command printed: verify's report (`checks`), a `--check` command's result
 * (`ok: true`) or an error (`ok: false, error`). Output that is not JSON becomes one error row.
 */
export function outcomeFromJson(command: string, exitCode: number, stdout: string): CommandOutcome {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    const summary = `envseal printed no JSON result (exit ${exitCode})`;
    return { command, exitCode, rows: [{ name: command.split(' ')[0]!, status: 'error', summary, details: [] }] };
  }
  const fingerprint = str(doc.fingerprint) ?? str((doc.error as JsonError | undefined)?.data?.fingerprint);
  const base = { command, exitCode, ...(fingerprint ? { fingerprint } : {}) };
  const checkName = CHECK_OF[command.split(' ')[0]!] ?? command.split(' ')[0]!;
  if (Array.isArray(doc.checks)) {
    const rows = (doc.checks as Record<string, unknown>[]).map((c): CheckRow => {
      const fix = str(c.fix);
      return {
        name: str(c.name) ?? '?',
        status: c.ok === true ? 'passed' : 'failed',
        summary: str(c.summary) ?? '',
        details: strings(c.details),
        ...(fix ? { fix } : {}),
      };
    });
    return { ...base, rows };
  }
  if (doc.ok === false && doc.error && typeof doc.error === 'object') {
    const e = doc.error as JsonError;
    const hint = str(e.hint);
    const row: CheckRow = {
      name: e.kind === 'check' ? checkName : command.split(' ')[0]!,
      status: e.kind === 'check' ? 'failed' : 'error',
      summary: str(e.message) ?? 'failed',
      details: strings(e.details),
      ...(hint ? { fix: hint } : {}),
    };
    return { ...base, rows: [row] };
  }
  const summary = str(doc.lock) ? `${str(doc.lock)} is up to date` : str(doc.dockerfile) ? `${str(doc.dockerfile)} is up to date` : 'passed';
  return { ...base, rows: [{ name: checkName, status: 'passed', summary, details: [] }] };
}

/** A table cell: no pipe or line break may end the cell or the row; HTML-significant characters are escaped. */
export function markdownCell(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

const ICON = { passed: '✅ passed', failed: '❌ failed', error: '⚠️ error' } as const;

/** The job summary: a heading with the verdict, one table row per check, the fingerprint and the exit code. */
export function renderSummary(outcome: CommandOutcome): string {
  const failed = outcome.rows.filter((r) => r.status !== 'passed').length;
  const verdict =
    outcome.exitCode === 0 ? `all ${outcome.rows.length} check${outcome.rows.length === 1 ? '' : 's'} passed` : `${failed} of ${outcome.rows.length} failed`;
  const lines = [
    `### envseal ${markdownCell(outcome.command)}: ${verdict}`,
    '',
    '| check | status | result | how to fix |',
    '|---|---|---|---|',
    ...outcome.rows.map((r) => {
      const result = [r.summary, ...r.details].join('\n');
      return `| ${markdownCell(r.name)} | ${ICON[r.status]} | ${markdownCell(result)} | ${r.status === 'passed' ? '' : markdownCell(r.fix ?? '')} |`;
    }),
    '',
    ...(outcome.fingerprint ? [`Fingerprint: \`${outcome.fingerprint}\``, ''] : []),
    `Exit code: ${outcome.exitCode}`,
    '',
    '',
  ];
  return lines.join('\n');
}

/** A GitHub workflow command's data: `%`, CR and LF escaped as the runner expects. */
export function escapeWorkflowData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** `::error title=…::message` annotations for the rows that did not pass. */
export function renderAnnotations(outcome: CommandOutcome): string[] {
  const prop = (t: string) => escapeWorkflowData(t).replace(/:/g, '%3A').replace(/,/g, '%2C');
  return outcome.rows
    .filter((r) => r.status !== 'passed')
    .map((r) => `::error title=${prop(`envseal ${r.name}`)}::${escapeWorkflowData([r.summary, ...r.details, ...(r.fix ? [`fix: ${r.fix}`] : [])].join('\n'))}`);
}
