import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CONTEXT_EXCLUDES, createContextFilter, parseDockerignore } from '../../src/image/context/dockerignore.js';
import { EnvsealError } from '../../src/core/errors.js';

/**
 * `.dockerignore` semantics, case by case. Expectations follow Docker's documented rules and moby's matcher
 * (several are confirmed against a real `docker build` in test/e2e/docker-context-ignore.test.ts).
 * Each row: the .dockerignore text, then paths and whether they are excluded.
 */
const TABLE: { name: string; ignore: string; excluded: string[]; included: string[] }[] = [
  {
    name: 'a bare name matches only at the root, and everything below it',
    ignore: 'docs\n',
    excluded: ['docs', 'docs/a.md', 'docs/sub/deep/b.txt'],
    included: ['src/docs', 'src/docs/a.md', 'docs.txt'],
  },
  {
    name: '* does not cross a slash',
    ignore: '*.md\n',
    excluded: ['README.md', 'CHANGES.md'],
    included: ['docs/a.md', 'README.mdx', 'md'],
  },
  {
    name: '**/ matches at any depth, including the root',
    ignore: '**/*.md\n',
    excluded: ['README.md', 'docs/a.md', 'a/b/c/d.md'],
    included: ['README.txt', 'docs/a.mdx'],
  },
  {
    name: 'a ! line re-includes a file below an excluded directory (later lines win)',
    ignore: 'docs\n!docs/keep.txt\n',
    excluded: ['docs', 'docs/a.md', 'docs/sub/keep.txt'],
    included: ['docs/keep.txt'],
  },
  {
    name: 'an exclusion after the exception wins again',
    ignore: '!docs/keep.txt\ndocs\n',
    excluded: ['docs/keep.txt', 'docs/a.md'],
    included: ['src/x.py'],
  },
  {
    name: 'everything but src',
    ignore: '*\n!src\n',
    excluded: ['README.md', 'data', 'data/big.bin'],
    included: ['src', 'src/app/main.py'],
  },
  {
    name: 'matching is case-sensitive (Docker on Linux)',
    ignore: 'README.md\nBuild\n',
    excluded: ['README.md', 'Build/out.o'],
    included: ['readme.md', 'build/out.o'],
  },
  {
    name: 'a leading slash, ./ and a trailing slash are cleaned away',
    ignore: '/build\n./dist/\nout//x/\n',
    excluded: ['build/a.o', 'dist/app.js', 'out/x/y'],
    included: ['src/build/a.o', 'out/y'],
  },
  {
    name: '# starts a comment only in the first column; blank lines are skipped',
    ignore: '# comment\n\n   \n #notacomment\nsecret.txt   \n',
    excluded: ['#notacomment', 'secret.txt'],
    included: ['# comment', 'comment'],
  },
  {
    name: '? is one character, [..] a class',
    ignore: 'file?.txt\nlog[0-2].txt\n',
    excluded: ['file1.txt', 'fileA.txt', 'log0.txt', 'log2.txt'],
    included: ['file10.txt', 'file.txt', 'log3.txt'],
  },
  {
    name: 'a pattern with a directory part is anchored at the root',
    ignore: 'src/*.tmp\n',
    excluded: ['src/a.tmp'],
    included: ['a.tmp', 'src/sub/a.tmp', 'lib/src/a.tmp'],
  },
  {
    name: '** in the middle spans any number of directories',
    ignore: 'data/**/*.csv\n',
    excluded: ['data/a.csv', 'data/x/y/z.csv'],
    included: ['a.csv', 'other/data/a.csv'],
  },
];

describe('.dockerignore patterns (without the default excludes)', () => {
  for (const row of TABLE) {
    it(row.name, () => {
      const filter = createContextFilter({ ignoreFile: row.ignore, defaultExcludes: false });
      for (const path of row.excluded) assert.equal(filter.excludes(path), true, `${path} should be excluded`);
      for (const path of row.included) assert.equal(filter.excludes(path), false, `${path} should be included`);
    });
  }
});

describe('default excludes', () => {
  const filter = createContextFilter({});

  it('exclude VCS data, run records, host-built dependencies and credentials at any depth', () => {
    for (const path of [
      '.git/HEAD',
      'vendor/lib/.git',
      '.envseal/runs/2024-01-01.json',
      'node_modules/x/index.js',
      'web/node_modules/x/index.js',
      '.venv/bin/python',
      'pkg/__pycache__/m.cpython-311.pyc',
      '.env',
      '.env.local',
      'config/.env.production',
      'certs/server.pem',
      'key.pem',
      'id_rsa',
      'ssh/id_rsa.pub',
    ]) {
      assert.equal(filter.excludes(path), true, path);
    }
  });

  it('keep everything else', () => {
    for (const path of [
      '.envseal/envseal.lock',
      '.envseal/envseal.Dockerfile',
      'environment.yml',
      'src/env.py',
      'envs/.environment',
      'gitignore',
      '.gitignore',
      'pem/readme',
      'venv/x',
    ]) {
      assert.equal(filter.excludes(path), false, path);
    }
  });

  it('can be re-included by a ! line in .dockerignore', () => {
    const reincluding = createContextFilter({ ignoreFile: '!.env.example\n!node_modules\n!**/__pycache__\n' });
    assert.equal(reincluding.excludes('.env.example'), false);
    assert.equal(reincluding.excludes('.env'), true);
    assert.equal(reincluding.excludes('node_modules/x/index.js'), false);
    assert.equal(reincluding.excludes('web/node_modules/x/index.js'), true, 'only the root node_modules was re-included');
    assert.equal(reincluding.excludes('a/__pycache__/m.pyc'), false);
  });

  it('are listed in order before the project patterns', () => {
    const filter2 = createContextFilter({ ignoreFile: 'data\n', extraIgnore: ['.envseal/cache'] });
    assert.deepEqual(filter2.patterns, [...DEFAULT_CONTEXT_EXCLUDES, 'data', '.envseal/cache']);
  });
});

describe('extraIgnore and always-included files', () => {
  it('extraIgnore comes after .dockerignore, so a ! line there cannot re-include it', () => {
    const filter = createContextFilter({ ignoreFile: '!out\n!out/**\n', extraIgnore: ['out'] });
    assert.equal(filter.excludes('out/result.bin'), true);
  });

  it('the Dockerfile and .dockerignore are sent even when a pattern excludes them', () => {
    const filter = createContextFilter({ ignoreFile: '*\n**/Dockerfile*\n', alwaysInclude: ['.dockerignore', 'build/envseal.Dockerfile'] });
    assert.equal(filter.excludes('.dockerignore'), false);
    assert.equal(filter.excludes('build/envseal.Dockerfile'), false);
    assert.equal(filter.excludes('build/other.Dockerfile'), true);
    assert.equal(filter.excludes('main.py'), true);
    // Docker adds the exception only when the file would have been excluded.
    const notExcluded = createContextFilter({ ignoreFile: 'data\n', alwaysInclude: ['Dockerfile'], defaultExcludes: false });
    assert.deepEqual(notExcluded.patterns, ['data']);
  });
});

describe('walking excluded directories (moby archive.TarWithOptions)', () => {
  it('walks an excluded directory only when an exception pattern starts with its path', () => {
    const filter = createContextFilter({ ignoreFile: 'docs\nvendor\n!docs/keep.txt\n!**/important.txt\n', defaultExcludes: false });
    assert.equal(filter.mustWalkExcludedDir('docs'), true);
    // "**/important.txt" does not start with "vendor/": Docker skips vendor/ whole, so vendor/important.txt
    // is not sent even though the pattern would re-include it.
    assert.equal(filter.mustWalkExcludedDir('vendor'), false);
  });

  it('walks the parents of a re-included deep path', () => {
    const filter = createContextFilter({ ignoreFile: '!node_modules/pkg/dist/index.js\n' });
    assert.equal(filter.mustWalkExcludedDir('node_modules'), true);
    assert.equal(filter.mustWalkExcludedDir('node_modules/pkg'), true);
    assert.equal(filter.mustWalkExcludedDir('node_modules/other'), false);
  });
});

describe('parseDockerignore', () => {
  it('reads lines as moby does: BOM, CRLF, comments, whitespace, cleaning', () => {
    assert.deepEqual(parseDockerignore('\uFEFF# c\r\n  a/b/  \r\n!  /c\r\n\r\nd/../e\n'), ['a/b', '!c', 'e']);
  });

  it('rejects a lone "!" with the line number', () => {
    assert.throws(
      () => parseDockerignore('a\n!\n'),
      (err: unknown) =>
        err instanceof EnvsealError && err.code === 'build.dockerignore-invalid' && err.exitCode === 2 && err.message.includes('.dockerignore:2'),
    );
  });

  it('rejects a malformed pattern when the filter is built, naming the pattern', () => {
    assert.throws(
      () => createContextFilter({ ignoreFile: 'ok\nbad[\n' }),
      (err: unknown) => err instanceof EnvsealError && err.code === 'build.dockerignore-invalid' && err.message.includes('"bad["'),
    );
  });
});
