/**
 * `--junit FILE` on verify, `lock --check` and `generate --check`: their checks as a JUnit XML report (one
 * testcase per check; a failed check is a `failure` with its summary as the message and its details and fix
 * as the text; verify's checks that were not asked for are `skipped`; an error that stopped the command, exit 2
 * or 3, is one `error` testcase). The file is written atomically whatever the outcome, so CI gets it from a
 * failing job too.
 */
import { resolve } from 'node:path';
import { describeWriteFailure, writeFileAtomic } from '../core/atomic-write.js';
import { isEnvsealError } from '../core/errors.js';
import type { VerifyCheck, VerifyReport } from '../app/verify-environment.js';
import { renderJunit, type JunitCase, type JunitSuite } from './junit.js';
import type { CommandContext } from './context.js';

/** Every check verify can run, in report order, and what asks for it. */
const VERIFY_CHECKS: { name: string; askedBy: string }[] = [
  { name: 'lock-fresh', askedBy: '' },
  { name: 'dockerfile', askedBy: '' },
  { name: 'image-label', askedBy: '--image REF' },
  { name: 'image-contents', askedBy: '--image REF' },
  { name: 'record', askedBy: '--record FILE' },
  { name: 'rebuild', askedBy: '--rebuild' },
];

function checkText(check: Pick<VerifyCheck, 'details' | 'fix'>): string | undefined {
  const lines = [...check.details, ...(check.fix ? [`fix: ${check.fix}`] : [])];
  return lines.length ? lines.join('\n') : undefined;
}

/** A check as a testcase (`classname` groups them by command in the CI's view). */
export function checkCase(check: VerifyCheck, classname: string, time: number): JunitCase {
  const text = checkText(check);
  return check.ok
    ? { name: check.name, classname, status: 'passed', time }
    : { name: check.name, classname, status: 'failed', time, message: check.summary, ...(text ? { text } : {}) };
}

/** verify's report: the checks it ran, then the ones it did not run as skipped. */
export function verifyCases(report: VerifyReport, durations: number[]): JunitCase[] {
  const classname = 'envseal.verify';
  const ran = report.checks.map((c, i) => checkCase(c, classname, (durations[i] ?? 0) / 1000));
  const skipped = VERIFY_CHECKS.filter((k) => k.askedBy && !report.checks.some((c) => c.name === k.name)).map((k): JunitCase => ({
    name: k.name,
    classname,
    status: 'skipped',
    time: 0,
    message: `not run: pass ${k.askedBy} to run it`,
  }));
  return [...ran, ...skipped];
}

/** An error that stopped the command before its checks could report (or a check-kind error from lock/generate --check). */
export function errorCase(err: unknown, name: string, classname: string, time: number): JunitCase {
  if (isEnvsealError(err)) {
    const text = [...err.details, ...(err.hint ? [`hint: ${err.hint}`] : [])].join('\n');
    const status = err.kind === 'check' ? 'failed' : 'error';
    return { name, classname, status, time, message: err.message, ...(text ? { text } : {}) };
  }
  return { name, classname, status: 'error', time, message: err instanceof Error ? err.message : String(err) };
}

/** The timestamp as the common JUnit XSD spells it (no fraction, no zone; the time is UTC). */
const junitTimestamp = (start: Date) => start.toISOString().slice(0, 19);

export async function writeJunitReport(ctx: CommandContext, file: string, suite: Omit<JunitSuite, 'timestamp' | 'time'>, start: Date): Promise<void> {
  const path = resolve(ctx.io.cwd, file);
  const full: JunitSuite = { ...suite, timestamp: junitTimestamp(start), time: (Date.now() - start.getTime()) / 1000 };
  try {
    await writeFileAtomic(path, renderJunit(full), { mkdir: true });
  } catch (err) {
    throw describeWriteFailure(err, `the JUnit report ${file}`);
  }
}

/** When the command already failed, a report that cannot be written is a warning: the command's own error is the one to exit with. */
export const warnOf = (ctx: CommandContext) => (err: unknown) => ctx.out.logger.warn(isEnvsealError(err) ? err.message : String(err));

/**
 * Runs a `--check` command body and writes its one check to FILE: passed when the body returns, failed when it
 * throws a check failure, error for anything else. The body's error is thrown on unchanged.
 */
export async function withJunitCheck(
  ctx: CommandContext,
  file: string | undefined,
  check: { suite: string; name: string },
  body: () => Promise<void>,
): Promise<void> {
  if (file === undefined) return body();
  const start = new Date();
  const classname = `envseal.${check.suite.replace(/^envseal /, '').replace(/ .*/, '')}`;
  const elapsed = () => (Date.now() - start.getTime()) / 1000;
  try {
    await body();
  } catch (err) {
    await writeJunitReport(ctx, file, { name: check.suite, cases: [errorCase(err, check.name, classname, elapsed())] }, start).catch(warnOf(ctx));
    throw err;
  }
  await writeJunitReport(ctx, file, { name: check.suite, cases: [{ name: check.name, classname, status: 'passed', time: elapsed() }] }, start);
}
