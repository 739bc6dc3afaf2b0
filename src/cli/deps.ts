/**
 * The composition root: builds the real adapters from the process environment. Only the CLI calls this;
 * use cases receive the ports. Constructing an adapter connects to nothing, so a command that never talks
 * to Docker or a registry never does.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { externalError } from '../core/errors.js';
import type { Clock, ContainerEngine, FileFetcher, GitSources, ImageRegistry, Logger, PackageIndex } from '../core/ports.js';
import { HostGit } from '../record/git-sources.js';
import { DockerodeEngine } from '../engines/docker/dockerode-engine.js';
import type { ContainerOwnership } from '../engines/docker/containers.js';
import { resolveDockerEndpoint, type EngineAddress } from '../engines/docker/endpoint.js';
import { defaultNvidiaSmiRunner } from '../record/host.js';
import type { NvidiaSmiRunner } from '../record/gpu-driver.js';
import { HttpOciRegistry } from '../oci/oci-registry.js';
import { loadDockerConfig } from '../oci/docker-config.js';
import { RegistryCredentialSource } from '../oci/credential-helper.js';
import { ArtifactStore } from '../oci/artifacts.js';
import type { OpenArtifacts } from '../app/attachments.js';
import { PythonIndexClient } from '../ecosystems/python/index-client/python-index.js';
import { CredentialStore } from '../core/url-credentials.js';
import { HttpClient } from '../http/http.js';
import { createNodeFetch } from '../http/node-http-fetch.js';
import { createFileDigester } from '../http/file-digest.js';
import type { BuildDeps } from '../app/build-image.js';
import type { CommandContext } from './context.js';
import { readDeadlines } from './deadlines.js';
import { TOOL_VERSION } from '../core/version.js';

export interface Deps {
  registry: ImageRegistry;
  engine: ContainerEngine;
  index: PackageIndex;
  clock: Clock;
  logger: Logger;
  normalize: NonNullable<BuildDeps['normalize']>;
  compose: NonNullable<BuildDeps['compose']>;
  builds: NonNullable<BuildDeps['builds']>;
  /** Index credentials: from netrc here; `lock` and `build` add the spec's inline ones. */
  indexCredentials: CredentialStore;
  /** This process as the owner of what it creates in the engine (`<host>/<pid>`). */
  owner: string;
  /** Artifacts attached to images in registries (SBOM, provenance). */
  artifacts: OpenArtifacts;
  /** Remote files by URL, streamed and hashed (the files wing). */
  files: FileFetcher;
  /** Git repositories through the host's git (git+ Python requirements). */
  git: GitSources;
}

export const systemClock: Clock = { now: () => new Date() };

/** The docker client config directory, as the docker CLI finds it: $DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CONFIG || join(env.HOME ?? homedir(), '.docker');
}

export function cacheDir(env: NodeJS.ProcessEnv): string {
  return env.ENVSEAL_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'envseal');
}

/**
 * This process as the owner of the containers it creates (`<host>/<pid>`). A container whose owner is a
 * process of this host that no longer runs was left by a killed envseal; containers of other hosts (an
 * engine shared over TCP or SSH) are never judged from here.
 */
export function processOwnership(host = hostname(), pid = process.pid): ContainerOwnership {
  return {
    owner: `${host}/${pid}`,
    isAbandoned(owner) {
      const match = /^(.*)\/(\d+)$/.exec(owner);
      if (!match || match[1] !== host) return false;
      const other = Number(match[2]);
      if (!Number.isSafeInteger(other) || other <= 0 || other === pid) return false;
      try {
        process.kill(other, 0);
        return false;
      } catch (err) {
        // EPERM: the process exists (another user's); only ESRCH says it is gone.
        return (err as NodeJS.ErrnoException).code === 'ESRCH';
      }
    },
  };
}

/** `signal` cancels every index and registry request and stops running containers (Ctrl-C). */
export function createDeps(ctx: CommandContext, options: { signal?: AbortSignal } = {}): Deps {
  const env = ctx.io.env;
  const logger = ctx.out.logger;
  const deadlines = readDeadlines(ctx.globals.timeout, env);
  const http = { timeoutMs: deadlines.httpMs, deadlineMs: deadlines.httpMs, ...(options.signal ? { signal: options.signal } : {}) };
  // One credential source for the registry client and the engine: a credential helper runs once per registry.
  let credentials: Promise<RegistryCredentialSource> | undefined;
  const credentialSource = () =>
    (credentials ??= loadDockerConfig(join(dockerConfigDir(env), 'config.json')).then(
      (config) => new RegistryCredentialSource(config, { env, timeoutMs: deadlines.httpMs }, logger),
    ));
  let registry: HttpOciRegistry | undefined;
  const lazyRegistry: ImageRegistry = {
    resolveImage: async (ref, platform) => {
      registry ??= new HttpOciRegistry({ credentials: await credentialSource(), logger, clock: systemClock, ...http });
      return registry.resolveImage(ref, platform);
    },
  };
  const artifacts: OpenArtifacts = async (ref, write) => {
    registry ??= new HttpOciRegistry({ credentials: await credentialSource(), logger, clock: systemClock, ...http });
    return new ArtifactStore(registry.session(ref, write ? 'pull,push' : 'pull'));
  };
  const ownership = processOwnership();
  const engine = new DockerodeEngine({
    locate: () => resolveDockerEndpoint({ env, configDir: dockerConfigDir(env), home: env.HOME ?? homedir() }),
    logger,
    authFor: async (host) => (await credentialSource()).credentialsFor(host),
    timeoutMs: deadlines.engineMs,
    streamIdleTimeoutMs: deadlines.streamIdleMs,
    ownership,
  });
  const indexCredentials = loadNetrcCredentials(env, logger);
  const index = new PythonIndexClient({
    cacheDir: join(cacheDir(env), 'http'),
    buildCacheDir: join(cacheDir(env), 'sdist-builds'),
    logger,
    credentials: indexCredentials,
    http,
  });
  // Per envseal version: another version's normaliser may write other bytes.
  const memoFile = join(cacheDir(env), `normalized-images-${TOOL_VERSION}.json`);
  const configDir = join(cacheDir(env), 'image-configs');
  const normalize: Deps['normalize'] = async (imageId, options) => {
    // A repeat build whose steps all came from the cache gives the same raw image: reuse last time's result
    // while the engine still has it; after an edit, layers rewritten before are not rewritten again
    // (image/normalize/normalized-memo.ts).
    const { NormalizedMemo, rememberNormalized, sharedPrefix, readImageConfig, writeImageConfig } = await import('../image/normalize/normalized-memo.js');
    const memo = await NormalizedMemo.open(memoFile);
    const known = memo.image(imageId, options.sourceDateEpoch);
    // A composed build needs the config bytes too: kept by digest next to the memo, checked when read.
    const config = known && options.withConfig ? await readImageConfig(configDir, known.imageId) : undefined;
    if (known && (!options.withConfig || config) && (await engine.inspectImage(known.imageId))) {
      logger.debug(`normalised image ${known.imageId} reused for raw image ${imageId}`);
      for (const tag of options.tags) await engine.tagImage(known.imageId, tag);
      return { ...known, config };
    }
    // The chain of an image the engine still has is held by the engine: its layers need not be sent again.
    const heldLayers = async (diffIds: readonly string[]) => {
      for (const candidate of memo.imagesSharing(diffIds).slice(0, 3)) {
        const info = await engine.inspectImage(candidate.imageId);
        if (info) return sharedPrefix(info.layers, diffIds);
      }
      return 0;
    };
    const { normalizeImage } = await import('../image/normalize/normalize-image.js');
    const workDir = await mkdtemp(join(env.TMPDIR ?? tmpdir(), 'envseal-normalize-'));
    try {
      // Per-layer progress is detail: shown with --verbose, or redrawn in place on a terminal.
      const quiet = { ...logger, progress: ctx.out.options.interactive ? logger.progress : logger.debug };
      // Layers are keyed by the epoch they are clamped to (fixed for the install steps), so a re-lock that moves
      // the lock's time still finds the lower layers rewritten before.
      const layerEpoch = options.layerEpoch ?? options.sourceDateEpoch;
      const knownLayers = memo.layers(layerEpoch);
      const knownArchivePaths = memo.archivePaths();
      const result = await normalizeImage(engine, imageId, { ...options, workDir, logger: quiet, knownLayers, heldLayers, knownArchivePaths });
      const { stageMs, layers, preservedLayers, heldLayers: held, bytes } = result.stats;
      logger.debug(
        `normalise: export ${stageMs.export} ms, rewrite ${stageMs.rewrite} ms, load ${stageMs.load} ms; ${layers} layers (${preservedLayers} kept, ${held} held by the engine), ${bytes} bytes`,
      );
      await rememberNormalized(memoFile, imageId, options.sourceDateEpoch, result, layerEpoch).catch((err: unknown) =>
        logger.debug(`could not remember the normalised image: ${(err as Error).message}`),
      );
      await writeImageConfig(configDir, result.configDigest, result.config).catch((err: unknown) =>
        logger.debug(`could not keep the normalised config: ${(err as Error).message}`),
      );
      return { imageId: result.imageId, diffIds: result.diffIds, config: result.config };
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  };
  const { compose, builds } = composedBuildDeps(engine, { env, logger, memoFile, configDir });
  const files = createFileDigester({ logger, idleTimeoutMs: deadlines.httpMs });
  return {
    registry: lazyRegistry,
    engine,
    index,
    clock: systemClock,
    logger,
    normalize,
    compose,
    builds,
    indexCredentials,
    owner: ownership.owner,
    artifacts,
    files,
    git: new HostGit({ tmpDir: env.TMPDIR ?? tmpdir(), env: gitEnvironment(env) }),
  };
}

/**
 * git's environment: the user's (so git+ssh:// uses their ssh-agent, GIT_SSH_COMMAND and ssh settings), with
 * every prompt answered by nothing: git's own (GIT_TERMINAL_PROMPT) and ssh's passphrase and host-key questions
 * (SSH_ASKPASS=false, forced), unless the user chose an askpass program. A question is then a clear failure
 * instead of a hang on a terminal no one watches.
 */
export function gitEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  out.GIT_TERMINAL_PROMPT = '0';
  if (env.SSH_ASKPASS === undefined && env.SSH_ASKPASS_REQUIRE === undefined) {
    out.SSH_ASKPASS = 'false';
    out.SSH_ASKPASS_REQUIRE = 'force';
  }
  return out;
}

/** The deps of composed builds (app/build-composed.ts): writing source layers, and the memo of whole builds and prefixes. */
function composedBuildDeps(
  engine: ContainerEngine,
  where: { env: NodeJS.ProcessEnv; logger: Logger; memoFile: string; configDir: string },
): Pick<Deps, 'compose' | 'builds'> {
  const { env, logger, memoFile, configDir } = where;
  const compose: Deps['compose'] = async (options) => {
    const { composeImage } = await import('../image/normalize/compose-image.js');
    const workDir = await mkdtemp(join(env.TMPDIR ?? tmpdir(), 'envseal-compose-'));
    try {
      const classic = (await engine.info().catch(() => undefined))?.imageStore === 'classic';
      const result = await composeImage(engine, { ...options, workDir, classic, logger });
      const { layers, files, bytes, ms, reused } = result.stats;
      logger.debug(`compose: ${layers} source layers, ${files} files, ${bytes} bytes in ${ms} ms${reused ? ' (the engine had the image)' : ''}`);
      return { imageId: result.imageId, diffIds: result.diffIds };
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  };
  const builds: Deps['builds'] = {
    recall: async (key, options) => {
      const { NormalizedMemo, readImageConfig } = await import('../image/normalize/normalized-memo.js');
      const known = (await NormalizedMemo.open(memoFile)).build(key);
      if (!known || !(await engine.inspectImage(known.imageId))) return null;
      return options?.withConfig ? { ...known, config: await readImageConfig(configDir, known.imageId) } : known;
    },
    remember: async (key, image) => (await import('../image/normalize/normalized-memo.js')).rememberBuild(memoFile, key, image),
  };
  return { compose, builds };
}

/**
 * nvidia-smi for `run --gpus` (the one on PATH, with host.ts's timeout) when the engine runs on this host: a
 * unix socket or a loopback TCP address. null for an engine elsewhere (ssh://, another host), whose driver this
 * host's nvidia-smi says nothing about. An endpoint that cannot be resolved counts as local: the engine
 * reports that error itself.
 */
export function hostNvidiaSmi(env: NodeJS.ProcessEnv): NvidiaSmiRunner | null {
  let address: EngineAddress;
  try {
    address = resolveDockerEndpoint({ env, configDir: dockerConfigDir(env), home: env.HOME ?? homedir() }).address;
  } catch {
    return defaultNvidiaSmiRunner;
  }
  if (address.ssh) return null;
  if (!address.host) return defaultNvidiaSmiRunner;
  const host = /^[a-z]+:\/\//.test(address.host) ? new URL(address.host).hostname : address.host;
  return ['localhost', '127.0.0.1', '::1', '[::1]'].includes(host) || host.startsWith('127.') ? defaultNvidiaSmiRunner : null;
}

/** Fetches one package file whole (wheel, sdist, npm tarball) for `envseal bundle`, with the index credentials. */
export function createDownloader(ctx: CommandContext, credentials: CredentialStore): (url: string, signal?: AbortSignal) => Promise<Buffer> {
  const deadlines = readDeadlines(ctx.globals.timeout, ctx.io.env);
  const http = new HttpClient({ fetch: createNodeFetch(), logger: ctx.out.logger, credentials, timeoutMs: Math.max(deadlines.httpMs, 300_000) });
  return async (url, signal) => {
    const host = new URL(url).host;
    const res = await http.request(
      { url, maxBodyBytes: 2 * 1024 ** 3 - 1, ...(signal ? { signal } : {}) },
      { target: `package host ${host}`, codePrefix: 'bundle.download', hint: 'bundle on a machine that reaches the index the lock names' },
    );
    if (res.status !== 200) {
      throw externalError('bundle.download', `fetching ${url} answered ${res.status} ${res.statusText}`, {
        hint: 'the file the lock names is no longer served there: lock again, or fix the index',
      });
    }
    return res.body;
  };
}

/** pip's convention (through requests): the netrc file `NETRC` names, else ~/.netrc. A missing file is no error. */
export function netrcPath(env: NodeJS.ProcessEnv): string {
  return env.NETRC ?? join(env.HOME ?? homedir(), '.netrc');
}

function loadNetrcCredentials(env: NodeJS.ProcessEnv, logger: Logger): CredentialStore {
  const store = new CredentialStore();
  const path = netrcPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') logger.warn(`cannot read ${path} (${code ?? String(err)}); index credentials from it are not used`);
    return store;
  }
  store.addNetrc(text);
  return store;
}
