/**
 * The retrying HTTP client with an injected fetch: no sockets, so every failure mode (TypeError from
 * undici, timeouts, status codes, Retry-After) is exact and the sleeps are recorded instead of waited.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvsealError } from '../../src/core/errors.js';
import { HttpClient, backoffDelay, describeNetworkError, isLoopbackHost, isRetryableStatus, parseRetryAfter } from '../../src/http/http.js';

const context = { target: 'service example', codePrefix: 'svc', hint: 'try later' };
const now = Date.UTC(2026, 0, 1);
const clock = { now: () => new Date(now) };

function scriptedFetch(steps: (() => Response | Promise<Response>)[]) {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(input), init });
    const step = steps[Math.min(calls.length - 1, steps.length - 1)];
    if (!step) throw new Error('no scripted step');
    return step();
  }) as typeof fetch;
  return { fetchImpl, calls };
}

function refused(): never {
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
  throw new TypeError('fetch failed', { cause });
}

describe('HttpClient', () => {
  it('returns a non-retryable answer with its body bytes', async () => {
    const { fetchImpl, calls } = scriptedFetch([() => new Response('{"a": 1}', { status: 404, statusText: 'Not Found' })]);
    const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {} });
    const res = await client.request({ url: 'http://x.test/a', headers: { Accept: 'a/b' } }, context);
    assert.equal(res.status, 404);
    assert.equal(res.body.toString(), '{"a": 1}');
    assert.equal(res.attempts, 1);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.init?.headers, { Accept: 'a/b' });
  });

  it('retries 5xx and network errors with exponential backoff, then answers', async () => {
    const { fetchImpl, calls } = scriptedFetch([
      () => new Response('boom', { status: 500 }),
      refused,
      () => new Response('busy', { status: 503 }),
      () => new Response('ok', { status: 200 }),
    ]);
    const sleeps: number[] = [];
    const client = new HttpClient({ fetch: fetchImpl, sleep: async (ms) => void sleeps.push(ms), retries: 3, baseDelayMs: 100 });
    const res = await client.request({ url: 'http://x.test/' }, context);
    assert.equal(res.status, 200);
    assert.equal(res.attempts, 4);
    assert.equal(calls.length, 4);
    assert.deepEqual(sleeps, [100, 200, 400]);
  });

  it('gives up with an external error naming the target and the last failure', async () => {
    const { fetchImpl, calls } = scriptedFetch([() => new Response('{"errors":[]}', { status: 502, statusText: 'Bad Gateway' })]);
    const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {}, retries: 2 });
    await assert.rejects(client.request({ url: 'http://x.test/m' }, context), (err: unknown) => {
      assert.ok(err instanceof EnvsealError);
      assert.equal(err.code, 'svc.unreachable');
      assert.equal(err.exitCode, 3);
      assert.match(
        err.message,
        /^service example is unreachable: GET http:\/\/x\.test\/m failed 3 times; last error: HTTP 502 Bad Gateway: \{"errors":\[\]\}$/,
      );
      assert.equal(err.hint, 'try later');
      assert.equal(err.data?.status, 502);
      return true;
    });
    assert.equal(calls.length, 3);
  });

  it('never lets a fetch TypeError escape, and names the real cause', async () => {
    const { fetchImpl } = scriptedFetch([refused]);
    const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {}, retries: 1 });
    await assert.rejects(client.request({ url: 'http://x.test/' }, context), (err: unknown) => {
      assert.ok(err instanceof EnvsealError);
      assert.match(err.message, /last error: connect ECONNREFUSED 127\.0\.0\.1:9/);
      return true;
    });
  });

  it('a cancel signal (Ctrl-C) stops a hanging request at once, without retrying, as <prefix>.cancelled', async () => {
    let calls = 0;
    const fetchImpl = (async (_input: string | URL | Request, init?: RequestInit) => {
      calls += 1;
      const signal = init?.signal as AbortSignal;
      return new Promise<Response>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }) as typeof fetch;
    const cancel = new AbortController();
    const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {}, retries: 3, timeoutMs: 60_000, signal: cancel.signal });
    const pending = client.request({ url: 'http://x.test/slow' }, context);
    setTimeout(() => cancel.abort(), 20);
    await assert.rejects(pending, (err: unknown) => {
      assert.ok(err instanceof EnvsealError);
      assert.equal(err.code, 'svc.cancelled');
      assert.equal(err.exitCode, 3);
      assert.match(err.message, /GET http:\/\/x\.test\/slow to service example was cancelled/);
      return true;
    });
    assert.equal(calls, 1);
    // Once cancelled, no further request is sent.
    await assert.rejects(client.request({ url: 'http://x.test/next' }, context), /was cancelled/);
    assert.equal(calls, 1);
  });

  it('many requests in flight on one cancel signal print no MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const fetchImpl = (async () => {
        await gate;
        return new Response('ok', { status: 200 });
      }) as typeof fetch;
      const cancel = new AbortController();
      const shared = new AbortController();
      const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {}, signal: cancel.signal });
      const pending = Array.from({ length: 24 }, (_, i) => client.request({ url: `http://x.test/${i}`, signal: shared.signal }, context));
      await new Promise((resolve) => setImmediate(resolve));
      release();
      const answers = await Promise.all(pending);
      assert.equal(answers.length, 24);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('times out an attempt that hangs (body included) and retries it', async () => {
    let calls = 0;
    const fetchImpl = (async (_input: string | URL | Request, init?: RequestInit) => {
      calls += 1;
      const signal = init?.signal as AbortSignal;
      // Headers arrive at once, the body never finishes: the timeout must cover reading it.
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('partial'));
          signal.addEventListener('abort', () => controller.error(signal.reason));
        },
      });
      return new Response(body, { status: 200 });
    }) as typeof fetch;
    const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {}, retries: 1, timeoutMs: 50 });
    // AbortSignal.timeout's timer does not hold the event loop open (a real fetch's socket does); this does.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await assert.rejects(client.request({ url: 'http://x.test/' }, context), /failed 2 times; last error: timed out after 50 ms/);
    } finally {
      clearInterval(keepAlive);
    }
    assert.equal(calls, 2);
  });

  it('a hung server fails within the request deadline: no retry starts after it, retries included', async () => {
    let calls = 0;
    const hang = (async (_input: string | URL | Request, init?: RequestInit) => {
      calls += 1;
      const signal = init?.signal as AbortSignal;
      return new Promise<Response>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }) as typeof fetch;
    const client = new HttpClient({ fetch: hang, retries: 3, timeoutMs: 10_000, deadlineMs: 300, baseDelayMs: 50 });
    const keepAlive = setInterval(() => {}, 1000);
    const started = performance.now();
    try {
      await assert.rejects(client.request({ url: 'http://x.test/' }, context), (err: unknown) => {
        assert.ok(err instanceof EnvsealError);
        assert.equal(err.exitCode, 3);
        assert.match(err.message, /failed once; last error: timed out after 300 ms; no time left for another attempt within the deadline of 300 ms/);
        assert.match(err.hint ?? '', /--timeout/);
        return true;
      });
    } finally {
      clearInterval(keepAlive);
    }
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 280 && elapsed < 1500, `took ${elapsed} ms`);
    assert.equal(calls, 1);
  });

  it('5xx answers are retried while the deadline leaves time for the backoff, then it gives up', async () => {
    const { fetchImpl, calls } = scriptedFetch([() => new Response('busy', { status: 503 })]);
    let t = 0;
    const sleeps: number[] = [];
    const client = new HttpClient({
      fetch: fetchImpl,
      retries: 10,
      baseDelayMs: 100,
      deadlineMs: 1000,
      monotonicNow: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
    });
    await assert.rejects(client.request({ url: 'http://x.test/' }, context), /failed 4 times; last error: HTTP 503: busy; no time left/);
    // 100 + 200 + 400 = 700 ms waited; the next wait (800 ms) would end past the 1000 ms deadline.
    assert.deepEqual(sleeps, [100, 200, 400]);
    assert.equal(calls.length, 4);
  });

  it('honours Retry-After (seconds and HTTP-date) on 429', async () => {
    const { fetchImpl } = scriptedFetch([
      () => new Response('slow down', { status: 429, headers: { 'Retry-After': '3' } }),
      () => new Response('slow down', { status: 429, headers: { 'Retry-After': new Date(now + 1500).toUTCString() } }),
      () => new Response('ok', { status: 200 }),
    ]);
    const sleeps: number[] = [];
    const client = new HttpClient({ fetch: fetchImpl, sleep: async (ms) => void sleeps.push(ms), clock });
    const res = await client.request({ url: 'http://x.test/' }, context);
    assert.equal(res.status, 200);
    // HTTP-dates have whole seconds: now + 1.5 s is written as now + 1 s.
    assert.deepEqual(sleeps, [3000, 1000]);
  });

  it('does not wait for an unreasonable Retry-After, and says why', async () => {
    const { fetchImpl, calls } = scriptedFetch([() => new Response('', { status: 429, headers: { 'Retry-After': '3600' } })]);
    const sleeps: number[] = [];
    const client = new HttpClient({ fetch: fetchImpl, sleep: async (ms) => void sleeps.push(ms), maxRetryAfterMs: 60_000 });
    await assert.rejects(client.request({ url: 'http://x.test/' }, context), (err: unknown) => {
      assert.ok(err instanceof EnvsealError);
      assert.match(err.message, /HTTP 429.*asked to retry after 3600 s, longer than envseal waits \(60 s\)/);
      assert.match(err.hint ?? '', /limiting the request rate/);
      return true;
    });
    assert.equal(calls.length, 1);
    assert.deepEqual(sleeps, []);
  });

  it('refuses bodies above the limit without retrying', async () => {
    const { fetchImpl, calls } = scriptedFetch([() => new Response('x'.repeat(100), { status: 200 })]);
    const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {}, maxBodyBytes: 10 });
    await assert.rejects(client.request({ url: 'http://x.test/' }, context), (err: unknown) => {
      assert.ok(err instanceof EnvsealError);
      assert.equal(err.code, 'svc.protocol');
      assert.match(err.message, /more than 10 bytes/);
      return true;
    });
    assert.equal(calls.length, 1);
    const roomy = await client.request({ url: 'http://x.test/', maxBodyBytes: 1000 }, context);
    assert.equal(roomy.body.length, 100);
  });

  it('does not retry 4xx or 501', async () => {
    for (const status of [400, 401, 403, 404, 501]) {
      const { fetchImpl, calls } = scriptedFetch([() => new Response('', { status })]);
      const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {} });
      assert.equal((await client.request({ url: 'http://x.test/' }, context)).status, status);
      assert.equal(calls.length, 1);
    }
  });
});

describe('helpers', () => {
  it('classifies retryable statuses', () => {
    assert.deepEqual([200, 404, 408, 429, 500, 501, 502, 503, 504, 505, 599].filter(isRetryableStatus), [408, 429, 500, 502, 503, 504, 599]);
  });

  it('doubles the backoff up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, 500, 8000)),
      [500, 1000, 2000, 4000, 8000, 8000],
    );
  });

  it('parses Retry-After', () => {
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter(new Date(now + 30_000).toUTCString(), now), 30_000);
    assert.equal(parseRetryAfter(new Date(now - 30_000).toUTCString(), now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('-5', now), undefined);
  });

  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1:5000', '127.0.0.1', '127.1.2.3:80', 'localhost', 'LOCALHOST:5000', '[::1]:5000', '::1']) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of ['128.0.0.1', '10.0.0.1:5000', 'ghcr.io', 'localhost.example.com', '127.0.0.1.nip.io', '[::2]:5000', '127.0.0.256']) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });

  it('digs the reason out of undici errors, including AggregateErrors', () => {
    const agg = new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5000'), { code: 'ECONNREFUSED' })], '');
    assert.equal(describeNetworkError(new TypeError('fetch failed', { cause: agg })), 'connect ECONNREFUSED ::1:5000');
    const bare = Object.assign(new Error(''), { code: 'ENOTFOUND' });
    assert.equal(describeNetworkError(new TypeError('fetch failed', { cause: bare })), 'ENOTFOUND');
    assert.equal(describeNetworkError(new Error('plain')), 'plain');
  });
});

describe('HttpClient: a cancelled request (Ctrl-C)', () => {
  it('stops at once without retrying, as <codePrefix>.aborted', async () => {
    let calls = 0;
    const fetchImpl = ((_url: URL, init: RequestInit) => {
      calls += 1;
      return new Promise((_resolve, reject) => init.signal!.addEventListener('abort', () => reject(new Error('aborted'))));
    }) as unknown as typeof fetch;
    const client = new HttpClient({ fetch: fetchImpl, sleep: async () => {}, retries: 3 });
    const controller = new AbortController();
    const pending = client.request(
      { url: 'http://127.0.0.1:1/x.whl', signal: controller.signal },
      { target: 'package host 127.0.0.1:1', codePrefix: 'bundle.download' },
    );
    setTimeout(() => controller.abort(), 10);
    await assert.rejects(
      pending,
      (err: unknown) => err instanceof EnvsealError && err.code === 'bundle.download.aborted' && err.exitCode === 3 && /was cancelled/.test(err.message),
    );
    assert.equal(calls, 1);
  });
});
