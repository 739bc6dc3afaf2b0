/**
 * Core metadata as the resolver reads it (Name/Version consistency, Requires-Dist, Requires-Python,
 * Provides-Extra) and the PEP 643 rule for trusting an sdist's PKG-INFO.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCoreMetadata, readMetadataHeaders, sdistMetadataProblem } from '../../src/ecosystems/python/resolver/core-metadata.js';
import { isEnvsealError } from '../../src/core/errors.js';

const origin = { project: 'demo-pkg', version: '1.0', filename: 'demo_pkg-1.0-py3-none-any.whl', index: 'http://127.0.0.1:1/simple' };

describe('core metadata', () => {
  it('reads the fields a resolver uses', () => {
    const meta = parseCoreMetadata(
      [
        'Metadata-Version: 2.1',
        'Name: Demo_Pkg',
        'Version: 1.0.0',
        'Requires-Python: >=3.8',
        'Provides-Extra: Plot',
        'Requires-Dist: numpy (>=1.22)',
        'Requires-Dist: matplotlib; extra == "plot"',
        'Description-Content-Type: text/markdown',
        '',
        'Requires-Dist: this-is-in-the-body',
      ].join('\n'),
      origin,
    );
    assert.equal(meta.name, 'demo-pkg');
    assert.equal(meta.requiresPython, '>=3.8');
    assert.deepEqual(meta.providesExtra, ['plot']);
    assert.deepEqual(
      meta.requiresDist.map((r) => [r.normalizedName, r.specifier, r.markerText ?? null]),
      [
        ['numpy', '>=1.22', null],
        ['matplotlib', '', 'extra == "plot"'],
      ],
    );
  });

  it('joins folded header lines', () => {
    const headers = readMetadataHeaders('Name: x\nSummary: one\n  two\nVersion: 1\n');
    assert.deepEqual(headers.get('summary'), ['one two']);
  });

  const bad = (text: string, pattern: RegExp) => {
    try {
      parseCoreMetadata(text, origin);
      assert.fail('expected python.bad-metadata');
    } catch (err) {
      assert.ok(isEnvsealError(err));
      assert.equal(err.code, 'python.bad-metadata');
      assert.equal(err.exitCode, 2);
      assert.match(`${err.message}\n${err.details.join('\n')}`, pattern);
      assert.match(err.hint ?? '', /demo-pkg!=1\.0/);
    }
  };

  it('refuses metadata that names another project or version', () => {
    bad('Metadata-Version: 2.1\nName: other\nVersion: 1.0\n', /Name is "other", not demo-pkg/);
    bad('Metadata-Version: 2.1\nName: demo-pkg\nVersion: 2.0\n', /Version is 2\.0, but the file is listed as 1\.0/);
    bad('Metadata-Version: 2.1\nVersion: 1.0\n', /no Name field/);
  });

  it('refuses Requires-Dist lines that are not PEP 508, naming each', () => {
    bad('Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\nRequires-Dist: numpy >>1\nRequires-Dist: ok\n', /Requires-Dist: numpy >>1/);
  });

  it('refuses a Requires-Python that is not a specifier set', () => {
    bad('Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\nRequires-Python: three or newer\n', /Requires-Python "three or newer"/);
  });
});

describe('PEP 643 static sdist metadata', () => {
  const sdist = (text: string) => parseCoreMetadata(text, { ...origin, filename: 'demo-pkg-1.0.tar.gz' });

  it('trusts Metadata-Version 2.2+ without dynamic dependency fields', () => {
    assert.equal(sdistMetadataProblem(sdist('Metadata-Version: 2.2\nName: demo-pkg\nVersion: 1.0\nDynamic: Description\n')), null);
    assert.equal(sdistMetadataProblem(sdist('Metadata-Version: 2.4\nName: demo-pkg\nVersion: 1.0\n')), null);
  });

  it('does not trust older metadata or dynamic Requires-Dist', () => {
    assert.match(sdistMetadataProblem(sdist('Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n'))!, /Metadata-Version 2\.1/);
    assert.match(sdistMetadataProblem(sdist('Metadata-Version: 2.2\nName: demo-pkg\nVersion: 1.0\nDynamic: Requires-Dist\n'))!, /requires-dist as Dynamic/);
  });
});
