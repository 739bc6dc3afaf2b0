/**
 * Issue 11, incremental rebuilds: a reproducible build must not cost the build cache. After normalising, the
 * raw image's scratch tag is removed with `noprune`, so the classic builder's intermediate images (its cache)
 * survive, and a one-file source edit rebuilds only the steps from its COPY on. Measured against plain
 * `docker build` of the same edit; the times are printed as a diagnostic.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, requireLab, requireLabIndex } from '../lab/lab.js';

const SPEC = `version: 1
name: cache-e2e
base: ${LAB_BASE_IMAGE}
python:
  packages: ["tinyconfig~=1.1"]
  index: ${LAB_INDEX_URL}
targets:
  deploy:
    copy: [app.py]
    command: [python3, app.py]
`;

interface Built {
  imageId: string;
  diffIds: string[];
  steps: number;
  cachedSteps: number;
  timings: { buildMs: number; normalizeMs: number };
}

describe('incremental rebuilds keep the build cache (issue 11)', { concurrency: false }, () => {
  let project: TempProject;
  const images = new Set<string>();
  const env = { ENVSEAL_CACHE_DIR: '' };
  const build = async (): Promise<Built> => {
    const res = await runEnvseal(['build', '--target', 'deploy', '--json'], { cwd: project.dir, env });
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as Built & { tags: string[] };
    for (const tag of out.tags) images.add(tag);
    return out;
  };

  before(async () => {
    await requireLab();
    await requireLabIndex();
    project = await makeTempProject({ 'envseal.yaml': SPEC, 'app.py': 'print("v1")\n' });
    env.ENVSEAL_CACHE_DIR = project.path('.cache');
    for (const step of [['lock'], ['generate']]) {
      const res = await runEnvseal(step, { cwd: project.dir, env });
      assert.equal(res.code, 0, res.stderr);
    }
  });
  after(async () => {
    if (images.size) await dockerCli(['rmi', ...images]);
    await project?.cleanup();
  });

  it('a one-file source edit reuses every step before its COPY, and the image stays reproducible', async (t) => {
    const first = await build();
    await writeFile(project.path('app.py'), 'print("v2")\n');
    const second = await build();
    t.diagnostic(
      `cache: first build ${first.cachedSteps}/${first.steps} steps cached (${(first.timings.buildMs / 1000).toFixed(1)} s), ` +
        `after a one-file edit ${second.cachedSteps}/${second.steps} cached (${(second.timings.buildMs / 1000).toFixed(1)} s build + ` +
        `${(second.timings.normalizeMs / 1000).toFixed(1)} s normalise)`,
    );
    assert.notEqual(second.imageId, first.imageId, 'the edit is in the new image');
    // Every instruction before the deploy stage's COPY of the sources comes from the cache (the venv, the
    // hash-checked pip install, the user); FROM lines are not cache steps.
    const dockerfile = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    const instructions = dockerfile.split('\n').filter((line) => /^[A-Z]+\s/.test(line));
    const copyAt = instructions.findIndex((line) => line.startsWith('COPY ["app.py"'));
    assert.ok(copyAt > 0, 'the deploy stage copies app.py');
    const cacheable = instructions.slice(0, copyAt).filter((line) => !line.startsWith('FROM ')).length;
    assert.equal(second.cachedSteps, cacheable, `${second.cachedSteps} of the ${cacheable} steps before COPY app.py were cached`);
    // A first build may reuse the steps any project on this base shares (the install stage's SOURCE_DATE_EPOCH
    // is fixed, not the lock's time, since layered installs: docs/dockerfile.md), never more than the edit's.
    assert.ok(first.cachedSteps <= second.cachedSteps, `a first build reused ${first.cachedSteps} steps`);
    // Only the source COPY ran again (the deploy stage ends with it), and every layer below it is the same
    // layer as before: the install layers were not rebuilt, nor normalised into anything else.
    const froms = instructions.slice(0, copyAt).filter((line) => line.startsWith('FROM ')).length;
    assert.equal(second.steps - froms - second.cachedSteps, 1, `${second.steps - froms - second.cachedSteps} steps ran after a one-file edit`);
    assert.match(instructions[copyAt + 1] ?? '', /^FROM deps AS dev/, 'the source COPY is the last instruction of the deploy stage');
    assert.deepEqual(second.diffIds.slice(0, -1), first.diffIds.slice(0, -1), 'every layer below the source COPY is unchanged');
    assert.notEqual(second.diffIds.at(-1), first.diffIds.at(-1), 'the source layer holds the edit');
    // The cache does not change what is built: the edited source built again from scratch gives the same ID.
    const again = await runEnvseal(['build', '--target', 'deploy', '--no-cache', '--json'], { cwd: project.dir, env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).imageId, second.imageId);
  });

  it('a lock change that only touches targets.deploy.copy keeps SOURCE_DATE_EPOCH and every step before the first changed line', async (t) => {
    const before = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    await writeFile(project.path('notes.txt'), 'extra\n');
    await writeFile(project.path('envseal.yaml'), SPEC.replace('copy: [app.py]', 'copy: [app.py, notes.txt]'));
    for (const step of [['lock'], ['generate']]) {
      const res = await runEnvseal(step, { cwd: project.dir, env });
      assert.equal(res.code, 0, res.stderr);
    }
    const after = await readFile(project.path('envseal.Dockerfile'), 'utf8');
    const epoch = (text: string) => /ARG SOURCE_DATE_EPOCH=(\d+)/.exec(text)?.[1];
    assert.ok(epoch(before));
    assert.equal(epoch(after), epoch(before), 'the resolution did not change, so neither does SOURCE_DATE_EPOCH');
    // Whole instructions (continuation lines joined): the LABEL's lock digest is on a continuation line. The
    // COPY of envseal.lock reads a file whose content changed, so it counts as changed although its line did not.
    const lines = (text: string) =>
      text
        .replace(/\\\n/g, ' ')
        .split('\n')
        .filter((line) => /^[A-Z]+\s/.test(line));
    const [a, b] = [lines(before), lines(after)];
    const firstChange = b.findIndex((line, i) => line !== a[i] || line.startsWith('COPY envseal.lock'));
    assert.ok(firstChange > 0, 'the Dockerfile changed');
    const cacheable = b.slice(0, firstChange).filter((line) => !line.startsWith('FROM ')).length;
    const built = await build();
    t.diagnostic(`after a copy-list change: ${built.cachedSteps}/${built.steps} steps cached (${(built.timings.buildMs / 1000).toFixed(1)} s build)`);
    assert.ok(cacheable >= 3, `the install steps come before the first change (${cacheable})`);
    assert.ok(built.cachedSteps >= cacheable, `${built.cachedSteps} cached, ${cacheable} steps before the first changed line`);
  });

  it('a repeat build of an unchanged lock reuses the cached steps and the normalised image: the same ID, no normalising again', async (t) => {
    const full = await runEnvseal(['build', '--target', 'deploy', '--no-cache', '--json'], { cwd: project.dir, env });
    assert.equal(full.code, 0, full.stderr);
    const first = JSON.parse(full.stdout) as Built;
    const repeat = await build();
    t.diagnostic(
      `full build ${((first.timings.buildMs + first.timings.normalizeMs) / 1000).toFixed(1)} s; repeat ${repeat.cachedSteps}/${repeat.steps} cached, ` +
        `${((repeat.timings.buildMs + repeat.timings.normalizeMs) / 1000).toFixed(1)} s (normalise ${repeat.timings.normalizeMs} ms)`,
    );
    assert.equal(repeat.imageId, first.imageId);
    assert.ok(
      repeat.timings.normalizeMs * 2 < first.timings.normalizeMs,
      `normalising again took ${repeat.timings.normalizeMs} ms (first ${first.timings.normalizeMs} ms)`,
    );
  });
});
