/**
 * The docs link to each other and into the repository (schemas, templates, scripts). Files move; this keeps
 * every relative link in README.md, CONTRIBUTING.md and docs/**.md pointing at something that exists, and
 * every `#anchor` into a Markdown file naming one of its headings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function markdownUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) return markdownUnder(full);
      return name.endsWith('.md') ? [full] : [];
    });
}

/** Link targets of inline Markdown links `[text](target)`, outside fenced code blocks and code spans. */
function linkTargets(markdown: string): string[] {
  const prose = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  return new Set([...withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => headingAnchor(m[1]!)));
}

/** Broken relative links of one Markdown file, as `target: why`. */
function brokenLinks(file: string, markdown: string, exists: (path: string) => boolean, read: (path: string) => string): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const resolved = pathPart === '' ? file : join(dirname(file), decodeURIComponent(pathPart));
    if (pathPart !== '' && !exists(resolved)) {
      problems.push(`${target}: no such file`);
      continue;
    }
    if (anchor && resolved.endsWith('.md') && !anchorsOf(read(resolved)).has(anchor)) {
      problems.push(`${target}: no heading with anchor #${anchor}`);
    }
  }
  return problems;
}

test('every relative link in README.md, CONTRIBUTING.md and docs/ resolves', () => {
  const files = [join(ROOT, 'README.md'), join(ROOT, 'CONTRIBUTING.md'), ...markdownUnder(join(ROOT, 'docs'))];
  const problems = files.flatMap((f) =>
    brokenLinks(f, readFileSync(f, 'utf8'), existsSync, (p) => readFileSync(p, 'utf8')).map((p) => `${relative(ROOT, f)}: ${p}`),
  );
  assert.deepEqual(problems, []);
  assert.ok(files.length >= 3, 'the docs folder has pages');
});

test('the checker finds missing files and missing anchors, and skips URLs and code', () => {
  const pages: Record<string, string> = {
    '/r/README.md': '# Title\n\n## Quick start\n',
    '/r/docs/a.md': '# A page\n',
  };
  const exists = (p: string) => p in pages;
  const read = (p: string) => pages[p]!;
  const text = [
    '[ok](docs/a.md) [ok anchor](docs/a.md#a-page) [self](#quick-start) [web](https://example.com/x.md)',
    '[gone](docs/b.md) [bad anchor](docs/a.md#nope) `[code](docs/c.md)`',
    '```',
    '[fenced](docs/d.md)',
    '```',
  ].join('\n');
  assert.deepEqual(brokenLinks('/r/README.md', text, exists, read), ['docs/b.md: no such file', 'docs/a.md#nope: no heading with anchor #nope']);
  assert.equal(headingAnchor('Building reproducible images'), 'building-reproducible-images');
  assert.equal(headingAnchor('The lock: `envseal.lock`'), 'the-lock-envseallock');
});
