/**
 * Issue 14 item 6, through the real launcher (bin/envseal.js, compiled dist/): Ctrl-C (SIGINT) or SIGTERM
 * during `build` exits 130 / 143, the shell's convention that `lock` already follows. The engine is a fake
 * on a unix socket that accepts the connection and never answers, so the build is reliably in flight when
 * the signal arrives (no lab needed).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { serializeLock } from '../../src/lock/lock-file.js';
import { sampleLock } from '../fixtures/lock/sample-lock.js';
import { ENVSEAL_BIN, makeTempProject, type TempProject } from '../lab/cli.js';

describe('issue 14: an interrupted build exits 130 (SIGINT) / 143 (SIGTERM)', () => {
  const projects: TempProject[] = [];
  after(async () => {
    for (const p of projects) await p.cleanup();
  });

  for (const [signal, expected] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} → exit ${expected}, with a message, within seconds`, async () => {
      const project = await makeTempProject({
        'envseal.yaml': 'version: 1\nname: iris\nbase: 127.0.0.1:5000/python:bookworm\n',
        'envseal.lock': serializeLock(sampleLock()),
        'train.py': 'print(1)\n',
        'src/m.py': '',
      });
      projects.push(project);
      const socketPath = join(project.dir, 'fake-engine.sock');
      const sockets: Socket[] = [];
      let onConnection = () => {};
      const server = createServer((s) => {
        sockets.push(s);
        onConnection();
      });
      await new Promise<void>((r) => server.listen(socketPath, r));
      try {
        const child = spawn(process.execPath, [ENVSEAL_BIN, 'build'], {
          cwd: project.dir,
          env: {
            PATH: process.env.PATH,
            HOME: project.dir,
            NO_COLOR: '1',
            DOCKER_HOST: `unix://${socketPath}`,
            ENVSEAL_CACHE_DIR: join(project.dir, '.cache'),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
        onConnection = () => child.kill(signal);
        const started = Date.now();
        const code = await new Promise<number | null>((resolve, reject) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`build did not stop after ${signal}; stderr:\n${stderr}`));
          }, 30_000);
          child.on('close', (c) => {
            clearTimeout(timer);
            resolve(c);
          });
        });
        assert.equal(code, expected, stderr);
        assert.match(stderr, /interrupted/);
        assert.ok(sockets.length > 0, 'the fake engine was never asked');
        assert.ok(Date.now() - started < 20_000);
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => server.close(() => r()));
      }
    });
  }
});
