/**
 * JUnit XML, the test-report format CI servers read (GitLab's `artifacts:reports:junit`, Jenkins, the GitHub
 * test-report actions). The shape written is the one GitLab's parser reads: `testsuites` › `testsuite` ›
 * `testcase` (name, classname, time), with a `failure`, `error` or `skipped` child whose `message` attribute
 * is the one-line reason and whose text is the detail. Pure: a report in, a string out.
 */

export type JunitStatus = 'passed' | 'failed' | 'error' | 'skipped';

export interface JunitCase {
  name: string;
  classname: string;
  status: JunitStatus;
  /** Seconds; GitLab shows it per test. */
  time: number;
  /** One line: the failure's summary, the error message or why it was skipped. */
  message?: string;
  /** The detail lines (what differs, the fix). */
  text?: string;
}

export interface JunitSuite {
  name: string;
  /** ISO 8601, when the run started. */
  timestamp: string;
  time: number;
  cases: JunitCase[];
}

// XML 1.0 allows tab, newline, carriage return and the ranges below; anything else (other C0 controls such as
// the ANSI escape, lone surrogates, U+FFFE/U+FFFF) makes a parser reject the whole file.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function visible(text: string): string {
  return text.replace(NOT_XML_CHAR, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Escapes text content: `&` and `<` always, `>` so that `]]>` cannot appear; invalid characters made visible. */
export function escapeXmlText(text: string): string {
  return visible(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes an attribute value (double-quoted); tab and line breaks as references, which attribute normalisation would otherwise turn into spaces. */
export function escapeXmlAttribute(text: string): string {
  return escapeXmlText(text).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

const seconds = (t: number) => (Number.isFinite(t) && t > 0 ? t : 0).toFixed(3);

function renderCase(c: JunitCase): string {
  const open = `    <testcase name="${escapeXmlAttribute(c.name)}" classname="${escapeXmlAttribute(c.classname)}" time="${seconds(c.time)}"`;
  if (c.status === 'passed') return `${open}/>`;
  const tag = c.status === 'failed' ? 'failure' : c.status;
  const message = c.message === undefined ? '' : ` message="${escapeXmlAttribute(c.message)}"`;
  const type = c.status === 'skipped' ? '' : ` type="${escapeXmlAttribute(c.name)}"`;
  const child = c.text ? `<${tag}${message}${type}>${escapeXmlText(c.text)}</${tag}>` : `<${tag}${message}${type}/>`;
  return `${open}>\n      ${child}\n    </testcase>`;
}

/** The whole document, UTF-8, ending in a newline. */
export function renderJunit(suite: JunitSuite): string {
  const count = (s: JunitStatus) => suite.cases.filter((c) => c.status === s).length;
  const totals = `tests="${suite.cases.length}" failures="${count('failed')}" errors="${count('error')}" skipped="${count('skipped')}" time="${seconds(suite.time)}"`;
  const name = escapeXmlAttribute(suite.name);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${name}" ${totals}>`,
    `  <testsuite name="${name}" ${totals} timestamp="${escapeXmlAttribute(suite.timestamp)}">`,
    ...suite.cases.map(renderCase),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
