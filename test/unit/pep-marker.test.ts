import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import {
  type Marker,
  type MarkerEnvironment,
  andMarkers,
  evaluateMarker,
  formatMarker,
  listMarkerVariables,
  parseMarker,
} from '../../src/ecosystems/python/pep/marker.js';
import { conformance } from './pep-conformance.js';

const linux311 = conformance.environments['cp311-linux-x86_64']!;

describe('PEP 508 markers: conformance vectors (computed with packaging)', () => {
  it(`evaluates all ${conformance.markers.length} marker vectors like Marker.evaluate`, () => {
    for (const v of conformance.markers) {
      const env = conformance.environments[v.environment]!;
      assert.ok(env, v.environment);
      const where = `${JSON.stringify(v.marker)} on ${v.environment} with extra ${JSON.stringify(v.extra)}`;
      const run = () => evaluateMarker(v.marker, env, { extras: v.extra === null ? [] : [v.extra] });
      if (typeof v.result === 'boolean') {
        assert.equal(run(), v.result, where);
      } else if (v.result === 'error:KeyError') {
        // packaging looks up a name that is not in the environment: two literals compared, or a
        // lock-file-only variable. We report the same situations as evaluation errors that say which.
        assert.throws(
          run,
          (err: unknown) =>
            err instanceof EnvsealError &&
            err.code === 'pep508.marker.evaluation' &&
            /two literal strings|only defined when evaluating a lock file/.test(err.message),
          where,
        );
      } else {
        assert.equal(v.result, 'error:UndefinedComparison', where);
        assert.throws(
          run,
          (err: unknown) => err instanceof EnvsealError && err.code === 'pep508.marker.evaluation' && /is not defined between/.test(err.message),
          where,
        );
      }
    }
  });
});

describe('PEP 508 markers: evaluation', () => {
  it('compares version variables as PEP 440 versions and other variables as strings', () => {
    assert.equal(evaluateMarker('python_version >= "3.9"', linux311), true); // 3.11 >= 3.9, not "3.11" < "3.9"
    assert.equal(evaluateMarker('python_full_version < "3.11.10"', linux311), true);
    assert.equal(evaluateMarker('python_version == "3.*"', linux311), true);
    assert.equal(evaluateMarker('python_version ~= "3.10"', linux311), true);
    assert.equal(evaluateMarker('python_version === "3.11"', linux311), true);
    assert.equal(evaluateMarker('platform_machine > "a"', linux311), false);
    assert.equal(evaluateMarker('platform_machine >= "x86_64"', linux311), true);
    assert.equal(evaluateMarker('"linux" in sys_platform', linux311), true);
    assert.equal(evaluateMarker('"arm" not in platform_machine', linux311), true);
    assert.equal(evaluateMarker('python_version in "3.10 3.11 3.12"', linux311), true);
  });

  it('binds "and" tighter than "or", and honours parentheses', () => {
    assert.equal(evaluateMarker('os_name == "nt" and python_version < "3" or sys_platform == "linux"', linux311), true);
    assert.equal(evaluateMarker('os_name == "nt" and (python_version < "3" or sys_platform == "linux")', linux311), false);
  });

  it('evaluates `extra` against each requested extra (pip semantics), normalising names (PEP 685)', () => {
    const m = 'extra == "GPU_Support" and sys_platform == "linux"';
    assert.equal(evaluateMarker(m, linux311), false);
    assert.equal(evaluateMarker(m, linux311, { extras: ['docs'] }), false);
    assert.equal(evaluateMarker(m, linux311, { extras: ['docs', 'gpu-support'] }), true);
    assert.equal(evaluateMarker(m, linux311, { extras: ['gpu.support'] }), true);
    // Inside parentheses too (packaging 26 forgets to normalise there; we deliberately do not copy that).
    assert.equal(evaluateMarker('(extra == "Foo_Bar") and os_name == "posix"', linux311, { extras: ['foo-bar'] }), true);
    assert.equal(evaluateMarker('extra != "a"', linux311, { extras: ['a', 'b'] }), true);
  });

  it('repairs a python_full_version ending in "+" like packaging', () => {
    const env: MarkerEnvironment = { ...linux311, python_full_version: '3.11.7+' };
    assert.equal(evaluateMarker('python_full_version >= "3.11.7"', env), true);
  });

  it('evaluates every operand, so an undefined comparison is an error even where the result is decided', () => {
    assert.throws(() => evaluateMarker('os_name == "posix" or os_name ~= "1.0"', linux311), {
      code: 'pep508.marker.evaluation',
    });
  });

  it('reports comparisons of two literals and lock-file variables as evaluation errors', () => {
    assert.throws(
      () => evaluateMarker('"a" == "a"', linux311),
      (err: unknown) => err instanceof EnvsealError && /two literal strings/.test(err.message) && /variable/.test(err.hint ?? ''),
    );
    assert.throws(() => evaluateMarker('"x" in dependency_groups', linux311), /lock file/);
  });

  it('says which variable an incomplete environment lacks', () => {
    const { platform_release: _, ...partial } = linux311;
    assert.throws(
      () => evaluateMarker('platform_release >= "5"', partial as MarkerEnvironment),
      (err: unknown) =>
        err instanceof EnvsealError && err.message.includes('no value for "platform_release"') && (err.hint ?? '').includes('implementation_name'),
    );
  });
});

describe('PEP 508 markers: parsing and printing', () => {
  it('normalises spelling: quotes, spaces, legacy variable names, extra values', () => {
    assert.equal(
      formatMarker(parseMarker("os.name=='posix' and python_implementation!='PyPy' or extra=='Foo_Bar'")),
      'os_name == "posix" and platform_python_implementation != "PyPy" or extra == "foo-bar"',
    );
    assert.equal(formatMarker(parseMarker('"x"not in platform.version')), '"x" not in platform_version');
  });

  it("keeps the author's parentheses, drops redundant outer ones, and adds them where precedence needs", () => {
    assert.equal(formatMarker(parseMarker('(python_version == "2.7")')), 'python_version == "2.7"');
    assert.equal(formatMarker(parseMarker('os_name == "a" and (os_name == "b" and os_name == "c")')), 'os_name == "a" and (os_name == "b" and os_name == "c")');
    // packaging prints this one without any parentheses, which changes its meaning; we keep one pair.
    assert.equal(
      formatMarker(parseMarker('python_version < "3.10" and ((sys_platform == "linux" or sys_platform == "darwin"))')),
      'python_version < "3.10" and (sys_platform == "linux" or sys_platform == "darwin")',
    );
    const or: Marker = parseMarker('os_name == "a" or os_name == "b"');
    assert.equal(formatMarker(andMarkers(parseMarker('sys_platform == "linux"'), or)!), 'sys_platform == "linux" and (os_name == "a" or os_name == "b")');
    assert.equal(andMarkers(undefined, or), or);
  });

  it('prints a string holding a double quote in single quotes so it still means the same', () => {
    const m = parseMarker(`'a"b' == os_name`);
    assert.equal(formatMarker(m), `'a"b' == os_name`);
    assert.deepEqual(parseMarker(formatMarker(m)), m);
  });

  it('lists the variables a marker reads', () => {
    assert.deepEqual(listMarkerVariables(parseMarker('python_version > "3" and (extra == "a" or os.name == "nt")')), ['extra', 'os_name', 'python_version']);
  });

  const errors: [string, string, number][] = [
    ['python_version >= "3.8" and', 'expected a marker variable', 28],
    ['python_version = "3.8"', 'expected a marker operator', 16],
    ['python_version not "3.8"', '"in" after "not"', 20],
    ['python_version not"3.8"', 'whitespace after "not"', 19],
    ['(python_version >= "3.8"', 'expected ")"', 1],
    ['python_version >= "3.8" os_name', 'expected end of marker expression', 25],
    ['platform_machine == "x86\\64"', 'backslash', 25],
    ['unknown_var == "1"', 'expected a marker variable', 1],
  ];
  for (const [text, reason, column] of errors) {
    it(`rejects ${JSON.stringify(text)} at column ${column}`, () => {
      assert.throws(
        () => parseMarker(text),
        (err: unknown) =>
          err instanceof EnvsealError &&
          err.code === 'pep508.marker.invalid' &&
          err.exitCode === 2 &&
          err.message.includes(reason) &&
          err.message.includes(`at column ${column}`) &&
          err.data?.column === column &&
          err.details[0] === text &&
          err.details[1] === `${' '.repeat(column - 1)}${err.details[1]!.trimStart()}`,
      );
    });
  }
});
