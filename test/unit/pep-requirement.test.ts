import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { type Marker, evaluateMarker } from '../../src/ecosystems/python/pep/marker.js';
import { normalizeName } from '../../src/ecosystems/python/pep/names.js';
import { formatRequirement, parseRequirement, tryParseRequirement } from '../../src/ecosystems/python/pep/requirement.js';
import { conformance } from './pep-conformance.js';

/** `packaging`'s marker printing: always double quotes, no escaping (see the quoting test below). */
function printLikePackaging(marker: Marker): string {
  if (marker.kind === 'compare') {
    const side = (o: typeof marker.left) => (o.kind === 'variable' ? o.name : `"${o.value}"`);
    return `${side(marker.left)} ${marker.op} ${side(marker.right)}`;
  }
  return marker.items.map((m) => (m.kind === 'compare' ? printLikePackaging(m) : `(${printLikePackaging(m)})`)).join(` ${marker.kind} `);
}

describe('PEP 508 requirements: conformance vectors (computed with packaging)', () => {
  it(`parses all ${conformance.requirements.length} valid requirements like packaging.requirements.Requirement`, () => {
    for (const v of conformance.requirements) {
      const req = parseRequirement(v.input);
      assert.deepEqual(
        { name: req.name, extras: req.extras, specifier: req.specifier, url: req.url ?? null },
        // We normalise and sort extras (PEP 685); packaging keeps them as written.
        { name: v.name, extras: [...new Set(v.extras.map(normalizeName))].sort(), specifier: v.specifier, url: v.url },
        JSON.stringify(v.input),
      );
      assert.equal(req.normalizedName, normalizeName(v.name));
      if (v.marker === null) {
        assert.equal(req.marker, undefined, JSON.stringify(v.input));
        continue;
      }
      assert.ok(req.marker);
      // The structure packaging printed is the structure we parsed...
      assert.equal(printLikePackaging(req.marker), v.marker, JSON.stringify(v.input));
      const hasQuote = JSON.stringify(req.marker).includes('\\"');
      if (!hasQuote) {
        // ...and our own printing is the same text, except where a value holds a double quote.
        assert.equal(req.markerText, v.marker, JSON.stringify(v.input));
      } else {
        // packaging prints `'a" == os_name or ... or "b' == os_name` as `"a" == os_name or ... or "b" == os_name`,
        // which reads back as a different marker. Ours reads back as the same one.
        assert.notEqual(req.markerText, v.marker);
        assert.deepEqual(parseRequirement(formatRequirement(req)).marker, req.marker);
      }
    }
  });

  it(`rejects all ${conformance.invalid_requirements.length} invalid requirements`, () => {
    for (const text of conformance.invalid_requirements) {
      const result = tryParseRequirement(text);
      assert.equal(result.ok, false, `should reject ${JSON.stringify(text)}`);
    }
  });

  it('round-trips every valid vector through formatRequirement', () => {
    for (const v of conformance.requirements) {
      const req = parseRequirement(v.input);
      const again = parseRequirement(formatRequirement(req));
      assert.deepEqual(again, req, JSON.stringify(v.input));
    }
  });
});

describe('PEP 508 requirements: behaviour', () => {
  it('parses every part', () => {
    const req = parseRequirement('Foo.Bar [Security , Tests_X] (>=2.8.1, ==2.8.*) ; python_version < "3.12"');
    assert.deepEqual(
      { ...req, marker: undefined },
      {
        name: 'Foo.Bar',
        normalizedName: 'foo-bar',
        extras: ['security', 'tests-x'],
        specifier: '==2.8.*,>=2.8.1',
        marker: undefined,
        markerText: 'python_version < "3.12"',
      },
    );
    assert.equal(formatRequirement(req), 'Foo.Bar[security,tests-x]==2.8.*,>=2.8.1; python_version < "3.12"');
    assert.equal(formatRequirement(req, { normalizeName: true }), 'foo-bar[security,tests-x]==2.8.*,>=2.8.1; python_version < "3.12"');
  });

  it('parses direct references and prints them back', () => {
    const req = parseRequirement('pip @ https://github.com/pypa/pip/archive/22.0.2.zip ; sys_platform == "linux"');
    assert.equal(req.url, 'https://github.com/pypa/pip/archive/22.0.2.zip');
    assert.equal(req.specifier, '');
    assert.equal(formatRequirement(req), 'pip @ https://github.com/pypa/pip/archive/22.0.2.zip ; sys_platform == "linux"');
    assert.equal(evaluateMarker(req.marker!, conformance.environments['cp311-linux-x86_64']!), true);
  });

  const errors: [string, string, number][] = [
    ['', 'expected a package name', 1],
    ['-foo', 'expected a package name', 1],
    ['foo==1.0 bar', 'expected a comma (within the version specifier) or a semicolon', 4],
    ['foo bar', 'expected a version specifier or a semicolon', 5],
    ['foo[bar baz]', 'expected a comma between extra names', 9],
    ['foo[bar,]', 'expected an extra name after the comma', 9],
    ['foo[bar', 'expected "]"', 4],
    ['foo (>=1.0', 'expected ")"', 5],
    ['foo>=1.0.*', '".*" suffix can only be used with the == and != operators', 4],
    ['foo>=1.0+local', 'local version label (+...) can only be used with the == and != operators', 4],
    ['foo @ https://x.y/z.whl; os_name == "nt"', 'was read as part of the URL, put a space before it', 7],
    ['foo @ https://x.y/z.whl os_name', 'expected a semicolon (after the URL and whitespace)', 7],
    ['foo; os_name =', 'expected a marker operator', 14],
    ['foo; os_name ==', 'expected a marker variable', 16],
  ];
  for (const [text, reason, column] of errors) {
    it(`rejects ${JSON.stringify(text)}: ${reason} (column ${column})`, () => {
      assert.throws(
        () => parseRequirement(text),
        (err: unknown) =>
          err instanceof EnvsealError &&
          err.code === 'pep508.requirement.invalid' &&
          err.exitCode === 2 &&
          err.message.startsWith(`invalid requirement ${JSON.stringify(text)}: `) &&
          err.message.includes(reason) &&
          err.message.endsWith(`at column ${column}`) &&
          err.data?.column === column &&
          (err.hint ?? '').includes('dependency-specifiers'),
      );
    });
  }
});
