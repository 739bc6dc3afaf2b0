/**
 * `ImageRegistry` over the OCI distribution API (https://github.com/opencontainers/distribution-spec,
 * spec.md "Pulling manifests") and Docker's token authentication
 * (https://distribution.github.io/distribution/spec/auth/token/).
 *
 * Resolving `name:tag` for a platform:
 *   1. HEAD /v2/<repo>/manifests/<tag> accepting all four manifest media types (the answer, and so the
 *      digest, depends on Accept). The digest comes from `Docker-Content-Digest`; the spec calls that
 *      header optional, so without it we GET and hash the body bytes exactly as received.
 *   2. An index / manifest list is fetched by digest (and its bytes checked against the digest), and the
 *      child for the platform is picked (OCI image-spec image-index.md: first matching entry wins).
 *   3. The platform manifest is fetched by digest to report its config digest (the classic image ID).
 *      A single-platform manifest has its config read too, to refuse an image built for another platform.
 * 401 answers are met with the challenge they carry: a Bearer token from the realm (anonymous or with
 * basic credentials from the Docker config), or Basic credentials directly. Tokens are cached per
 * registry and scope for their lifetime.
 */
import { createHash } from 'node:crypto';
import type { Clock, ImageRef, ImageRegistry, Logger, Platform, ResolvedImage } from '../core/ports.js';
import { silentLogger } from '../core/ports.js';
import { EnvsealError, externalError, inputError } from '../core/errors.js';
import type { DockerConfig, RegistryCredentials } from './docker-config.js';
import { emptyDockerConfig } from './docker-config.js';
import { RegistryCredentialSource } from './credential-helper.js';
import type { HttpRequest, HttpResponse, RequestContext } from '../http/http.js';
import { HttpClient, describeStatus, isLoopbackHost } from '../http/http.js';
import { DOCKER_HUB, isSha256Digest } from '../core/image-ref.js';
import type { AuthChallenge } from './www-authenticate.js';
import { AuthenticateHeaderError, findChallenge, parseWwwAuthenticate } from './www-authenticate.js';
import { formatPlatform, listPlatforms, normalisePlatform, platformMatches, selectPlatformManifest } from './platform.js';
import {
  INDEX_TYPES,
  MANIFEST_ACCEPT,
  MANIFEST_TYPES,
  contentType,
  describeRef,
  describeRegistryError,
  manifestMediaType,
  parseImageManifest,
  parseIndex,
  parseJson,
  refData,
  registryErrorCodes,
} from './registry-documents.js';

const IMAGE_CONFIG_TYPES = new Set(['application/vnd.docker.container.image.v1+json', 'application/vnd.oci.image.config.v1+json']);
/** Docker Hub's API host; `docker.io` itself serves no registry API. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/** Docker token spec: `expires_in` defaults to 60 s; containers/image also uses 60 s as the floor. */
const MIN_TOKEN_LIFETIME_S = 60;
/** Renew a token this long before it expires, so it does not run out between check and use. */
const TOKEN_EXPIRY_MARGIN_MS = 5_000;

export interface HttpOciRegistryOptions {
  fetch?: typeof fetch;
  /** Credentials (`auths`); loaded by the caller with `loadDockerConfig`. Default: none (anonymous). */
  dockerConfig?: DockerConfig;
  /** Credentials with the config's credential helpers (wins over `dockerConfig`). */
  credentials?: RegistryCredentialSource;
  retries?: number;
  timeoutMs?: number;
  /** Time for one request with its retries (see HttpClientOptions.deadlineMs). */
  deadlineMs?: number;
  /** Cancels every request (Ctrl-C). */
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
  /** For token lifetimes and HTTP-date `Retry-After`; defaults to the system clock. */
  clock?: Clock;
  /** First backoff delay in ms (default 500). */
  baseDelayMs?: number;
}

interface ManifestResult {
  digest: string;
  mediaType: string;
  /** Present when the manifest was fetched with GET (bytes checked against `digest`). */
  body?: Buffer;
}

interface CachedAuthorization {
  header: string;
  /** Undefined for Basic credentials, which do not expire. */
  expiresAtMs?: number;
}

export class HttpOciRegistry implements ImageRegistry {
  private readonly deps: SessionDeps;

  constructor(options: HttpOciRegistryOptions = {}) {
    const logger = options.logger ?? silentLogger;
    const clock = options.clock ?? { now: () => new Date() };
    this.deps = {
      logger,
      credentials: options.credentials ?? new RegistryCredentialSource(options.dockerConfig ?? emptyDockerConfig()),
      authCache: new AuthorizationCache(clock),
      http: new HttpClient({
        fetch: options.fetch,
        retries: options.retries,
        timeoutMs: options.timeoutMs,
        deadlineMs: options.deadlineMs,
        ...(options.signal ? { signal: options.signal } : {}),
        sleep: options.sleep,
        logger,
        clock,
        baseDelayMs: options.baseDelayMs,
        // Manifests are small (registries may refuse ones above 4 MiB); image configs too.
        maxBodyBytes: 8 * 1024 * 1024,
      }),
    };
  }

  /** A session on one repository with the registry's authentication; `pull,push` to write to it. */
  session(ref: ImageRef, actions: 'pull' | 'pull,push'): RepositorySession {
    return new RepositorySession(ref, this.deps, actions);
  }

  async resolveImage(ref: ImageRef, platform: Platform): Promise<ResolvedImage> {
    const want = normalisePlatform(platform);
    const session = new RepositorySession(ref, this.deps);
    const reference = ref.digest ?? ref.tag ?? 'latest';
    this.deps.logger.debug(`resolving ${describeRef(ref)} for ${formatPlatform(want)}`);

    const top = await session.fetchManifest(reference);
    if (ref.digest !== undefined && top.digest !== ref.digest) throw digestMismatch(ref, reference, top.digest);

    if (INDEX_TYPES.has(top.mediaType)) {
      const indexBody = top.body ?? (await session.getManifestByDigest(top.digest)).body;
      const entries = parseIndex(indexBody, ref, top.digest);
      const child = selectPlatformManifest(entries, want);
      if (!child) {
        const available = listPlatforms(entries);
        throw inputError(
          'registry.platform',
          `image ${describeRef(ref)} has no ${formatPlatform(want)} variant; available: ${available.length ? available.join(', ') : 'none'}`,
          {
            hint: `pick a platform the image provides (${available.join(', ') || 'none listed'}), or another image`,
            data: { ...refData(ref), platform: formatPlatform(want), available },
          },
        );
      }
      if (child.mediaType !== undefined && INDEX_TYPES.has(child.mediaType)) {
        throw externalError(
          'registry.unsupported',
          `image ${describeRef(ref)}: the ${formatPlatform(want)} entry of index ${top.digest} is itself an index (${child.digest}), which envseal does not follow`,
          { hint: 'pin the nested index or its platform manifest directly', data: refData(ref) },
        );
      }
      const manifest = await session.getManifestByDigest(child.digest, { childOf: top.digest });
      const config = parseImageManifest(manifest.body, ref, child.digest);
      return {
        digest: top.digest,
        mediaType: top.mediaType,
        platformDigest: child.digest,
        configDigest: config.digest,
        isIndex: true,
      };
    }

    // A single manifest: it is its own platform manifest.
    const manifestBody = top.body ?? (await session.getManifestByDigest(top.digest)).body;
    const config = parseImageManifest(manifestBody, ref, top.digest);
    await session.checkConfigPlatform(config, want, top.digest);
    return {
      digest: top.digest,
      mediaType: top.mediaType,
      platformDigest: top.digest,
      configDigest: config.digest,
      isIndex: false,
    };
  }
}

interface SessionDeps {
  http: HttpClient;
  authCache: AuthorizationCache;
  credentials: RegistryCredentialSource;
  logger: Logger;
}

/** Authorization header values per registry + scope; Bearer tokens expire, Basic credentials do not. */
class AuthorizationCache {
  private readonly entries = new Map<string, CachedAuthorization>();

  constructor(private readonly clock: Clock) {}

  get(key: string): string | undefined {
    const cached = this.entries.get(key);
    if (!cached) return undefined;
    if (cached.expiresAtMs !== undefined && this.clock.now().getTime() >= cached.expiresAtMs - TOKEN_EXPIRY_MARGIN_MS) {
      this.entries.delete(key);
      return undefined;
    }
    return cached.header;
  }

  set(key: string, header: string, lifetimeSeconds?: number): void {
    const entry: CachedAuthorization = { header };
    if (lifetimeSeconds !== undefined) entry.expiresAtMs = this.clock.now().getTime() + lifetimeSeconds * 1000;
    this.entries.set(key, entry);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

/** Everything about talking to one repository of one registry: a resolve, or pushing artifacts (oci/artifacts.ts). */
export class RepositorySession {
  /** `http(s)://<api host>`: the registry API's origin. */
  readonly baseUrl: string;
  private readonly scope: string;
  private readonly cacheKey: string;
  private readonly context: RequestContext;
  /** What the last authentication used (for messages). */
  private credentials: RegistryCredentials | undefined;

  constructor(
    readonly ref: ImageRef,
    private readonly deps: SessionDeps,
    actions: 'pull' | 'pull,push' = 'pull',
  ) {
    const apiHost = registryApiHost(ref.registry);
    this.baseUrl = `${isLoopbackHost(apiHost) ? 'http' : 'https'}://${apiHost}`;
    this.scope = `repository:${ref.repository}:${actions}`;
    this.cacheKey = `${ref.registry}\n${this.scope}`;
    this.context = {
      target: `registry ${ref.registry}${apiHost !== ref.registry ? ` (${apiHost})` : ''}`,
      codePrefix: 'registry',
      hint: `check that ${apiHost} is reachable from this machine (network, proxy, DNS), then try again`,
      data: refData(ref),
    };
  }

  /** HEAD for the digest and media type; GET (and hash the bytes) when the HEAD answer does not say. */
  async fetchManifest(reference: string): Promise<ManifestResult> {
    const url = this.manifestUrl(reference);
    const head = await this.send({ method: 'HEAD', url, headers: { Accept: MANIFEST_ACCEPT } });
    if (isSuccess(head.status)) {
      const digest = head.headers.get('docker-content-digest')?.trim();
      const mediaType = contentType(head.headers);
      if (digest && isSha256Digest(digest) && mediaType && (INDEX_TYPES.has(mediaType) || MANIFEST_TYPES.has(mediaType))) {
        return { digest, mediaType };
      }
      this.deps.logger.debug(
        `HEAD ${url} gave ${digest ? `digest ${digest}` : 'no Docker-Content-Digest'} and type ${mediaType ?? 'none'}; fetching the manifest`,
      );
    }
    // Not found, an odd status, or an incomplete answer: GET tells us more (and carries an error body).
    const get = await this.send({ method: 'GET', url, headers: { Accept: MANIFEST_ACCEPT } });
    if (!isSuccess(get.status)) throw this.manifestError(get, reference);
    const digest = sha256Digest(get.body);
    if (isSha256Digest(reference) && digest !== reference) throw digestMismatch(this.ref, reference, digest);
    const headerDigest = get.headers.get('docker-content-digest')?.trim();
    if (headerDigest && headerDigest !== digest) {
      // The header is optional and known to be wrong on some registries; the bytes are what Docker pulls.
      this.deps.logger.debug(`registry said ${headerDigest} for ${url}, but the body hashes to ${digest}; using the body`);
    }
    return { digest, mediaType: manifestMediaType(get, this.ref, reference), body: get.body };
  }

  /** GET a manifest by digest and check that its bytes hash to that digest. */
  async getManifestByDigest(digest: string, options: { childOf?: string } = {}): Promise<Required<ManifestResult>> {
    const url = this.manifestUrl(digest);
    const res = await this.send({ method: 'GET', url, headers: { Accept: MANIFEST_ACCEPT } });
    if (!isSuccess(res.status)) {
      if (options.childOf !== undefined && res.status === 404) {
        throw externalError(
          'registry.protocol',
          `registry ${this.ref.registry}: index ${options.childOf} of ${describeRef(this.ref)} lists manifest ${digest}, but the registry does not have it (${describeRegistryError(res)})`,
          { hint: 'the image was pushed incompletely; push it again or pick another tag', data: refData(this.ref) },
        );
      }
      throw this.manifestError(res, digest);
    }
    const actual = sha256Digest(res.body);
    if (actual !== digest) throw digestMismatch(this.ref, digest, actual);
    return { digest, mediaType: manifestMediaType(res, this.ref, digest), body: res.body };
  }

  /**
   * A single-platform manifest says nothing about its platform; its config does (image-spec config.md
   * `os`, `architecture`, `variant`). Refuse an image built for another platform rather than lock it.
   */
  async checkConfigPlatform(config: { digest: string; mediaType?: string }, want: Platform, manifestDigest: string): Promise<void> {
    if (config.mediaType !== undefined && !IMAGE_CONFIG_TYPES.has(config.mediaType)) {
      throw inputError(
        'registry.not-an-image',
        `${describeRef(this.ref)} is not a container image: manifest ${manifestDigest} has a config of type ${config.mediaType}`,
        { hint: 'use a container image as the base', data: refData(this.ref) },
      );
    }
    const url = `${this.baseUrl}/v2/${this.ref.repository}/blobs/${config.digest}`;
    const res = await this.send({ method: 'GET', url });
    if (!isSuccess(res.status)) {
      throw externalError(
        'registry.protocol',
        `registry ${this.ref.registry}: cannot read config ${config.digest} of ${describeRef(this.ref)}: ${describeRegistryError(res)}`,
        { hint: 'the image may have been pushed incompletely; push it again or pick another tag', data: refData(this.ref) },
      );
    }
    if (sha256Digest(res.body) !== config.digest) throw digestMismatch(this.ref, config.digest, sha256Digest(res.body));
    const raw = parseJson(res.body, this.ref, `config ${config.digest}`);
    const os = typeof raw.os === 'string' ? raw.os : undefined;
    const architecture = typeof raw.architecture === 'string' ? raw.architecture : undefined;
    if (os === undefined || architecture === undefined) return;
    const variant = typeof raw.variant === 'string' && raw.variant !== '' ? raw.variant : undefined;
    const have = normalisePlatform({ os, architecture, ...(variant ? { variant } : {}) });
    if (!platformMatches(have, want)) {
      throw inputError(
        'registry.platform',
        `image ${describeRef(this.ref)} is a single-platform image for ${formatPlatform(have)}, not ${formatPlatform(want)}`,
        {
          hint: `resolve it for ${formatPlatform(have)}, or use a multi-platform image that includes ${formatPlatform(want)}`,
          data: { ...refData(this.ref), platform: formatPlatform(want), available: [formatPlatform(have)] },
        },
      );
    }
  }

  /**
   * Sends a request with the cached authorization, answering a 401 challenge once. 401/403 after that is
   * an auth error.
   */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const { http, authCache } = this.deps;
    const cached = authCache.get(this.cacheKey);
    let res = await http.request(withAuthorization(request, cached), this.context);
    if (res.status === 401) {
      // A cached token may have been revoked or expired early: drop it and answer the fresh challenge.
      if (cached !== undefined) authCache.delete(this.cacheKey);
      const authorization = await this.authenticate(res);
      res = await http.request(withAuthorization(request, authorization), this.context);
      if (res.status === 401) throw this.authError(await this.withErrorBody(request, res), `registry ${this.ref.registry} refused access`);
    }
    if (res.status === 403) throw this.authError(await this.withErrorBody(request, res), `registry ${this.ref.registry} denied access`);
    return res;
  }

  /**
   * A HEAD answer has no body, so a refused HEAD says nothing about why. On that (failing) path only,
   * ask again with GET for the registry's error body (`{"errors":[…]}`) to quote in the message.
   */
  private async withErrorBody(request: HttpRequest, res: HttpResponse): Promise<HttpResponse> {
    if (request.method !== 'HEAD' || res.body.length > 0) return res;
    const authorization = this.deps.authCache.get(this.cacheKey);
    const again = await this.deps.http.request(withAuthorization({ ...request, method: 'GET' }, authorization), this.context);
    return again.status === res.status ? again : res;
  }

  /** Turns a 401's challenge into an Authorization header value (and caches it). */
  private async authenticate(res: HttpResponse): Promise<string> {
    const header = res.headers.get('www-authenticate');
    if (!header) {
      throw this.authError(res, `registry ${this.ref.registry} asked for authentication without a WWW-Authenticate challenge`);
    }
    let challenges: AuthChallenge[];
    try {
      challenges = parseWwwAuthenticate(header);
    } catch (err) {
      if (!(err instanceof AuthenticateHeaderError)) throw err;
      throw externalError('registry.protocol', `registry ${this.ref.registry}: ${err.message}`, { data: refData(this.ref), cause: err });
    }
    const credentials = await this.deps.credentials.credentialsFor(this.ref.registry);
    this.credentials = credentials;
    const bearer = findChallenge(challenges, 'bearer');
    if (bearer) return this.fetchToken(bearer, credentials);
    if (findChallenge(challenges, 'basic')) {
      if (!credentials || credentials.identityToken !== undefined) {
        throw this.authError(
          res,
          `registry ${this.ref.registry} requires a login (Basic authentication${credentials ? '; an identity token cannot be used for it' : ''})`,
        );
      }
      const value = basicAuthorization(credentials);
      this.deps.authCache.set(this.cacheKey, value);
      return value;
    }
    throw this.authError(
      res,
      `registry ${this.ref.registry} asked for an authentication scheme envseal does not support (${challenges.map((c) => c.scheme).join(', ')})`,
    );
  }

  /**
   * Docker token spec: GET <realm>?service=<service>&scope=<scope>, with Basic credentials when we have
   * them. `service` is absent on some registries (nvcr.io), so it is only sent when given. The scope is
   * always our own `repository:<repo>:pull` (or `pull,push` for a session that writes): a challenge's scope can be broader (`pull,push`) or, on
   * ghcr.io's /v2/ ping, a placeholder.
   */
  private async fetchToken(challenge: AuthChallenge, credentials: RegistryCredentials | undefined): Promise<string> {
    const realm = challenge.params.realm;
    let realmUrl: URL;
    try {
      if (!realm) throw new Error('no realm');
      realmUrl = new URL(realm);
      if (realmUrl.protocol !== 'https:' && realmUrl.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      throw externalError('registry.protocol', `registry ${this.ref.registry} sent a Bearer challenge with an unusable realm ${JSON.stringify(realm ?? '')}`, {
        data: refData(this.ref),
      });
    }
    if (credentials && realmUrl.protocol === 'http:' && !isLoopbackHost(realmUrl.host)) {
      throw externalError(
        'registry.auth',
        `registry ${this.ref.registry} wants credentials sent to ${realmUrl.origin} over plain HTTP; envseal refuses to send them unencrypted`,
        { hint: 'use the registry over HTTPS', data: refData(this.ref) },
      );
    }
    const res = await this.deps.http.request(tokenRequest(realmUrl, challenge, this.scope, credentials), {
      ...this.context,
      target: `token server ${realmUrl.host} (for registry ${this.ref.registry})`,
    });
    if (res.status === 401 || res.status === 403) {
      throw this.authError(
        res,
        `token server ${realmUrl.host} (for registry ${this.ref.registry}) refused ${credentials ? 'the credentials' : 'an anonymous token'}`,
      );
    }
    if (!isSuccess(res.status)) {
      throw externalError(
        'registry.protocol',
        `token server ${realmUrl.host} (for registry ${this.ref.registry}) answered ${describeStatus(res.status, res.statusText, res.body)}`,
        { data: refData(this.ref) },
      );
    }
    const body = parseJson(res.body, this.ref, `token from ${realmUrl.host}`);
    // Docker's token spec names the field `token`; OAuth2-style servers answer `access_token`.
    const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') {
      throw externalError('registry.protocol', `token server ${realmUrl.host} answered without a token`, { data: refData(this.ref) });
    }
    const expiresIn = typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) ? body.expires_in : MIN_TOKEN_LIFETIME_S;
    const value = `Bearer ${token}`;
    this.deps.authCache.set(this.cacheKey, value, Math.max(MIN_TOKEN_LIFETIME_S, expiresIn));
    return value;
  }

  /**
   * 401/403 after authenticating. This is an *external* error (exit 3), not an input error: the spec
   * names the image correctly as far as envseal can tell, and what fails is the state of systems outside
   * the spec — the registry's access rules and the credentials stored by `docker login`. The fix is
   * outside the spec too (log in, get access), and some registries (Docker Hub) answer 401 for
   * repositories that do not exist, so we cannot honestly blame the spec.
   */
  private authError(res: HttpResponse, what: string): EnvsealError {
    const { registry } = this.ref;
    const credentials = this.credentials;
    const helper = this.deps.credentials.helperFor(registry);
    const configPath = this.deps.credentials.config.path ?? '~/.docker/config.json';
    const login = registry === DOCKER_HUB ? 'docker login' : `docker login ${registry}`;
    const who = credentials
      ? credentials.identityToken !== undefined
        ? 'an identity token'
        : `user ${JSON.stringify(credentials.username)}`
      : 'anonymous access';
    let hint: string;
    if (!credentials && helper) {
      hint = `${configPath} keeps the login for ${registry} in the credential helper "docker-credential-${helper}", which has none for it; run \`${login}\``;
    } else if (!credentials) {
      hint = `log in with \`${login}\` (envseal reads the "auths" entries of ${configPath})`;
    } else {
      hint = `check the credentials stored for ${credentials.server} in ${configPath}, and that this user may pull ${this.ref.repository}; run \`${login}\` again`;
    }
    return externalError(
      'registry.auth',
      `${what} for ${describeRef(this.ref)} (${who}; ${describeRegistryError(res)}). ` +
        'The repository may also be private or not exist: some registries answer 401 for both',
      { hint, data: { ...refData(this.ref), status: res.status } },
    );
  }

  private manifestError(res: HttpResponse, reference: string): EnvsealError {
    const codes = registryErrorCodes(res);
    if (res.status === 404 || codes.includes('MANIFEST_UNKNOWN') || codes.includes('NAME_UNKNOWN')) {
      return inputError('registry.not-found', `no such image: ${describeRef(this.ref)} (registry said: ${describeRegistryError(res)})`, {
        hint: `check the repository name and ${isSha256Digest(reference) ? 'digest' : 'tag'} on ${this.ref.registry}`,
        data: { ...refData(this.ref), status: res.status },
      });
    }
    return externalError(
      'registry.protocol',
      `registry ${this.ref.registry} answered ${describeRegistryError(res)} for manifest ${reference} of ${this.ref.repository}`,
      { data: { ...refData(this.ref), status: res.status } },
    );
  }

  private manifestUrl(reference: string): string {
    return `${this.baseUrl}/v2/${this.ref.repository}/manifests/${reference}`;
  }
}

/** The registry API host for a registry name: Docker Hub's API lives on registry-1.docker.io. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers

function digestMismatch(ref: ImageRef, expected: string, actual: string): EnvsealError {
  return externalError(
    'registry.digest-mismatch',
    `registry ${ref.registry} returned content for ${expected} that hashes to ${actual} (resolving ${describeRef(ref)})`,
    { hint: 'the registry or something between it and you altered the data; do not trust this registry answer', data: refData(ref) },
  );
}

function withAuthorization(request: HttpRequest, authorization: string | undefined): HttpRequest {
  if (authorization === undefined) return request;
  return { ...request, headers: { ...request.headers, Authorization: authorization } };
}

/**
 * The token request: with an identity token, the OAuth2 refresh-token grant the docker CLI uses (POST,
 * client_id "docker"); otherwise GET with Basic credentials, or anonymous.
 */
function tokenRequest(realmUrl: URL, challenge: AuthChallenge, scope: string, credentials: RegistryCredentials | undefined): HttpRequest {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (credentials?.identityToken !== undefined) {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: 'docker', scope });
    if (challenge.params.service !== undefined) form.set('service', challenge.params.service);
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    return { method: 'POST', url: realmUrl.href, headers, body: Buffer.from(form.toString()) };
  }
  if (challenge.params.service !== undefined) realmUrl.searchParams.set('service', challenge.params.service);
  realmUrl.searchParams.set('scope', scope);
  if (credentials) {
    realmUrl.searchParams.set('account', credentials.username);
    headers.Authorization = basicAuthorization(credentials);
  }
  return { method: 'GET', url: realmUrl.href, headers };
}

function basicAuthorization(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}
