/**
 * Issue 14, item 1: index credentials never land in a committed or shared artefact. A project whose index needs
 * HTTP Basic authentication is locked, generated, built (the real classic builder on the lab engine, with pip
 * inside the build authenticating to the index) and run, with the credentials as userinfo in envseal.yaml; then
 * the password is looked for everywhere envseal writes or prints: envseal.lock, envseal.Dockerfile, the image's
 * history and config, the build and run records, the CLI's stdout/stderr, and the HTTP cache (file names and
 * contents). The index log shows that both envseal and pip did authenticate.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { buildFixtureFiles } from '../lab/fixtures-index.js';
import { startBasicAuthIndex, type AuthIndex } from '../lab/basic-auth-index.js';
import { dockerCli, LAB_BASE_IMAGE, requireLab } from '../lab/lab.js';
import type { CommandResult } from '../lab/lab.js';

const NAME = 'credentials-e2e';
const USER = 'labuser';
const PASSWORD = 'Pw-9f3c1e7a-never-written';

/** Every spelling of the secret a leak could take: the password, and Basic's base64 of user:password. */
const SECRETS = [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), encodeURIComponent(PASSWORD)];

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} contains the index password (${secret.slice(0, 6)}…):\n${text.slice(0, 4000)}`);
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    out.push(full);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
  }
  return out;
}

describe('index credentials stay out of every artefact (issue 14.1)', { timeout: 15 * 60_000 }, () => {
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
    const files = buildFixtureFiles({ hostWheelsDir: null }).filter((f) => f.filename.startsWith('tinyconfig-1.1.0'));
    index = await startBasicAuthIndex({
      projects: { tinyconfig: files.map((f) => ({ filename: f.filename, bytes: f.bytes })) },
      username: USER,
      password: PASSWORD,
    });
    const authedUrl = index.url.replace('http://', `http://${USER}:${encodeURIComponent(PASSWORD)}@`);
    project = await makeTempProject({
      'envseal.yaml': `version: 1\nname: ${NAME}\nbase: ${LAB_BASE_IMAGE}\npython:\n  packages: ["tinyconfig==1.1.0"]\n  index: ${authedUrl}\n`,
    });
  });

  after(async () => {
    if (tags.size) await dockerCli(['rmi', '-f', ...tags]);
    await index?.close();
    await project?.cleanup();
  });

  test('lock, generate, build and run with credentials in envseal.yaml: the password is nowhere', async () => {
    const locked = await envseal(['lock']);
    assert.equal(locked.code, 0, locked.stderr);
    assert.ok(
      index.requests.some((r) => r.auth === 'ok' && !r.userAgent?.startsWith('pip/')),
      'envseal authenticated to the index',
    );
    assert.ok(!index.requests.some((r) => r.auth === 'wrong'), 'no request carried wrong credentials');

    const generated = await envseal(['generate']);
    assert.equal(generated.code, 0, generated.stderr);

    const lockText = await readFile(project.path('envseal.lock'), 'utf8');
    assertNoSecret(lockText, 'envseal.lock');
    assert.ok(!lockText.includes(`${USER}@`) && !lockText.includes(`${USER}:`), 'the lock has no userinfo at all');
    const lock = JSON.parse(lockText);
    assert.deepEqual(lock.declared.python.indexes, [index.url], 'the declared index is the URL without userinfo');
    assert.equal(lock.python.packages[0].index, index.url, "a package's index is the URL without userinfo");

    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    assertNoSecret(dockerfile, 'envseal.Dockerfile');
    assert.match(dockerfile, new RegExp(`--index-url ${index.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} `));

    const before = index.requests.length;
    const built = await envseal(['build', '--target', 'dev', '--no-cache', '--json']);
    assert.equal(built.code, 0, built.stderr);
    const outcome = JSON.parse(built.stdout);
    for (const t of outcome.tags) tags.add(t);
    const pipRequests = index.requests.slice(before).filter((r) => r.userAgent?.startsWith('pip/'));
    assert.ok(
      pipRequests.some((r) => r.auth === 'ok' && r.path.endsWith('.whl')),
      'pip in the build downloaded the wheel with the credentials',
    );

    const history = await dockerCli(['history', '--no-trunc', '--format', '{{.CreatedBy}}', outcome.imageId], { check: true });
    assertNoSecret(history.stdout, 'docker history');
    assert.match(history.stdout, /pip install/, 'the history shows the pip step (so it was looked at)');
    assert.ok(!/FTP_PROXY=/i.test(history.stdout), 'the credentials build arg is not recorded in the history');
    const inspect = await dockerCli(['image', 'inspect', outcome.imageId], { check: true });
    assertNoSecret(inspect.stdout, 'docker image inspect');
    // The layers themselves: the netrc written during the pip step is gone from the image.
    const probe = await dockerCli(
      ['run', '--rm', '--network', 'none', '--entrypoint', 'sh', outcome.imageId, '-c', 'ls /tmp; cat /tmp/envseal-netrc 2>/dev/null; env'],
      { check: true },
    );
    assertNoSecret(probe.stdout, 'the image filesystem and environment');
    assert.ok(!probe.stdout.includes('envseal-netrc'), 'no netrc left in /tmp');

    const ran = await envseal(['run', '--json', '--', 'python', '-c', 'import tinyconfig; print("ok")']);
    assert.equal(ran.code, 0, ran.stderr);
    for (const file of await listFiles(project.path('.envseal'))) {
      if ((await stat(file)).isFile()) assertNoSecret(await readFile(file, 'utf8'), file);
    }
    for (const { what, res } of outputs) {
      assertNoSecret(res.stdout, `stdout of ${what}`);
      assertNoSecret(res.stderr, `stderr of ${what}`);
    }
  });

  test('the HTTP cache holds no credential and is private: files 0600, directories 0700', async () => {
    const cache = project.path('.cache');
    const files = await listFiles(cache);
    assert.ok(
      files.some((f) => f.includes('/entries/')),
      'the lock filled the cache',
    );
    for (const file of files) {
      assertNoSecret(file, 'a cache path');
      const info = await stat(file);
      if (info.isDirectory()) assert.equal(info.mode & 0o777, 0o700, `${file} is a 0700 directory`);
      else {
        assert.equal(info.mode & 0o777, 0o600, `${file} is a 0600 file`);
        assertNoSecret((await readFile(file)).toString('latin1'), file);
      }
    }
  });

  test('the same lock without credentials in envseal.yaml (from netrc instead): lock --check finds no drift', async () => {
    await writeFile(
      project.path('envseal.yaml'),
      `version: 1\nname: ${NAME}\nbase: ${LAB_BASE_IMAGE}\npython:\n  packages: ["tinyconfig==1.1.0"]\n  index: ${index.url}\n`,
    );
    const netrc = project.path('netrc');
    await writeFile(netrc, `machine 127.0.0.1 login ${USER} password ${PASSWORD}\n`, { mode: 0o600 });
    const check = await envseal(['lock', '--check'], { NETRC: netrc });
    assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    // And netrc alone authenticates a fresh resolution (nothing cached, nothing inline).
    const relocked = await envseal(['--lock', 'other.lock', 'lock'], { NETRC: netrc, ENVSEAL_CACHE_DIR: project.path('.cache2') });
    assert.equal(relocked.code, 0, relocked.stderr);
    const a = JSON.parse(await readFile(project.path('envseal.lock'), 'utf8'));
    const b = JSON.parse(await readFile(project.path('other.lock'), 'utf8'));
    assert.equal(b.inputHash, a.inputHash, 'the input hash does not depend on where the credentials come from');
    assert.equal(b.fingerprint, a.fingerprint);
    for (const { what, res } of outputs) assertNoSecret(res.stderr, `stderr of ${what}`);
  });

  test('without credentials the index answers 401 and lock says the index needs credentials (exit 3)', async () => {
    const res = await envseal(['--lock', 'nocreds.lock', 'lock'], { ENVSEAL_CACHE_DIR: project.path('.cache3') });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /401/);
    assert.match(
      res.stderr,
      /^hint: the index needs credentials .*in the index URL .*or in netrc \(NETRC or ~\/\.netrc\)/m,
      'the hint says where credentials go',
    );
  });
});
