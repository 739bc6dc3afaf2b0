/**
 * A test's own copy of the lab's two-platform base (issue 10): the manifests of the lab's python:bookworm
 * (amd64) and python:bookworm-arm64 (a real arm64 debootstrap, run under qemu emulation), their blobs mounted
 * into the test's repository, under a new index pushed there. A repository of its own per test, so that tests
 * running at the same time never pull, tag or delete each other's references.
 */
import assert from 'node:assert/strict';
import { LAB_ARM64_BASE_TAG, LAB_REGISTRY_URL } from '../lab/lab.js';
import { buildIndex, DOCKER_LIST, OCI_INDEX, pushManifest, sha256 } from './registry-helpers.js';

const MANIFEST_TYPES = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json'].join(', ');

export interface TwoPlatformBase {
  indexDigest: string;
  amd64: string;
  arm64: string;
}

/** Copies the lab's python:`tag` manifest (a single-platform one) into `repo`; its blobs are mounted, not sent. */
async function copyLabManifest(repo: string, tag: string): Promise<{ digest: string; bytes: Buffer; mediaType: string }> {
  const res = await fetch(`${LAB_REGISTRY_URL}/v2/python/manifests/${tag}`, { headers: { Accept: MANIFEST_TYPES } });
  assert.equal(res.status, 200, `the lab registry holds python:${tag} (run \`bash .ci/lab-up\`)`);
  const mediaType = res.headers.get('content-type')!;
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.ok(!mediaType.includes('index') && !mediaType.includes('list'), `python:${tag} is a single manifest (${mediaType})`);
  const manifest = JSON.parse(bytes.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  for (const digest of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
    const mount = await fetch(`${LAB_REGISTRY_URL}/v2/${repo}/blobs/uploads/?mount=${digest}&from=python`, { method: 'POST' });
    await mount.arrayBuffer();
    assert.equal(mount.status, 201, `mounting ${digest} from python into ${repo}`);
  }
  const digest = sha256(bytes);
  await pushManifest(LAB_REGISTRY_URL, repo, digest, { digest, bytes }, mediaType);
  return { digest, bytes, mediaType };
}

/** Pushes `repo:tag`, an index of the lab's amd64 and arm64 bases. */
export async function pushTwoPlatformBase(repo: string, tag: string): Promise<TwoPlatformBase> {
  const amd = await copyLabManifest(repo, 'bookworm');
  const arm = await copyLabManifest(repo, LAB_ARM64_BASE_TAG);
  const docker = amd.mediaType === 'application/vnd.docker.distribution.manifest.v2+json';
  const index = buildIndex(
    [
      { mediaType: amd.mediaType, manifest: amd, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: arm.mediaType, manifest: arm, platform: { os: 'linux', architecture: 'arm64' } },
    ],
    docker ? DOCKER_LIST : OCI_INDEX,
  );
  await pushManifest(LAB_REGISTRY_URL, repo, tag, index, docker ? DOCKER_LIST : OCI_INDEX);
  return { indexDigest: index.digest, amd64: amd.digest, arm64: arm.digest };
}

/** Deletes the test's manifests from its own repository (the lab's python repository keeps its own). */
export async function deleteTwoPlatformBase(repo: string, base: TwoPlatformBase | undefined): Promise<void> {
  for (const digest of base ? [base.indexDigest, base.arm64, base.amd64] : []) {
    await fetch(`${LAB_REGISTRY_URL}/v2/${repo}/manifests/${digest}`, { method: 'DELETE' }).then(
      (r) => r.arrayBuffer(),
      () => {},
    );
  }
}
