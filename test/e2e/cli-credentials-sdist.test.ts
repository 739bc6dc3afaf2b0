/**
 * Issue 10 (sdists) with a private index: an sdist-only project whose metadata is dynamic lives on an index that
 * needs HTTP Basic authentication. `lock` builds it in the base image (pip inside that container authenticates
 * through a netrc handed over on stdin), `build` builds it again in the python-sdists builder stage (through the
 * FTP_PROXY build argument, as every pip step does), and the password is in none of: envseal.lock,
 * envseal.Dockerfile, the image history and config, the CLI's output, the sdist build cache. The index log shows
 * pip authenticated both times; without credentials the lock is exit 3 and leaves the lock alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { buildBackendProjects } from '../lab/fixtures-index.js';
import { startBasicAuthIndex, type AuthIndex } from '../lab/basic-auth-index.js';
import { buildSdist } from '../lab/wheel.js';
import { dockerCli, LAB_BASE_IMAGE, requireLab, type CommandResult } from '../lab/lab.js';

const RUN = randomBytes(4).toString('hex');
const NAME = `credsdist-pymisc-${RUN}`;
const USER = 'sdistuser';
const PASSWORD = 'Pw-5d1b7e22-sdist-never-written';
const SECRETS = [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), encodeURIComponent(PASSWORD)];

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} contains the index password:\n${text.slice(0, 4000)}`);
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = join(dir, entry.name);
    out.push(full);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
  }
  return out;
}

const sdist = buildSdist({
  name: 'sealprivate',
  version: '1.0',
  metadataVersion: '2.1',
  files: { 'sealprivate/__init__.py': '__version__ = "1.0"\n' },
});

describe("a private index's sdist built at lock time and in the builder stage, credentials nowhere", { concurrency: false, timeout: 15 * 60_000 }, () => {
  let index: AuthIndex;
  let project: TempProject;
  const outputs: { what: string; res: CommandResult }[] = [];
  const tags = new Set<string>();
  const envseal = async (args: string[], env: Record<string, string> = {}) => {
    const res = await runEnvseal(args, { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache'), NETRC: project.path('no-netrc'), ...env } });
    outputs.push({ what: `envseal ${args.join(' ')}`, res });
    return res;
  };

  before(async () => {
    await requireLab();
    index = await startBasicAuthIndex({
      projects: {
        sealprivate: [{ filename: sdist.filename, bytes: sdist.bytes }],
        ...buildBackendProjects(),
      },
      username: USER,
      password: PASSWORD,
    });
    const authedUrl = index.url.replace('http://', `http://${USER}:${encodeURIComponent(PASSWORD)}@`);
    project = await makeTempProject({
      'envseal.yaml': `version: 1\nname: ${NAME}\nbase: ${LAB_BASE_IMAGE}\npython:\n  packages: ["sealprivate==1.0"]\n  index: ${authedUrl}\n`,
    });
  });

  after(async () => {
    const cached = (await dockerCli(['images', '-q', '--filter', `reference=envseal-cache/${NAME}`])).stdout.split('\n').filter(Boolean);
    if (tags.size || cached.length) await dockerCli(['rmi', '-f', ...tags, ...new Set(cached)]).catch(() => undefined);
    await index?.close();
    await project?.cleanup();
  });

  test('lock builds the sdist with pip authenticating from inside the base image; the lock has no secret', async () => {
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    assert.match(locked.stderr, /building sealprivate 1\.0 \(sealprivate-1\.0\.tar\.gz\) in the base image/);
    const pip = index.requests.filter((r) => r.userAgent?.startsWith('pip/'));
    assert.ok(
      pip.some((r) => r.auth === 'ok' && r.path.endsWith('.tar.gz')),
      'pip in the lock-time build fetched the sdist with the credentials',
    );
    assert.ok(!index.requests.some((r) => r.auth === 'wrong'), 'no request carried wrong credentials');
    const lockText = await readFile(project.path('envseal.lock'), 'utf8');
    assertNoSecret(lockText, 'envseal.lock');
    const lock = JSON.parse(lockText);
    assert.equal(lock.python.packages[0].build.wheel.filename, 'sealprivate-1.0-py3-none-any.whl');
  });

  test('build runs the builder stage with pip authenticating; history, config, Dockerfile and output hold no secret', async () => {
    const generated = await envseal(['generate']);
    assert.equal(generated.code, 0, generated.stderr);
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    assertNoSecret(dockerfile, 'envseal.Dockerfile');
    assert.match(dockerfile, / AS python-sdists\n/);
    const before = index.requests.length;
    const built = await envseal(['build', '--target', 'deploy', '--no-cache', '--json']);
    assert.equal(built.code, 0, built.stderr);
    const outcome = JSON.parse(built.stdout);
    for (const t of outcome.tags) tags.add(t);
    const pip = index.requests.slice(before).filter((r) => r.userAgent?.startsWith('pip/'));
    assert.ok(
      pip.some((r) => r.auth === 'ok' && r.path.endsWith('.tar.gz')),
      'pip in the builder stage fetched the sdist with the credentials',
    );
    const history = await dockerCli(['history', '--no-trunc', '--format', '{{.CreatedBy}}', outcome.imageId], { check: true });
    assertNoSecret(history.stdout, 'docker history');
    assert.ok(!/FTP_PROXY=/i.test(history.stdout));
    const inspect = await dockerCli(['image', 'inspect', outcome.imageId], { check: true });
    assertNoSecret(inspect.stdout, 'docker image inspect');
    const ran = await dockerCli([
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      'python',
      outcome.imageId,
      '-c',
      'import sealprivate; print(sealprivate.__version__)',
    ]);
    assert.equal(ran.stdout.trim(), '1.0', ran.stderr);
    for (const file of await listFiles(project.path('.cache'))) {
      assertNoSecret(file, 'a cache path');
      if ((await stat(file)).isFile()) assertNoSecret((await readFile(file)).toString('latin1'), file);
    }
    const builds = await listFiles(project.path('.cache/sdist-builds'));
    assert.ok(builds.length > 0, 'the lock-time build was cached');
    for (const file of builds) assert.equal((await stat(file)).mode & 0o777, 0o600, `${file} is private`);
    for (const { what, res } of outputs) {
      assertNoSecret(res.stdout, `stdout of ${what}`);
      assertNoSecret(res.stderr, `stderr of ${what}`);
    }
  });

  test('without credentials the lock is refused (exit 3, the index needs credentials) and the lock is byte-identical', async () => {
    const before = await readFile(project.path('envseal.lock'), 'utf8');
    await writeFile(
      project.path('envseal.yaml'),
      `version: 1\nname: ${NAME}\nbase: ${LAB_BASE_IMAGE}\npython:\n  packages: ["sealprivate==1.0"]\n  index: ${index.url}\n`,
    );
    // The input hash leaves credentials out, so the lock is up to date: --upgrade makes it resolve again.
    const res = await envseal(['lock', '--upgrade'], { ENVSEAL_CACHE_DIR: project.path('.cache-none') });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /401/);
    assert.match(res.stderr, /^hint: the index needs credentials/m);
    assert.equal(await readFile(project.path('envseal.lock'), 'utf8'), before);
  });
});
