import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthChallenge } from '../../src/oci/www-authenticate.js';
import { AuthenticateHeaderError, findChallenge, parseWwwAuthenticate } from '../../src/oci/www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  const table: [string, string, AuthChallenge[]][] = [
    [
      'Docker Hub',
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io' } }],
    ],
    [
      'Docker Hub, insufficient scope on a manifest',
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nope:pull",error="insufficient_scope"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/nope:pull',
            error: 'insufficient_scope',
          },
        },
      ],
    ],
    [
      'ghcr.io',
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:user/image:pull' } }],
    ],
    [
      'nvcr.io: no service, a comma inside the quoted scope',
      'Bearer realm="https://nvcr.io/proxy_auth",scope="repository:nvidia/pytorch:pull,push"',
      [{ scheme: 'bearer', params: { realm: 'https://nvcr.io/proxy_auth', scope: 'repository:nvidia/pytorch:pull,push' } }],
    ],
    ['distribution registry with htpasswd', 'Basic realm="basic-realm"', [{ scheme: 'basic', params: { realm: 'basic-realm' } }]],
    ['Basic with a charset', 'Basic realm="x", charset="UTF-8"', [{ scheme: 'basic', params: { realm: 'x', charset: 'UTF-8' } }]],
    [
      'two challenges in one header (RFC 7235 §4.1 example)',
      'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
      [
        { scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
        { scheme: 'basic', params: { realm: 'simple' } },
      ],
    ],
    [
      'Bearer then Basic',
      'Bearer realm="https://r/token",service="s", Basic realm="r"',
      [
        { scheme: 'bearer', params: { realm: 'https://r/token', service: 's' } },
        { scheme: 'basic', params: { realm: 'r' } },
      ],
    ],
    [
      'case-insensitive scheme and parameter names, unquoted values, spaces around "="',
      'BEARER Realm = "https://r/token" ,  SERVICE=svc.io',
      [{ scheme: 'bearer', params: { realm: 'https://r/token', service: 'svc.io' } }],
    ],
    ['a bare scheme', 'Negotiate', [{ scheme: 'negotiate', params: {} }]],
    [
      'token68 (with padding) followed by another challenge',
      'Negotiate dXNlcjpwYXNz==, Basic realm="r"',
      [
        { scheme: 'negotiate', params: {}, token68: 'dXNlcjpwYXNz==' },
        { scheme: 'basic', params: { realm: 'r' } },
      ],
    ],
    ['token68 with "/" and "+"', 'Foo ab/c+d', [{ scheme: 'foo', params: {}, token68: 'ab/c+d' }]],
    ['empty list elements are allowed', ', Basic realm="a",, charset=x ,', [{ scheme: 'basic', params: { realm: 'a', charset: 'x' } }]],
    ['the first of a repeated parameter wins', 'Basic realm="a", realm="b"', [{ scheme: 'basic', params: { realm: 'a' } }]],
    ['escaped backslash in a quoted string', 'Basic realm="a\\\\b"', [{ scheme: 'basic', params: { realm: 'a\\b' } }]],
  ];
  for (const [name, header, expected] of table) {
    it(name, () => {
      assert.deepEqual(parseWwwAuthenticate(header), expected);
    });
  }

  it('keeps a "__proto__" parameter as plain data', () => {
    const [challenge] = parseWwwAuthenticate('Basic __proto__="x", realm="r"');
    assert.equal(Object.getPrototypeOf(challenge!.params), Object.prototype);
    assert.equal(challenge!.params.realm, 'r');
    assert.equal(Object.keys(challenge!.params).includes('__proto__'), true);
  });

  const bad: [string, RegExp][] = [
    ['', /no challenge/],
    ['Bearer realm="unterminated', /unterminated quoted string/],
    ['Bearer realm="a" service="b"', /expected "," between auth-params/],
    ['="x"', /expected an auth-scheme/],
    ['Basic @@@', /unexpected character/],
    // ":" and "/" are not token characters: a URL must be quoted.
    ['Bearer realm=https://r/token', /expected "," between auth-params/],
  ];
  for (const [header, why] of bad) {
    it(`rejects ${JSON.stringify(header)}`, () => {
      assert.throws(
        () => parseWwwAuthenticate(header),
        (err: unknown) => err instanceof AuthenticateHeaderError && why.test(err.message),
      );
    });
  }

  it('finds a challenge by scheme, ignoring case', () => {
    const challenges = parseWwwAuthenticate('Basic realm="r", Bearer realm="https://t"');
    assert.equal(findChallenge(challenges, 'Bearer')?.params.realm, 'https://t');
    assert.equal(findChallenge(challenges, 'digest'), undefined);
  });
});
