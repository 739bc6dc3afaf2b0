/**
 * Config rewriting (build/normalize-image.ts): fixed timestamps, no build-host noise, new diff_ids, and
 * canonical bytes (the config digest is the image ID).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DROPPED_CONFIG_FIELDS, DROPPED_RUNTIME_CONFIG_FIELDS, formatEpoch, rewriteImageConfig } from '../../src/image/normalize/config-rewrite.js';
import { isEnvsealError } from '../../src/core/errors.js';

const EPOCH = 1_700_000_000;
const DIFF_IDS = [`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`];

/** What Engine 20.10's classic builder wrote for `FROM local/python:bookworm` + ENV + RUN (trimmed). */
function classicConfig(overrides: { created?: string; container?: string; image?: string; stepCreated?: string } = {}): Record<string, unknown> {
  const runtime = (cmd: string[]) => ({
    Hostname: '',
    Domainname: '',
    User: '',
    Env: ['LANG=C.UTF-8', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'SOURCE_DATE_EPOCH=1700000000'],
    Cmd: cmd,
    Image: overrides.image ?? 'sha256:ecbe52375d85a72bd9faf4d595092a59cfaa3cd45e3446cd4e8a687c9e2f6fff',
    Volumes: null,
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: { 'org.envseal.fingerprint': 'sha256:abc' },
  });
  return {
    architecture: 'amd64',
    config: runtime(['bash']),
    container: overrides.container ?? 'e39e005e92051e8da9b03527dfc0e41527ac12518270c967af3c651d0e048ccf',
    container_config: runtime(['/bin/sh', '-c', 'python3 -m compileall -q /app']),
    created: overrides.created ?? '2026-11-27T23:02:50.946430589Z',
    docker_version: '20.10.24+dfsg1',
    history: [
      { created: '2026-11-27T22:55:02.450060284Z', comment: 'Imported from -' },
      {
        created: overrides.stepCreated ?? '2026-11-27T23:02:50.713967536Z',
        created_by: '/bin/sh -c #(nop)  ENV SOURCE_DATE_EPOCH=1700000000',
        empty_layer: true,
      },
      { created: overrides.created ?? '2026-11-27T23:02:50.946430589Z', created_by: '/bin/sh -c python3 -m compileall -q /app' },
    ],
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: ['sha256:9e24', 'sha256:3238'] },
  };
}

const rewrite = (config: unknown) => rewriteImageConfig(Buffer.from(JSON.stringify(config)), { sourceDateEpoch: EPOCH, diffIds: DIFF_IDS });

describe('rewriteImageConfig', () => {
  it('sets created and every history created to the epoch, and replaces rootfs.diff_ids', () => {
    const out = JSON.parse(rewrite(classicConfig()).toString()) as Record<string, unknown> & { history: { created: string }[]; rootfs: unknown };
    assert.equal(out.created, '2023-11-14T22:13:20Z');
    assert.deepEqual(
      out.history.map((h) => h.created),
      ['2023-11-14T22:13:20Z', '2023-11-14T22:13:20Z', '2023-11-14T22:13:20Z'],
    );
    assert.deepEqual(out.rootfs, { type: 'layers', diff_ids: DIFF_IDS });
  });

  it('drops the build-host fields and keeps everything else', () => {
    const out = JSON.parse(rewrite(classicConfig()).toString()) as Record<string, unknown> & {
      config: Record<string, unknown>;
      history: Record<string, unknown>[];
    };
    for (const field of ['container', 'container_config', 'docker_version']) assert.ok(!(field in out), `${field} is dropped`);
    assert.ok(!('Image' in out.config), 'config.Image is dropped');
    assert.deepEqual(Object.keys(DROPPED_CONFIG_FIELDS).sort(), ['container', 'container_config', 'docker_version']);
    assert.deepEqual(Object.keys(DROPPED_RUNTIME_CONFIG_FIELDS), ['Image']);
    assert.deepEqual(out.config.Cmd, ['bash']);
    assert.deepEqual(out.config.Labels, { 'org.envseal.fingerprint': 'sha256:abc' });
    assert.equal(out.config.Volumes, null, 'nulls are kept');
    assert.equal(out.history[1]!.empty_layer, true);
    assert.equal(out.history[2]!.created_by, '/bin/sh -c python3 -m compileall -q /app');
    assert.equal(out.architecture, 'amd64');
  });

  it('gives identical bytes for two builds that differ only in times and build containers', () => {
    const one = rewrite(classicConfig());
    const two = rewrite(
      classicConfig({
        created: '2026-11-28T08:00:00.1Z',
        stepCreated: '2026-11-28T07:59:59Z',
        container: 'ffff005e92051e8da9b03527dfc0e41527ac12518270c967af3c651d0e048ccf',
        image: 'sha256:0000052375d85a72bd9faf4d595092a59cfaa3cd45e3446cd4e8a687c9e2f6fff',
      }),
    );
    assert.ok(one.equals(two));
  });

  it('writes canonical JSON: sorted keys, no whitespace, independent of the input key order', () => {
    const config = classicConfig();
    const reversed = Object.fromEntries(Object.entries(config).reverse());
    const out = rewrite(config);
    assert.ok(out.equals(rewrite(reversed)));
    const text = out.toString();
    assert.ok(!/\n|": /.test(text), 'compact');
    assert.ok(text.startsWith('{"architecture":"amd64","config":{"Cmd":["bash"],"Domainname":""'), text.slice(0, 80));
  });

  it('does not add history timestamps that were not there', () => {
    const out = JSON.parse(rewrite({ ...classicConfig(), history: [{ created_by: 'x' }] }).toString()) as { history: Record<string, unknown>[] };
    assert.deepEqual(out.history, [{ created_by: 'x' }]);
  });

  it('rejects a config that is not a JSON object, and an epoch that is not whole seconds in range', () => {
    assert.throws(
      () => rewriteImageConfig(Buffer.from('not json'), { sourceDateEpoch: EPOCH, diffIds: [] }),
      (err: unknown) => isEnvsealError(err) && err.code === 'normalize.config' && err.exitCode === 3,
    );
    assert.throws(() => rewriteImageConfig(Buffer.from('[1]'), { sourceDateEpoch: EPOCH, diffIds: [] }), /not a JSON object/);
    for (const bad of [-1, 1.5, Number.NaN, 253402300800]) {
      assert.throws(
        () => rewriteImageConfig(Buffer.from('{}'), { sourceDateEpoch: bad, diffIds: [] }),
        (err: unknown) => isEnvsealError(err) && err.code === 'normalize.epoch',
      );
    }
  });
});

describe('formatEpoch', () => {
  it('writes RFC 3339 UTC without fractional seconds', () => {
    assert.equal(formatEpoch(0), '1970-01-01T00:00:00Z');
    assert.equal(formatEpoch(EPOCH), '2023-11-14T22:13:20Z');
  });
});
