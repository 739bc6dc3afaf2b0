import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { readTar } from '../lab/tar.js';
import {
  buildSdist,
  buildWheel,
  escapeDistName,
  extractSdistPkgInfo,
  extractWheelMetadata,
  normalizeProjectName,
  parseCoreMetadata,
  parseDistFilename,
} from '../lab/wheel.js';
import { readZip } from '../lab/zip.js';

/** Parses RECORD (simple CSV: quoted fields may contain commas and doubled quotes). */
function parseRecord(text: string): string[][] {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => {
      const fields: string[] = [];
      let field = '';
      let quoted = false;
      for (let i = 0; i < line.length; i++) {
        const ch = line[i]!;
        if (quoted) {
          if (ch === '"' && line[i + 1] === '"') {
            field += '"';
            i++;
          } else if (ch === '"') quoted = false;
          else field += ch;
        } else if (ch === '"') quoted = true;
        else if (ch === ',') {
          fields.push(field);
          field = '';
        } else field += ch;
      }
      fields.push(field);
      return fields;
    });
}

describe('lab wheel builder', () => {
  it('names the file and .dist-info with the escaped name (wheel spec) and hashes the bytes', () => {
    const wheel = buildWheel({ name: 'Seal.Metrics_Extra', version: '1.2.0' });
    assert.equal(wheel.filename, 'seal_metrics_extra-1.2.0-py3-none-any.whl');
    assert.equal(wheel.sha256, createHash('sha256').update(wheel.bytes).digest('hex'));
    const names = readZip(wheel.bytes).map((e) => e.name);
    assert.deepEqual(names, [
      'seal_metrics_extra/__init__.py',
      'seal_metrics_extra-1.2.0.dist-info/METADATA',
      'seal_metrics_extra-1.2.0.dist-info/WHEEL',
      'seal_metrics_extra-1.2.0.dist-info/RECORD',
    ]);
  });

  it('writes METADATA with every requested field', () => {
    const wheel = buildWheel({
      name: 'seal-metrics',
      version: '1.1.0',
      requiresPython: '>=3.8',
      providesExtra: ['plot'],
      requiresDist: ['seal-utils<2,>=1.0', 'seal-plot>=0.1; extra == "plot"'],
      summary: 'Metrics',
      extraMetadata: ['License: MIT'],
    });
    assert.equal(
      wheel.metadata,
      [
        'Metadata-Version: 2.1',
        'Name: seal-metrics',
        'Version: 1.1.0',
        'Summary: Metrics',
        'Requires-Python: >=3.8',
        'Provides-Extra: plot',
        'Requires-Dist: seal-utils<2,>=1.0',
        'Requires-Dist: seal-plot>=0.1; extra == "plot"',
        'License: MIT',
        '',
      ].join('\n'),
    );
    assert.equal(extractWheelMetadata(wheel.bytes), wheel.metadata);
    const fields = parseCoreMetadata(wheel.metadata);
    assert.deepEqual(fields.get('requires-dist'), ['seal-utils<2,>=1.0', 'seal-plot>=0.1; extra == "plot"']);
    assert.throws(() => buildWheel({ name: 'x', version: '1', summary: 'two\nlines' }), /newline/);
  });

  it('writes WHEEL with expanded tags and purelib only for -none-any', () => {
    const pure = readZip(buildWheel({ name: 'a', version: '1', tag: 'py2.py3-none-any' }).bytes);
    assert.equal(
      pure.find((e) => e.name === 'a-1.dist-info/WHEEL')!.data.toString(),
      'Wheel-Version: 1.0\nGenerator: envseal-test-lab\nRoot-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n',
    );
    const plat = buildWheel({ name: 'a', version: '1', tag: 'cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64', buildTag: '1b' });
    assert.equal(plat.filename, 'a-1-1b-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl');
    const wheelText = readZip(plat.bytes)
      .find((e) => e.name.endsWith('/WHEEL'))!
      .data.toString();
    assert.match(wheelText, /Root-Is-Purelib: false\n/);
    assert.match(wheelText, /Tag: cp311-cp311-manylinux_2_17_x86_64\nTag: cp311-cp311-manylinux2014_x86_64\nBuild: 1b\n$/);
    assert.throws(() => buildWheel({ name: 'a', version: '1', tag: 'py3-none' }), /invalid wheel tag/);
    assert.throws(() => buildWheel({ name: 'a', version: '1', buildTag: 'x1' }), /invalid build tag/);
  });

  it('writes a RECORD whose hashes and sizes match every file, and lists itself last without hash', () => {
    const wheel = buildWheel({
      name: 'rec',
      version: '0.1',
      compression: 'deflate',
      files: { 'rec/__init__.py': 'from .core import f\n', 'rec/core.py': 'def f():\n    return 1\n', 'rec/odd,name "q".txt': 'odd' },
    });
    const entries = readZip(wheel.bytes);
    assert.ok(entries.every((e) => e.method === 'deflate'));
    const record = parseRecord(entries.find((e) => e.name === 'rec-0.1.dist-info/RECORD')!.data.toString());
    assert.deepEqual(record.at(-1), ['rec-0.1.dist-info/RECORD', '', '']);
    const listed = new Map(record.slice(0, -1).map(([path, hash, size]) => [path, { hash, size }]));
    assert.deepEqual(
      [...listed.keys()].sort(),
      entries
        .map((e) => e.name)
        .filter((n) => !n.endsWith('/RECORD'))
        .sort(),
    );
    for (const entry of entries) {
      if (entry.name.endsWith('/RECORD')) continue;
      const expected = `sha256=${createHash('sha256').update(entry.data).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
      assert.equal(listed.get(entry.name)!.hash, expected, entry.name);
      assert.equal(listed.get(entry.name)!.size, String(entry.data.length), entry.name);
    }
  });

  it('is byte-for-byte deterministic', () => {
    const spec = { name: 'det', version: '3.0', requiresDist: ['a>=1'] };
    assert.ok(buildWheel(spec).bytes.equals(buildWheel(spec).bytes));
    assert.notEqual(buildWheel(spec).sha256, buildWheel({ ...spec, version: '3.1' }).sha256);
  });

  it('refuses to let a file overwrite the generated .dist-info', () => {
    assert.throws(() => buildWheel({ name: 'a', version: '1', files: { 'a-1.dist-info/METADATA': 'x' } }), /clash/);
  });
});

describe('lab sdist builder', () => {
  it('writes PKG-INFO (Metadata-Version 2.2, Dynamic lines) and pyproject.toml under one top directory', () => {
    const sdist = buildSdist({
      name: 'Seal-Legacy',
      version: '0.5.0',
      requiresDist: ['tinyconfig>=1.0'],
      requiresPython: '>=3.8',
      dynamic: ['Requires-Dist'],
    });
    assert.equal(sdist.filename, 'seal_legacy-0.5.0.tar.gz');
    assert.equal(
      sdist.pkgInfo,
      'Metadata-Version: 2.2\nName: Seal-Legacy\nVersion: 0.5.0\nDynamic: Requires-Dist\nRequires-Python: >=3.8\nRequires-Dist: tinyconfig>=1.0\n',
    );
    assert.equal(extractSdistPkgInfo(sdist.bytes), sdist.pkgInfo);
    const entries = readTar(sdist.bytes);
    assert.deepEqual(
      entries.map((e) => e.name),
      ['seal_legacy-0.5.0/', 'seal_legacy-0.5.0/PKG-INFO', 'seal_legacy-0.5.0/pyproject.toml', 'seal_legacy-0.5.0/seal_legacy/__init__.py'],
    );
    const pyproject = entries.find((e) => e.name.endsWith('pyproject.toml'))!.data.toString();
    assert.match(pyproject, /^dependencies = \["tinyconfig>=1.0"\]$/m);
    assert.match(pyproject, /^build-backend = "setuptools.build_meta"$/m);
    assert.ok(buildSdist({ name: 'x', version: '1' }).bytes.equals(buildSdist({ name: 'x', version: '1' }).bytes));
  });
});

describe('lab distribution names', () => {
  it('normalizes (PEP 503) and escapes (wheel spec) names', () => {
    assert.equal(normalizeProjectName('Friendly-Bard'), 'friendly-bard');
    assert.equal(normalizeProjectName('FRIENDLY__bard'), 'friendly-bard');
    assert.equal(normalizeProjectName('friendly.-_bard'), 'friendly-bard');
    assert.equal(escapeDistName('Friendly.Bard'), 'friendly_bard');
  });

  it('parses wheel and sdist filenames', () => {
    assert.deepEqual(parseDistFilename('Seal_Metrics-1.1.0-py3-none-any.whl'), {
      kind: 'wheel',
      project: 'seal-metrics',
      version: '1.1.0',
      tag: 'py3-none-any',
    });
    assert.deepEqual(parseDistFilename('a-1-1b-cp311-cp311-linux_x86_64.whl')?.tag, 'cp311-cp311-linux_x86_64');
    assert.deepEqual(parseDistFilename('old-style-name-2.0.tar.gz'), { kind: 'sdist', project: 'old-style-name', version: '2.0' });
    assert.equal(parseDistFilename('README.txt'), null);
    assert.equal(parseDistFilename('bad-1.0.whl'), null);
  });
});
