/**
 * Registry logins held by a credential helper, through the real CLI against the lab: `build --push` asks
 * `docker-credential-envsealtest` (a real script on PATH, named by `credsStore` in a temp DOCKER_CONFIG) for
 * the lab registry and hands the login to the engine as X-Registry-Auth. The secret appears in no output, lock
 * or build record. A helper that hangs is stopped at the deadline (exit 3); a helper that is not installed is
 * exit 2, naming it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_REGISTRY, requireLab, requireLabIndex } from '../lab/lab.js';

const SECRET = 'helper-s3cret-engine13';

describe('credential helpers through the CLI (lab engine and registry)', { concurrency: false }, () => {
  let project: TempProject;
  const tag = `${LAB_REGISTRY}/envseal-engine13/credhelper-${process.pid}:v1`;
  let helperDir: string;
  let configDir: string;
  const env = (extra: Record<string, string> = {}) => ({ DOCKER_CONFIG: configDir, PATH: `${helperDir}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...extra });
  const setConfig = (config: unknown) => writeFile(join(configDir, 'config.json'), JSON.stringify(config));

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({
      'envseal.yaml': `version: 1\nname: engine13-credhelper\nbase: ${LAB_BASE_IMAGE}\npython:\n  packages: ["tinyconfig>=1.0"]\n  index: ${LAB_INDEX_URL}\n`,
    });
    helperDir = project.path('.helper');
    configDir = project.path('.docker');
    await mkdir(helperDir, { recursive: true });
    await mkdir(configDir, { recursive: true });
    const script = join(helperDir, 'docker-credential-envsealtest');
    await writeFile(
      script,
      `#!/bin/sh
read -r server
echo "$1 $server" >> "${join(helperDir, 'calls.log')}"
if [ -e "${join(helperDir, 'hang')}" ]; then exec sleep 120; fi
printf '{"ServerURL":"%s","Username":"e2e-user","Secret":"${SECRET}"}\\n' "$server"
`,
    );
    await chmod(script, 0o755);
    assert.equal((await runEnvseal(['lock'], { cwd: project.dir })).code, 0);
    assert.equal((await runEnvseal(['generate'], { cwd: project.dir })).code, 0);
  });
  after(async () => {
    await dockerCli(['rmi', '-f', tag]);
    await project?.cleanup();
  });

  test('build --push takes the login from credsStore; the secret is written nowhere', async () => {
    await setConfig({ credsStore: 'envsealtest' });
    const res = await runEnvseal(['build', '-t', tag, '--push', '-v'], { cwd: project.dir, env: env() });
    assert.equal(res.code, 0, res.stderr.slice(-2000));
    assert.equal(await readFile(join(helperDir, 'calls.log'), 'utf8'), `get ${LAB_REGISTRY}\n`, 'asked once, for the lab registry');
    assert.match(
      res.stderr,
      new RegExp(`registry ${LAB_REGISTRY.replace(/\./g, '\\.')}: credentials from docker-credential-envsealtest \\(user "e2e-user"\\)`),
    );
    const written = [res.stdout, res.stderr, await readFile(project.path('envseal.lock'), 'utf8')];
    for (const file of await readdir(project.path('.envseal/builds'))) written.push(await readFile(project.path(`.envseal/builds/${file}`), 'utf8'));
    for (const text of written) assert.ok(!text.includes(SECRET), 'the secret leaked');
  });

  test('a helper that hangs: exit 3 at the deadline, naming it', async () => {
    await setConfig({ credsStore: 'envsealtest' });
    await writeFile(join(helperDir, 'hang'), '');
    const started = Date.now();
    const res = await runEnvseal(['build', '-t', tag, '--push'], { cwd: project.dir, env: env({ ENVSEAL_HTTP_TIMEOUT: '2' }) });
    assert.equal(res.code, 3, res.stderr.slice(-2000));
    assert.match(res.stderr, new RegExp(`credential helper docker-credential-envsealtest did not answer within 2 s \\(asked for ${LAB_REGISTRY}\\)`));
    assert.ok(Date.now() - started < 100_000);
  });

  test('a helper that is not installed: exit 2 naming it', async () => {
    await setConfig({ credHelpers: { [LAB_REGISTRY]: 'envsealnosuch' } });
    const res = await runEnvseal(['build', '-t', tag, '--push'], { cwd: project.dir, env: env() });
    assert.equal(res.code, 2, res.stderr.slice(-2000));
    assert.match(res.stderr, /credential helper docker-credential-envsealnosuch \(named in the Docker config for 127\.0\.0\.1:5000\) is not installed/);
  });
});
