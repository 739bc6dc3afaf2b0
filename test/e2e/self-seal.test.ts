/**
 * envseal seals itself: the repository's own envseal.yaml, envseal.lock, envseal.Dockerfile and .dockerignore
 * (issue 9). The committed lock is fresh (`lock --check` in the checkout), and the committed files build the
 * envseal image from a copy of the checkout twice with --no-cache to one image ID; the image runs the CLI.
 *
 * The base is the lab's Node 20 (127.0.0.1:5000/node:20-bookworm, built by `.ci/lab-up` from the host's node:
 * this machine has no Docker Hub). A lab on another machine builds another digest of it than the one the
 * committed lock pins; then the copy is re-pinned to that lab's (`lock --upgrade`) and the test says so.
 * `npm ci` in the image fetches from the npm registry (host network). dist/ must be compiled (`npm run build`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { makeTempProject, REPO_ROOT, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_REGISTRY, LAB_UP_COMMAND, requireLab } from '../lab/lab.js';

/** Not part of the image's build context anyway (.dockerignore), and large or private: not copied. */
const SKIP = new Set(['node_modules', '.git', '.envseal', join('test', '.tmp'), join('bench', '.out')]);

const MANIFEST_ACCEPT =
  'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

async function registryHas(repository: string, reference: string): Promise<boolean> {
  const res = await fetch(`http://${LAB_REGISTRY}/v2/${repository}/manifests/${reference}`, { method: 'HEAD', headers: { Accept: MANIFEST_ACCEPT } });
  return res.status === 200;
}

describe('envseal seals itself', { concurrency: false }, () => {
  let project: TempProject;
  let env: Record<string, string>;
  const built: string[] = [];

  before(async () => {
    await requireLab();
    const lock = JSON.parse(await readFile(join(REPO_ROOT, 'envseal.lock'), 'utf8'));
    const pinned: string = lock.base.pinned;
    const digest = /^127\.0\.0\.1:5000\/node:20-bookworm@(sha256:[0-9a-f]{64})$/.exec(pinned)?.[1];
    assert.ok(digest, `envseal.lock pins ${pinned}, not the lab's ${LAB_REGISTRY}/node:20-bookworm`);
    assert.ok(
      await registryHas('node', '20-bookworm'),
      `the lab registry has no ${LAB_REGISTRY}/node:20-bookworm; run \`${LAB_UP_COMMAND}\` (its node-image step builds it)`,
    );
    project = await makeTempProject();
    await cp(REPO_ROOT, project.dir, {
      recursive: true,
      filter: (src) => !SKIP.has(relative(REPO_ROOT, src)),
    });
    env = { ENVSEAL_CACHE_DIR: project.path('.cache') };
    if (!(await registryHas('node', digest))) {
      // Another lab (another machine): its Node base has another digest. Pin the copy to it.
      const relock = await runEnvseal(['lock', '--upgrade'], { cwd: project.dir, env });
      assert.equal(relock.code, 0, relock.stderr);
      assert.equal((await runEnvseal(['generate'], { cwd: project.dir, env })).code, 0);
      process.stderr.write(`# self-seal: this lab's Node base is not the one envseal.lock pins (${digest}); built re-pinned\n`);
    }
  });
  after(async () => {
    if (built.length) await dockerCli(['rmi', '-f', ...new Set(built)]);
    await project?.cleanup();
  });

  test('the committed envseal.lock is fresh for the committed envseal.yaml and package-lock.json', async () => {
    const res = await runEnvseal(['lock', '--check'], { cwd: REPO_ROOT, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });
    assert.equal(res.code, 0, res.stdout + res.stderr);
  });

  test('two --no-cache builds of the deploy image: one image ID, and it runs the CLI', async () => {
    const build = async () => {
      const res = await runEnvseal(['build', '--target', 'deploy', '--no-cache', '--json'], { cwd: project.dir, env, timeoutMs: 10 * 60_000 });
      assert.equal(res.code, 0, res.stderr.slice(-3000));
      const out = JSON.parse(res.stdout) as { imageId: string; tags: string[]; diffIds: string[]; fingerprint: string };
      built.push(out.imageId, ...out.tags);
      return out;
    };
    const first = await build();
    const second = await build();
    assert.equal(second.imageId, first.imageId);
    assert.deepEqual(second.diffIds, first.diffIds);

    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'));
    const version = await dockerCli(['run', '--rm', '--network', 'none', first.imageId, '--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), pkg.version);
    const help = await dockerCli(['run', '--rm', '--network', 'none', first.imageId, 'verify', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: envseal verify/);
    const inspect = JSON.parse((await dockerCli(['image', 'inspect', first.imageId], { check: true })).stdout)[0];
    assert.equal(inspect.Config.Labels['dev.envseal.fingerprint'], first.fingerprint);
    assert.equal(inspect.Config.User, 'envseal');
  });
});
