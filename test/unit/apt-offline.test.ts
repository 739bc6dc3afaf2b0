import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aptDownloadScript, aptPackagesFor } from '../../src/ecosystems/apt/offline.js';
import type { AptSection } from '../../src/ecosystems/apt/schema.js';

const apt: AptSection = {
  snapshot: null,
  packages: [
    { name: 'python3-sklearn', version: '1.2.1+dfsg-1', architecture: 'all', installed: false, targets: ['deploy', 'dev'] },
    { name: 'libfoo', version: '1.0-1', architecture: 'i386', installed: false, targets: ['deploy', 'dev'] },
    { name: 'git', version: '1:2.39.5-0+deb12u2', architecture: 'amd64', installed: false, targets: ['dev'] },
    { name: 'python3', version: '3.11.2-1+b1', architecture: 'amd64', installed: true, targets: ['deploy', 'dev'] },
  ],
};
const os = { id: 'debian', codename: 'bookworm' };

test('aptPackagesFor: what each target installs, never what the base already has', () => {
  assert.deepEqual(
    aptPackagesFor(apt, 'deploy').map((p) => p.name),
    ['python3-sklearn', 'libfoo'],
  );
  assert.deepEqual(
    aptPackagesFor(apt, 'dev').map((p) => p.name),
    ['python3-sklearn', 'libfoo', 'git'],
  );
});

test('aptDownloadScript: the Dockerfile install, as --download-only, with foreign architectures qualified', () => {
  assert.equal(
    aptDownloadScript(apt, os, 'amd64', 'deploy'),
    'export DEBIAN_FRONTEND=noninteractive && apt-get update && apt-get install -y --no-install-recommends --download-only python3-sklearn=1.2.1+dfsg-1 libfoo:i386=1.0-1',
  );
  assert.match(aptDownloadScript(apt, os, 'amd64', 'dev') ?? '', /git=1:2\.39\.5-0\+deb12u2$/);
  assert.equal(aptDownloadScript({ snapshot: null, packages: [apt.packages[3]!] }, os, 'amd64', 'dev'), null);
});

test('aptDownloadScript writes the snapshot sources first, as the Dockerfile does', () => {
  const script =
    aptDownloadScript({ ...apt, snapshot: { timestamp: '20261127T120000Z', url: 'http://snapshot.debian.org/archive' } }, os, 'amd64', 'deploy') ?? '';
  assert.match(script, /^export DEBIAN_FRONTEND=noninteractive && .*snapshot\.debian\.org\/archive\/debian\/20261127T120000Z.* && apt-get update && /);
});
