/**
 * Helpers for the registry client's e2e tests:
 *   - tiny but real OCI images (config blob, layer blob, manifest, index) built in memory,
 *   - `FakeRegistry`: a purpose-built registry on 127.0.0.1 (node:http) for behaviours the real one will not
 *     show on demand (no Docker-Content-Digest, 5xx, 429, hangs, token servers, tampered bytes),
 *   - a real `docker-registry serve` (the distribution registry) on a free loopback port, optionally with
 *     htpasswd basic auth, and pushing images to it through the registry API (OCI distribution spec,
 *     "Pushing blobs" / "Pushing manifests").
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { writeTar } from '../lab/tar.js';

export const LAB_UP = 'bash .ci/lab-up';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

// -----------------------------------------------------------------------------------------------------------
// Images

export interface Blob {
  digest: string;
  bytes: Buffer;
}

export interface TestImage {
  platform: { os: string; architecture: string; variant?: string };
  config: Blob;
  layer: Blob;
  manifest: Blob;
  mediaType: string;
}

/**
 * One single-layer image for a platform. The layer is a real (uncompressed) tar holding one file whose
 * content is `seed`, so each platform gets its own layer, config and manifest digest.
 */
export function buildTestImage(platform: { os: string; architecture: string; variant?: string }, seed: string, mediaType: string = OCI_MANIFEST): TestImage {
  const layerBytes = writeTar([{ name: 'etc/envseal-test-image', data: `${seed}\n` }]);
  const layer = { digest: sha256(layerBytes), bytes: layerBytes };
  const configJson = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: [`SEED=${seed}`] },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  };
  const configBytes = Buffer.from(JSON.stringify(configJson));
  const config = { digest: sha256(configBytes), bytes: configBytes };
  const docker = mediaType === DOCKER_MANIFEST;
  const manifestJson = {
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : OCI_CONFIG,
      digest: config.digest,
      size: config.bytes.length,
    },
    layers: [
      {
        mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar' : OCI_LAYER,
        digest: layer.digest,
        size: layer.bytes.length,
      },
    ],
  };
  // Pretty-printed on purpose: hashing a re-serialised manifest would give another digest.
  const manifestBytes = Buffer.from(`${JSON.stringify(manifestJson, null, 3)}\n`);
  return { platform, config, layer, manifest: { digest: sha256(manifestBytes), bytes: manifestBytes }, mediaType };
}

export interface IndexChild {
  mediaType: string;
  manifest: Blob;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export function buildIndex(children: IndexChild[], mediaType: string = OCI_INDEX): Blob {
  const json = {
    schemaVersion: 2,
    mediaType,
    manifests: children.map((c) => ({
      mediaType: c.mediaType,
      digest: c.manifest.digest,
      size: c.manifest.bytes.length,
      ...(c.platform ? { platform: c.platform } : {}),
      ...(c.annotations ? { annotations: c.annotations } : {}),
    })),
  };
  const bytes = Buffer.from(`${JSON.stringify(json, null, 2)}\n`);
  return { digest: sha256(bytes), bytes };
}

/** A BuildKit-style attestation manifest for `subject` (platform unknown/unknown). */
export function buildAttestation(subject: string): { image: TestImage; child: IndexChild } {
  const image = buildTestImage({ os: 'unknown', architecture: 'unknown' }, `attestation-${subject}`);
  return {
    image,
    child: {
      mediaType: OCI_MANIFEST,
      manifest: image.manifest,
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': subject },
    },
  };
}

// -----------------------------------------------------------------------------------------------------------
// A purpose-built registry on loopback

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
}

export type FakeAuth =
  | { kind: 'none' }
  | {
      kind: 'bearer';
      /** Omitted from the challenge when undefined (nvcr.io style). */
      service?: string;
      /** The field the token server answers with. */
      tokenField?: 'token' | 'access_token';
      expiresIn?: number;
      /** When set, the token server wants these Basic credentials (else it gives anonymous tokens). */
      users?: Record<string, string>;
      /** Identity tokens the token server takes in an OAuth2 refresh-token POST. */
      refreshTokens?: string[];
    }
  | { kind: 'basic'; users: Record<string, string> };

export interface FakeRegistryOptions {
  auth?: FakeAuth;
  /** Leave out Docker-Content-Digest on manifest answers. */
  omitDigestHeader?: boolean;
  /**
   * Sees every request first; return true after answering it yourself. `n` counts requests with the
   * same method and path, from 1.
   */
  intercept?: (req: IncomingMessage, res: ServerResponse, n: number) => boolean;
}

interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
}

export class FakeRegistry {
  readonly requests: RecordedRequest[] = [];
  private readonly manifests = new Map<string, StoredManifest>();
  private readonly tags = new Map<string, string>();
  private readonly blobs = new Map<string, Buffer>();
  private readonly repos = new Set<string>();
  private readonly counts = new Map<string, number>();
  private readonly issuedTokens = new Set<string>();
  private tokenSerial = 0;
  private constructor(
    private readonly server: Server,
    readonly host: string,
    private readonly options: FakeRegistryOptions,
  ) {}

  static async start(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
    let registry: FakeRegistry | undefined;
    const server = createServer((req, res) => {
      registry!.handle(req, res).catch((err: unknown) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('fake registry has no port');
    registry = new FakeRegistry(server, `127.0.0.1:${address.port}`, options);
    return registry;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  /** Stores an image (blobs + manifest) under `repo`, tagged when `tag` is given. */
  addImage(repo: string, image: TestImage, tag?: string): void {
    this.addBlob(repo, image.config);
    this.addBlob(repo, image.layer);
    this.addManifest(repo, image.manifest, image.mediaType, tag);
  }

  addBlob(repo: string, blob: Blob): void {
    this.repos.add(repo);
    this.blobs.set(`${repo}@${blob.digest}`, blob.bytes);
  }

  addManifest(repo: string, manifest: Blob, mediaType: string, tag?: string): void {
    this.repos.add(repo);
    this.manifests.set(`${repo}@${manifest.digest}`, { bytes: manifest.bytes, mediaType });
    if (tag !== undefined) this.tags.set(`${repo}:${tag}`, manifest.digest);
  }

  /** Requests other than token requests, as "METHOD /path". */
  apiCalls(): string[] {
    return this.requests.filter((r) => r.path !== '/token').map((r) => `${r.method} ${r.path}`);
  }

  tokenRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/token');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers });
    const key = `${req.method} ${url.pathname}`;
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    if (this.options.intercept?.(req, res, n)) return;

    const auth = this.options.auth ?? { kind: 'none' };
    if (url.pathname === '/token' && auth.kind === 'bearer' && req.method === 'POST') return this.answerRefresh(req, res, auth);
    if (url.pathname === '/token' && auth.kind === 'bearer') return this.answerToken(req, res, url, auth);

    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    const repo = match?.[1] ?? '';
    if (!this.authorised(req, res, auth, repo)) return;
    if (url.pathname === '/v2/') return sendJson(res, 200, {});
    if (!match) return sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no route' }] });
    const [, , kind, reference = ''] = match;
    if (!this.repos.has(repo)) {
      return sendError(req, res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    }
    if (kind === 'blobs') {
      const blob = this.blobs.get(`${repo}@${reference}`);
      if (!blob) return sendError(req, res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.length });
      res.end(req.method === 'HEAD' ? undefined : blob);
      return;
    }
    const digest = reference.startsWith('sha256:') ? reference : this.tags.get(`${repo}:${reference}`);
    const manifest = digest ? this.manifests.get(`${repo}@${digest}`) : undefined;
    if (!digest || !manifest) return sendError(req, res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
    const headers: Record<string, string | number> = { 'Content-Type': manifest.mediaType, 'Content-Length': manifest.bytes.length };
    if (!this.options.omitDigestHeader) headers['Docker-Content-Digest'] = digest;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : manifest.bytes);
  }

  private authorised(req: IncomingMessage, res: ServerResponse, auth: FakeAuth, repo: string): boolean {
    const header = req.headers.authorization ?? '';
    if (auth.kind === 'none') return true;
    if (auth.kind === 'basic') {
      if (checkBasic(header, auth.users)) return true;
      res.setHeader('WWW-Authenticate', 'Basic realm="fake-registry", charset="UTF-8"');
      sendError(req, res, 401, 'UNAUTHORIZED', 'authentication required');
      return false;
    }
    if (header.startsWith('Bearer ') && this.issuedTokens.has(header.slice('Bearer '.length))) return true;
    const params = [`realm="${this.url}/token"`];
    if (auth.service !== undefined) params.push(`service="${auth.service}"`);
    // A scope with a comma inside quotes, as nvcr.io sends: a naive split on "," would break it.
    params.push(`scope="repository:${repo || 'user/image'}:pull,push"`);
    res.setHeader('WWW-Authenticate', `Bearer ${params.join(',')}`);
    sendError(req, res, 401, 'UNAUTHORIZED', 'authentication required');
    return false;
  }

  private answerToken(req: IncomingMessage, res: ServerResponse, url: URL, auth: Extract<FakeAuth, { kind: 'bearer' }>): void {
    if (auth.users && !checkBasic(req.headers.authorization ?? '', auth.users)) {
      return sendJson(res, 401, { details: 'incorrect username or password' });
    }
    this.tokenSerial += 1;
    const token = `token-${this.tokenSerial}-${url.searchParams.get('scope') ?? ''}`;
    this.issuedTokens.add(token);
    const field = auth.tokenField ?? 'token';
    sendJson(res, 200, { [field]: token, ...(auth.expiresIn !== undefined ? { expires_in: auth.expiresIn } : {}) });
  }

  /** The OAuth2 form posts the token server received. */
  readonly tokenForms: URLSearchParams[] = [];

  /** OAuth2 refresh-token grant (what the docker CLI does with an identity token). */
  private async answerRefresh(req: IncomingMessage, res: ServerResponse, auth: Extract<FakeAuth, { kind: 'bearer' }>): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    this.tokenForms.push(form);
    if (form.get('grant_type') !== 'refresh_token' || !auth.refreshTokens?.includes(form.get('refresh_token') ?? '')) {
      return sendJson(res, 401, { error: 'invalid_grant' });
    }
    this.tokenSerial += 1;
    const token = `token-${this.tokenSerial}-${form.get('scope') ?? ''}`;
    this.issuedTokens.add(token);
    sendJson(res, 200, { access_token: token, expires_in: 300 });
  }

  /** Forget issued tokens, as a registry does when they are revoked. */
  revokeTokens(): void {
    this.issuedTokens.clear();
  }
}

function checkBasic(header: string, users: Record<string, string>): boolean {
  if (!header.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 && users[decoded.slice(0, colon)] === decoded.slice(colon + 1);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': bytes.length });
  res.end(bytes);
}

/** OCI distribution error body (`{"errors":[…]}`); HEAD answers carry only the status. */
function sendError(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  const bytes = Buffer.from(JSON.stringify({ errors: [{ code, message, detail: null }] }));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': bytes.length });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

// -----------------------------------------------------------------------------------------------------------
// The real distribution registry

export interface RunningRegistry {
  host: string;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound and released; the registry takes it right after). */
export async function findFreePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/**
 * An htpasswd line the distribution registry accepts. It only takes bcrypt (`$2a$`/`$2b$`/`$2y$`). No
 * htpasswd (apache2-utils) here and OpenSSL's `passwd` has no bcrypt, but Perl's `crypt` goes to glibc's
 * libcrypt (libxcrypt on Debian), which implements bcrypt; perl-base and libcrypt1 are Essential packages.
 */
export function bcryptHtpasswdLine(user: string, password: string): string {
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const random = randomBytes(21);
  // 22 salt characters; the last one carries only 2 significant bits, so use one whose low 4 bits are 0.
  const salt = Array.from(random, (b) => alphabet[b % 64]).join('') + '.Oeu'[random[0]! % 4];
  const result = spawnSync('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`], { encoding: 'utf8' });
  const hash = result.stdout ?? '';
  if (result.status !== 0 || !hash.startsWith('$2b$05$') || hash.length !== 60) {
    throw new Error(`cannot make a bcrypt hash with perl crypt() (got ${JSON.stringify(hash)}; ${result.stderr ?? result.error?.message ?? ''})`);
  }
  return `${user}:${hash}`;
}

/**
 * Starts `docker-registry serve` on a free loopback port with storage in a temp directory, with htpasswd
 * auth when `users` is given. Fails (never skips) with the lab command when the binary is missing.
 */
export async function startDistributionRegistry(options: { users?: Record<string, string> } = {}): Promise<RunningRegistry> {
  const which = spawnSync('sh', ['-c', 'command -v docker-registry'], { encoding: 'utf8' });
  if (which.status !== 0) {
    throw new Error(`docker-registry is not installed; set up the test lab with \`${LAB_UP}\` (it installs it), then run the tests again`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'envseal-registry-'));
  const port = await findFreePort();
  const lines = [
    'version: 0.1',
    'log: { level: warn, accesslog: { disabled: true } }',
    `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
    `http: { addr: 127.0.0.1:${port} }`,
  ];
  if (options.users) {
    const htpasswd = Object.entries(options.users).map(([user, password]) => bcryptHtpasswdLine(user, password));
    await writeFile(join(dir, 'htpasswd'), `${htpasswd.join('\n')}\n`);
    lines.push(`auth: { htpasswd: { realm: envseal-test, path: ${join(dir, 'htpasswd')} } }`);
  }
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, `${lines.join('\n')}\n`);

  const child: ChildProcess = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  child.stdout?.on('data', (c: Buffer) => log.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => log.push(c.toString()));
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      child.kill('SIGTERM');
      for (let i = 0; i < 50 && !exited; i += 1) await delay(100);
      if (!exited) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };

  for (let i = 0; i < 100; i += 1) {
    if (exited) break;
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return { host: `127.0.0.1:${port}`, url, dir, stop };
    } catch {
      // not listening yet
    }
    await delay(100);
  }
  await stop();
  throw new Error(`docker-registry did not start on ${url}:\n${log.join('').slice(-2000)}`);
}

export function basicAuthHeader(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** Monolithic blob upload: POST to open an upload session, PUT the bytes with `?digest=` to close it. */
export async function pushBlob(baseUrl: string, repo: string, blob: Blob, headers: Record<string, string> = {}): Promise<void> {
  const start = await fetch(`${baseUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  await start.arrayBuffer();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) throw new Error(`blob upload to ${repo} did not start: HTTP ${start.status}`);
  const uploadUrl = new URL(location, baseUrl);
  uploadUrl.searchParams.set('digest', blob.digest);
  const put = await fetch(uploadUrl, {
    method: 'PUT',
    headers: { ...headers, 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.bytes.length) },
    body: blob.bytes,
  });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`blob ${blob.digest} upload to ${repo} failed: HTTP ${put.status} ${text}`);
}

/** PUT a manifest under a tag or digest; returns the registry's Docker-Content-Digest. */
export async function pushManifest(
  baseUrl: string,
  repo: string,
  reference: string,
  manifest: Blob,
  mediaType: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await fetch(`${baseUrl}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...headers, 'Content-Type': mediaType },
    body: manifest.bytes,
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest push ${repo}:${reference} failed: HTTP ${res.status} ${text}`);
  return res.headers.get('docker-content-digest') ?? '';
}

export async function pushImage(baseUrl: string, repo: string, image: TestImage, headers: Record<string, string> = {}): Promise<void> {
  await pushBlob(baseUrl, repo, image.config, headers);
  await pushBlob(baseUrl, repo, image.layer, headers);
  await pushManifest(baseUrl, repo, image.manifest.digest, image.manifest, image.mediaType, headers);
}
