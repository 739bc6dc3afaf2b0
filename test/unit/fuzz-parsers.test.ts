/**
 * Fuzz suite, part 1 (issue 14): property-based tests over envseal's parsers of user files — the env spec,
 * the lock, run records, requirements.txt (with includes), pyproject.toml and apt lists. Inputs are valid
 * documents with random edits, token soups of each format's syntax, and arbitrary strings. The property:
 * a parse returns, or throws an input error (exit 2) with a message; never another exception (exit 70),
 * never a hang. A lock that parses also renders (what `fingerprint` accepts, `generate` must not crash on).
 * Seeded (FUZZ_SEED, printed) and bounded (numRuns below: a few seconds in all).
 */
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseSpec } from '../../src/envspec/load-spec.js';
import { parseLock, serializeLock } from '../../src/lock/lock-file.js';
import { computeFingerprint } from '../../src/lock/fingerprint.js';
import type { LockWithoutFingerprint } from '../../src/lock/schema.js';
import { renderDockerfile, sourceDateEpoch } from '../../src/dockerfile/render-dockerfile.js';
import { parseRunRecord } from '../../src/record/schema.js';
import { buildRunRecord } from '../../src/record/build-record.js';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { loadRequirementsFile, parseRequirementsText } from '../../src/ecosystems/python/manifests/requirements.js';
import { parsePyproject, selectPyprojectGroups } from '../../src/ecosystems/python/manifests/pyproject.js';
import { parseAptList } from '../../src/ecosystems/apt/parse-apt-list.js';
import { sampleLock } from '../fixtures/lock/sample-lock.js';
import { sampleInput } from './record-fixture.js';
import { CASE_BUDGET_MS, FUZZ_SEED, expectResultOrInputError, failures, fuzzParams, mutatedJson, mutatedText, syntaxChars, tried } from './fuzz-support.js';

after(() => {
  const total = Object.values(tried).reduce((a, b) => a + b, 0);
  console.log(
    `# fuzz-parsers: seed ${FUZZ_SEED}, ${total} cases (${Object.entries(tried)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}); ${failures.count} failed (exit 70 or over ${CASE_BUDGET_MS} ms)`,
  );
});

const soup = (tokens: string[], maxLength = 40) => fc.array(fc.constantFrom(...tokens), { maxLength }).map((t) => t.join(''));

const VALID_SPEC = `version: 1
name: iris
base: 127.0.0.1:5000/python:bookworm
platform: linux/amd64
workdir: /workspace
env: { OMP_NUM_THREADS: "1" }
seed: 42
python:
  requirements: [requirements.txt]
  packages: ["numpy==1.26.4", "seal-utils>=1; python_version >= '3.8'"]
  pyproject: { path: pyproject.toml, extras: [gpu] }
  index: http://127.0.0.1:5080/simple
  packageIndexes: { torch: http://127.0.0.1:5080/simple }
  excludeNewer: 2026-11-01T00:00:00Z
apt:
  packages: [git, jq=1.6-2.1]
  lists: [apt.txt]
  snapshot: 20261127T120000Z
targets:
  dev:
    python: { packages: [pytest] }
    env: { DEV: "1" }
  deploy:
    copy: [train.py, src/]
    command: [python, train.py]
    user: app
    uid: 10001
`;
const YAML_TOKENS = [
  '&a ',
  '*a',
  '*b',
  '&b ',
  '[',
  ']',
  '{',
  '}',
  ': ',
  '- ',
  '\n',
  '  ',
  'x',
  '"',
  "'",
  '!!str ',
  '!!binary ',
  '!!map ',
  '<<: ',
  '? ',
  '|\n',
  '>\n',
  '# c',
  ',',
  'version: 1',
  '\nname: ',
  '\nbase: ',
  'python:',
  'apt:',
  'targets:',
  '%YAML 1.2\n',
  '---\n',
  '...\n',
  '~',
  '1e9999',
  '0x1F',
  '.nan',
  'null',
  'true',
  '\t',
  '\\u0000',
  '\u0000',
  '@',
  '`',
];

describe('fuzz: env spec loader (parseSpec)', () => {
  const property = (text: string) => {
    expectResultOrInputError('spec', () => parseSpec(text, 'envseal.yaml'));
  };
  it('valid spec with random edits', () => {
    fc.assert(fc.property(mutatedText(VALID_SPEC, syntaxChars(':-[]{}&*!|>#\'",?%@`\n ')), property), fuzzParams(300));
  });
  it('YAML token soup (anchors, aliases, merge keys, tags)', () => {
    fc.assert(fc.property(soup(YAML_TOKENS, 60), property), fuzzParams(600));
  });
  it('valid spec data with values replaced, re-serialised', () => {
    const base = parseSpec(VALID_SPEC);
    fc.assert(
      fc.property(mutatedJson(base), (doc) => property(stringify(doc))),
      fuzzParams(200),
    );
  });
  it('arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), property), fuzzParams(300));
  });
});

const template = readFileSync(new URL('../../templates/Dockerfile.tmpl', import.meta.url), 'utf8');
const seedHook = readFileSync(new URL('../../templates/envseal_seed.py', import.meta.url), 'utf8');
const renderOptions = {
  template,
  seedHook,
  lockPath: 'envseal.lock',
  lockDigest: `sha256:${'7'.repeat(64)}`,
  toolVersion: '0.1.0',
  sbom: { path: 'envseal.sbom.cdx.json', digest: `sha256:${'5'.repeat(64)}` },
};

describe('fuzz: lock parser (parseLock), and what parses also renders', () => {
  const property = (text: string) => {
    const lock = expectResultOrInputError('lock', () => parseLock(text, 'envseal.lock'));
    if (lock) {
      assert.ok(Number.isFinite(sourceDateEpoch(lock)));
      expectResultOrInputError('lock-render', () => renderDockerfile(lock, renderOptions));
    }
  };
  /** The mutated lock with its fingerprint recomputed (when it can be), so cases get past the tamper check. */
  const refingerprinted = (doc: unknown): string => {
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
      const { fingerprint: _f, ...rest } = doc as Record<string, unknown>;
      try {
        return JSON.stringify({ ...rest, fingerprint: computeFingerprint(rest as unknown as LockWithoutFingerprint) });
      } catch {
        // computeFingerprint expects a lock's shape; the parser must still reject this document cleanly.
      }
    }
    return JSON.stringify(doc);
  };
  it('valid lock with values replaced or removed, fingerprint recomputed', () => {
    fc.assert(
      fc.property(mutatedJson(sampleLock()), (doc) => property(refingerprinted(doc))),
      fuzzParams(500),
    );
  });
  it('valid lock with string values replaced by arbitrary strings (reaches the renderer)', () => {
    fc.assert(
      fc.property(mutatedJson(sampleLock(), { stringsOnly: true }), (doc) => property(refingerprinted(doc))),
      fuzzParams(500),
    );
  });
  it('valid lock text with random edits', () => {
    fc.assert(fc.property(mutatedText(serializeLock(sampleLock()), syntaxChars('{}[]":,\\0123456789eE+-.tfn ')), property), fuzzParams(400));
  });
  it('arbitrary JSON values and strings', () => {
    fc.assert(fc.property(fc.oneof(fc.json(), fc.string({ unit: 'binary', maxLength: 100 })), property), fuzzParams(300));
  });
});

describe('fuzz: run-record parser (parseRunRecord)', () => {
  const record = buildRunRecord(sampleInput());
  const property = (text: string) => {
    expectResultOrInputError('record', () => parseRunRecord(text, '.envseal/runs/x.json'));
  };
  it('valid record with values replaced or removed', () => {
    fc.assert(
      fc.property(mutatedJson(record), (doc) => property(JSON.stringify(doc))),
      fuzzParams(600),
    );
  });
  it('valid record text with random edits, and arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(mutatedText(canonicalJson(record), syntaxChars('{}[]":,\\0123456789eE+-.tfn \n')), fc.string({ unit: 'binary', maxLength: 100 })),
        property,
      ),
      fuzzParams(400),
    );
  });
});

const VALID_REQUIREMENTS = `# pinned
--index-url http://127.0.0.1:5080/simple
--extra-index-url http://127.0.0.1:5081/simple
--only-binary :all:
-c constraints.txt
requests[security,socks]>=2.31,<3 ; python_version >= "3.8"
numpy==1.26.4 \\
    --hash=sha256:${'a'.repeat(64)}
foo===1.0
seal-utils ~= 1.0
-r more.txt
`;
const REQ_TOKENS = [
  '-r ',
  '-c ',
  '--requirement=',
  '-e ',
  '--hash=sha256:',
  'a'.repeat(64),
  '--index-url ',
  '--pre',
  '--only-binary ',
  ':all:',
  ':none:',
  'http://x/simple',
  'file:',
  './pkg',
  'pkg',
  '==',
  '===',
  '~=',
  '>=',
  '!=',
  '<',
  '1.0',
  '.*',
  '+local',
  '[',
  ']',
  ',',
  ';',
  ' python_version',
  ' < ',
  '"3.8"',
  "'",
  ' and ',
  ' or ',
  '(',
  ')',
  '@',
  ' #',
  '\\\n',
  '\n',
  ' ',
  '\t',
  'more.txt',
  'constraints.txt',
  '${VAR}',
  '%',
  '\r\n',
];

describe('fuzz: requirements.txt (parseRequirementsText, loadRequirementsFile with includes)', () => {
  it('valid file with random edits, and token soup', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedText(VALID_REQUIREMENTS, syntaxChars('=<>~!;[],@#\\ \n-.*"\'')), soup(REQ_TOKENS)), (text) => {
        expectResultOrInputError('requirements', () => parseRequirementsText(text, 'requirements.txt'));
      }),
      fuzzParams(800),
    );
  });
  it('includes between fuzzed files (cycles, missing files) terminate with a result or an input error', async () => {
    await fc.assert(
      fc.asyncProperty(soup(REQ_TOKENS, 20), soup(REQ_TOKENS, 20), soup(REQ_TOKENS, 20), async (a, b, c) => {
        const files: Record<string, string> = { 'requirements.txt': a, 'more.txt': b, 'constraints.txt': c };
        const read = async (p: string) => {
          if (!(p in files)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
          return files[p]!;
        };
        tried['requirements-includes'] = (tried['requirements-includes'] ?? 0) + 1;
        const started = performance.now();
        try {
          await loadRequirementsFile('requirements.txt', read);
        } catch (err) {
          assert.ok(err instanceof Error && 'exitCode' in err && err.exitCode === 2, `not an input error: ${String(err)}`);
        }
        assert.ok(performance.now() - started < 2000);
      }),
      fuzzParams(300),
    );
  });
});

const VALID_PYPROJECT = readFileSync(new URL('../fixtures/manifests/python/pyproject/full.toml', import.meta.url), 'utf8');
const TOML_TOKENS = [
  '[project]\n',
  '[project.optional-dependencies]\n',
  '[build-system]\n',
  '[[x]]\n',
  'name = ',
  'version = ',
  'dependencies = ',
  'requires-python = ',
  'dynamic = ',
  'gpu = ',
  '"',
  "'",
  '"""',
  "'''",
  '[',
  ']',
  '{',
  '}',
  ',',
  '=',
  '\n',
  ' ',
  '#',
  'requests>=2',
  'my-project[gpu]',
  '"dependencies"',
  'project.name = ',
  '1979-05-27T07:32:00Z',
  'inf',
  'nan',
  '0x1',
  'true',
  '\\u00e9',
  '\\',
];

describe('fuzz: pyproject.toml (parsePyproject, selectPyprojectGroups)', () => {
  it('valid file with random edits, and TOML token soup', () => {
    fc.assert(
      fc.property(
        fc.oneof(mutatedText(VALID_PYPROJECT, syntaxChars('[]{}=,"\'#\n .-<>;')), soup(TOML_TOKENS, 50)),
        fc.array(fc.constantFrom('gpu', 'dev-tools', 'all', 'nope', 'Dev_Tools', ''), { maxLength: 3 }),
        (text, groups) => {
          const manifest = expectResultOrInputError('pyproject', () => parsePyproject(text, 'pyproject.toml'));
          if (manifest) expectResultOrInputError('pyproject-groups', () => selectPyprojectGroups(manifest, groups));
        },
      ),
      fuzzParams(800),
    );
  });
});

describe('fuzz: apt lists (parseAptList)', () => {
  it('token soup and arbitrary strings', () => {
    const tokens = [
      'git',
      'python3-sklearn',
      '=1.2.1+dfsg-1',
      ':amd64',
      ':i386',
      ' ',
      '\t',
      '\n',
      '\r\n',
      '#',
      ' # c',
      'Foo',
      'a',
      '_',
      '..',
      '+',
      '~',
      '=',
      ':',
    ];
    fc.assert(
      fc.property(fc.oneof(soup(tokens), fc.string({ unit: 'binary', maxLength: 80 })), (text) => {
        const entries = expectResultOrInputError('apt', () => parseAptList(text, 'apt.txt'));
        for (const e of entries ?? []) assert.doesNotMatch(e.name, /\s/);
      }),
      fuzzParams(600),
    );
  });
});
