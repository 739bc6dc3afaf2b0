/**
 * The files wing end to end (issue 9's first new wing; an ML image's model weights pinned by sha256): a file
 * served on loopback is pinned by `lock` (sha256 and size), fetched by the image build's ADD and checked there,
 * found intact by `verify`, and every bad case fails with its exit code and message: a sha256 in the spec that
 * the server contradicts, a URL that answers 404 (both leave the lock byte-identical), and a server that changes
 * the file after the lock (the build refuses it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, requireLab } from '../lab/lab.js';

const NAME = 'files-e2e';

describe('files: remote files pinned by sha256 (the files wing)', { concurrency: false, timeout: 20 * 60_000 }, () => {
  let project: TempProject;
  let server: Server;
  let base = '';
  let body = Buffer.from('weights v1\n'.repeat(1000));
  const images = new Set<string>();
  const envseal = (args: string[]) => runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });
  const spec = (extra = '') => `version: 1
name: ${NAME}
base: ${LAB_BASE_IMAGE}
files:
  - url: ${base}/models/weights.bin
    path: /opt/models/weights.bin${extra}
targets:
  deploy:
    command: [sha256sum, /opt/models/weights.bin]
`;

  before(async () => {
    await requireLab();
    server = createServer((req, res) => {
      if (req.url === '/models/weights.bin') res.writeHead(200, { 'content-length': body.length }).end(body);
      else res.writeHead(404).end('no such file\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    project = await makeTempProject({ 'envseal.yaml': spec() });
  });

  after(async () => {
    if (images.size) await dockerCli(['rmi', '-f', ...images]);
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await project?.cleanup();
  });

  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  test('lock pins the served file; the image has it at its path; verify finds it intact', async () => {
    const locked = await envseal(['lock', '--json']);
    assert.equal(locked.code, 0, locked.stderr);
    const lock = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    assert.deepEqual(lock.files, [{ path: '/opt/models/weights.bin', url: `${base}/models/weights.bin`, sha256: sha(body), size: body.length }]);
    assert.equal(lock.npm, null, 'the first wings keep their null keys');
    assert.equal(lock.lockVersion, 2, 'a lock with a later wing\'s section is version 2: an older envseal says "upgrade envseal"');
    const gen = await envseal(['generate']);
    assert.equal(gen.code, 0, gen.stderr);
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    assert.match(dockerfile, new RegExp(`ADD \\["${base}/models/weights\\.bin","/opt/models/weights\\.bin"\\]`));
    const built = await envseal(['build', '--target', 'deploy', '--json']);
    assert.equal(built.code, 0, built.stderr);
    const { imageId } = JSON.parse(built.stdout) as { imageId: string };
    images.add(imageId);
    const ran = await dockerCli(['run', '--rm', '--network', 'none', imageId]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, new RegExp(`^${sha(body)}  /opt/models/weights\\.bin`));
    const verify = await envseal(['verify', '--image', imageId, '--json']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    // Reproducible with a remote file in it: a second build from scratch gives the same image ID.
    const rebuilt = await envseal(['build', '--target', 'deploy', '--no-cache', '--json']);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.equal(JSON.parse(rebuilt.stdout).imageId, imageId);
  });

  test('a sha256 in the spec that the server contradicts, and a URL that answers 404: exit 2, the lock unchanged', async () => {
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    await writeFile(project.path('envseal.yaml'), spec(`\n    sha256: ${'f'.repeat(64)}`));
    const wrong = await envseal(['lock']);
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(
      wrong.stderr,
      new RegExp(`${base}/models/weights\\.bin has sha256 ${sha(body)}, envseal\\.yaml says f{64} \\(for /opt/models/weights\\.bin\\)`),
    );
    await writeFile(project.path('envseal.yaml'), spec().replace('/models/weights.bin', '/models/missing.bin'));
    const missing = await envseal(['lock']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, new RegExp(`fetching ${base}/models/missing\\.bin answered 404`));
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);
    await writeFile(project.path('envseal.yaml'), spec());
  });

  test('the server changes the file after the lock: the build refuses it, and lock --upgrade pins the new one', async () => {
    body = Buffer.from('weights v2\n'.repeat(1000));
    const built = await envseal(['build', '--target', 'deploy', '--no-cache']);
    assert.notEqual(built.code, 0, 'a changed file fails the build');
    assert.match(built.stderr + built.stdout, /weights\.bin: FAILED/);
    const check = await envseal(['lock', '--check']);
    assert.equal(check.code, 0, `the inputs did not change: the lock is fresh, the file is what moved: ${check.stderr}`);
    const upgraded = await envseal(['lock', '--upgrade']);
    assert.equal(upgraded.code, 0, upgraded.stderr);
    assert.equal(JSON.parse(await readFile(project.path('envseal.lock'), 'utf8')).files[0].sha256, sha(body));
  });
});
