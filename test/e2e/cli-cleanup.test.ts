/**
 * Issue 14 item 4, the cleanup guarantee, on the lab's real engine: every container envseal creates carries
 * its creator (`dev.envseal.owner=<host>/<pid>`); Ctrl-C during `lock`'s apt resolution stops and removes
 * that container and writes no lock (exit 130); and the next envseal removes containers that a killed
 * envseal left behind, leaving alone those of live processes and of other hosts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ENVSEAL_BIN, makeTempProject, runEnvseal, type TempProject } from '../lab/cli.js';
import { dockerCli, LAB_BASE_IMAGE, LAB_INDEX_URL, LAB_LOCAL_BASE_IMAGE, requireLab, requireLabIndex } from '../lab/lab.js';

const OWNER = 'dev.envseal.owner';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function containersOwnedBy(owner: string): Promise<{ id: string; command: string }[]> {
  const res = await dockerCli(['ps', '-a', '--no-trunc', '--filter', `label=${OWNER}=${owner}`, '--format', '{{.ID}}\t{{.Command}}']);
  assert.equal(res.code, 0, res.stderr);
  return res.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', command = ''] = line.split('\t');
      return { id, command };
    });
}

/** A PID that belonged to a process of this host that has exited. */
function deadPid(): number {
  const child = spawnSync('/bin/sh', ['-c', 'echo $$']);
  const pid = Number(child.stdout.toString().trim());
  assert.ok(pid > 0);
  return pid;
}

describe('issue 14: containers envseal creates are labelled, removed on Ctrl-C, and swept after a kill', { concurrency: false }, () => {
  const projects: TempProject[] = [];
  const created: string[] = [];
  const scratchTags: string[] = [];
  before(async () => {
    await requireLab();
    await requireLabIndex();
  });
  after(async () => {
    if (created.length) await dockerCli(['rm', '-f', ...created]);
    for (const tag of scratchTags) await dockerCli(['rmi', tag]);
    for (const p of projects) await p.cleanup();
  });

  it('Ctrl-C during apt resolution exits 130, removes the apt container and writes no lock', async () => {
    const project = await makeTempProject({
      'envseal.yaml': `version: 1\nname: cleanup-e2e\nbase: ${LAB_BASE_IMAGE}\napt:\n  lists: [apt.txt]\n`,
      'apt.txt': 'jq\n',
    });
    projects.push(project);
    const child = spawn(process.execPath, [ENVSEAL_BIN, 'lock'], {
      cwd: project.dir,
      env: { PATH: process.env.PATH, HOME: project.dir, NO_COLOR: '1', ENVSEAL_CACHE_DIR: join(project.dir, '.cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const owner = `${hostname()}/${child.pid}`;
    // Wait for the apt container (the probe's comes first and is quick), then interrupt.
    let apt: { id: string; command: string } | undefined;
    const deadline = Date.now() + 120_000;
    while (!apt && Date.now() < deadline && child.exitCode === null) {
      apt = (await containersOwnedBy(owner)).find((c) => c.command.includes('apt-get'));
      if (!apt) await sleep(100);
    }
    assert.ok(apt, `no apt container of ${owner} appeared; stderr:\n${stderr}`);
    const interruptedAt = Date.now();
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await closed;
    clearTimeout(timer);
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted/);
    assert.ok(Date.now() - interruptedAt < 30_000, 'lock took too long to stop');
    assert.deepEqual(await containersOwnedBy(owner), [], 'the apt container was left behind');
    assert.equal(existsSync(project.path('envseal.lock')), false, 'an interrupted lock wrote envseal.lock');
  });

  it('removes containers and scratch images of killed envseal processes before running its own, and only those', async () => {
    const host = hostname();
    const make = async (owner: string) => {
      const res = await dockerCli(['create', '--label', `${OWNER}=${owner}`, '--label', 'dev.envseal.temporary=true', LAB_LOCAL_BASE_IMAGE, 'true']);
      assert.equal(res.code, 0, res.stderr);
      const id = res.stdout.trim();
      created.push(id);
      return id;
    };
    const dead = `${host}/${deadPid()}`;
    const alive = `${host}/${process.pid}`;
    const elsewhere = `another-host.example/${deadPid()}`;
    const malformed = `${host}/not-a-pid`;
    await make(dead);
    await make(alive);
    await make(elsewhere);
    await make(malformed);
    const deadPidForScratch = deadPid();
    const scratchDead = `envseal-scratch/cleanup-e2e:dev-1-${deadPidForScratch}-${host}`;
    const scratchAlive = `envseal-scratch/cleanup-e2e:dev-2-${process.pid}-${host}`;
    for (const tag of [scratchDead, scratchAlive]) {
      const res = await dockerCli(['tag', LAB_LOCAL_BASE_IMAGE, tag]);
      assert.equal(res.code, 0, res.stderr);
      scratchTags.push(tag);
    }

    // Any command that runs a container sweeps first: lock probes the base image.
    const project = await makeTempProject({
      'envseal.yaml': `version: 1\nname: sweep-e2e\nbase: ${LAB_BASE_IMAGE}\npython:\n  requirements: [requirements.txt]\n  index: ${LAB_INDEX_URL}\n`,
      'requirements.txt': 'tinyconfig~=1.1\n',
    });
    projects.push(project);
    const res = await runEnvseal(['lock'], { cwd: project.dir, env: { ENVSEAL_CACHE_DIR: project.path('.cache') } });
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stderr,
      new RegExp(`removing container [0-9a-f]{12}, left behind by an envseal process that no longer runs \\(${dead.replace(/[.]/g, '\\.')}\\)`),
    );
    assert.deepEqual(await containersOwnedBy(dead), [], 'the dead process’s container is still there');
    for (const kept of [alive, elsewhere, malformed]) {
      assert.equal((await containersOwnedBy(kept)).length, 1, `the container of ${kept} was removed`);
    }
    assert.match(res.stderr, new RegExp(`removing ${scratchDead.replace(/[.]/g, '\\.')}, the raw image of a build whose envseal process no longer runs`));
    assert.notEqual((await dockerCli(['image', 'inspect', scratchDead])).code, 0, 'the dead build’s scratch tag is still there');
    assert.equal((await dockerCli(['image', 'inspect', scratchAlive])).code, 0, 'the live build’s scratch tag was removed');
  });
});
