/**
 * A misbehaving HTTP endpoint for fault-injection tests: a Python index (a proxy in front of the lab's real
 * index) or a Docker engine (on a unix socket) that hangs, answers 5xx, cuts bodies, drops connections or
 * serves bytes whose sha256 is not the one the index publishes. Requests that no fault matches are proxied
 * to `upstream` unchanged (or answered 404 without one).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultKind =
  /** Accept the request and never answer. */
  | 'hang'
  /** Answer with this status and a short body. */
  | { status: number }
  /** Send headers promising the whole body, half of it, then drop the connection. */
  | 'cut'
  /** Drop the connection without an answer. */
  | 'reset'
  /** Proxy the answer with one byte of its body flipped (a hash mismatch for a file the index lists). */
  | 'flip-byte';

export interface FaultRule {
  /** Requests whose path matches (default: all). */
  path?: RegExp;
  fault: FaultKind;
}

export interface FaultServer {
  /** http://127.0.0.1:PORT for TCP; the socket path for a unix socket. */
  address: string;
  /** Every request seen, as `METHOD path`, with the fault applied (or `pass`). */
  requests: { line: string; fault: string }[];
  setRules(rules: FaultRule[]): void;
  close(): Promise<void>;
}

export async function startFaultServer(options: { upstream?: string; socketPath?: string; rules?: FaultRule[] }): Promise<FaultServer> {
  let rules = options.rules ?? [];
  const requests: FaultServer['requests'] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const rule = rules.find((r) => !r.path || r.path.test(req.url ?? ''));
    requests.push({ line: `${req.method} ${req.url}`, fault: rule ? describe(rule.fault) : 'pass' });
    handle(req, res, rule?.fault, options.upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  if (options.socketPath) await new Promise<void>((resolve) => server.listen(options.socketPath, resolve));
  else await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = options.socketPath ?? `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    address,
    requests,
    setRules: (next) => {
      rules = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function describe(fault: FaultKind): string {
  return typeof fault === 'string' ? fault : `status ${fault.status}`;
}

function handle(req: IncomingMessage, res: ServerResponse, fault: FaultKind | undefined, upstream: string | undefined): void {
  req.resume();
  if (fault === 'hang') return;
  if (fault === 'reset') {
    req.socket.destroy();
    return;
  }
  if (typeof fault === 'object') {
    res.writeHead(fault.status, { 'Content-Type': 'application/json' });
    res.end(`{"message":"injected fault: HTTP ${fault.status}"}\n`);
    return;
  }
  if (fault === 'cut') {
    const body = Buffer.alloc(64 * 1024, 0x61);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) });
    res.write(body.subarray(0, body.length / 2), () => setTimeout(() => req.socket.destroy(), 20));
    return;
  }
  if (!upstream) {
    res.writeHead(404).end();
    return;
  }
  proxy(req, res, upstream, fault === 'flip-byte');
}

/** Forwards the request to `upstream`, rewriting absolute URLs in pages so files are fetched through here too. */
function proxy(req: IncomingMessage, res: ServerResponse, upstream: string, flip: boolean): void {
  const target = new URL(req.url ?? '/', upstream);
  const headers = { ...req.headers, host: target.host };
  delete headers['accept-encoding'];
  const out = httpRequest(target, { method: req.method, headers }, (answer) => {
    const chunks: Buffer[] = [];
    answer.on('data', (c: Buffer) => chunks.push(c));
    answer.on('end', () => {
      let body = Buffer.concat(chunks);
      const own = `http://${req.headers.host}`;
      const type = String(answer.headers['content-type'] ?? '');
      if (/json|html/.test(type)) body = Buffer.from(body.toString('utf8').split(new URL(upstream).origin).join(own));
      if (flip && body.length) {
        body = Buffer.from(body);
        const i = body.length >> 1;
        body[i] = (body[i] ?? 0) ^ 0xff;
      }
      const forwarded = { ...answer.headers, 'content-length': String(body.length) };
      delete forwarded.etag;
      delete forwarded['transfer-encoding'];
      res.writeHead(answer.statusCode ?? 502, forwarded);
      res.end(body);
    });
  });
  out.on('error', () => res.writeHead(502).end());
  out.end();
}
