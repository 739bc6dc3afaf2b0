/**
 * Ports: what the use cases in app/ need from the outside world, in envseal's own types. Adapters
 * (oci/, engines/<kind>/, the python index client) implement them; tests and the CLI composition root pick which.
 * Nothing here mentions dockerode, HTTP libraries or tar-stream.
 */
import type { Readable, Writable } from 'node:stream';

// ---------------------------------------------------------------------------------------------------------
// Image registry (OCI distribution API)

/** A parsed image reference, normalised the way Docker does (docker.io, library/ prefix). */
export interface ImageRef {
  /** Registry host as written or implied, e.g. "docker.io", "127.0.0.1:5000", "ghcr.io". */
  registry: string;
  /** Repository path inside the registry, e.g. "library/python", "org/img". */
  repository: string;
  tag?: string;
  digest?: string;
  /** The reference exactly as the user wrote it. */
  original: string;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ResolvedImage {
  /** Digest of what the tag points to (an index / manifest list, or a single manifest). */
  digest: string;
  mediaType: string;
  /** Set when `digest` names an index: the digest of the child manifest for the requested platform. */
  platformDigest: string;
  /** Digest of the image config (the image ID under Docker's classic store). */
  configDigest?: string;
  /** True when `digest` is an index / manifest list. */
  isIndex: boolean;
}

export interface ImageRegistry {
  /** Tag → digest (or: check that a digest exists), picking the child manifest for `platform`. */
  resolveImage(ref: ImageRef, platform: Platform): Promise<ResolvedImage>;
}

// ---------------------------------------------------------------------------------------------------------
// Container engine (Docker today; nothing below is specific to one engine's API)

export interface EngineInfo {
  version: string;
  apiVersion: string;
  os: string;
  architecture: string;
  kernelVersion?: string;
  operatingSystem?: string;
  cpus?: number;
  memoryBytes?: number;
  storageDriver?: string;
  /**
   * Where images live: the engine's own layer store (`classic`, graph drivers such as overlay2) or containerd's
   * (`containerd`, Engine ≥ 24 with containerd snapshotters, `driver-type io.containerd.snapshotter.v1`).
   */
  imageStore?: 'classic' | 'containerd';
  runtimes?: string[];
}

export interface ImageInfo {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  labels: Record<string, string>;
  env: string[];
  created?: string;
  architecture?: string;
  os?: string;
  /** rootfs.diff_ids */
  layers: string[];
  sizeBytes?: number;
}

export interface BuildEvent {
  kind: 'step' | 'output' | 'status' | 'warning';
  /** For 'step': 1-based index and total, and the instruction text. */
  step?: number;
  totalSteps?: number;
  text: string;
}

export interface BuildOptions {
  /** Path of the Dockerfile inside the context tar. */
  dockerfile: string;
  tags: string[];
  target?: string;
  networkMode?: string;
  noCache?: boolean;
  pull?: boolean;
  platform?: string;
  labels?: Record<string, string>;
  buildArgs?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
  onEvent?: (event: BuildEvent) => void;
}

export interface BuildResult {
  imageId: string;
  /** Every line of build output, for error reports. */
  log: string[];
}

export interface GpuRequest {
  /** -1 for all */
  count?: number;
  deviceIds?: string[];
  capabilities?: string[][];
}

export interface ContainerRunOptions {
  image: string;
  cmd: string[];
  entrypoint?: string[];
  env?: Record<string, string>;
  workdir?: string;
  user?: string;
  networkMode?: string;
  /** host path → container path */
  binds?: { source: string; target: string; readOnly?: boolean }[];
  gpus?: GpuRequest;
  stdin?: Readable;
  tty?: boolean;
  stdout?: Writable;
  stderr?: Writable;
  signal?: AbortSignal;
  timeoutMs?: number;
  labels?: Record<string, string>;
  /** Remove the container afterwards (default true). */
  remove?: boolean;
}

export interface ContainerRunResult {
  exitCode: number;
  /** Set when the run was stopped by envseal (Ctrl-C / abort / timeout). */
  interrupted?: 'signal' | 'timeout';
  containerId: string;
}

/**
 * The engine's local image store. The ports below are split by resource (as testcontainers-node splits its
 * runtime client), so a second engine kind (Podman, a remote builder) can implement them one at a time; ContainerEngine is all of them.
 */
export interface EngineImages {
  /** null when the image does not exist locally. */
  inspectImage(ref: string, options?: { signal?: AbortSignal }): Promise<ImageInfo | null>;
  pullImage(ref: string, options?: { platform?: string; signal?: AbortSignal }): Promise<void>;
  tagImage(imageId: string, repoTag: string): Promise<void>;
  /** `noprune` keeps the untagged parents (the classic builder's cache) that removing `ref` would delete. */
  removeImage(ref: string, options?: { force?: boolean; noprune?: boolean }): Promise<void>;
  /** Pushes `repoTag`; returns the pushed manifest digest. */
  pushImage(repoTag: string, options?: { signal?: AbortSignal }): Promise<{ digest: string }>;
  /** The image as a tar stream in the image-archive format of `docker save` (manifest.json, config, layers). */
  exportImage(ref: string): Promise<Readable>;
  /** Loads an image-archive tar stream; returns the loaded image IDs / tags the engine reported. */
  loadImage(tar: Readable, options?: { signal?: AbortSignal }): Promise<string[]>;
}

/** Builds an image from a context tar holding a Dockerfile. */
export interface EngineBuilder {
  build(context: Readable, options: BuildOptions): Promise<BuildResult>;
}

export interface EngineContainers {
  /** Runs a container to completion, streaming output; removes it afterwards unless told otherwise. */
  runContainer(options: ContainerRunOptions): Promise<ContainerRunResult>;
}

/** A container engine: every resource port, plus what the engine says about itself. */
export interface ContainerEngine extends EngineImages, EngineBuilder, EngineContainers {
  /** Fails with an external error (exit 3) that says how to start the engine when it is not reachable. */
  info(): Promise<EngineInfo>;
}

// ---------------------------------------------------------------------------------------------------------
// Clock and environment: no hidden inputs deep in the code.

export interface Clock {
  now(): Date;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** Transient progress (a step line); may be drawn over on a TTY. */
  progress(message: string): void;
}

export const silentLogger: Logger = {
  info() {},
  warn() {},
  debug() {},
  progress() {},
};

// ---------------------------------------------------------------------------------------------------------
// Remote files by URL (the files wing: model weights, tokenizers, datasets pinned by sha256)

export interface FileDigest {
  /** Lower-case hex sha256 of the body. */
  sha256: string;
  size: number;
}

/** Fetches a URL and hashes the body as it streams (never held in memory: a model file may be gigabytes). */
export interface FileFetcher {
  /** 4xx answers are input errors (exit 2: the URL names nothing); network failures and 5xx external (exit 3). */
  digest(url: string, options?: { signal?: AbortSignal }): Promise<FileDigest>;
}

/** A remote git repository's ref as `git ls-remote` lists it. */
export interface GitRemoteRef {
  /** `HEAD`, `refs/heads/main`, `refs/tags/v1`, `refs/tags/v1^{}` (an annotated tag peeled). */
  name: string;
  /** Full object id (40 hex). */
  oid: string;
}

/** The source of one commit, made the same way each time (git+ requirements, docs/resolution.md). */
export interface GitArchive {
  /** A tar.gz of the commit's tree, every file under `prefix/`, mtimes the commit time, gzip without a timestamp. */
  data: Buffer;
  /** The commit's committer time (seconds since the epoch). */
  commitTime: number;
}

/**
 * Git repositories through the host's `git`. Unreachable repositories and a missing `git` are external errors
 * (exit 3); a commit the repository does not have is an input error (`vcs.no-commit`, exit 2).
 */
export interface GitSources {
  listRefs(repo: string, options?: { signal?: AbortSignal }): Promise<GitRemoteRef[]>;
  archive(repo: string, commit: string, prefix: string, options?: { signal?: AbortSignal }): Promise<GitArchive>;
}

// ---------------------------------------------------------------------------------------------------------
// Python package index (PEP 503 / 691 simple API, PEP 658 / 714 metadata)

/** One distribution file of a project as an index lists it. */
export interface IndexFile {
  filename: string;
  /** Absolute URL of the file, without the `#sha256=` fragment. */
  url: string;
  /** Lower-case hex digests by algorithm (`sha256`, ...); may be empty on indexes that give none. */
  hashes: Record<string, string>;
  /** `Requires-Python` as the index gives it (PEP 503 `data-requires-python`, PEP 691 `requires-python`). */
  requiresPython?: string;
  /** PEP 592: false, or true / the reason when the file is yanked. */
  yanked: false | true | string;
  /** PEP 658 / 714: whether `<url>.metadata` exists, and its sha256 when the index gives it. */
  coreMetadata: false | { sha256?: string };
  /** PEP 700 `size` in bytes, when known. */
  size?: number;
  /** PEP 700 `upload-time` (ISO 8601), when known. */
  uploadTime?: string;
}

/** A project's page on one index. */
export interface IndexProject {
  /** The index URL the page came from, as configured (e.g. `http://127.0.0.1:5080/simple`). */
  index: string;
  /** PEP 503 normalised project name. */
  name: string;
  files: IndexFile[];
}

/** Where a distribution's core metadata was read from. */
export type CoreMetadataSource = 'pep658' | 'wheel' | 'sdist';

export interface CoreMetadataDocument {
  /** The METADATA (wheel, PEP 658 file) or PKG-INFO (sdist) text, headers and body. */
  text: string;
  source: CoreMetadataSource;
}

export interface PackageIndex {
  /**
   * The files of `project` (a PEP 503 normalised name) on the index at `index`; null when the index does not
   * have that project (HTTP 404). Other failures throw (`index.unreachable` after retries, exit 3).
   */
  getProject(index: string, project: string): Promise<IndexProject | null>;
  /**
   * The core metadata of one file: the PEP 658 `.metadata` file when the index offers it, otherwise the
   * wheel's `*.dist-info/METADATA` (HTTP range requests, or the whole file), or an sdist's `PKG-INFO`.
   * Whether an sdist's PKG-INFO can be trusted (PEP 643) is for the caller to decide.
   */
  getCoreMetadata(project: IndexProject, file: IndexFile): Promise<CoreMetadataDocument>;
  /** A whole file, checked against the sha256 the index lists (an sdist to build); absent where nothing wires it. */
  getFile?(project: IndexProject, file: IndexFile): Promise<Buffer>;
  /**
   * netrc text with the credentials this client holds for the hosts of `urls` ('' when none): what a build
   * inside a container needs to read the same indexes. Never written to a file envseal keeps.
   */
  netrcFor?(urls: string[]): string;
  /** Results of sdist builds done at lock time, by a key that names everything the result depends on. */
  buildCache?: BuildResultCache;
  /** Results of earlier resolutions, valid only while everything they read from the index is unchanged. */
  resolutionMemo?: ResolutionMemo;
}

/**
 * A resolution is a pure function of its request and of what the index answered. `remember` keeps a result
 * together with the digests of every index answer this client read (when each came from the HTTP cache);
 * `recall` gives it back only while each of those answers is still fresh in the cache (RFC 9111) and has the
 * same bytes: the same inputs would read the same answers, so they would resolve to the same result.
 */
export interface ResolutionMemo {
  recall(key: string): Promise<string | undefined>;
  remember(key: string, value: string): Promise<void>;
}

/** A private (0700/0600) on-disk store of small texts by key; a read failure is a miss, a write failure a warning. */
export interface BuildResultCache {
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Batch scheduler (Slurm): `envseal submit` hands an array job to it and reads the tasks' states back.

export interface BatchScheduler {
  /**
   * Submits a batch script (`sbatch --parsable <script>`) and returns the job ID. Slurm missing is exit 2,
   * sbatch refusing the job exit 3 (with its stderr).
   */
  submit(scriptPath: string, options: { cwd: string }): Promise<{ jobId: string }>;
  /** Returns once no task of the job is pending or running any more (polls `squeue`). */
  waitForJob(jobId: string): Promise<void>;
  /** The controller's view of a job's tasks (`scontrol show job -o <id>`), as its text. */
  showJob(jobId: string): Promise<string>;
}
