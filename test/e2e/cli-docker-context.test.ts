/**
 * Choosing the engine as the docker CLI does, through the real CLI against the lab engine: a docker context
 * (written into a temp DOCKER_CONFIG) whose endpoint is the lab engine's socket carries lock, build and verify,
 * and `-v` names it; a context whose socket is dead fails with exit 3 naming that socket (never a fall-back
 * to the local one); an unreadable context is exit 2; DOCKER_HOST beats the current context.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const LAB_SOCKET = '/var/run/docker.sock';
const SPEC = `version: 1
name: engine13-context
base: ${LAB_BASE_IMAGE}
python:
  requirements: [requirements.txt]
  index: ${LAB_INDEX_URL}
`;

async function writeContext(configDir: string, name: string, meta: string): Promise<void> {
  const dir = join(configDir, 'contexts', 'meta', createHash('sha256').update(name).digest('hex'));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'meta.json'), meta);
}

const endpointMeta = (name: string, host: string) => JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } });

describe('docker contexts through the CLI (lab engine)', { concurrency: false }, () => {
  let project: TempProject;
  let configDir: string;
  const others: TempProject[] = [];
  const TAG = 'envseal-engine13/context:dev';
  /** A fresh copy of the project without a lock, so `lock` has to reach the engine again. */
  const fresh = async () => {
    const copy = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'tinyconfig~=1.1\n' });
    others.push(copy);
    return copy.dir;
  };
  const env = (extra: Record<string, string | undefined> = {}) => ({
    DOCKER_CONFIG: configDir,
    DOCKER_HOST: undefined,
    ENVSEAL_CACHE_DIR: project.path('.cache'),
    ...extra,
  });

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({ 'envseal.yaml': SPEC, 'requirements.txt': 'tinyconfig~=1.1\n' });
    configDir = project.path('.docker');
    await writeContext(configDir, 'lab', endpointMeta('lab', `unix://${LAB_SOCKET}`));
    await writeContext(configDir, 'dead', endpointMeta('dead', `unix://${project.path('dead.sock')}`));
    await writeContext(configDir, 'broken', '{"Name": "broken", "Endpoints": ');
    await writeFile(join(configDir, 'config.json'), JSON.stringify({ currentContext: 'lab' }));
  });
  after(async () => {
    await dockerCli(['rmi', '-f', TAG]);
    for (const other of others) await other.cleanup();
    await project?.cleanup();
  });

  test('lock goes through the current context, and -v says so', async () => {
    const res = await runEnvseal(['lock', '-v'], { cwd: project.dir, env: env() });
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stderr,
      new RegExp(`Docker engine: ${LAB_SOCKET} \\(from docker context "lab" \\(currentContext in ${join(configDir, 'config.json')}\\)\\)`),
    );
  });

  test('build and verify --image go through DOCKER_CONTEXT', async () => {
    assert.equal((await runEnvseal(['generate'], { cwd: project.dir, env: env() })).code, 0);
    const build = await runEnvseal(['build', '--target', 'dev', '-t', TAG, '-v'], { cwd: project.dir, env: env({ DOCKER_CONTEXT: 'lab' }) });
    assert.equal(build.code, 0, build.stderr);
    assert.match(build.stderr, /Docker engine: \/var\/run\/docker\.sock \(from docker context "lab" \(DOCKER_CONTEXT\)\)/);
    const verify = await runEnvseal(['verify', '--image', TAG, '-v'], { cwd: project.dir, env: env({ DOCKER_CONTEXT: 'lab' }) });
    assert.equal(verify.code, 0, verify.stderr + verify.stdout);
    assert.match(verify.stderr, /from docker context "lab" \(DOCKER_CONTEXT\)/);
  });

  test('a context whose engine is gone: exit 3 naming its socket, not the local one', async () => {
    const res = await runEnvseal(['lock'], { cwd: await fresh(), env: env({ DOCKER_CONTEXT: 'dead', ENVSEAL_CACHE_DIR: project.path('.cache-dead') }) });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, new RegExp(`cannot reach the Docker engine at ${project.path('dead.sock')}`));
    assert.doesNotMatch(res.stderr, /\/var\/run\/docker\.sock/);
  });

  test('a context that cannot be read, or does not exist: exit 2 naming it', async () => {
    const broken = await runEnvseal(['lock'], { cwd: await fresh(), env: env({ DOCKER_CONTEXT: 'broken', ENVSEAL_CACHE_DIR: project.path('.cache-b') }) });
    assert.equal(broken.code, 2, broken.stderr);
    assert.match(broken.stderr, /docker context "broken" \(from DOCKER_CONTEXT\): .*meta\.json: not valid JSON/);
    const unknown = await runEnvseal(['lock'], { cwd: await fresh(), env: env({ DOCKER_CONTEXT: 'nosuch', ENVSEAL_CACHE_DIR: project.path('.cache-u') }) });
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /docker context "nosuch" \(from DOCKER_CONTEXT\) does not exist/);
  });

  test('DOCKER_HOST beats DOCKER_CONTEXT', async () => {
    const res = await runEnvseal(['lock', '-v'], {
      cwd: await fresh(),
      env: env({ DOCKER_CONTEXT: 'broken', DOCKER_HOST: `unix://${LAB_SOCKET}`, ENVSEAL_CACHE_DIR: project.path('.cache-h') }),
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /Docker engine: \/var\/run\/docker\.sock \(from DOCKER_HOST\)/);
  });
});
