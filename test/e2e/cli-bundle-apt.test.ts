/**
 * Issue 15, offline bundles of a project that installs Debian packages: `envseal bundle` records what apt
 * fetches for the locked versions (the signed InRelease, the package lists, every .deb) through a proxy, and
 * `envseal load --rebuild` answers apt from the bundle alone and gets the same image ID. The proof that apt
 * used nothing else: the rebuild's apt requests all go through the bundle's proxy (the count is reported),
 * and a bundle whose apt files are withheld cannot be rebuilt (exit 2, nothing built).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, requireLab } from '../lab/lab.js';

const run = promisify(execFile);
const NAME = 'bundle15-apt-e2e';

interface Manifest {
  bundleVersion: number;
  entries: { path: string; kind: string; url?: string; size: number }[];
}

describe('offline bundles with apt packages: load --rebuild from the recorded archive files (issue 15)', { concurrency: false, timeout: 30 * 60_000 }, () => {
  let project: TempProject;
  let imageId = '';
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') }, timeoutMs: 15 * 60_000 });
  const removeImage = async () => {
    const rm = await dockerCli(['rmi', '-f', imageId]);
    assert.equal(rm.code, 0, rm.stderr);
  };
  const manifestOf = async (file: string) => JSON.parse((await run('tar', ['-xOf', project.path(file), 'manifest.json'])).stdout) as Manifest;

  before(async () => {
    await requireLab();
    project = await makeTempProject({
      'envseal.yaml': `version: 1
name: ${NAME}
base: ${LAB_BASE_IMAGE}
apt:
  packages: [jq]
targets:
  deploy:
    copy: [run.sh]
    command: [sh, run.sh]
`,
      'run.sh': 'echo \'{"ok": 1}\' | jq -c .\n',
    });
    for (const step of [['lock'], ['generate']]) {
      const res = await envseal(step);
      assert.equal(res.code, 0, res.stderr);
    }
  });

  after(async () => {
    if (imageId) await dockerCli(['rmi', '-f', imageId]);
    await project?.cleanup();
  });

  test('bundle records InRelease, the package lists and every locked .deb', async () => {
    const built = await envseal(['build', '--target', 'deploy', '--json']);
    assert.equal(built.code, 0, built.stderr);
    ({ imageId } = JSON.parse(built.stdout) as { imageId: string });
    const bundled = await envseal(['bundle', '--target', 'deploy', '-o', 'env.tar', '--json']);
    assert.equal(bundled.code, 0, bundled.stderr);
    const out = JSON.parse(bundled.stdout) as { aptFiles: number; rebuildBlocker: string | null };
    assert.equal(out.rebuildBlocker, null);
    const manifest = await manifestOf('env.tar');
    assert.equal(manifest.bundleVersion, 2);
    const apt = manifest.entries.filter((e) => e.kind === 'apt');
    assert.equal(apt.length, out.aptFiles);
    assert.ok(
      apt.some((e) => /^apt\/[^/]+\/.*\/dists\/bookworm\/InRelease$/.test(e.path)),
      apt.map((e) => e.path).join(', '),
    );
    const lock = (await run('cat', [project.path('envseal.lock')])).stdout;
    for (const name of ['jq', 'libjq1', 'libonig5']) {
      const version = new RegExp(`"name": "${name}",\\s*"targets": \\[[^\\]]*\\],\\s*"version": "([^"]+)"`).exec(lock)?.[1];
      assert.ok(version, `${name} is locked`);
      const file = `${name}_${version.replace(/^\d+:/, '')}_`;
      assert.ok(
        apt.some((e) => e.path.includes(`/${file}`) && e.path.endsWith('.deb')),
        `${file}*.deb is bundled: ${apt.map((e) => e.path).join(', ')}`,
      );
    }
  });

  test('load --rebuild after removing the image: the same image ID, apt answered from the bundle', async () => {
    await removeImage();
    const rebuilt = await envseal(['load', 'env.tar', '--rebuild', '--json']);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    const out = JSON.parse(rebuilt.stdout) as { imageId: string; rebuilt: boolean; servedFromBundle: number };
    assert.equal(out.imageId, imageId);
    assert.equal(out.rebuilt, true);
    const aptFiles = (await manifestOf('env.tar')).entries.filter((e) => e.kind === 'apt').length;
    assert.ok(out.servedFromBundle >= aptFiles, `${out.servedFromBundle} requests answered from the bundle, ${aptFiles} apt files`);
    const ran = await dockerCli(['run', '--rm', '--network', 'none', imageId]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /\{"ok":1\}/);
  });

  test('a bundle written without the apt files (an older envseal): load --rebuild is refused with exit 2, load works', async () => {
    // Repack the bundle as version 1 wrote it: the same entries but no apt ones, manifest.json last.
    const manifest = await manifestOf('env.tar');
    const dir = await mkdtemp(project.path('old-'));
    await run('tar', ['-xf', project.path('env.tar'), '-C', dir]);
    const kept = manifest.entries.filter((e) => e.kind !== 'apt');
    await writeFile(join(dir, 'manifest.json'), `${JSON.stringify({ ...manifest, bundleVersion: 1, entries: kept }, null, 2)}\n`);
    await run('tar', ['-cf', project.path('old.tar'), '-C', dir, ...kept.map((e) => e.path), 'manifest.json']);
    const refused = await envseal(['load', 'old.tar', '--rebuild']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /old\.tar: cannot rebuild offline: the lock installs 3 apt package\(s\), and the bundle does not hold what apt fetched for them/,
    );
    const loaded = await envseal(['load', 'old.tar', '--json']);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal(JSON.parse(loaded.stdout).imageId, imageId);
  });
});
