/**
 * A reproducible deploy build in two parts (app/build-composed.ts): where the rendered Dockerfile is split,
 * what the prefix's context leaves out, and the composed config (image/normalize/compose-image.ts).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { planComposed } from '../../src/app/build-composed.js';
import { composeConfig } from '../../src/image/normalize/compose-image.js';

const GOLDEN = new URL('../fixtures/golden/sample.Dockerfile', import.meta.url);

describe('planComposed', () => {
  it('splits the golden Dockerfile at the source COPYs that end the deploy stage', async () => {
    const text = await readFile(GOLDEN, 'utf8');
    const copyLines = text.split('\n').filter((line) => /^COPY \["/.test(line));
    assert.ok(copyLines.length > 0, 'the golden Dockerfile copies sources');
    const copy = copyLines.map((line) => (JSON.parse(line.slice('COPY '.length)) as string[])[0]!);
    const workdir = /^WORKDIR (.+)$/m.exec(text)![1]!;
    const plan = planComposed(text, copy, workdir);
    assert.ok(plan, 'the Dockerfile can be built in two parts');
    assert.equal(plan.prefix.length, text.length - copyLines.join('\n').length - 1);
    for (const line of copyLines) assert.ok(!plan.prefix.includes(`${line}\n`), `${line} is not in the prefix`);
    assert.deepEqual(
      plan.copies.map((c) => c.line),
      copyLines,
    );
    assert.ok(plan.sources.includes('envseal.lock'), 'the prefix reads the lock');
    assert.deepEqual(
      plan.extraIgnore,
      copy.map((p) => `/${p}`),
      'the copied paths are left out of the prefix context',
    );
    assert.match(plan.prefix.slice(plan.stageEnd), /^\nFROM deps AS dev\n/, 'stageEnd is where the deploy stage ends');
  });

  it('refuses a Dockerfile whose deploy stage does not end with the source COPYs', () => {
    const text = ['FROM x AS deps', 'FROM deps AS deploy', 'COPY ["app.py", "/w/app.py"]', 'USER app', '', 'FROM deps AS dev', ''].join('\n');
    assert.equal(planComposed(text, ['app.py'], '/w'), null);
    assert.equal(planComposed(text.replace('USER app\n', ''), ['app.py'], '/w')?.prefix, 'FROM x AS deps\nFROM deps AS deploy\n\nFROM deps AS dev\n');
    assert.equal(planComposed(text, [], '/w'), null, 'nothing to copy: one build');
  });

  it('keeps a copied path in the prefix context when the prefix reads it', () => {
    const text = ['FROM x AS deps', 'COPY conf/pip.conf /etc/pip.conf', 'FROM deps AS deploy', 'COPY ["conf", "/w/conf"]', 'COPY ["src", "/w/src"]', ''].join(
      '\n',
    );
    assert.deepEqual(planComposed(text, ['conf', 'src'], '/w')?.extraIgnore, ['/src']);
    const all = ['FROM x AS deps', 'FROM deps AS deploy', 'COPY [".", "/w/."]', ''].join('\n');
    assert.deepEqual(planComposed(all, ['.'], '/w')?.extraIgnore, [], 'the whole context is never left out');
  });
});

describe('composeConfig', () => {
  it('appends one history entry and diff_id per COPY, in canonical form, with the epoch as every time', () => {
    const base = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        config: { Cmd: ['python3'] },
        created: '2026-01-01T00:00:00Z',
        history: [{ created: '2026-01-01T00:00:00Z', created_by: 'RUN x' }],
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: ['sha256:' + 'a'.repeat(64)] },
      }),
    );
    const diffIds = ['sha256:' + 'a'.repeat(64), 'sha256:' + 'b'.repeat(64)];
    const out = composeConfig(base, [{ source: 'src', dest: '/w/src', line: 'COPY ["src", "/w/src"]' }], { epoch: 1700000000, diffIds });
    const parsed = JSON.parse(out.toString('utf8')) as { history: { created: string; created_by: string; comment?: string }[]; rootfs: { diff_ids: string[] } };
    assert.deepEqual(parsed.rootfs.diff_ids, diffIds);
    assert.equal(parsed.history.length, 2);
    assert.deepEqual(parsed.history[1], {
      comment: 'envseal: written from the build context',
      created: '2023-11-14T22:13:20Z',
      created_by: 'COPY ["src", "/w/src"]',
    });
    assert.ok(!out.toString('utf8').includes(' '.repeat(2)) && !out.toString('utf8').includes('\n'), 'compact canonical JSON');
    assert.deepEqual(
      composeConfig(base, [{ source: 'src', dest: '/w/src', line: 'COPY ["src", "/w/src"]' }], { epoch: 1700000000, diffIds }),
      out,
      'the same bytes every time',
    );
  });
});
