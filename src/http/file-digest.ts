/**
 * The FileFetcher port over node:http / node:https: GET a URL (following up to 10 redirects) and hash the body
 * as it streams, so a multi-gigabyte model file costs no memory. No credentials: the image build fetches the
 * same URL with the Dockerfile's ADD, which cannot carry any. Bounded by an idle deadline (no byte for that
 * long) and by the caller's cancel signal.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { describeError, externalError, inputError } from '../core/errors.js';
import type { FileDigest, FileFetcher, Logger } from '../core/ports.js';

export interface FileDigesterOptions {
  logger: Logger;
  /** No byte for this long: give up (default 60 s). */
  idleTimeoutMs?: number;
}

const MAX_REDIRECTS = 10;

export function createFileDigester(options: FileDigesterOptions): FileFetcher {
  const idleMs = options.idleTimeoutMs ?? 60_000;
  const once = (url: URL, signal?: AbortSignal) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : null;
      if (!send) {
        reject(inputError('files.url', `${url.href}: only http:// and https:// URLs can be fetched`, { hint: 'name the file by an http(s) URL' }));
        return;
      }
      const req = send(url, { method: 'GET', headers: { 'user-agent': 'envseal' }, ...(signal ? { signal } : {}) });
      req.setTimeout(idleMs, () => req.destroy(new Error(`no answer within ${Math.round(idleMs / 1000)} s`)));
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });

  const unreachable = (url: string, err: unknown) =>
    externalError('files.unreachable', `fetching ${url} failed: ${describeError(err)}`, {
      hint: 'check that the host serves the file and is reachable from here (proxy settings, VPN)',
    });

  return {
    async digest(href, { signal } = {}): Promise<FileDigest> {
      let url = new URL(href);
      for (let hop = 0; ; hop++) {
        let res: IncomingMessage;
        try {
          res = await once(url, signal);
        } catch (err) {
          if (signal?.aborted) throw err;
          if (err instanceof Error && 'exitCode' in err) throw err;
          throw unreachable(href, err);
        }
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          if (hop >= MAX_REDIRECTS) throw unreachable(href, new Error(`more than ${MAX_REDIRECTS} redirects`));
          url = new URL(res.headers.location, url);
          continue;
        }
        if (status !== 200) {
          res.resume();
          const what = `fetching ${href} answered ${status} ${res.statusMessage ?? ''}`.trim();
          if (status >= 400 && status < 500) {
            throw inputError('files.not-found', what, { hint: 'the URL in envseal.yaml does not name a file this host serves: correct it' });
          }
          throw externalError('files.unreachable', what, { hint: 'the host failed; try again later' });
        }
        const hash = createHash('sha256');
        let size = 0;
        try {
          for await (const chunk of res as AsyncIterable<Buffer>) {
            hash.update(chunk);
            size += chunk.length;
          }
        } catch (err) {
          if (signal?.aborted) throw err;
          throw unreachable(href, err);
        }
        if (!res.complete) throw unreachable(href, new Error(`the body was cut off after ${size} bytes`));
        options.logger.debug(`fetched ${href}: ${size} bytes`);
        return { sha256: hash.digest('hex'), size };
      }
    },
  };
}
