/**
 * Checks a JUnit XML report the way CI servers read it. The XML is parsed by a real XML parser (expat, through
 * Python's standard library: the Debian host has python3, which pre-commit also needs), so a file that is not
 * well-formed XML 1.0 fails here as it would in GitLab. The structure is then checked against what GitLab's
 * parser (Gitlab::Ci::Parsers::Test::Junit) reads and what the common JUnit XSD (the Jenkins/Ant one) requires:
 * a `testsuites` root with `testsuite` children, each `testcase` with `name`, `classname` and a decimal
 * `time`, at most one `failure`/`error`/`skipped` child, `failure`/`error` carrying a `message` attribute, and
 * suite counts that match their cases. Why not the XSD itself: no XSD validator is installed here (no
 * xmllint, no lxml, no XML library in node_modules), and GitLab does not validate against it either.
 */
import { spawnSync } from 'node:child_process';

export interface XmlElement {
  tag: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlElement[];
}

const PARSE = `
import json, sys, xml.etree.ElementTree as ET
def walk(e):
    return {"tag": e.tag, "attrs": dict(e.attrib), "text": e.text or "", "children": [walk(c) for c in e]}
print(json.dumps(walk(ET.fromstring(sys.stdin.buffer.read()))))
`;

/** Parses XML with expat; throws with the parser's message (line and column) when it is not well-formed. */
export function parseXml(xml: string | Buffer): XmlElement {
  const run = spawnSync('python3', ['-c', PARSE], { input: xml, encoding: 'utf8' });
  if (run.error) throw new Error(`cannot run python3 to parse XML: ${run.error.message}`);
  if (run.status !== 0) throw new Error(`not well-formed XML: ${run.stderr.trim().split('\n').pop()}`);
  return JSON.parse(run.stdout) as XmlElement;
}

export interface JunitView {
  suites: { name: string; attrs: Record<string, string>; cases: JunitCaseView[] }[];
}

export interface JunitCaseView {
  name: string;
  classname: string;
  time: number;
  status: 'passed' | 'failed' | 'error' | 'skipped';
  message?: string;
  text?: string;
}

const DECIMAL = /^\d+(\.\d+)?$/;
const COUNTS = ['tests', 'failures', 'errors', 'skipped'] as const;

/** Returns every structural problem (empty when the report is what GitLab and the XSD expect). */
export function junitProblems(root: XmlElement): string[] {
  const problems: string[] = [];
  if (root.tag !== 'testsuites') problems.push(`root element is <${root.tag}>, expected <testsuites>`);
  if (!root.children.length) problems.push('no <testsuite>');
  for (const suite of root.children) {
    if (suite.tag !== 'testsuite') problems.push(`<testsuites> holds <${suite.tag}>`);
    for (const a of ['name', 'tests', 'failures', 'errors', 'time', 'timestamp']) if (suite.attrs[a] === undefined) problems.push(`<testsuite> lacks ${a}`);
    if (suite.attrs.timestamp && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(suite.attrs.timestamp)) problems.push(`timestamp ${suite.attrs.timestamp}`);
    const statuses = suite.children.map((c) => caseProblems(c, problems));
    const counted = { tests: statuses.length, failures: 0, errors: 0, skipped: 0 };
    for (const s of statuses) if (s === 'failed') counted.failures++;
    for (const s of statuses) if (s === 'error') counted.errors++;
    for (const s of statuses) if (s === 'skipped') counted.skipped++;
    for (const k of COUNTS) {
      if (suite.attrs[k] !== undefined && Number(suite.attrs[k]) !== counted[k]) problems.push(`testsuite ${k}=${suite.attrs[k]} but ${counted[k]} found`);
    }
  }
  return problems;
}

function caseProblems(c: XmlElement, problems: string[]): JunitCaseView['status'] {
  if (c.tag !== 'testcase') problems.push(`<testsuite> holds <${c.tag}>`);
  for (const a of ['name', 'classname', 'time']) if (!c.attrs[a]) problems.push(`<testcase ${c.attrs.name ?? '?'}> lacks ${a}`);
  if (c.attrs.time !== undefined && !DECIMAL.test(c.attrs.time)) problems.push(`<testcase ${c.attrs.name}> time=${c.attrs.time} is not a decimal`);
  if (c.children.length > 1) problems.push(`<testcase ${c.attrs.name}> has ${c.children.length} children`);
  const child = c.children[0];
  if (!child) return 'passed';
  if (!['failure', 'error', 'skipped'].includes(child.tag)) problems.push(`<testcase ${c.attrs.name}> holds <${child.tag}>`);
  if (child.tag !== 'skipped' && !child.attrs.message) problems.push(`<${child.tag}> in ${c.attrs.name} has no message`);
  return child.tag === 'failure' ? 'failed' : child.tag === 'error' ? 'error' : 'skipped';
}

/** Parses and checks a report; throws listing the problems, else returns what a CI server would show. */
export function readJunit(xml: string | Buffer): JunitView {
  const root = parseXml(xml);
  const problems = junitProblems(root);
  if (problems.length) throw new Error(`JUnit report does not have the expected shape:\n  ${problems.join('\n  ')}`);
  return {
    suites: root.children.map((s) => ({
      name: s.attrs.name!,
      attrs: s.attrs,
      cases: s.children.map((c) => {
        const child = c.children[0];
        const status = caseProblems(c, []);
        return {
          name: c.attrs.name!,
          classname: c.attrs.classname!,
          time: Number(c.attrs.time),
          status,
          ...(child?.attrs.message !== undefined ? { message: child.attrs.message } : {}),
          ...(child?.text ? { text: child.text } : {}),
        };
      }),
    })),
  };
}
