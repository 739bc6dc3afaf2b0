/**
 * Records what apt fetches for a lock's packages, so that `envseal load --rebuild` can answer apt without a
 * network: `envseal bundle` runs the apt wing's download script (the Dockerfile's sources, `apt-get update`
 * and `apt-get install --download-only` of the locked versions) in a container of the pinned base, with
 * `http_proxy` pointing at a forward proxy on loopback that passes each request on to the archive and keeps
 * every complete 200 answer (the signed InRelease, the package lists apt picks, each .deb) as a file. The
 * rebuild's offline proxy serves exactly those bytes at those URLs (docs/bundles.md).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import { captureContainerOutput } from '../../core/container-output.js';
import { describeError } from '../../core/errors.js';
import type { TargetName } from '../../core/image-contract.js';
import type { ContainerEngine, Logger } from '../../core/ports.js';
import { aptDownloadScript } from '../../ecosystems/apt/offline.js';
import type { Lock } from '../../lock/schema.js';
import { startLoopbackProxy } from './loopback-proxy.js';
import { normalizeUrl } from './offline-index.js';

export interface RecordedFile {
  url: string;
  path: string;
  size: number;
  sha256: string;
}

export interface AptRecording {
  files: RecordedFile[];
  /** Deletes the recorded files. */
  dispose(): Promise<void>;
}

/** Headers a proxy must not pass on (RFC 9110 §7.6.1), plus the proxy's own. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

interface RecordingProxy {
  proxyUrl: string;
  files: RecordedFile[];
  /** Requests that could not be recorded (https through CONNECT, upstream errors), for the warning. */
  refused: string[];
  /** Resolves when every answer passed on so far is written to its file. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

async function startRecordingProxy(dir: string): Promise<RecordingProxy> {
  const files: RecordedFile[] = [];
  const seen = new Set<string>();
  const refused: string[] = [];
  const writes: Promise<void>[] = [];
  let counter = 0;
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '';
    if (!target.startsWith('http://') || (req.method !== 'GET' && req.method !== 'HEAD')) {
      refused.push(`${req.method ?? '?'} ${target}`);
      res.writeHead(405).end();
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    const upstream = httpRequest(target, { method: req.method, headers }, (answer) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      res.writeHead(answer.statusCode ?? 502, out);
      const key = normalizeUrl(target);
      if (answer.statusCode !== 200 || req.method !== 'GET' || seen.has(key)) {
        answer.pipe(res);
        return;
      }
      seen.add(key);
      const path = join(dir, String(counter++));
      const hash = createHash('sha256');
      let size = 0;
      const tee = new PassThrough();
      tee.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
      });
      answer.pipe(res);
      answer.pipe(tee);
      const written = pipeline(tee, createWriteStream(path))
        .then(() => {
          if (answer.complete) files.push({ url: target, path, size, sha256: hash.digest('hex') });
          else seen.delete(key);
        })
        .catch(() => {
          seen.delete(key);
        });
      writes.push(written);
    });
    upstream.on('error', (err) => {
      refused.push(`GET ${target}: ${describeError(err)}`);
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };
  const proxy = await startLoopbackProxy(forward, refused);
  return {
    proxyUrl: proxy.proxyUrl,
    files,
    refused,
    settled: async () => {
      await Promise.all(writes);
    },
    close: proxy.close,
  };
}

export interface AptRecordDeps {
  engine: ContainerEngine;
  logger: Logger;
}

/**
 * Records apt's downloads for the target's locked packages. null: the lock installs no apt package. A failed
 * download run is a reason string (the bundle is still written, without what a rebuild would need).
 */
export async function recordAptDownloads(
  lock: Lock,
  target: TargetName,
  tmpRoot: string,
  deps: AptRecordDeps,
  signal?: AbortSignal,
): Promise<AptRecording | string | null> {
  if (!lock.apt) return null;
  const script = aptDownloadScript(lock.apt, lock.target.os, lock.target.architecture, target);
  if (!script) return null;
  const dir = await mkdtemp(join(tmpRoot, '.envseal-apt-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  const proxy = await startRecordingProxy(dir);
  try {
    deps.logger.progress(`fetching the apt packages of the ${target} image through a recording proxy`);
    const run = await captureContainerOutput(deps.engine, {
      image: lock.base.pinned,
      cmd: ['/bin/sh', '-c', script],
      env: { http_proxy: proxy.proxyUrl },
      networkMode: 'host',
      user: '0',
      ...(signal ? { signal } : {}),
    });
    if (run.exitCode !== 0 || run.interrupted) {
      await dispose();
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('interrupted');
      const last = (run.stderr.trim() || run.stdout.trim()).split('\n').slice(-3).join(' | ');
      return `apt could not fetch the locked packages (exit ${run.exitCode}${proxy.refused.length ? `; not proxied: ${proxy.refused.slice(0, 3).join(', ')}` : ''}): ${last}`;
    }
    // apt may have the last answer before its file is complete here: wait for every write to finish.
    await proxy.settled();
    return { files: [...proxy.files].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0)), dispose };
  } catch (err) {
    await dispose();
    throw err;
  } finally {
    await proxy.close();
  }
}
