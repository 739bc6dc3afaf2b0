/**
 * The engine's image store over the Engine API: inspect, tag, remove, pull, push, export (`docker save`) and
 * load (`docker load`). Pull, push and load answer with JSON-lines progress streams whose errors arrive inside
 * a 200 response (stream.ts interprets them). References are parsed by core/image-ref.ts, the one parser.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { EngineImages, ImageInfo, ImageRef } from '../../core/ports.js';
import { EnvsealError, describeError, externalError, inputError, isEnvsealError } from '../../core/errors.js';
import { formatImageName, parseImageRef } from '../../core/image-ref.js';
import { findLoadedImages, findPushedDigest, ProgressStreamCollector, type ProgressStreamSummary } from './stream.js';
import {
  DockerConnection,
  StreamAborted,
  StreamIdle,
  TIMEOUT_HINT,
  asError,
  assertReference,
  httpFailureOf,
  readJsonLines,
  str,
  type HttpFailure,
  type RequestSpec,
} from './connection.js';
import { formatDuration, guardIdle } from './deadline.js';
import { SWEEP_TIMEOUT_MS, type ContainerOwnership } from './containers.js';
import { SCRATCH_REPOSITORY, scratchOwner } from '../../core/image-contract.js';

export interface RegistryCredentials {
  username: string;
  password: string;
  /** An identity token (OAuth2 refresh token), sent instead of username and password. */
  identityToken?: string;
}

/** Credentials for a registry host ("127.0.0.1:5000", "ghcr.io", "docker.io"), or undefined for anonymous. */
export type RegistryAuthProvider = (registry: string) => RegistryCredentials | undefined | Promise<RegistryCredentials | undefined>;

export class DockerImages implements EngineImages {
  constructor(
    private readonly connection: DockerConnection,
    /** Credentials sent as X-Registry-Auth on push and pull. */
    private readonly authFor: RegistryAuthProvider | undefined,
  ) {}

  /** Removes the scratch tags (raw images before normalisation) of builds whose envseal process was killed. */
  async removeScratchLeftovers(ownership: ContainerOwnership, signal?: AbortSignal): Promise<void> {
    const logger = this.connection.logger;
    let listed: { RepoTags?: string[] | null }[];
    try {
      listed = await this.connection.request({
        method: 'GET',
        path: '/images/json',
        query: { filters: JSON.stringify({ reference: [`${SCRATCH_REPOSITORY}/*`] }) },
        ok: [200],
        timeoutMs: SWEEP_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
        action: 'list scratch images',
      });
    } catch (err) {
      logger.debug(`could not list leftover scratch images: ${describeError(err)}`);
      return;
    }
    for (const tag of (Array.isArray(listed) ? listed : []).flatMap((image) => image.RepoTags ?? [])) {
      const owner = scratchOwner(tag);
      if (!owner || owner === ownership.owner || !ownership.isAbandoned(owner)) continue;
      logger.info(`removing ${tag}, the raw image of a build whose envseal process no longer runs`);
      await this.removeImage(tag).catch((err: unknown) => logger.warn(`could not remove ${tag}: ${describeError(err)}`));
    }
  }

  /** GET /images/{name}/json; null when the engine has no such image. */
  async inspectImage(ref: string, options?: { signal?: AbortSignal }): Promise<ImageInfo | null> {
    assertReference(ref);
    let raw: Record<string, unknown>;
    try {
      raw = await this.connection.request({
        method: 'GET',
        path: `/images/${ref}/json`,
        ok: [200],
        action: `inspect image ${ref}`,
        ...(options?.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      if (httpFailureOf(err)?.statusCode === 404) return null;
      throw err;
    }
    const config = (raw.Config ?? {}) as Record<string, unknown>;
    const rootfs = (raw.RootFS ?? {}) as Record<string, unknown>;
    const info: ImageInfo = {
      id: str(raw.Id) ?? '',
      repoTags: strings(raw.RepoTags),
      repoDigests: strings(raw.RepoDigests),
      labels: stringRecord(config.Labels),
      env: strings(config.Env),
      layers: strings(rootfs.Layers),
    };
    if (str(raw.Created)) info.created = str(raw.Created)!;
    if (str(raw.Architecture)) info.architecture = str(raw.Architecture)!;
    if (str(raw.Os)) info.os = str(raw.Os)!;
    if (typeof raw.Size === 'number') info.sizeBytes = raw.Size;
    return info;
  }

  /** POST /images/{name}/tag?repo=&tag= */
  async tagImage(imageId: string, repoTag: string): Promise<void> {
    assertReference(imageId);
    const target = parseEngineReference(repoTag, `cannot tag ${imageId} as "${repoTag}"`);
    if (target.digest || !target.tag) {
      throw inputError('docker.bad-reference', `cannot tag ${imageId} as "${repoTag}": a tag reference (name:tag) is needed`, {
        hint: 'use a reference such as registry.example/team/image:1.0',
      });
    }
    try {
      await this.connection.request({
        method: 'POST',
        path: `/images/${imageId}/tag`,
        query: { repo: formatImageName(target), tag: target.tag },
        ok: [200, 201],
        action: `tag ${imageId} as ${repoTag}`,
      });
    } catch (err) {
      throw this.mapImageError(err, imageId, (failure) =>
        // Docker 20.10 answers 500 "invalid reference format: ..." for a malformed tag.
        failure.statusCode === 400 || failure.statusCode === 409 || /invalid reference format/.test(failure.message)
          ? inputError('docker.bad-reference', `cannot tag ${imageId} as "${repoTag}": ${failure.message}`, {
              hint: 'use a valid lowercase reference such as team/image:1.0',
            })
          : undefined,
      );
    }
  }

  /** DELETE /images/{name} */
  async removeImage(ref: string, options: { force?: boolean; noprune?: boolean } = {}): Promise<void> {
    assertReference(ref);
    try {
      await this.connection.request({
        method: 'DELETE',
        path: `/images/${ref}`,
        query: { force: options.force ?? false, ...(options.noprune ? { noprune: true } : {}) },
        ok: [200],
        action: `remove image ${ref}`,
      });
    } catch (err) {
      throw this.mapImageError(err, ref, (failure) =>
        failure.statusCode === 409
          ? externalError('docker.image-in-use', `cannot remove image ${ref}: ${failure.message}`, {
              hint: 'remove the containers that use it, or remove with force',
            })
          : undefined,
      );
    }
  }

  /** POST /images/create?fromImage=&tag= (a digest goes in `tag`, as the docker CLI sends it). */
  async pullImage(ref: string, options: { platform?: string; signal?: AbortSignal } = {}): Promise<void> {
    assertReference(ref);
    const parsed = parseEngineReference(ref, `cannot pull "${ref}"`);
    const query: Record<string, unknown> = { fromImage: formatImageName(parsed), tag: parsed.digest ?? parsed.tag ?? 'latest' };
    if (options.platform) query.platform = options.platform;
    const summary = await this.runProgressStream(
      {
        method: 'POST',
        path: '/images/create',
        query,
        stream: true,
        ok: [200],
        authconfig: await this.registryAuth(parsed),
        action: `pull ${ref}`,
        timeoutMs: null,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (failure) => externalError('docker.pull-failed', `pulling ${ref} failed: ${failure}`, { hint: pullHint(failure) }),
    );
    if (summary.error) {
      throw externalError('docker.pull-failed', `pulling ${ref} failed: ${summary.error.message}`, { hint: pullHint(summary.error.message) });
    }
  }

  /** POST /images/{name}/push?tag= with X-Registry-Auth; returns the manifest digest the engine reported. */
  async pushImage(repoTag: string, options: { signal?: AbortSignal } = {}): Promise<{ digest: string }> {
    assertReference(repoTag);
    const parsed = parseEngineReference(repoTag, `cannot push "${repoTag}"`);
    if (parsed.digest || !parsed.tag) {
      throw inputError('docker.push-needs-tag', `cannot push "${repoTag}": push a tag (name:tag), not ${parsed.digest ? 'a digest' : 'a bare name'}`, {
        hint: 'tag the image first, e.g. 127.0.0.1:5000/team/image:1.0',
      });
    }
    const summary = await this.runProgressStream(
      {
        method: 'POST',
        path: `/images/${formatImageName(parsed)}/push`,
        query: { tag: parsed.tag },
        stream: true,
        ok: [200],
        authconfig: await this.registryAuth(parsed),
        action: `push ${repoTag}`,
        timeoutMs: null,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (failure, status) =>
        status === 404
          ? inputError('docker.image-missing', `cannot push ${repoTag}: no such image in the Docker engine at ${this.connection.endpoint}`, {
              hint: 'build or tag the image first',
            })
          : externalError('docker.push-failed', `pushing ${repoTag} failed: ${failure}`, { hint: pushHint(failure) }),
    );
    if (summary.error) {
      // Docker 20.10 reports a missing local tag inside the stream: "An image does not exist locally with the tag".
      if (/does not exist locally|no such image/i.test(summary.error.message)) {
        throw inputError('docker.image-missing', `cannot push ${repoTag}: ${summary.error.message}`, { hint: 'build or tag the image first' });
      }
      throw externalError('docker.push-failed', `pushing ${repoTag} failed: ${summary.error.message}`, { hint: pushHint(summary.error.message) });
    }
    const pushed = findPushedDigest(summary);
    if (!pushed) {
      throw externalError('docker.push-failed', `pushing ${repoTag} ended without a manifest digest from the engine`, {
        hint: 'check the registry, then push again',
        details: summary.statuses.slice(-10),
      });
    }
    return { digest: pushed };
  }

  /** GET /images/{name}/get: the `docker save` tar as a stream. */
  async exportImage(ref: string): Promise<Readable> {
    assertReference(ref);
    try {
      const response = await this.connection.request<IncomingMessage>({
        method: 'GET',
        path: `/images/${ref}/get`,
        stream: true,
        ok: [200],
        action: `export image ${ref}`,
      });
      const idleMs = this.connection.streamIdleMs;
      return guardIdle(response, idleMs, () =>
        externalError('docker.timeout', `Docker engine: export image ${ref} sent nothing for ${formatDuration(idleMs)}`, { hint: TIMEOUT_HINT }),
      );
    } catch (err) {
      throw this.mapImageError(err, ref);
    }
  }

  /** POST /images/load?quiet=1; returns what the engine reported loading (image IDs and/or name:tag). */
  async loadImage(tar: Readable, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    let summary: ProgressStreamSummary;
    try {
      summary = await this.runProgressStream(
        {
          method: 'POST',
          path: '/images/load',
          query: { quiet: true },
          file: tar,
          stream: true,
          ok: [200],
          action: 'load an image',
          timeoutMs: null,
          ...(options.signal ? { signal: options.signal } : {}),
        },
        (failure) =>
          externalError('docker.load-failed', `loading the image failed: ${failure}`, { hint: 'check that the archive is a complete `docker save` / OCI tar' }),
      );
    } finally {
      if (!tar.readableEnded) tar.destroy();
    }
    if (summary.error) {
      throw externalError('docker.load-failed', `loading the image failed: ${summary.error.message}`, {
        hint: 'check that the archive is a complete `docker save` / OCI tar',
      });
    }
    const loaded = findLoadedImages(summary);
    if (!loaded.length) {
      throw externalError('docker.load-failed', 'the engine finished loading but reported no image', {
        hint: 'check that the archive has a manifest.json or index.json',
        details: summary.lines.slice(-10),
      });
    }
    return loaded;
  }

  /** The X-Registry-Auth body for the registry of `ref`, as Docker normalises it (docker.io for Hub names). */
  private async registryAuth(ref: ImageRef): Promise<Record<string, string>> {
    const credentials = this.authFor ? await this.authFor(ref.registry) : undefined;
    // The daemon wants an X-Registry-Auth header on push even without credentials: `{}` means anonymous.
    if (!credentials) return {};
    if (credentials.identityToken !== undefined) return { identitytoken: credentials.identityToken, serveraddress: ref.registry };
    return { username: credentials.username, password: credentials.password, serveraddress: ref.registry };
  }

  /** Runs a JSON-lines progress request (pull, push, load) to its end and collects what it said. */
  private async runProgressStream(spec: RequestSpec, onHttpFailure: (message: string, statusCode: number) => EnvsealError): Promise<ProgressStreamSummary> {
    let response: IncomingMessage;
    try {
      // The answer may start only once the engine has done some work (load reads the whole tar first).
      response = await this.connection.request<IncomingMessage>({
        ...spec,
        timeoutMs: spec.timeoutMs === null ? this.connection.streamIdleMs : spec.timeoutMs,
      });
    } catch (err) {
      const failure = httpFailureOf(err);
      if (failure) throw onHttpFailure(failure.message, failure.statusCode);
      throw err;
    }
    const logger = this.connection.logger;
    const collector = new ProgressStreamCollector((status) => logger.progress(status));
    try {
      await readJsonLines(response, (line) => collector.acceptLine(line), spec.signal, this.connection.streamIdleMs);
    } catch (err) {
      if (err instanceof StreamAborted) throw externalError('docker.aborted', `Docker engine: ${spec.action} was cancelled`);
      if (err instanceof StreamIdle) {
        throw externalError('docker.timeout', `Docker engine: ${spec.action} sent nothing for ${formatDuration(err.idleMs)}; cancelled`, {
          hint: TIMEOUT_HINT,
        });
      }
      throw externalError(
        'docker.stream-broken',
        `${spec.action}: the connection to the Docker engine at ${this.connection.endpoint} broke: ${describeError(err)}`,
        {
          hint: 'check that the engine is still running, then try again',
          cause: err,
        },
      );
    }
    const summary = collector.finish();
    for (const line of summary.malformed) logger.debug(`${spec.action}: unparsable engine output: ${line}`);
    return summary;
  }

  /** 404 → docker.image-missing; `specific` may map other statuses; otherwise the error as is. */
  private mapImageError(err: unknown, ref: string, specific?: (failure: HttpFailure) => EnvsealError | undefined): Error {
    const failure = httpFailureOf(err);
    if (failure?.statusCode === 404) {
      return inputError('docker.image-missing', `image ${ref} does not exist in the Docker engine at ${this.connection.endpoint}`, {
        hint: 'build it first (`envseal build`), or pull it',
      });
    }
    return (failure && specific?.(failure)) || asError(err);
  }
}

/**
 * Parses a reference handed to the engine with the project's one parser, keeping the tag as written (no
 * implied `latest`, so a push or tag can insist on one). A malformed reference is the caller's input error
 * under the engine's code, docker.bad-reference.
 */
function parseEngineReference(ref: string, doing: string): ImageRef {
  try {
    return parseImageRef(ref, { addDefaultTag: false });
  } catch (err) {
    if (!isEnvsealError(err)) throw err;
    // The parser's message repeats the reference, which `doing` already names.
    const why = err.message.replace(`invalid image reference ${JSON.stringify(ref)}: `, '');
    throw inputError('docker.bad-reference', `${doing}: ${why}`, { ...(err.hint ? { hint: err.hint } : {}), cause: err });
  }
}

function pullHint(message: string): string {
  if (/not found|manifest unknown|does not exist/i.test(message)) return 'check that the reference exists in the registry';
  if (/unauthorized|authentication required|denied/i.test(message)) return 'configure credentials for the registry';
  return 'check that the registry is reachable from the Docker engine';
}

function pushHint(message: string): string {
  if (/unauthorized|authentication required|denied/i.test(message)) return 'configure credentials for the registry';
  return 'check that the registry is reachable from the Docker engine and accepts pushes';
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
