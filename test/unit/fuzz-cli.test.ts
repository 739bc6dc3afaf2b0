/**
 * Fuzz suite, part 2 (issue 14): the CLI's argument handling, run in-process through runCli with fake streams.
 * Each case makes a small project (a valid, edited or garbage spec and lock, an apt list, a requirements file),
 * runs one command with random flags, values and stray words, and checks the property:
 *   exit 0, 1 or 2, with a message on stderr when it is not 0; never 70; never a hang (a per-case deadline);
 *   nothing written into the project when it fails.
 * No Docker: DOCKER_HOST names a socket that does not exist. A command whose flags are all valid may get as
 * far as asking the engine; that one outcome is exit 3 with "cannot reach the Docker engine" (and must also
 * leave the project unchanged). `lock` runs only with --check (no registry, no index).
 * Seeded (FUZZ_SEED, printed) and bounded (NUM_RUNS cases, a few seconds).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { serializeLock } from '../../src/lock/lock-file.js';
import { sampleLock } from '../fixtures/lock/sample-lock.js';
import { makeTempDir, runCliInProcess, snapshotDir } from './cli-harness.js';
import { FUZZ_SEED, fuzzParams, mutatedJson, mutatedText, syntaxChars } from './fuzz-support.js';

const NUM_RUNS = Number(process.env.FUZZ_CLI_RUNS ?? 300);
const CASE_DEADLINE_MS = 10_000;

const SPEC = 'version: 1\nname: iris\nbase: 127.0.0.1:5000/python:bookworm\napt:\n  lists: [apt.txt]\npython:\n  requirements: [requirements.txt]\n';
const LOCK = serializeLock(sampleLock());

const stats = { cases: 0, byExit: {} as Record<string, number>, exit70: 0, hangs: 0, writesOnFailure: 0, maxMs: 0 };
after(() => {
  const exits = Object.entries(stats.byExit)
    .sort()
    .map(([k, v]) => `exit ${k}: ${v}`)
    .join(', ');
  console.log(
    `# fuzz-cli: seed ${FUZZ_SEED}, ${stats.cases} cases (${exits}); ${stats.exit70} exit-70, ${stats.hangs} hangs, ${stats.writesOnFailure} writes on failure; slowest case ${stats.maxMs.toFixed(0)} ms`,
  );
});

const garbage = fc.string({ unit: 'binary', maxLength: 12 });
const pathValue = fc.oneof(
  fc.constantFrom('envseal.yaml', 'envseal.lock', 'apt.txt', '.', 'sub', 'sub/x', 'missing', '/dev/zero', '/dev/null', '/proc/nope/x', 'envseal.lock/x', ''),
  garbage.map((g) => `sub/${g.replace(/[/\\.]/g, '_')}`),
);

/** One file's content: absent, valid, edited, or garbage. */
function fileContent(valid: string, chars: string, json?: unknown): fc.Arbitrary<string | null> {
  return fc.oneof(
    fc.constant(null),
    fc.constant(valid),
    mutatedText(valid, syntaxChars(chars)),
    ...(json ? [mutatedJson(json).map((d) => JSON.stringify(d, null, 2))] : []),
    fc.string({ unit: 'binary', maxLength: 60 }),
  );
}

const projectFiles = fc.record({
  'envseal.yaml': fileContent(SPEC, ':-[]{}&*!|#\'"\n '),
  'envseal.lock': fileContent(LOCK, '{}[]":,0123456789 ', sampleLock()),
  'apt.txt': fc.oneof(fc.constant(null), fc.constantFrom('git\n', 'foo bar\n', 'Bad_Name\n', '# c\njq=1.6\n'), garbage),
  'requirements.txt': fc.oneof(fc.constant(null), fc.constantFrom('numpy==1.26.4\n', 'foo===\n', '-r requirements.txt\n', 'x @ file:///etc\n'), garbage),
  'sub/keep': fc.constant('kept'),
});

const pick = <T>(...values: T[]) => fc.constantFrom(...values);
const flag = (name: string, values: fc.Arbitrary<string>) => values.map((v) => [name, v]);
const globals = fc.array(
  fc.oneof(
    pick(['--json'], ['-q'], ['-v'], ['--no-color'], ['--version'], ['--help']),
    flag('--lock', pathValue),
    flag('--spec', pathValue),
    flag('-C', pick('.', 'sub', 'missing', 'apt.txt')),
    fc.tuple(garbage).map(([g]) => [g]),
  ),
  { maxLength: 2 },
);

const command = fc
  .oneof(
    fc.tuple(
      pick(['init'], ['init', '--force']),
      fc.array(
        fc.oneof(
          flag('--base', pick('python:3.12', 'Bad Base!!', 'a@sha256:xyz', '', 'UPPER/case:1', 'x'.repeat(300))),
          flag('--name', pick('ok', 'a b', '', '-x', 'n'.repeat(200), 'ÿ')),
        ),
        { maxLength: 2 },
      ),
    ),
    fc.tuple(
      pick(['lock', '--check']),
      fc.array(
        fc.oneof(
          flag('--exclude-newer', pick('2026-11-01T00:00:00Z', 'yesterday', '2026-13-45', '')),
          flag('--upgrade-package', pick('numpy', '')),
          pick(['--upgrade']),
        ),
        { maxLength: 2 },
      ),
    ),
    fc.tuple(pick(['fingerprint'], ['generate'], ['generate', '--check']), fc.array(flag('-o', pathValue), { maxLength: 1 })),
    fc.tuple(pick(['diff', 'envseal.lock', 'envseal.lock'], ['diff', 'envseal.lock', 'apt.txt'], ['diff', 'sub/keep', 'envseal.lock']), fc.constant([])),
    fc.tuple(
      pick(['run']),
      fc
        .array(
          fc.oneof(
            flag('--gpus', pick('all', '2', '0', 'bogus', 'device=0,1', 'device=', 'device=a b')),
            flag('--network', pick('none', 'host', 'weird', '')),
            flag('-e', pick('A=1', 'A B=x', '=x', 'X', '1X=y', 'OK=a=b')),
            flag('--seed', pick('42', '-1', '4294967296', 'x')),
            flag('--time-limit', pick('10', '0', '-5', 'soon')),
            flag('--target', pick('dev', 'deploy', 'prod')),
            flag('--input', pathValue),
            flag('--output', pick('out', '../escape', '/abs')),
          ),
          { maxLength: 3 },
        )
        .map((flags) => [...flags, ['--', 'python', 'train.py']]),
    ),
    fc.tuple(
      pick(['build']),
      fc.array(
        fc.oneof(
          flag('--network', pick('host', 'none', 'weird')),
          flag('--target', pick('dev', 'deploy', 'prod')),
          flag('--time-limit', pick('10', '0', 'x')),
          flag('-t', pick('ok:1', 'Bad Tag', '')),
        ),
        { maxLength: 2 },
      ),
    ),
  )
  .map(([head, flags]) => [...head, ...flags.flat()]);

describe('fuzz: CLI argument handling (runCli in-process, no Docker)', () => {
  it(`exit 0/1/2 with a message, never 70, never a hang, nothing written on failure (seed ${FUZZ_SEED}, ${NUM_RUNS} cases)`, async () => {
    // The CLI loads each command's modules on first use; load them now so the per-case deadline measures the
    // case, not the first import of dockerode on a busy machine.
    await Promise.all(
      [
        '../../src/cli/deps.js',
        '../../src/app/run-command.js',
        '../../src/app/build-image.js',
        '../../src/app/init-project.js',
        '../../src/app/lock-environment.js',
        '../../src/app/diff-environments.js',
        '../../src/record/git.js',
        '../../src/record/host.js',
      ].map((m) => import(m)),
    );
    await fc.assert(
      fc.asyncProperty(projectFiles, globals, command, fc.array(garbage, { maxLength: 1 }), async (files, globalFlags, args, stray) => {
        const { dir, cleanup } = await makeTempDir('envseal-fuzz-');
        try {
          await mkdir(join(dir, 'sub'));
          for (const [rel, content] of Object.entries(files)) if (content !== null) await writeFile(join(dir, rel), content);
          const argv = [...globalFlags.flat(), ...args, ...stray];
          const before = await snapshotDir(dir);
          let r;
          try {
            r = await runCliInProcess(argv, { cwd: dir, timeoutMs: CASE_DEADLINE_MS });
          } catch (err) {
            stats.hangs++;
            throw err;
          }
          stats.cases++;
          stats.byExit[r.code] = (stats.byExit[r.code] ?? 0) + 1;
          stats.maxMs = Math.max(stats.maxMs, r.ms);
          const what = `envseal ${JSON.stringify(argv)}: exit ${r.code}\n${r.stderr}`;
          if (r.code === 70) stats.exit70++;
          const engineDown = r.code === 3 && /cannot reach the Docker engine/.test(r.stderr);
          assert.ok([0, 1, 2].includes(r.code) || engineDown, what);
          if (r.code !== 0) {
            assert.ok(r.stderr.trim().length > 0, `no message on stderr: ${what}`);
            const after = await snapshotDir(dir);
            if (JSON.stringify(after) !== JSON.stringify(before)) stats.writesOnFailure++;
            assert.deepEqual(Object.keys(after), Object.keys(before), `the project changed on failure: ${what}`);
            assert.deepEqual(after, before, `a file changed on failure: ${what}`);
          }
        } finally {
          await cleanup();
        }
      }),
      fuzzParams(NUM_RUNS),
    );
  });
});
