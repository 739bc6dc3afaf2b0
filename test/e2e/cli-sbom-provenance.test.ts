/**
 * SBOM and provenance of a real project against the lab: lock (real base digest, real wheel hashes from the
 * lab index), build --push to the lab registry, then `sbom` in both formats (valid against the official
 * schemas, naming the real digests) and `provenance` (valid statement whose subjects are the image ID and the
 * digest the registry serves, with the git commit and the wheel hashes as resolved dependencies).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_REGISTRY, LAB_REGISTRY_URL, requireLab, requireLabIndex } from '../lab/lab.js';
import { assertValidCycloneDx, assertValidSpdx } from '../unit/attest-schemas.js';
import { inTotoStatementV1Schema } from '../../src/attest/in-toto-schema.js';

function git(cwd: string, args: string[]): string {
  const res = spawnSync('git', ['-c', 'user.name=envseal test', '-c', 'user.email=test@envseal.invalid', ...args], { cwd, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${res.stderr}`);
  return res.stdout.trim();
}

interface Lock {
  fingerprint: string;
  base: { digest: string };
  python: { packages: { name: string; version: string; file: { sha256: string } }[] };
}

describe('sbom and provenance of a built, pushed image', { concurrency: false }, () => {
  let project: TempProject;
  const repo = `envseal-e2e/sbom12-${process.pid}`;
  const tag = `${LAB_REGISTRY}/${repo}:v1`;
  let lock: Lock;
  let commit: string;

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({
      'envseal.yaml': `version: 1\nname: sbom12-e2e\nbase: ${LAB_BASE_IMAGE}\npython:\n  packages: ["tinyconfig>=1.0"]\n  index: ${LAB_INDEX_URL}\ntargets:\n  deploy:\n    copy: [main.py]\n    command: [python, main.py]\n`,
      'main.py': 'import tinyconfig\nprint(tinyconfig.loads("a = 1"))\n',
      '.gitignore': '.envseal/\n',
    });
    const locked = await runEnvseal(['lock'], { cwd: project.dir });
    assert.equal(locked.code, 0, locked.stderr);
    assert.equal((await runEnvseal(['generate'], { cwd: project.dir })).code, 0);
    git(project.dir, ['init', '-q', '-b', 'main']);
    git(project.dir, ['add', '-A']);
    git(project.dir, ['commit', '-q', '-m', 'sbom e2e project']);
    commit = git(project.dir, ['rev-parse', 'HEAD']);
    lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8')) as Lock;
  });
  after(async () => {
    await dockerCli(['rmi', '-f', tag]);
    await project?.cleanup();
  });

  test('sbom: CycloneDX and SPDX valid, with the locked base digest and wheel hashes; the same bytes twice', async () => {
    const cdx = await runEnvseal(['sbom'], { cwd: project.dir });
    assert.equal(cdx.code, 0, cdx.stderr);
    await assertValidCycloneDx(cdx.stdout);
    assert.ok(cdx.stdout.includes(lock.base.digest.slice('sha256:'.length)));
    const tiny = lock.python.packages.find((p) => p.name === 'tinyconfig')!;
    assert.ok(cdx.stdout.includes(`"purl": "pkg:pypi/tinyconfig@${tiny.version}"`));
    assert.ok(cdx.stdout.includes(tiny.file.sha256));
    assert.equal((await runEnvseal(['sbom'], { cwd: project.dir })).stdout, cdx.stdout);
    const spdx = await runEnvseal(['sbom', '--format', 'spdx', '-o', 'sbom.spdx.json'], { cwd: project.dir });
    assert.equal(spdx.code, 0, spdx.stderr);
    assertValidSpdx(await readFile(project.path('sbom.spdx.json'), 'utf8'));
  });

  test('provenance after build --push: subjects are the image ID and the served digest; commit and hashes resolved', async () => {
    const built = await runEnvseal(['build', '--target', 'deploy', '-t', tag, '--push', '--json'], { cwd: project.dir });
    assert.equal(built.code, 0, built.stderr.slice(-2000));
    const out = JSON.parse(built.stdout) as { imageId: string; pushed: { digest: string }[] };
    const res = await runEnvseal(['provenance'], { cwd: project.dir });
    assert.equal(res.code, 0, res.stderr);
    const statement = inTotoStatementV1Schema.parse(JSON.parse(res.stdout));
    const head = await fetch(`${LAB_REGISTRY_URL}/v2/${repo}/manifests/v1`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(head.headers.get('docker-content-digest'), out.pushed[0]!.digest);
    assert.deepEqual(
      statement.subject.map((s) => [s.name, s.digest.sha256]),
      [
        [tag, out.imageId.slice(7)],
        [`${LAB_REGISTRY}/${repo}`, out.pushed[0]!.digest.slice(7)],
      ],
    );
    const deps = statement.predicate.buildDefinition.resolvedDependencies!;
    assert.ok(deps.some((d) => d.name === 'source' && d.digest?.gitCommit === commit));
    const tiny = lock.python.packages.find((p) => p.name === 'tinyconfig')!;
    assert.ok(deps.some((d) => d.uri === `pkg:pypi/tinyconfig@${tiny.version}` && d.digest?.sha256 === tiny.file.sha256));
    assert.equal(statement.predicate.buildDefinition.externalParameters.lockFingerprint, lock.fingerprint);
    assert.equal(statement.predicate.buildDefinition.externalParameters.target, 'deploy');
    assert.equal((await runEnvseal(['provenance'], { cwd: project.dir })).stdout, res.stdout);
  });
});
