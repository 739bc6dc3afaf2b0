/**
 * Issue 14 items 5–8 through the CLI's own entry point (runCli, in-process): bad input exits 2 with a message
 * that names the problem, never 70 (our bug) or 3 (an outside failure), and writes nothing into the project.
 * No case reaches a Docker engine: DOCKER_HOST names a socket that does not exist (a case that reached it
 * would exit 3), except the interrupted build, which talks to a fake engine that never answers.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { finalizeLock, serializeLock } from '../../src/lock/lock-file.js';
import { sampleDraft, sampleLock } from '../fixtures/lock/sample-lock.js';
import { makeTempDir, runCliInProcess, snapshotDir } from './cli-harness.js';

const SPEC = 'version: 1\nname: iris\nbase: 127.0.0.1:5000/python:bookworm\n';
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function project(files: Record<string, string>): Promise<string> {
  const { dir, cleanup } = await makeTempDir();
  cleanups.push(cleanup);
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
  return dir;
}

/** Runs `args` in a project made of `files`; asserts exit 2, a message matching `message`, no stack trace, nothing written. */
async function expectInputError(args: string[], files: Record<string, string>, message: RegExp, setup?: (dir: string) => Promise<void>) {
  const dir = await project(files);
  await setup?.(dir);
  const before = await snapshotDir(dir);
  const r = await runCliInProcess(args, { cwd: dir });
  assert.equal(r.code, 2, `envseal ${args.join(' ')}: expected exit 2, got ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /unexpected error|this is a bug|\n\s+at /);
  assert.deepEqual(await snapshotDir(dir), before, 'the project directory changed');
  return r;
}

const validLock = serializeLock(sampleLock());
const badInstantLock = serializeLock(finalizeLock({ ...sampleDraft(), resolvedAt: 'x' }));
const aliasBomb = [
  'a: &a [x, x, x, x, x, x, x, x, x]',
  ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`),
].join('\n');

describe('item 5: exit 2 (not 70) on bad input', () => {
  it('an unresolved YAML alias names file:line:col and the alias', async () => {
    await expectInputError(
      ['lock', '--check'],
      { 'envseal.yaml': 'version: 1\nname: *missing\nbase: x\n' },
      /envseal\.yaml is not valid YAML\n {2}envseal\.yaml:2:7: alias \*missing has no anchor &missing before it/,
    );
  });
  it('a YAML alias bomb is refused without expanding it', async () => {
    await expectInputError(['lock', '--check'], { 'envseal.yaml': aliasBomb }, /envseal\.yaml: YAML aliases expand to too many nodes/);
  });
  for (const args of [['fingerprint'], ['lock', '--check'], ['generate'], ['generate', '--check']]) {
    it(`a lock with resolvedAt "x": ${args.join(' ')} exits 2 naming the field`, async () => {
      await expectInputError(
        args,
        { 'envseal.yaml': SPEC, 'envseal.lock': badInstantLock },
        /envseal\.lock is not a valid envseal lock\n {2}envseal\.lock: resolvedAt: must be an ISO 8601 date-time/,
      );
    });
  }
  it('--lock naming a directory', async () => {
    await expectInputError(['--lock', 'sub', 'fingerprint'], { 'sub/x': '' }, /error: sub is a directory, not a file/);
  });
  it('--lock /dev/zero is not read (bounded, regular files only)', async () => {
    const r = await expectInputError(['--lock', '/dev/zero', 'generate'], {}, /error: \/dev\/zero is not a regular file/);
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
  });
  it('--spec naming a directory', async () => {
    await expectInputError(['--spec', '.', 'lock', '--check'], { 'envseal.lock': validLock }, /cannot read \(the env spec\): the file is a directory/);
  });
  it('generate -o into a missing directory, under a file, or onto a directory', async () => {
    const files = { 'envseal.lock': validLock };
    await expectInputError(
      ['generate', '-o', '/proc/no-such-dir/Dockerfile'],
      files,
      /cannot write \/proc\/no-such-dir\/Dockerfile: ENOENT.*\nhint: choose a path in an existing directory you can write to/,
    );
    await expectInputError(['generate', '-o', 'envseal.lock/Dockerfile'], files, /cannot write envseal\.lock\/Dockerfile: .*ENOTDIR/);
    await expectInputError(['generate', '-o', 'out'], files, /cannot write out: .*is not a regular file/, (dir) => mkdir(join(dir, 'out')));
  });
});

describe('item 6: run and build flags are checked before the engine is asked', () => {
  const files = { 'envseal.yaml': SPEC, 'envseal.lock': validLock };
  it('run --gpus bogus', async () => {
    await expectInputError(['run', '--gpus', 'bogus', '--', 'true'], files, /--gpus "bogus": expected all, a count, or device=ID\[,ID\]/);
  });
  it('run --gpus device= (no ID) and --gpus 0', async () => {
    await expectInputError(['run', '--gpus', 'device=', '--', 'true'], files, /--gpus "device=": expected/);
    await expectInputError(['run', '--gpus', '0', '--', 'true'], files, /--gpus "0": expected/);
  });
  it('run --network weird and build --network weird', async () => {
    await expectInputError(
      ['run', '--network', 'weird', '--', 'true'],
      files,
      /option '--network <mode>' argument 'weird' is invalid. Allowed choices are host, none, default/,
    );
    await expectInputError(['build', '--network', 'weird'], files, /argument 'weird' is invalid/);
  });

  it('generate --platform the lock was not made for: exit 2, nothing written (issue 10)', async () => {
    await expectInputError(['generate', '--platform', 'linux/arm64'], files, /--platform linux\/arm64: envseal\.lock is locked for linux\/amd64 only/);
  });
  it('build --platform the lock was not made for: exit 2 naming the locked platform, before any engine call (issue 10)', async () => {
    await expectInputError(['build', '--platform', 'linux/arm64'], files, /--platform linux\/arm64: envseal\.lock is locked for linux\/amd64 only/);
    await expectInputError(
      ['build', '--platform', 'linux/arm64/v8', '--target', 'deploy'],
      files,
      /hint: add linux\/arm64\/v8 to `platform:` in the spec \(e.g. `platform: \[linux\/amd64, linux\/arm64\/v8\]`\)/,
    );
  });

  it('build interrupted by SIGINT exits 130, by SIGTERM 143 (like lock)', async () => {
    // A fake engine that accepts connections and never answers: the build waits until it is interrupted.
    const { dir: sockDir, cleanup } = await makeTempDir('envseal-sock-');
    cleanups.push(cleanup);
    for (const [signal, expected] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      const dir = await project({ ...files, 'train.py': 'print(1)\n', 'src/m.py': '' });
      const socketPath = join(sockDir, `${signal}.sock`);
      const sockets: Socket[] = [];
      let handler: ((s?: NodeJS.Signals) => void) | undefined;
      const server = createServer((s) => {
        sockets.push(s);
        handler?.(signal); // the first request to the engine: interrupt now
      });
      await new Promise<void>((r) => server.listen(socketPath, r));
      try {
        const r = await runCliInProcess(['build'], {
          cwd: dir,
          env: { DOCKER_HOST: `unix://${socketPath}` },
          onInterrupt: (h) => {
            handler = h;
            return () => (handler = undefined);
          },
        });
        assert.equal(r.code, expected, r.stderr);
        assert.match(r.stderr, /interrupted/);
        assert.ok(sockets.length > 0, 'the fake engine was never asked');
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => server.close(() => r()));
      }
    }
  });
});

describe('item 7: a deploy copy entry that is a symlink out of the project fails before building', () => {
  const files = { 'envseal.yaml': SPEC, 'envseal.lock': validLock, 'src/m.py': '' };
  for (const target of ['deploy', 'dev']) {
    it(`build --target ${target}: exit 2 naming the entry`, async () => {
      await expectInputError(
        ['build', '--target', target],
        files,
        /train\.py \(targets\.deploy\.copy\) leads outside the project through a symlink \(to \/etc\/hostname\)/,
        (dir) => symlink('/etc/hostname', join(dir, 'train.py')),
      );
    });
  }
  it('a directory entry reached through a link to outside, and a dangling link', async () => {
    const { dir: outside, cleanup } = await makeTempDir('envseal-outside-');
    cleanups.push(cleanup);
    await expectInputError(
      ['build', '--target', 'deploy'],
      { 'envseal.yaml': SPEC, 'envseal.lock': validLock, 'train.py': '' },
      /src\/ \(targets\.deploy\.copy\) leads outside the project/,
      (dir) => symlink(outside, join(dir, 'src')),
    );
    await expectInputError(
      ['build'],
      { 'envseal.yaml': SPEC, 'envseal.lock': validLock, 'src/m.py': '' },
      /train\.py \(targets\.deploy\.copy\) is a symlink to something that does not exist/,
      (dir) => symlink('nowhere.py', join(dir, 'train.py')),
    );
  });
});

describe('item 8: silently accepted input is refused', () => {
  const files = { 'envseal.yaml': SPEC, 'envseal.lock': validLock };
  it("run -e 'A B=x'", async () => {
    await expectInputError(['run', '-e', 'A B=x', '--', 'true'], files, /--env "A B=x": "A B" is not a valid environment variable name/);
    await expectInputError(['run', '-e', '1X=y', '--', 'true'], files, /"1X" is not a valid environment variable name/);
  });
  it("init --base 'Bad Base!!' writes no spec", async () => {
    await expectInputError(['init', '--base', 'Bad Base!!'], {}, /invalid image reference "Bad Base!!": it contains whitespace/);
  });
  it('init --platform that is not os/arch writes no spec (issue 10)', async () => {
    await expectInputError(['init', '--platform', 'linux/amd64', '--platform', 'arm64'], {}, /--platform "arm64": must look like os\/arch\[\/variant\]/);
  });
  it('init --name of 100,000 characters, or with a space', async () => {
    await expectInputError(['init', '--name', 'x'.repeat(100_000)], {}, /--name "x{60}"… \(100000 characters\): must be at most 128 characters/);
    await expectInputError(['init', '--name', 'a b'], {}, /--name "a b": must be lowercase letters/);
  });
  it('a spec name over 128 characters', async () => {
    await expectInputError(
      ['lock', '--check'],
      { 'envseal.yaml': SPEC.replace('iris', 'n'.repeat(129)), 'envseal.lock': validLock },
      /envseal\.yaml: name: must be at most 128 characters/,
    );
  });
});

describe('found by the fuzz suite', () => {
  it('-C naming a file or a missing directory: exit 2 (init crashed with exit 70 on ENOTDIR)', async () => {
    await expectInputError(['-C', 'apt.txt', 'init'], { 'apt.txt': 'git\n' }, /error: -C apt\.txt: not a directory/);
    await expectInputError(['-C', 'missing', 'init'], {}, /error: -C missing: no such directory/);
  });
  it('a run that cannot start (no engine) leaves no .envseal/runs directory behind', async () => {
    const dir = await project({ 'envseal.yaml': SPEC, 'envseal.lock': validLock });
    const before = await snapshotDir(dir);
    const r = await runCliInProcess(['run', '--', 'true'], { cwd: dir });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /cannot reach the Docker engine/);
    assert.deepEqual(await snapshotDir(dir), before);
  });
});
