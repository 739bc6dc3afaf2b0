/**
 * The SBOM in the image, against the lab: a built and pushed image carries envseal.sbom.cdx.json at
 * /etc/envseal/sbom.cdx.json and its digest in the dev.envseal.sbom-digest label; `verify --image` (and
 * `--rebuild`: the image stays reproducible) passes, an image whose label or file was changed fails naming it;
 * `run` gives the container WANDB_DOCKER = the pushed repo digest.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_REGISTRY, LAB_REGISTRY_URL, requireLab, requireLabIndex } from '../lab/lab.js';

interface Check {
  name: string;
  ok: boolean;
  summary: string;
  details: string[];
}

describe('the SBOM in a built image', { concurrency: false }, () => {
  let project: TempProject;
  const repo = `attest12-${process.pid}/img`;
  const tag = `${LAB_REGISTRY}/${repo}:v1`;
  const tampered = [`attest12-${process.pid}/label:x`, `attest12-${process.pid}/nofile:x`];
  let sbom: string;
  let pushedDigest: string;

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({
      'envseal.yaml': `version: 1\nname: attest12-e2e\nbase: ${LAB_BASE_IMAGE}\npython:\n  packages: ["tinyconfig>=1.0"]\n  index: ${LAB_INDEX_URL}\ntargets:\n  deploy:\n    copy: [main.py]\n    command: [python, main.py]\n`,
      'main.py': 'import tinyconfig\nprint(tinyconfig.loads("a = 1"))\n',
    });
    assert.equal((await runEnvseal(['lock'], { cwd: project.dir })).code, 0);
    const generated = await runEnvseal(['generate'], { cwd: project.dir });
    assert.equal(generated.code, 0, generated.stderr);
    assert.match(generated.stdout, /wrote envseal\.Dockerfile and envseal\.sbom\.cdx\.json/);
    sbom = await readFile(project.path('envseal.sbom.cdx.json'), 'utf8');
    const built = await runEnvseal(['build', '--target', 'deploy', '-t', tag, '--push', '--json'], { cwd: project.dir, timeoutMs: 10 * 60_000 });
    assert.equal(built.code, 0, built.stderr.slice(-2000));
    pushedDigest = (JSON.parse(built.stdout) as { pushed: { digest: string }[] }).pushed[0]!.digest;
  });
  after(async () => {
    await dockerCli(['rmi', '-f', tag, ...tampered]);
    await project?.cleanup();
  });

  test('the image holds envseal.sbom.cdx.json byte for byte next to the lock, and labels its sha256', async () => {
    const cat = await dockerCli(['run', '--rm', '--network', 'none', '--entrypoint', 'cat', tag, '/etc/envseal/sbom.cdx.json']);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, sbom);
    const label = await dockerCli(['image', 'inspect', '--format', '{{index .Config.Labels "dev.envseal.sbom-digest"}}', tag]);
    assert.equal(label.stdout.trim(), `sha256:${createHash('sha256').update(sbom).digest('hex')}`);
    assert.equal((await runEnvseal(['generate', '--check'], { cwd: project.dir })).code, 0);
  });

  test('plain `docker build` of the generated Dockerfile puts the same SBOM and label in the image', async () => {
    const plain = `attest12-${process.pid}/plain:deploy`;
    tampered.push(plain);
    const built = await dockerCli(['build', '--network', 'host', '-f', 'envseal.Dockerfile', '--target', 'deploy', '-t', plain, '.'], { cwd: project.dir });
    assert.equal(built.code, 0, built.stderr.slice(-2000));
    const cat = await dockerCli(['run', '--rm', '--network', 'none', '--entrypoint', 'cat', plain, '/etc/envseal/sbom.cdx.json']);
    assert.equal(cat.stdout, sbom);
    const label = await dockerCli(['image', 'inspect', '--format', '{{index .Config.Labels "dev.envseal.sbom-digest"}}', plain]);
    assert.equal(label.stdout.trim(), `sha256:${createHash('sha256').update(sbom).digest('hex')}`);
  });

  test('verify --image --rebuild passes: label and in-image file match the lock SBOM, the rebuild gives the same image', async () => {
    const res = await runEnvseal(['verify', '--image', tag, '--rebuild', '--json'], { cwd: project.dir, timeoutMs: 10 * 60_000 });
    const report = JSON.parse(res.stdout) as { ok: boolean; checks: Check[] };
    assert.equal(res.code, 0, res.stdout + res.stderr.slice(-2000));
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    assert.match(byName['dockerfile']!.summary, /envseal\.Dockerfile and envseal\.sbom\.cdx\.json are what the lock renders/);
    assert.match(byName['image-label']!.summary, /carries the lock's fingerprint and SBOM digest/);
    assert.match(byName['image-contents']!.summary, /and the lock's SBOM/);
  });

  test('an image whose SBOM label or file differs: verify --image exits 1 naming it', async () => {
    const label = await dockerCli(['build', '-t', tampered[0]!, '-'], { input: `FROM ${tag}\nLABEL dev.envseal.sbom-digest=sha256:${'0'.repeat(64)}\n` });
    assert.equal(label.code, 0, label.stderr);
    const res = await runEnvseal(['verify', '--image', tampered[0]!, '--json'], { cwd: project.dir });
    assert.equal(res.code, 1, res.stderr);
    const checks = Object.fromEntries((JSON.parse(res.stdout) as { checks: Check[] }).checks.map((c) => [c.name, c]));
    assert.equal(checks['image-label']!.ok, false);
    assert.match(checks['image-label']!.summary, new RegExp(`carries SBOM digest sha256:0{64}, the lock's SBOM is sha256:[0-9a-f]{64}`));

    const file = await dockerCli(['build', '--network', 'host', '-t', tampered[1]!, '-'], {
      input: `FROM ${tag}\nUSER root\nRUN rm /etc/envseal/sbom.cdx.json\n`,
    });
    assert.equal(file.code, 0, file.stderr);
    const res2 = await runEnvseal(['verify', '--image', tampered[1]!, '--json'], { cwd: project.dir });
    assert.equal(res2.code, 1, res2.stderr);
    const checks2 = Object.fromEntries((JSON.parse(res2.stdout) as { checks: Check[] }).checks.map((c) => [c.name, c]));
    assert.equal(checks2['image-label']!.ok, true);
    assert.equal(checks2['image-contents']!.ok, false);
    assert.ok(
      checks2['image-contents']!.details.includes('/etc/envseal/sbom.cdx.json is missing from the image'),
      checks2['image-contents']!.details.join('\n'),
    );
  });

  test('a stale SBOM file in the project: verify exits 1 in the dockerfile check, naming it', async () => {
    const path = project.path('envseal.sbom.cdx.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, sbom.replace('"version": 1', '"version": 2'));
    try {
      const res = await runEnvseal(['verify', '--json'], { cwd: project.dir });
      assert.equal(res.code, 1, res.stderr);
      const dockerfile = (JSON.parse(res.stdout) as { checks: Check[] }).checks.find((c) => c.name === 'dockerfile')!;
      assert.equal(dockerfile.ok, false);
      assert.match(dockerfile.summary, /envseal\.sbom\.cdx\.json is not the lock's SBOM/);
    } finally {
      await writeFile(path, sbom);
    }
  });

  test('build --push attached the SBOM and the provenance (tag fallback: the lab registry has no referrers API)', async () => {
    const referrers = await fetch(`${LAB_REGISTRY_URL}/v2/${repo}/referrers/${pushedDigest}`);
    assert.equal(referrers.status, 404, 'the lab registry (distribution 2.8) serves no referrers API');
    const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
    for (const [kind, type] of [
      ['sbom', 'application/vnd.cyclonedx+json'],
      ['att', 'application/vnd.in-toto+json'],
    ] as const) {
      const res = await fetch(`${LAB_REGISTRY_URL}/v2/${repo}/manifests/${pushedDigest.replace(':', '-')}.${kind}`, { headers: accept });
      assert.equal(res.status, 200, kind);
      const manifest = (await res.json()) as { artifactType: string; subject: { digest: string }; layers: { digest: string }[] };
      assert.equal(manifest.artifactType, type);
      assert.equal(manifest.subject.digest, pushedDigest);
      const blob = await fetch(`${LAB_REGISTRY_URL}/v2/${repo}/blobs/${manifest.layers[0]!.digest}`);
      const text = await blob.text();
      if (kind === 'sbom') assert.equal(text, sbom);
      else assert.equal((JSON.parse(text) as { predicateType: string }).predicateType, 'https://slsa.dev/provenance/v1');
    }
    const res = await runEnvseal(['verify', '--image', `${LAB_REGISTRY}/${repo}@${pushedDigest}`, '--json'], { cwd: project.dir });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const check = (JSON.parse(res.stdout) as { checks: Check[] }).checks.find((c) => c.name === 'registry-attachments');
    assert.ok(check?.ok, JSON.stringify(check));
  });

  test('a registry copy of the image without the attachments: verify --image exits 1 naming the SBOM and the provenance', async () => {
    const copy = `${LAB_REGISTRY}/attest12-${process.pid}/copy:v1`;
    tampered.push(copy);
    assert.equal((await dockerCli(['tag', tag, copy])).code, 0);
    const pushed = await dockerCli(['push', copy]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const res = await runEnvseal(['verify', '--image', `${LAB_REGISTRY}/attest12-${process.pid}/copy@${pushedDigest}`, '--json'], { cwd: project.dir });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    const check = (JSON.parse(res.stdout) as { checks: Check[] }).checks.find((c) => c.name === 'registry-attachments')!;
    assert.equal(check.ok, false);
    assert.deepEqual(check.details, ['no SBOM (application/vnd.cyclonedx+json) is attached', 'no provenance (application/vnd.in-toto+json) is attached']);
  });

  test('verify --image REPOSITORY@sha256:… pulls the image when it is not local (a fresh CI runner)', async () => {
    const byDigest = `${LAB_REGISTRY}/${repo}@${pushedDigest}`;
    assert.equal((await dockerCli(['rmi', byDigest])).code, 0);
    assert.notEqual((await dockerCli(['image', 'inspect', byDigest])).code, 0, 'the digest reference is gone locally');
    const res = await runEnvseal(['verify', '--image', byDigest, '--json'], { cwd: project.dir });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.equal((await dockerCli(['image', 'inspect', byDigest])).code, 0, 'verify pulled it');
  });

  test('run --image REPOSITORY@sha256:… pulls the image when it is not local, and the record names that digest (issue 13)', async () => {
    const byDigest = `${LAB_REGISTRY}/${repo}@${pushedDigest}`;
    assert.equal((await dockerCli(['rmi', byDigest])).code, 0);
    const res = await runEnvseal(['run', '--target', 'deploy', '--image', byDigest, '--json', '--', 'python', '-c', 'print("ran")'], { cwd: project.dir });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /is not local: pulling it/);
    assert.equal((await dockerCli(['image', 'inspect', byDigest])).code, 0, 'run pulled it');
    const record = await readFile(project.path((JSON.parse(res.stdout) as { record: string }).record), 'utf8');
    assert.ok(record.includes(`${repo}@${pushedDigest}`), 'the record names the pulled repo digest');
  });

  test('run sets WANDB_DOCKER to the pushed repo digest', async () => {
    const res = await runEnvseal(['run', '--target', 'deploy', '--image', tag, '--', 'python', '-c', 'import os; print(os.environ["WANDB_DOCKER"])'], {
      cwd: project.dir,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim().split('\n').at(-1), `${LAB_REGISTRY}/${repo}@${pushedDigest}`);
  });
});
