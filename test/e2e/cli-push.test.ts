/**
 * `envseal build --push`: the image goes to the registry named in the tag, and the digest envseal reports is
 * the one the registry serves for that tag. A run record of the pushed image then carries the repo digest.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_REGISTRY, LAB_REGISTRY_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

describe('build --push', { concurrency: false }, () => {
  let project: TempProject;
  const repo = `envseal-e2e/push-${process.pid}`;
  const tag = `${LAB_REGISTRY}/${repo}:v1`;

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({
      'envseal.yaml': `version: 1\nname: push-e2e\nbase: ${LAB_BASE_IMAGE}\npython:\n  packages: ["tinyconfig>=1.0"]\n  index: ${LAB_INDEX_URL}\ntargets:\n  deploy:\n    copy: [main.py]\n    command: [python, main.py]\n`,
      'main.py': 'import tinyconfig\nprint(tinyconfig.loads("a = 1"))\n',
    });
    assert.equal((await runEnvseal(['lock'], { cwd: project.dir })).code, 0);
    assert.equal((await runEnvseal(['generate'], { cwd: project.dir })).code, 0);
  });
  after(async () => {
    await dockerCli(['rmi', '-f', tag]);
    await project?.cleanup();
  });

  test('pushes, reports the digest the registry serves, and records it', async () => {
    const res = await runEnvseal(['build', '--target', 'deploy', '-t', tag, '--push', '--json'], { cwd: project.dir });
    assert.equal(res.code, 0, res.stderr.slice(-2000));
    const out = JSON.parse(res.stdout);
    assert.deepEqual(out.tags, [tag]);
    assert.equal(out.pushed.length, 1);
    assert.equal(out.pushed[0].tag, tag);
    const head = await fetch(`${LAB_REGISTRY_URL}/v2/${repo}/manifests/v1`, { method: 'HEAD', headers: { Accept: MANIFEST_TYPES } });
    assert.equal(head.status, 200);
    assert.equal(out.pushed[0].digest, head.headers.get('docker-content-digest'));

    const record = JSON.parse(await readFile(project.path('.envseal/builds/deploy.json'), 'utf8'));
    assert.deepEqual(record.pushed, out.pushed);
    assert.equal(record.imageId, out.imageId);

    const run = await runEnvseal(['run', '--target', 'deploy', '--image', tag, '--', 'python', 'main.py'], { cwd: project.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\{'a': 1\}/);
    const [file] = await readdir(project.path('.envseal/runs'));
    const runRecord = JSON.parse(await readFile(project.path(`.envseal/runs/${file}`), 'utf8'));
    assert.ok(runRecord.image.repoDigests.includes(`${LAB_REGISTRY}/${repo}@${out.pushed[0].digest}`), JSON.stringify(runRecord.image.repoDigests));
    assert.deepEqual(runRecord.image.diffIds, out.diffIds);
  });
});
