/**
 * The ContainerEngine port over the Docker Engine API: one connection (connection.ts, the only file that loads
 * dockerode) shared by one adapter per resource (images.ts, build.ts, containers.ts), as testcontainers-node
 * splits its container-runtime clients. This file only composes them; a second engine kind (another API,
 * another runtime) would add a sibling folder under engines/ with its own composition of the same ports.
 */
import type { Readable } from 'node:stream';
import type { BuildOptions, BuildResult, ContainerRunOptions, ContainerRunResult, ContainerEngine, EngineInfo, ImageInfo, Logger } from '../../core/ports.js';
import { silentLogger } from '../../core/ports.js';
import { captureContainerOutput as captureWithEngine, type CaptureOptions, type CapturedRun } from '../../core/container-output.js';
import { DockerConnection, readEngineInfo, type DockerConnectionOptions } from './connection.js';
import { DockerImages, type RegistryAuthProvider } from './images.js';
import { DockerBuilder } from './build.js';
import { DockerContainers, type ContainerOwnership } from './containers.js';

export interface DockerodeEngineOptions extends DockerConnectionOptions {
  /** Seconds a stopped container gets between SIGTERM and SIGKILL (default 3). */
  stopGraceSeconds?: number;
  /** Labels containers with their creator and removes those of killed envseal processes (see containers.ts). */
  ownership?: ContainerOwnership;
  logger?: Logger;
  /** Credentials sent as X-Registry-Auth on push and pull. */
  authFor?: RegistryAuthProvider;
}

export class DockerodeEngine implements ContainerEngine {
  private readonly connection: DockerConnection;
  private readonly images: DockerImages;
  private readonly builder: DockerBuilder;
  private readonly containers: DockerContainers;
  private readonly ownership: ContainerOwnership | undefined;
  private swept?: Promise<void>;

  /** Connects to nothing yet: the first call opens the connection. */
  constructor(options: DockerodeEngineOptions = {}) {
    this.connection = new DockerConnection(options, options.logger ?? silentLogger);
    this.images = new DockerImages(this.connection, options.authFor);
    this.builder = new DockerBuilder(this.connection);
    this.containers = new DockerContainers(this.connection, options.stopGraceSeconds ?? 3, options.ownership);
    this.ownership = options.ownership;
  }

  /**
   * Alongside the first container or build of this process (which waits for it only when it ends): removes the
   * containers and scratch images that killed envseal processes left behind (see ContainerOwnership). Best
   * effort, once; it never touches this process's own.
   */
  private async sweep(signal: AbortSignal | undefined): Promise<void> {
    const ownership = this.ownership;
    if (!ownership) return;
    this.swept ??= (async () => {
      await this.containers.removeLeftovers(ownership, signal);
      await this.images.removeScratchLeftovers(ownership, signal);
    })();
    await this.swept;
  }

  info(): Promise<EngineInfo> {
    return readEngineInfo(this.connection);
  }

  inspectImage(ref: string, options?: { signal?: AbortSignal }): Promise<ImageInfo | null> {
    return this.images.inspectImage(ref, options);
  }

  pullImage(ref: string, options?: { platform?: string; signal?: AbortSignal }): Promise<void> {
    return this.images.pullImage(ref, options);
  }

  tagImage(imageId: string, repoTag: string): Promise<void> {
    return this.images.tagImage(imageId, repoTag);
  }

  removeImage(ref: string, options?: { force?: boolean; noprune?: boolean }): Promise<void> {
    return this.images.removeImage(ref, options);
  }

  pushImage(repoTag: string, options?: { signal?: AbortSignal }): Promise<{ digest: string }> {
    return this.images.pushImage(repoTag, options);
  }

  exportImage(ref: string): Promise<Readable> {
    return this.images.exportImage(ref);
  }

  loadImage(tar: Readable, options?: { signal?: AbortSignal }): Promise<string[]> {
    return this.images.loadImage(tar, options);
  }

  async build(context: Readable, options: BuildOptions): Promise<BuildResult> {
    // The sweep lists the engine's images, which reads every image config the engine holds (seconds on an engine
    // with thousands of images, issue 11): it runs beside the build instead of before it, and the build waits for
    // it only at the end. It touches only what dead envseal processes left behind, never this build's images.
    const swept = this.sweep(options.signal).catch(() => {});
    try {
      return await this.builder.build(context, options);
    } finally {
      await swept;
    }
  }

  async runContainer(options: ContainerRunOptions): Promise<ContainerRunResult> {
    // Beside the run, as for build (the image listing costs seconds on a busy engine).
    const swept = this.sweep(options.signal).catch(() => {});
    try {
      return await this.containers.runContainer(options);
    } finally {
      await swept;
    }
  }

  /** Runs `cmd` in `image` and returns its exit code and output as strings (see captureContainerOutput). */
  captureContainerOutput(image: string, cmd: string[], options: Omit<CaptureOptions, 'image' | 'cmd'> = {}): Promise<CapturedRun> {
    return captureWithEngine(this, { ...options, image, cmd });
  }
}
