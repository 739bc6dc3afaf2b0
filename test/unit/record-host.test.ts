import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as nodeOs from 'node:os';
import { describe, it } from 'node:test';
import type { ProcessResult } from '../../src/record/exec.js';
import { captureHostFacts, hashHostname, NVIDIA_SMI_ARGS, parseNvidiaSmiCsv, parseOsReleasePrettyName, type OsProbe } from '../../src/record/host.js';

function fakeOs(overrides: Partial<OsProbe> = {}): OsProbe {
  return {
    platform: () => 'linux',
    arch: () => 'arm64',
    release: () => '6.1.0-18-arm64',
    version: () => '#1 SMP Debian 6.1.76-1',
    cpus: () => [{ model: '  Neoverse-N1 ' }, { model: 'Neoverse-N1' }],
    availableParallelism: () => 2,
    totalmem: () => 16 * 1024 ** 3,
    hostname: () => 'gpu-node-17.corp.example.com',
    readOsRelease: async () => 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    ...overrides,
  };
}

const ok = (stdout: string): ProcessResult => ({ exitCode: 0, signal: null, stdout: Buffer.from(stdout), stderr: '', timedOut: false });
const noNvidiaSmi = async () => null;

describe('captureHostFacts', () => {
  it('records OS, kernel, CPU, memory and a hashed host name from the injected probe', async () => {
    const facts = await captureHostFacts({ os: fakeOs(), runNvidiaSmi: noNvidiaSmi });
    assert.deepEqual(facts, {
      os: {
        platform: 'linux',
        arch: 'arm64',
        kernel: '6.1.0-18-arm64',
        kernelVersion: '#1 SMP Debian 6.1.76-1',
        distribution: 'Debian GNU/Linux 12 (bookworm)',
      },
      cpu: { model: 'Neoverse-N1', count: 2 },
      memoryBytes: 16 * 1024 ** 3,
      hostnameHash: hashHostname('gpu-node-17.corp.example.com'),
      engine: null,
      gpus: [],
      gpuQueryError: null,
    });
    assert.ok(!JSON.stringify(facts).includes('gpu-node-17'), 'the host name itself is not recorded');
  });

  it('hashes host names case-insensitively with a salt', () => {
    assert.equal(hashHostname('Build-01'), hashHostname('build-01'));
    assert.notEqual(hashHostname('build-01'), hashHostname('build-02'));
    assert.match(hashHostname('x'), /^sha256:[0-9a-f]{64}$/);
    // Not the plain sha256 of the name, so precomputed tables of host-name hashes do not apply.
    assert.notEqual(hashHostname('x'), `sha256:${createHash('sha256').update('x').digest('hex')}`);
  });

  it('falls back when os.cpus() is empty and /etc/os-release is absent', async () => {
    const facts = await captureHostFacts({
      os: fakeOs({ cpus: () => [], availableParallelism: () => 4, readOsRelease: async () => null }),
      runNvidiaSmi: noNvidiaSmi,
    });
    assert.deepEqual(facts.cpu, { model: null, count: 4 });
    assert.equal(facts.os.distribution, null);
  });

  it('records the engine it is given', async () => {
    const facts = await captureHostFacts({
      os: fakeOs(),
      runNvidiaSmi: noNvidiaSmi,
      engine: { version: '20.10.24', apiVersion: '1.41', os: 'linux', architecture: 'x86_64', cpus: 2, storageDriver: 'overlay2' },
    });
    assert.deepEqual(facts.engine, {
      version: '20.10.24',
      apiVersion: '1.41',
      os: 'linux',
      architecture: 'x86_64',
      kernelVersion: null,
      operatingSystem: null,
    });
  });

  it('lists GPUs from nvidia-smi', async () => {
    let asked: string[] = [];
    const facts = await captureHostFacts({
      os: fakeOs(),
      runNvidiaSmi: async (args) => {
        asked = args;
        return ok(
          '1, GPU-bbbbbbbb-0000-0000-0000-000000000001, NVIDIA A100-SXM4-40GB, 535.104.05, 40960\n' +
            '0, GPU-aaaaaaaa-0000-0000-0000-000000000000, NVIDIA A100-SXM4-40GB, 535.104.05, [N/A]\n',
        );
      },
    });
    assert.deepEqual(asked, NVIDIA_SMI_ARGS);
    assert.deepEqual(facts.gpus, [
      { index: 0, uuid: 'GPU-aaaaaaaa-0000-0000-0000-000000000000', name: 'NVIDIA A100-SXM4-40GB', driverVersion: '535.104.05', memoryMiB: null },
      { index: 1, uuid: 'GPU-bbbbbbbb-0000-0000-0000-000000000001', name: 'NVIDIA A100-SXM4-40GB', driverVersion: '535.104.05', memoryMiB: 40960 },
    ]);
    assert.equal(facts.gpuQueryError, null);
  });

  it('records a failing nvidia-smi as an error next to an empty GPU list', async () => {
    const failing = await captureHostFacts({
      os: fakeOs(),
      runNvidiaSmi: async () => ({
        exitCode: 9,
        signal: null,
        stdout: Buffer.from("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n"),
        stderr: '',
        timedOut: false,
      }),
    });
    assert.deepEqual(failing.gpus, []);
    assert.equal(failing.gpuQueryError, "nvidia-smi failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.");

    const hung = await captureHostFacts({
      os: fakeOs(),
      runNvidiaSmi: async () => ({ exitCode: null, signal: 'SIGKILL', stdout: Buffer.alloc(0), stderr: '', timedOut: true }),
    });
    assert.match(hung.gpuQueryError ?? '', /did not answer within 15 s/);

    const garbled = await captureHostFacts({ os: fakeOs(), runNvidiaSmi: async () => ok('something else\n') });
    assert.match(garbled.gpuQueryError ?? '', /unexpected nvidia-smi output line/);
  });

  it('uses the real machine by default', async () => {
    const facts = await captureHostFacts();
    assert.equal(facts.os.platform, nodeOs.platform());
    assert.equal(facts.os.kernel, nodeOs.release());
    assert.equal(facts.memoryBytes, nodeOs.totalmem());
    assert.ok(facts.cpu.count >= 1);
    assert.equal(facts.hostnameHash, hashHostname(nodeOs.hostname()));
    const hasNvidiaSmi = spawnSync('nvidia-smi', ['-L']).error === undefined;
    if (!hasNvidiaSmi) {
      // Absence is an empty list, not an error.
      assert.deepEqual(facts.gpus, []);
      assert.equal(facts.gpuQueryError, null);
    } else {
      assert.ok(facts.gpus.length > 0 || facts.gpuQueryError !== null);
    }
  });
});

describe('parseNvidiaSmiCsv', () => {
  it('ignores blank lines and handles CRLF', () => {
    assert.equal(parseNvidiaSmiCsv('\r\n0, GPU-x, Tesla T4, 470.57.02, 15109\r\n\r\n').length, 1);
  });
});

describe('parseOsReleasePrettyName', () => {
  it('reads PRETTY_NAME, falls back to NAME and VERSION_ID, unquotes shell strings', () => {
    assert.equal(parseOsReleasePrettyName('PRETTY_NAME="Ubuntu 22.04.4 LTS"\n'), 'Ubuntu 22.04.4 LTS');
    assert.equal(parseOsReleasePrettyName("NAME='Alpine Linux'\nVERSION_ID=3.19.1\n"), 'Alpine Linux 3.19.1');
    assert.equal(parseOsReleasePrettyName('PRETTY_NAME="say \\"hi\\""'), 'say "hi"');
    assert.equal(parseOsReleasePrettyName('ID=x\n'), null);
    assert.equal(parseOsReleasePrettyName(null), null);
  });
});
