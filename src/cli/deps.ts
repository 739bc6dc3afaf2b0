/**
 * The composition root: builds the real adapters from the process environment. Only the CLI calls this;
 * use cases receive the ports.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Clock, DockerEngine, ImageRegistry, Logger, PackageIndex } from '../app/ports.js';
import { DockerodeEngine, dockerConnectionFromEnv } from '../docker/dockerode-engine.js';
import { HttpOciRegistry } from '../registry/oci-registry.js';
import { loadDockerConfig, type DockerConfig } from '../registry/docker-config.js';
import { PythonIndexClient } from '../registry/python-index.js';
import type { CommandContext } from './main.js';

export interface Deps {
  registry: ImageRegistry;
  engine: DockerEngine;
  index: PackageIndex;
  clock: Clock;
  logger: Logger;
}

export const systemClock: Clock = { now: () => new Date() };

export function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
}

export function cacheDir(env: NodeJS.ProcessEnv): string {
  return env.ENVSEAL_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'envseal');
}

/** Lazily-built adapters: a command that never talks to Docker never connects to it. */
export function createDeps(ctx: CommandContext): Deps {
  const env = ctx.io.env;
  const logger = ctx.out.logger;
  let dockerConfig: Promise<DockerConfig> | undefined;
  const config = () => (dockerConfig ??= loadDockerConfig(dockerConfigPath(env)));
  let registry: HttpOciRegistry | undefined;
  let engine: DockerodeEngine | undefined;
  let index: PythonIndexClient | undefined;
  const lazyRegistry: ImageRegistry = {
    resolveImage: async (ref, platform) => {
      registry ??= new HttpOciRegistry({ dockerConfig: await config(), logger });
      return registry.resolveImage(ref, platform);
    },
  };
  const getEngine = () => (engine ??= new DockerodeEngine({ ...dockerConnectionFromEnv(env), logger }));
  const lazyEngine = new Proxy({} as DockerEngine, {
    get: (_t, prop: keyof DockerEngine) => {
      const e = getEngine();
      const v = e[prop];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(e) : v;
    },
  });
  const lazyIndex = new Proxy({} as PackageIndex, {
    get: (_t, prop: string) => {
      index ??= new PythonIndexClient({ cacheDir: join(cacheDir(env), 'http'), logger });
      const v = (index as unknown as Record<string, unknown>)[prop];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(index) : v;
    },
  });
  return { registry: lazyRegistry, engine: lazyEngine, index: lazyIndex, clock: systemClock, logger };
}
