/**
 * The test lab as e2e tests see it: a Docker engine, an OCI registry on 127.0.0.1:5000 holding the base
 * image, and the fixture Python index on 127.0.0.1:5080 — all started by `bash .ci/lab-up`.
 *
 * e2e tests never skip: `requireLab()` throws (so the test fails) with the command that fixes it.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { CODE_STAMP_HEADER, computeServerCodeStamp } from './index-server.js';

export const LAB_REGISTRY = '127.0.0.1:5000';
export const LAB_REGISTRY_URL = `http://${LAB_REGISTRY}`;
/** The base image as tests should reference it: through the registry, so it can be pinned by digest. */
export const LAB_BASE_IMAGE = `${LAB_REGISTRY}/python:bookworm`;
/** The same image under its local-only name (what `docker import` created). */
export const LAB_LOCAL_BASE_IMAGE = 'local/python:bookworm';
export const LAB_INDEX_URL = 'http://127.0.0.1:5080/simple';
/** The lab's arm64 base (a debootstrap arm64 minbase, run under qemu emulation; .ci/lab-arm64). */
export const LAB_ARM64_BASE_TAG = 'bookworm-arm64';
/** The lab's two-platform index: python:bookworm (amd64) and python:bookworm-arm64 (arm64). */
export const LAB_MULTIARCH_BASE_TAG = 'bookworm-multiarch';
const BINFMT_AARCH64 = '/proc/sys/fs/binfmt_misc/qemu-aarch64';
export const LAB_UP_COMMAND = 'bash .ci/lab-up';
/** The lab engine's second endpoint: the same dockerd on TCP with TLS both ways (--tlsverify), see .ci/lab-up. */
export const LAB_ENGINE_TLS_HOST = 'tcp://127.0.0.1:2376';
/** ca.pem, cert.pem and key.pem of the lab's client certificate for that endpoint (made by .ci/lab-tls). */
export const LAB_ENGINE_TLS_CERTS = `${process.env.ENVSEAL_LAB_DIR || '/var/lib/envseal-lab'}/tls/client`;

/** Accept header for manifest lookups: OCI and Docker v2 manifests and indexes (OCI distribution spec). */
const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface LabStatus {
  engineVersion: string;
  engineApiVersion: string;
  /** Digest the registry gives for LAB_BASE_IMAGE (`Docker-Content-Digest`). */
  baseImageDigest: string;
  /** Local image ID of LAB_LOCAL_BASE_IMAGE. */
  baseImageId: string;
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Where the engine listens: DOCKER_HOST (unix:// or tcp://) or the default socket. */
function engineTarget(): { socketPath: string } | { host: string; port: number } {
  const dockerHost = process.env.DOCKER_HOST;
  if (dockerHost?.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  if (dockerHost?.startsWith('tcp://')) {
    const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  return { socketPath: '/var/run/docker.sock' };
}

function httpRequest(
  target: { socketPath: string } | { host: string; port: number },
  method: string,
  path: string,
  headers: Record<string, string> = {},
  timeoutMs = 5000,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, method, path, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function labMissing(problem: string, cause?: unknown): Error {
  const why = cause instanceof Error ? ` (${cause.message})` : '';
  return new Error(`test lab not available: ${problem}${why}. Start it with \`${LAB_UP_COMMAND}\` (as root), then run the tests again.`, {
    cause,
  });
}

/** The checks behind requireLab, run every time (requireLab runs them once per process). */
export async function checkLab(): Promise<LabStatus> {
  const engine = engineTarget();
  let version: { Version?: string; ApiVersion?: string };
  try {
    const answer = await httpRequest(engine, 'GET', '/version');
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
    version = JSON.parse(answer.body) as typeof version;
  } catch (err) {
    throw labMissing(`no Docker engine answers at ${'socketPath' in engine ? engine.socketPath : `${engine.host}:${engine.port}`}`, err);
  }

  const localImage = await httpRequest(engine, 'GET', `/images/${encodeURIComponent(LAB_LOCAL_BASE_IMAGE)}/json`).catch((err: unknown) => {
    throw labMissing(`cannot inspect ${LAB_LOCAL_BASE_IMAGE}`, err);
  });
  if (localImage.status !== 200) throw labMissing(`the engine has no image ${LAB_LOCAL_BASE_IMAGE} (HTTP ${localImage.status})`);
  const baseImageId = (JSON.parse(localImage.body) as { Id?: string }).Id ?? '';

  const registry = { host: '127.0.0.1', port: 5000 };
  try {
    const ping = await httpRequest(registry, 'GET', '/v2/');
    if (ping.status !== 200) throw new Error(`GET /v2/ answered ${ping.status}`);
  } catch (err) {
    throw labMissing(`no registry answers at ${LAB_REGISTRY_URL}/v2/`, err);
  }
  const manifest = await httpRequest(registry, 'HEAD', '/v2/python/manifests/bookworm', { Accept: MANIFEST_ACCEPT }).catch((err: unknown) => {
    throw labMissing(`cannot look up ${LAB_BASE_IMAGE}`, err);
  });
  const digest = manifest.headers['docker-content-digest'];
  if (manifest.status !== 200 || typeof digest !== 'string') {
    throw labMissing(`the registry has no ${LAB_BASE_IMAGE} (HEAD manifest answered ${manifest.status})`);
  }
  return {
    engineVersion: version.Version ?? 'unknown',
    engineApiVersion: version.ApiVersion ?? 'unknown',
    baseImageDigest: digest,
    baseImageId,
  };
}

let labCheck: Promise<LabStatus> | undefined;

/**
 * Checks (once per process) that the Docker engine, the registry on 127.0.0.1:5000 and the base image are
 * there; throws with "run `bash .ci/lab-up`" otherwise. Call it in `before()` of every e2e suite.
 */
export function requireLab(): Promise<LabStatus> {
  labCheck ??= checkLab();
  return labCheck;
}

/**
 * Checks that the lab's fixture index answers on 127.0.0.1:5080 (started by lab-up too) and runs the same
 * server code as this checkout (a server left from an older checkout would test old behaviour).
 */
export async function requireLabIndex(): Promise<void> {
  let answer: HttpAnswer;
  try {
    answer = await httpRequest({ host: '127.0.0.1', port: 5080 }, 'GET', '/simple/');
    if (answer.status !== 200) throw new Error(`GET /simple/ answered ${answer.status}`);
  } catch (err) {
    throw labMissing(`no lab Python index answers at ${LAB_INDEX_URL}/`, err);
  }
  const running = answer.headers[CODE_STAMP_HEADER.toLowerCase()];
  const expected = computeServerCodeStamp();
  if (running !== expected) {
    throw labMissing(`the lab index at ${LAB_INDEX_URL}/ runs other code (${String(running)}) than this checkout (${expected})`);
  }
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DockerCliOptions {
  /** Written to the command's stdin. */
  input?: string | Uint8Array;
  cwd?: string;
  /** Default 10 minutes; the process is killed and the promise rejects after it. */
  timeoutMs?: number;
  /** Throw when the exit code is not 0 (default false: the caller asserts on `code`). */
  check?: boolean;
}

/**
 * Runs the plain docker CLI, for tests that check envseal's output with a second, independent tool (e.g.
 * `docker build` of a generated Dockerfile, `docker run` of pip). envseal itself never shells out.
 */
export function dockerCli(args: string[], options: DockerCliOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`docker ${args.join(' ')} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run docker: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (options.check && result.code !== 0) {
        reject(new Error(`docker ${args.join(' ')} exited ${result.code}:\n${result.stderr || result.stdout}`));
      } else resolve(result);
    });
    child.stdin.on('error', () => undefined); // the command may exit before reading its input
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Checks that the lab's one-node Slurm cluster (started by lab-up, .ci/lab-slurm) answers: `sinfo` shows this
 * host's node idle or busy with jobs. Returns the node name. Throws with "run `bash .ci/lab-up`" otherwise.
 */
export async function requireLabSlurm(): Promise<string> {
  const res = await new Promise<CommandResult>((resolve) => {
    const child = spawn('sinfo', ['-h', '-N', '-o', '%N %T'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => resolve({ code: 127, stdout: '', stderr: e.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
  const up = res.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .find(([, state]) => state !== undefined && /^(idle|mixed|allocated|completing)/.test(state));
  if (res.code !== 0 || !up) throw labMissing(`no idle Slurm node (sinfo exit ${res.code}: ${(res.stderr || res.stdout).trim() || 'no nodes'})`);
  return up[0]!;
}

/**
 * Checks that the lab runs arm64 images (issue 10): qemu-user-static's aarch64 binfmt handler is registered,
 * enabled and has the F flag (so containers use it), and the registry holds the arm64 base and the
 * two-platform index. Throws with "run `bash .ci/lab-up`" otherwise: arm64 tests fail, never skip.
 */
export async function requireLabArm64(): Promise<void> {
  await requireLab();
  const handler = await readFile(BINFMT_AARCH64, 'utf8').catch((err: unknown) => {
    throw labMissing(`no aarch64 binfmt handler (${BINFMT_AARCH64}: qemu-user-static is not registered)`, err);
  });
  if (!/^enabled$/m.test(handler) || !/^flags: .*F/m.test(handler)) {
    throw labMissing(`the aarch64 binfmt handler is disabled or lacks the F flag (${handler.replace(/\n/g, '; ')})`);
  }
  for (const tag of [LAB_ARM64_BASE_TAG, LAB_MULTIARCH_BASE_TAG]) {
    const res = await httpRequest({ host: '127.0.0.1', port: 5000 }, 'HEAD', `/v2/python/manifests/${tag}`, { Accept: MANIFEST_ACCEPT }).catch(
      (err: unknown) => {
        throw labMissing(`cannot look up ${LAB_REGISTRY}/python:${tag}`, err);
      },
    );
    if (res.status !== 200) throw labMissing(`the registry has no ${LAB_REGISTRY}/python:${tag} (HEAD manifest answered ${res.status})`);
  }
}
