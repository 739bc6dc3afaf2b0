/**
 * Issue 11, layered Python installs: a project with two platform-specific (manylinux) wheels, heavy ones, and two
 * pure-Python ones, served by an index on loopback. After a build, one pure-Python pin changes in
 * requirements.txt (lock + generate again): the rebuild takes every step below the pure-Python install step from
 * the build cache (the apt-free deps stage, the venv, both platform wheels) and runs only that step and the ones
 * after it; a `--no-cache` build of the new lock gives the same image ID. The times of the one-pin rebuild and of
 * the full build are printed as a diagnostic.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { dockerCli, LAB_BASE_IMAGE, requireLab } from '../lab/lab.js';
import { buildWheel } from '../lab/wheel.js';

const RUN = randomBytes(4).toString('hex');
const NAME = `layers-e2e-${RUN}`;
const PLATFORM_TAG = 'py3-none-manylinux_2_17_x86_64';

/** A platform wheel of about `mb` MB (stored, deterministic bytes), standing in for numpy or torch. */
function heavyWheel(name: string, mb: number) {
  const module = name.replace(/-/g, '_');
  const blob = Buffer.alloc(mb * 1024 * 1024);
  for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 2654435761) >>> 0, i);
  return buildWheel({ name, version: '1.0.0', tag: PLATFORM_TAG, files: { [`${module}/__init__.py`]: 'OK = True\n', [`${module}/_native.bin`]: blob } });
}

const pure = (name: string, version: string) =>
  buildWheel({ name, version, files: { [`${name.replace(/-/g, '_')}/__init__.py`]: `__version__ = "${version}"\n` } });

interface Built {
  imageId: string;
  steps: number;
  cachedSteps: number;
  tags: string[];
  timings: { buildMs: number; normalizeMs: number };
}

/** The Dockerfile's instructions, continuation lines joined. */
const instructions = (text: string) =>
  text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => /^[A-Z]+\s/.test(line));

describe('layered Python installs: a one-pin change re-runs only its install step (issue 11)', { concurrency: false }, () => {
  let index: LabIndex;
  let project: TempProject;
  const images = new Set<string>();
  const env = { ENVSEAL_CACHE_DIR: '' };
  const envseal = async (args: string[]) => {
    const res = await runEnvseal(args, { cwd: project.dir, env });
    assert.equal(res.code, 0, `envseal ${args.join(' ')}: ${res.stderr}`);
    return res;
  };
  const build = async (extra: string[] = []): Promise<Built & { wallMs: number }> => {
    const started = Date.now();
    const res = await envseal(['build', '--target', 'deploy', '--json', ...extra]);
    const out = JSON.parse(res.stdout) as Built;
    for (const tag of out.tags) images.add(tag);
    return { ...out, wallMs: Date.now() - started };
  };
  const relock = async (requirements: string) => {
    await writeFile(project.path('requirements.txt'), requirements);
    await envseal(['lock']);
    await envseal(['generate']);
  };

  before(async () => {
    await requireLab();
    index = await startIndex({
      projects: {
        'layers-heavy-a': [heavyWheel('layers-heavy-a', 24)],
        'layers-heavy-b': [heavyWheel('layers-heavy-b', 12)],
        'layers-light': [pure('layers-light', '1.0.0'), pure('layers-light', '1.1.0')],
        'layers-other': [pure('layers-other', '2.0.0')],
      },
    });
    const spec = [
      'version: 1',
      `name: ${NAME}`,
      `base: ${LAB_BASE_IMAGE}`,
      'python:',
      '  requirements: [requirements.txt]',
      `  index: ${index.url}`,
      'targets:',
      '  deploy:',
      '    copy: [app.py]',
      '    command: [python, app.py]',
      '',
    ].join('\n');
    project = await makeTempProject({ 'envseal.yaml': spec, 'app.py': 'import layers_heavy_a, layers_light\nprint(layers_light.__version__)\n' });
    env.ENVSEAL_CACHE_DIR = project.path('.cache');
    await relock('layers-heavy-a==1.0.0\nlayers-heavy-b==1.0.0\nlayers-light==1.0.0\nlayers-other==2.0.0\n');
  });
  after(async () => {
    if (images.size) await dockerCli(['rmi', '-f', ...images]);
    await project?.cleanup();
    await index?.close();
  });

  it('renders one step per platform wheel, largest first, then the pure-Python ones', async () => {
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    const steps = [...dockerfile.matchAll(/^# Python install step (\d+)\/(\d+): (.*)$/gm)].map((m) => m[3]);
    assert.equal(steps.length, 3, dockerfile);
    assert.match(steps[0]!, /^layers-heavy-a 1\.0\.0 \(platform-specific wheel, 25\.2 MB\)\.$/);
    assert.match(steps[1]!, /^layers-heavy-b 1\.0\.0 \(platform-specific wheel, 12\.6 MB\)\.$/);
    assert.equal(steps[2], '2 pure-Python wheels.');
  });

  it('after a one-pin change every step below the pure-Python install comes from the cache, and a --no-cache build gives the same ID', async (t) => {
    const first = await build();
    const before = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    await relock('layers-heavy-a==1.0.0\nlayers-heavy-b==1.0.0\nlayers-light==1.1.0\nlayers-other==2.0.0\n');
    const after = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    const [a, b] = [instructions(before), instructions(after)];
    const firstChange = b.findIndex((line, i) => line !== a[i]);
    assert.match(b[firstChange] ?? '', /^RUN printf .*layers-light==1\.1\.0/, 'the first changed instruction is the pure-Python install step');
    assert.ok(
      a.slice(0, firstChange).some((line) => line.includes('layers-heavy-b==1.0.0')),
      'both platform steps come before it',
    );
    const cacheable = b.slice(0, firstChange).filter((line) => !line.startsWith('FROM ')).length;

    const second = await build();
    const full = await build(['--no-cache']);
    t.diagnostic(
      `first build ${(first.wallMs / 1000).toFixed(1)} s wall (${first.cachedSteps}/${first.steps} cached); ` +
        `one-pin rebuild ${(second.wallMs / 1000).toFixed(1)} s wall, ${(second.timings.buildMs / 1000).toFixed(1)} s engine + ` +
        `${(second.timings.normalizeMs / 1000).toFixed(1)} s normalise (${second.cachedSteps}/${second.steps} cached); ` +
        `--no-cache build ${(full.wallMs / 1000).toFixed(1)} s wall, ${(full.timings.buildMs / 1000).toFixed(1)} s engine + ` +
        `${(full.timings.normalizeMs / 1000).toFixed(1)} s normalise`,
    );
    assert.ok(cacheable >= 5, `the ARG, ENV, venv and both platform steps come before the change (${cacheable})`);
    assert.equal(second.cachedSteps, cacheable, `${second.cachedSteps} cached, ${cacheable} steps before the changed install step`);
    assert.notEqual(second.imageId, first.imageId, 'the new pin is in the image');
    assert.equal(full.imageId, second.imageId, 'the cache does not change what is built');
    const ran = await dockerCli(['run', '--rm', second.imageId]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), '1.1.0');
  });
});
