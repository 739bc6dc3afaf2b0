// Shared sample data for the record tests (not a test file itself).
import type { ImageInfo } from '../../src/core/ports.js';
import type { RunRecordInput } from '../../src/record/build-record.js';
import type { HostFacts } from '../../src/record/host.js';

export const FINGERPRINT = `sha256:${'f'.repeat(64)}`;
export const LOCK_DIGEST = `sha256:${'1'.repeat(64)}`;
export const BASE_DIGEST = `sha256:${'b'.repeat(64)}`;
export const IMAGE_ID = `sha256:${'a'.repeat(64)}`;

export function sampleImage(): ImageInfo {
  return {
    id: IMAGE_ID,
    repoTags: ['envseal/demo:dev'],
    repoDigests: ['127.0.0.1:5000/demo@sha256:' + 'd'.repeat(64), '127.0.0.1:5000/a@sha256:' + 'c'.repeat(64)],
    labels: { 'dev.envseal.fingerprint': FINGERPRINT, other: 'x' },
    env: [],
    layers: [],
  };
}

export function sampleHost(): HostFacts {
  return {
    os: { platform: 'linux', arch: 'x64', kernel: '6.1.0-18-amd64', kernelVersion: '#1 SMP Debian', distribution: 'Debian GNU/Linux 12 (bookworm)' },
    cpu: { model: 'AMD EPYC', count: 2 },
    memoryBytes: 8 * 1024 ** 3,
    hostnameHash: `sha256:${'9'.repeat(64)}`,
    engine: { version: '20.10.24', apiVersion: '1.41', os: 'linux', architecture: 'x86_64', kernelVersion: '6.1.0', operatingSystem: 'Debian GNU/Linux 12' },
    gpus: [],
    gpuQueryError: null,
  };
}

export function sampleInput(): RunRecordInput {
  return {
    runId: '20261127T225501.123Z-7ZKQ3M9X2D4F8H1J',
    envsealVersion: '0.1.0',
    startedAt: new Date('2026-11-27T22:55:01.123Z'),
    endedAt: new Date('2026-11-27T22:56:02.500Z'),
    outcome: { exitCode: 0 },
    command: ['python', 'train.py', '--epochs', '3'],
    target: 'dev',
    seed: 42,
    env: {
      envseal: { PYTHONHASHSEED: '42', ENVSEAL_RUN_ID: '20261127T225501.123Z-7ZKQ3M9X2D4F8H1J' },
      user: { WANDB_API_KEY: 'abc123', KEYBOARD_LAYOUT: 'us', PIP_INDEX_URL: 'https://me:s3cret@pypi.example/simple' },
    },
    fingerprint: FINGERPRINT,
    lockDigest: LOCK_DIGEST,
    environment: {
      base: `127.0.0.1:5000/python:bookworm@${BASE_DIGEST}`,
      packages: { apt: { 'python3-sklearn': '1.2.1+dfsg-1' }, python: { numpy: '1.26.4', 'seal-metrics': '1.1.0' } },
      env: { OMP_NUM_THREADS: '1' },
    },
    network: 'none',
    gpus: null,
    image: { reference: 'envseal/demo:dev', info: sampleImage(), baseDigest: BASE_DIGEST },
    git: {
      state: {
        commit: '0123456789abcdef0123456789abcdef01234567',
        branch: 'main',
        dirty: false,
        diffDigest: null,
        changedFiles: 0,
        untrackedFiles: 0,
        projectPath: '.',
        remote: { name: 'origin', url: 'https://github.com/org/repo.git' },
      },
      unavailable: null,
    },
    inputs: [
      { path: 'data/train', content: { type: 'directory', digest: `sha256:${'2'.repeat(64)}`, files: 3, directories: 2, symlinks: 0, others: 0, bytes: 1200 } },
      { path: 'config.yaml', content: { type: 'file', digest: `sha256:${'3'.repeat(64)}`, files: 1, directories: 0, symlinks: 0, others: 0, bytes: 80 } },
    ],
    outputs: [{ path: 'out/model.pt', content: null }],
    host: sampleHost(),
  };
}
