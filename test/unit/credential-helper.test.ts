import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RegistryCredentialSource, runCredentialHelper } from '../../src/oci/credential-helper.js';
import { parseDockerConfig } from '../../src/oci/docker-config.js';
import { EnvsealError } from '../../src/core/errors.js';

const bin = mkdtempSync(join(tmpdir(), 'envseal-credhelper-'));
after(() => rmSync(bin, { recursive: true, force: true }));

/**
 * A real helper on PATH: docker-credential-envsealtest. What it does depends on the server it is asked for,
 * and it appends every request to calls.log, so tests can count how often it ran.
 */
writeFileSync(
  join(bin, 'docker-credential-envsealtest'),
  `#!/bin/sh
[ "$1" = get ] || { echo "unsupported $1" >&2; exit 2; }
read -r server
echo "$server" >> "${join(bin, 'calls.log')}"
case "$server" in
  127.0.0.1:5000) printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret-pass"}\\n' "$server" ;;
  token.example) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-abc"}\\n' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"hubuser","Secret":"hubpass"}\\n' "$server" ;;
  unknown.example) echo "credentials not found in native keychain"; exit 1 ;;
  broken.example) echo "keychain is locked" >&2; exit 3 ;;
  garbage.example) echo "not json at all" ;;
  hang.example) sleep 30 ;;
esac
`,
);
chmodSync(join(bin, 'docker-credential-envsealtest'), 0o755);
const env = { PATH: `${bin}:/usr/bin:/bin` };

function assertError(err: unknown, code: string, exitCode: number, ...needles: string[]): boolean {
  assert.ok(err instanceof EnvsealError, String(err));
  assert.equal(err.code, code);
  assert.equal(err.exitCode, exitCode);
  for (const needle of needles) assert.ok(err.message.includes(needle), `${err.message} should name ${needle}`);
  assert.ok(!err.message.includes('s3cret'));
  return true;
}

describe('runCredentialHelper (docker-credential-<name> get)', () => {
  it('reads {Username, Secret}; "<token>" makes the secret an identity token', async () => {
    assert.deepEqual(await runCredentialHelper('envsealtest', '127.0.0.1:5000', { env }), {
      username: 'alice',
      password: 's3cret-pass',
      server: 'docker-credential-envsealtest (127.0.0.1:5000)',
    });
    const token = await runCredentialHelper('envsealtest', 'token.example', { env });
    assert.equal(token?.identityToken, 'refresh-abc');
    assert.equal(token?.password, '');
  });

  it('"credentials not found" means anonymous, not an error', async () => {
    assert.equal(await runCredentialHelper('envsealtest', 'unknown.example', { env }), undefined);
  });

  it('a missing helper is exit 2 naming it', async () => {
    await assert.rejects(runCredentialHelper('nosuchhelper', 'r.example', { env }), (err) =>
      assertError(err, 'registry.credential-helper-missing', 2, 'docker-credential-nosuchhelper', 'r.example'),
    );
    await assert.rejects(runCredentialHelper('../evil', 'r.example', { env }), (err) => assertError(err, 'registry.credential-helper-name', 2, '../evil'));
  });

  it('a helper that fails or answers garbage is exit 3 with its message', async () => {
    await assert.rejects(runCredentialHelper('envsealtest', 'broken.example', { env }), (err) =>
      assertError(err, 'registry.credential-helper-failed', 3, 'docker-credential-envsealtest', 'exit 3', 'keychain is locked'),
    );
    await assert.rejects(runCredentialHelper('envsealtest', 'garbage.example', { env }), (err) =>
      assertError(err, 'registry.credential-helper-failed', 3, 'garbage.example', 'JSON'),
    );
  });

  it('a helper that hangs is stopped at the timeout (exit 3)', async () => {
    const started = Date.now();
    await assert.rejects(runCredentialHelper('envsealtest', 'hang.example', { env, timeoutMs: 500 }), (err) =>
      assertError(err, 'registry.credential-helper-timeout', 3, 'docker-credential-envsealtest', '0.5 s', 'hang.example'),
    );
    assert.ok(Date.now() - started < 5000);
  });
});

describe('RegistryCredentialSource: the docker CLI order', () => {
  const config = parseDockerConfig(
    JSON.stringify({
      auths: { '127.0.0.1:5000': { auth: Buffer.from('inline:pw').toString('base64') }, 'plain.example': { auth: Buffer.from('p:q').toString('base64') } },
      credsStore: 'envsealtest',
      credHelpers: { 'plain.example': 'nosuchhelper', 'inline.example': '' },
    }),
  );

  it('credHelpers, then credsStore (over the inline auths), Docker Hub under its v1 URL; once per registry', async () => {
    rmSync(join(bin, 'calls.log'), { force: true });
    const source = new RegistryCredentialSource(config, { env });
    assert.equal((await source.credentialsFor('127.0.0.1:5000'))?.username, 'alice');
    assert.equal((await source.credentialsFor('127.0.0.1:5000'))?.username, 'alice');
    assert.equal((await source.credentialsFor('docker.io'))?.username, 'hubuser');
    await assert.rejects(source.credentialsFor('plain.example'), (err) => assertError(err, 'registry.credential-helper-missing', 2, 'nosuchhelper'));
    const { readFileSync } = await import('node:fs');
    assert.deepEqual(readFileSync(join(bin, 'calls.log'), 'utf8').trim().split('\n'), ['127.0.0.1:5000', 'https://index.docker.io/v1/']);
  });

  it('without helper options only the inline auths are used', async () => {
    const source = new RegistryCredentialSource(config);
    assert.deepEqual(await source.credentialsFor('127.0.0.1:5000'), { username: 'inline', password: 'pw', server: '127.0.0.1:5000' });
  });

  it('auths identitytoken entries are identity tokens', async () => {
    const withToken = parseDockerConfig(JSON.stringify({ auths: { 'r.example': { identitytoken: 'tok' } } }));
    assert.equal((await new RegistryCredentialSource(withToken).credentialsFor('r.example'))?.identityToken, 'tok');
  });
});
