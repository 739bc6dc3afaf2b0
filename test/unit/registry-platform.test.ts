import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IndexEntry } from '../../src/oci/platform.js';
import { formatPlatform, listPlatforms, normalisePlatform, selectPlatformManifest } from '../../src/oci/platform.js';
import { registryApiHost } from '../../src/oci/oci-registry.js';

const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

describe('normalisePlatform', () => {
  const table: [string, string][] = [
    ['linux/amd64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['Linux/X86-64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/i686', 'linux/386'],
  ];
  for (const [input, expected] of table) {
    it(`${input} → ${expected}`, () => {
      const [os = '', architecture = '', variant] = input.split('/');
      assert.equal(formatPlatform(normalisePlatform({ os, architecture, ...(variant ? { variant } : {}) })), expected);
    });
  }
});

describe('selectPlatformManifest', () => {
  // Shaped like a BuildKit-pushed index: platform images followed by their attestation manifests.
  const index: IndexEntry[] = [
    { digest: d(1), platform: { os: 'linux', architecture: 'amd64' } },
    { digest: d(2), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { digest: d(3), platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { digest: d(4), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { digest: d(5), platform: { os: 'windows', architecture: 'amd64' } },
    {
      digest: d(6),
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': d(1) },
    },
  ];
  const pick = (os: string, architecture: string, variant?: string, entries = index) =>
    selectPlatformManifest(entries, { os, architecture, ...(variant ? { variant } : {}) })?.digest;

  it('matches os and architecture', () => {
    assert.equal(pick('linux', 'amd64'), d(1));
    assert.equal(pick('windows', 'amd64'), d(5));
    assert.equal(pick('linux', 's390x'), undefined);
    assert.equal(pick('darwin', 'amd64'), undefined);
  });

  it('treats arm64 v8 as the default arm64 variant, both ways', () => {
    assert.equal(pick('linux', 'arm64'), d(2));
    assert.equal(pick('linux', 'arm64', 'v8'), d(2));
    assert.equal(pick('linux', 'aarch64'), d(2));
    const noVariant: IndexEntry[] = [{ digest: d(9), platform: { os: 'linux', architecture: 'arm64' } }];
    assert.equal(pick('linux', 'arm64', 'v8', noVariant), d(9));
  });

  it('compares the variant when one is asked for', () => {
    assert.equal(pick('linux', 'arm', 'v7'), d(4));
    assert.equal(pick('linux', 'arm', 'v6'), d(3));
    assert.equal(pick('linux', 'arm', 'v5'), undefined);
    assert.equal(pick('linux', 'amd64', 'v3'), undefined);
  });

  it('without a variant, prefers an entry without one, else the first match', () => {
    assert.equal(pick('linux', 'arm'), d(3));
    const both: IndexEntry[] = [
      { digest: d(7), platform: { os: 'linux', architecture: 'amd64', variant: 'v3' } },
      { digest: d(8), platform: { os: 'linux', architecture: 'amd64' } },
    ];
    assert.equal(pick('linux', 'amd64', undefined, both), d(8));
  });

  it('counts entries without a platform as linux/amd64', () => {
    assert.equal(pick('linux', 'amd64', undefined, [{ digest: d(1) }]), d(1));
    assert.equal(pick('linux', 'arm64', undefined, [{ digest: d(1) }]), undefined);
  });

  it('never picks attestation manifests', () => {
    assert.equal(pick('unknown', 'unknown'), undefined);
    const annotatedOnly: IndexEntry[] = [
      { digest: d(6), platform: { os: 'linux', architecture: 'amd64' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
      { digest: d(1), platform: { os: 'linux', architecture: 'amd64' } },
    ];
    assert.equal(pick('linux', 'amd64', undefined, annotatedOnly), d(1));
  });

  it('takes the first of identical entries (image-index.md)', () => {
    const dup: IndexEntry[] = [
      { digest: d(1), platform: { os: 'linux', architecture: 'amd64' } },
      { digest: d(2), platform: { os: 'linux', architecture: 'amd64' } },
    ];
    assert.equal(pick('linux', 'amd64', undefined, dup), d(1));
  });

  it('lists what an index offers, without attestations', () => {
    assert.deepEqual(listPlatforms(index), ['linux/amd64', 'linux/arm64', 'linux/arm/v6', 'linux/arm/v7', 'windows/amd64']);
  });
});

describe('registryApiHost', () => {
  it('sends Docker Hub to registry-1.docker.io and everything else to itself', () => {
    assert.equal(registryApiHost('docker.io'), 'registry-1.docker.io');
    assert.equal(registryApiHost('ghcr.io'), 'ghcr.io');
    assert.equal(registryApiHost('127.0.0.1:5000'), '127.0.0.1:5000');
  });
});
