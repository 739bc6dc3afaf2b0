import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EnvsealError, inputError } from '../../src/core/errors.js';
import { type PythonRequirement, type ReadFile, loadRequirementsFile, parseRequirementsText } from '../../src/ecosystems/python/manifests/requirements.js';
import { formatRequirement } from '../../src/ecosystems/python/pep/requirement.js';

/** Fixtures live in test/fixtures/manifests/python/; the loader sees paths relative to that folder. */
const ROOT = fileURLToPath(new URL('../fixtures/manifests/python/', import.meta.url));
const reads: string[] = [];
const readFixture: ReadFile = async (path) => {
  reads.push(path);
  return readFile(ROOT + path, 'utf8');
};

const summary = (reqs: PythonRequirement[]) =>
  reqs.map((r) => ({ req: formatRequirement(r.requirement), hashes: r.hashes, at: `${r.source.file}:${r.source.line}` }));

describe('requirements files: every feature (test/fixtures/manifests/python/requirements/main.txt)', () => {
  it('reads requirements, constraints, includes and options the way pip does', async () => {
    const loaded = await loadRequirementsFile('requirements/main.txt', readFixture);
    assert.deepEqual(summary(loaded.requirements), [
      { req: 'requests[security,socks]<3,>=2.31', hashes: [], at: 'requirements/main.txt:11' },
      {
        req: 'numpy==1.26.4; python_version < "3.13" and platform_machine == "x86_64"',
        hashes: [],
        at: 'requirements/main.txt:12',
      },
      {
        req: 'Django>=4.2',
        hashes: [`sha256:${'0'.repeat(64)}`, `sha256:${'1'.repeat(64)}`],
        at: 'requirements/main.txt:13',
      },
      { req: 'uvicorn[standard]==0.30.1', hashes: [], at: 'requirements/main.txt:16' },
      // The line after `tomli ... \` is a comment: it ends the continuation instead of joining it.
      { req: 'tomli; python_version < "3.11"', hashes: [], at: 'requirements/main.txt:19' },
      { req: 'click>=8', hashes: [], at: 'requirements/base.txt:1' },
      // `-r` inside a constraints file adds requirements (pip's rule).
      { req: 'idna', hashes: [], at: 'requirements/constraint-included-as-requirements.txt:2' },
      { req: 'attrs', hashes: [], at: 'requirements/common.txt:1' },
    ]);
    assert.deepEqual(summary(loaded.constraints), [
      { req: 'urllib3<2', hashes: [], at: 'requirements/constraints.txt:2' },
      { req: 'certifi==2024.2.2', hashes: [`sha256:abcdef${'0'.repeat(58)}`], at: 'requirements/constraints.txt:3' },
    ]);
    // sub/nested.txt sets -i last, which (as in pip) replaces the index list, extra URLs included.
    assert.equal(loaded.indexUrl, 'https://override.example.org/simple');
    assert.deepEqual(loaded.extraIndexUrls, []);
    assert.deepEqual(loaded.options, {
      pre: true,
      preferBinary: true,
      // :all: then names for --no-binary, then :none: for both, then one name (pip's FormatControl).
      onlyBinary: ['scikit-learn'],
      trustedHosts: ['extra.example.org'],
      findLinks: ['./wheels'],
    });
    assert.deepEqual(loaded.files, [
      'requirements/main.txt',
      'requirements/base.txt',
      'requirements/constraints.txt',
      'requirements/constraint-included-as-requirements.txt',
      'requirements/sub/nested.txt',
      'requirements/common.txt',
    ]);
  });

  it('keeps the parsed requirement with normalised name and extras', async () => {
    const loaded = await loadRequirementsFile('requirements/main.txt', readFixture);
    const requests = loaded.requirements[0]!.requirement;
    assert.deepEqual(
      [requests.name, requests.normalizedName, requests.extras, requests.specifier],
      ['requests', 'requests', ['security', 'socks'], '<3,>=2.31'],
    );
    assert.equal(loaded.requirements[1]!.requirement.marker?.kind, 'and');
  });

  it('applies index options in pip order and collects extra index URLs across includes', async () => {
    const loaded = await loadRequirementsFile('requirements/indexes.txt', readFixture);
    assert.equal(loaded.indexUrl, 'https://a.example.org/simple');
    assert.deepEqual(loaded.extraIndexUrls, ['https://b.example.org/simple', 'https://c.example.org/simple', 'https://d.example.org/simple']);
    assert.deepEqual(loaded.options, {});
  });

  it('honours --no-index for the rest of the files, and records --require-hashes and sha512 hashes', async () => {
    const loaded = await loadRequirementsFile('requirements/no-index.txt', readFixture);
    assert.equal(loaded.indexUrl, undefined);
    assert.deepEqual(loaded.extraIndexUrls, []);
    assert.deepEqual(loaded.options, { noIndex: true, requireHashes: true, findLinks: ['./wheels'] });
    assert.deepEqual(loaded.requirements[0]!.hashes, [`sha512:${'0'.repeat(128)}`]);
  });

  it('declares a line once when a file is reached twice, and reads each file once', async () => {
    reads.length = 0;
    const loaded = await loadRequirementsFile('requirements/diamond.txt', readFixture);
    assert.deepEqual(summary(loaded.requirements), [{ req: 'attrs', hashes: [], at: 'requirements/common.txt:1' }]);
    assert.deepEqual(loaded.files, ['requirements/diamond.txt', 'requirements/common.txt', 'requirements/sub/also-common.txt']);
    assert.deepEqual(reads, loaded.files);
  });
});

describe('requirements files: parsing details', () => {
  it('joins continuation lines, numbers them by their first line, and strips comments', () => {
    const text = '\ufeff# c\n\nfoo \\\n  >=1 \\\n\n  bar  # trailing\r\nbaz ; python_version > "3"\n\\qux\\\n';
    const entries = parseRequirementsText(text, 'r.txt');
    assert.deepEqual(
      entries.map((e) => (e.kind === 'requirement' ? [e.line, formatRequirement(e.requirement)] : [e.line, e.kind])),
      [
        [3, 'foo>=1'],
        [6, 'bar'],
        [7, 'baz; python_version > "3"'],
        [8, 'qux'],
      ],
    );
  });

  it('reads short, long and --name=value option spellings', () => {
    const entries = parseRequirementsText('-rbase.txt\n--requirement=more.txt\n-c c.txt\n--constraint c2.txt\n-ihttps://a/simple\n-f "./some dir"\n', 'r.txt');
    assert.deepEqual(entries, [
      { kind: 'include', line: 1, path: 'base.txt', constraint: false },
      { kind: 'include', line: 2, path: 'more.txt', constraint: false },
      { kind: 'include', line: 3, path: 'c.txt', constraint: true },
      { kind: 'include', line: 4, path: 'c2.txt', constraint: true },
      { kind: 'option', line: 5, option: 'index-url', value: 'https://a/simple' },
      { kind: 'option', line: 6, option: 'find-links', value: './some dir' },
    ]);
  });

  it('accepts a hash given as a separate word or quoted', () => {
    const [entry] = parseRequirementsText(`foo==1 --hash 'sha256:${'A'.repeat(64)}' --hash="sha256:${'b'.repeat(64)}"`, 'r.txt');
    assert.ok(entry?.kind === 'requirement');
    assert.deepEqual(entry.hashes, [`sha256:${'a'.repeat(64)}`, `sha256:${'b'.repeat(64)}`]);
  });
});

/** Every error path, each with its own fixture in requirements/errors/: [file, code, line, message part]. */
const ERRORS: [string, string, number, string][] = [
  ['editable.txt', 'manifest.requirements.unsupported', 2, 'editable requirement "-e ." is not supported'],
  ['local-path.txt', 'manifest.requirements.unsupported', 2, 'local path "./vendor/mypkg" is not supported'],
  ['local-wheel.txt', 'manifest.requirements.unsupported', 1, 'local path "mypkg-1.0-py3-none-any.whl"'],
  [
    'direct-url.txt',
    'manifest.direct-url',
    2,
    'direct URL requirement "mypkg @ https://example.org/mypkg-1.0.tar.bz2": mypkg-1.0.tar.bz2 is an archive envseal cannot build',
  ],
  ['vcs-url.txt', 'manifest.direct-url', 1, 'URL requirement "git+https://github.com/org/repo.git@v1#egg=repo" is not supported without a project name'],
  ['bare-url.txt', 'manifest.direct-url', 1, 'URL requirement "https://example.org/mypkg-1.0-py3-none-any.whl"'],
  ['env-var.txt', 'manifest.requirements.unsupported', 2, 'environment variable ${INDEX_TOKEN} is not supported'],
  ['unknown-option.txt', 'manifest.requirements.syntax', 3, 'unknown option --frobnicate'],
  ['unknown-short-option.txt', 'manifest.requirements.syntax', 1, 'unknown option -x'],
  ['option-after-requirement.txt', 'manifest.requirements.syntax', 1, 'option --index-url cannot follow a requirement'],
  ['bad-requirement.txt', 'manifest.requirements.syntax', 1, 'invalid requirement "requests>=2.0,  <3 zzz": expected a comma'],
  ['hash-without-space.txt', 'manifest.requirements.syntax', 1, 'invalid requirement "requests#comment"'],
  ['bad-hash.txt', 'manifest.requirements.syntax', 1, 'invalid --hash "md5:'],
  ['short-hash.txt', 'manifest.requirements.syntax', 1, 'invalid --hash "sha256:abc"'],
  ['hash-alone.txt', 'manifest.requirements.syntax', 1, 'option --hash must follow a requirement'],
  ['config-settings.txt', 'manifest.requirements.unsupported', 1, '--config-settings is not supported'],
  ['use-feature.txt', 'manifest.requirements.unsupported', 1, '--use-feature truststore is not supported'],
  ['missing-value.txt', 'manifest.requirements.syntax', 1, 'option --index-url needs a value'],
  ['flag-with-value.txt', 'manifest.requirements.syntax', 1, 'option --pre takes no value'],
  ['unbalanced-quote.txt', 'manifest.requirements.syntax', 1, 'unbalanced quotes'],
  ['missing-include.txt', 'manifest.missing', 2, '-r does-not-exist.txt names requirements/errors/does-not-exist.txt, which does not exist'],
  ['url-include.txt', 'manifest.requirements.unsupported', 1, 'including a requirements file from a URL is not supported'],
  ['absolute-include.txt', 'manifest.requirements.unsupported', 1, 'absolute include paths are not supported'],
  ['uses-constraints-with-extras.txt', 'manifest.requirements.syntax', 2, 'constraint "uvicorn[standard]" has extras'],
];

describe('requirements files: errors name file:line, with a hint', () => {
  for (const [name, code, line, part] of ERRORS) {
    it(`${name}: ${code}`, async () => {
      await assert.rejects(loadRequirementsFile(`requirements/errors/${name}`, readFixture), (err: unknown) => {
        assert.ok(err instanceof EnvsealError, String(err));
        assert.equal(err.code, code);
        assert.equal(err.exitCode, 2);
        const file = name === 'uses-constraints-with-extras.txt' ? 'constraints-with-extras.txt' : name;
        assert.ok(err.message.startsWith(`requirements/errors/${file}:${line}: `), err.message);
        assert.ok(err.message.includes(part), err.message);
        assert.ok((err.hint ?? '').length > 10, `hint for ${name}`);
        return true;
      });
    });
  }

  it('names the whole chain of an include cycle', async () => {
    await assert.rejects(loadRequirementsFile('requirements/cycle-a.txt', readFixture), (err: unknown) => {
      assert.ok(err instanceof EnvsealError);
      assert.equal(err.code, 'manifest.requirements.cycle');
      assert.equal(
        err.message,
        'requirements/cycle-b.txt:1: include cycle: requirements/cycle-a.txt:2 (-r cycle-b.txt) → ' +
          'requirements/cycle-b.txt:1 (-r ./cycle-a.txt) → requirements/cycle-a.txt',
      );
      return true;
    });
  });

  it("reports a missing top-level file as manifest.missing, and passes on a reader's own errors", async () => {
    await assert.rejects(loadRequirementsFile('requirements/nope.txt', readFixture), (err: unknown) => {
      return err instanceof EnvsealError && err.code === 'manifest.missing' && err.message.startsWith('requirements/nope.txt: ');
    });
    const own = inputError('manifest.missing', 'custom message from the caller');
    await assert.rejects(
      loadRequirementsFile('x.txt', async () => {
        throw own;
      }),
      (err: unknown) => err === own,
    );
    await assert.rejects(
      loadRequirementsFile('x.txt', async () => {
        throw Object.assign(new Error('permission denied'), { code: 'EACCES' });
      }),
      (err: unknown) => err instanceof EnvsealError && err.code === 'manifest.unreadable' && err.message.includes('permission denied'),
    );
  });

  it("turns a reader's manifest.missing for an include into one that names the including line", async () => {
    const reader: ReadFile = async (p) => {
      if (p === 'top.txt') return 'a\n-r lib/more.txt\n';
      throw inputError('manifest.missing', `${p}: no such file (listed in the spec)`);
    };
    await assert.rejects(loadRequirementsFile('top.txt', reader), (err: unknown) => {
      return (
        err instanceof EnvsealError && err.code === 'manifest.missing' && err.message === 'top.txt:2: -r lib/more.txt names lib/more.txt, which does not exist'
      );
    });
  });
});

describe('requirements files: "===" needs a value (issue 14 item 8)', () => {
  it('refuses foo=== with file:line, exit 2, and keeps foo===1.0', () => {
    assert.throws(
      () => parseRequirementsText('ok==1.0\nfoo===\n', 'requirements.txt'),
      (e: EnvsealError) =>
        e.exitCode === 2 &&
        e.message === 'requirements.txt:2: invalid requirement "foo===": "===" (PEP 440 arbitrary equality) needs a version string after it, e.g. ===1.0',
    );
    assert.throws(() => parseRequirementsText('foo === ; python_version > "3"\n', 'r.txt'), /r\.txt:1: invalid requirement .*needs a version string/);
    const [entry] = parseRequirementsText('foo===1.0\n', 'requirements.txt');
    assert.equal(entry?.kind === 'requirement' && formatRequirement(entry.requirement), 'foo===1.0');
  });
});
