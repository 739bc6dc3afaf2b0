/**
 * The npm wing's `ignoreScripts` option (envseal's own image needs it: its `prepare` runs tsc, a
 * devDependency): it reaches the Dockerfile, the fingerprint and drift, and a project that does not set it
 * gets the very declared inputs, lock section, fingerprint part and Dockerfile lines it got before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { npmWing } from '../../src/ecosystems/npm/index.js';
import type { LoadContext, RenderContext } from '../../src/ecosystems/types.js';
import { CredentialStore } from '../../src/core/url-credentials.js';

const PACKAGE_JSON = JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { semver: '^7.0.0' } });
const LOCKFILE = JSON.stringify({
  name: 'app',
  lockfileVersion: 3,
  packages: { '': { name: 'app', dependencies: { semver: '^7.0.0' } }, 'node_modules/semver': { version: '7.6.0' } },
});

const ctx: LoadContext = {
  specFile: 'envseal.yaml',
  readManifest: async (rel) => (rel.endsWith('package.json') ? PACKAGE_JSON : LOCKFILE),
  readOptional: async (rel) => (rel.endsWith('package-lock.json') ? LOCKFILE : null),
  credentials: new CredentialStore(),
};

async function lockSection(spec: Record<string, unknown>) {
  const parsed = npmWing.schemas.spec.parse(spec);
  const loaded = await npmWing.load(parsed, undefined, ctx);
  assert.ok(loaded);
  const section = await npmWing.resolve(loaded.declared, loaded.state, {} as never);
  assert.ok(section);
  return { declared: npmWing.schemas.declared.parse(loaded.declared), section: npmWing.schemas.section.parse(section) };
}

const renderCtx = {} as RenderContext;

test('npm without ignoreScripts: declared inputs, section, fingerprint and Dockerfile as before the option', async () => {
  const { declared, section } = await lockSection({ dir: '.' });
  assert.deepEqual(Object.keys(declared).sort(), ['dir', 'lockfileSha256', 'packageJsonSha256', 'target']);
  assert.deepEqual(Object.keys(section).sort(), ['dir', 'lockfile', 'lockfileVersion', 'packages', 'sha256', 'target']);
  assert.deepEqual(npmWing.fingerprint(section), { sha256: section.sha256, target: '/opt/envseal/npm' });
  assert.equal(
    npmWing.render(section, renderCtx).deps,
    [
      '# npm: `npm ci` from the lockfile whose sha256 is in the lock.',
      'COPY package.json package-lock.json /opt/envseal/npm/',
      'RUN cd /opt/envseal/npm && npm ci --omit=dev --no-audit --no-fund && npm cache clean --force',
    ].join('\n'),
  );
});

test('npm.ignoreScripts: --ignore-scripts and no timestamped npm logs in the image; in the fingerprint and drift', async () => {
  const plain = await lockSection({ dir: '.' });
  const { declared, section } = await lockSection({ dir: '.', ignoreScripts: true });
  assert.equal(declared.ignoreScripts, true);
  assert.equal(section.ignoreScripts, true);
  assert.notDeepEqual(npmWing.fingerprint(section), npmWing.fingerprint(plain.section));
  const deps = npmWing.render(section, renderCtx).deps!;
  assert.match(
    deps,
    /^RUN cd \/opt\/envseal\/npm && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --logs-max=0 && npm cache clean --force --logs-max=0$/m,
  );
  assert.deepEqual(
    npmWing.drift(plain.declared, declared, 'envseal.yaml').map((d) => [d.subject, d.before, d.after]),
    [['npm.ignoreScripts', 'false', 'true']],
  );
  // `false` is the default: it is stored as absence, like a project that never heard of the option.
  assert.deepEqual(await lockSection({ dir: '.', ignoreScripts: false }), plain);
});

test('npm.ignoreScripts must be a boolean', () => {
  assert.equal(npmWing.schemas.spec.safeParse({ ignoreScripts: 'yes' }).success, false);
  assert.equal(
    npmWing.schemas.section.safeParse({
      dir: '.',
      target: '/t',
      lockfile: 'package-lock.json',
      lockfileVersion: 3,
      sha256: 'a'.repeat(64),
      packages: 1,
      ignoreScripts: false,
    }).success,
    false,
  );
});
