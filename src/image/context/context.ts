/**
 * The build context: a tar of the project directory streamed to the Docker engine (`POST /build` body).
 *
 * Determinism (the same files give the same bytes, whatever the checkout's mtimes, owner or readdir order):
 *  - entries sorted by path in byte order (UTF-8), directories named with a trailing '/' (as Go's
 *    archive/tar writes them), which is also the order a depth-first walk gives when siblings are compared as
 *    `name` for files and `name/` for directories;
 *  - every header has mtime = `mtime` (default 0, the epoch), uid/gid 0, empty uname/gname;
 *  - modes are normalised: 0755 for directories and for files with any execute bit, 0644 for other files,
 *    0777 for symlinks (what lstat reports on Linux); setuid/setgid/sticky bits are dropped.
 * COPY/ADD keep a context file's mtime and mode in the image layer, so these rules carry into the image.
 *
 * Safety and scale:
 *  - `.dockerignore` semantics and envseal's default excludes come from build/dockerignore.ts;
 *  - symlinks are stored as symlinks and never followed (a link pointing outside the context is stored
 *    as-is and reported in `externalSymlinks`), so the context never contains files from outside `dir`;
 *  - hard links are stored as separate regular files (the content is sent twice: simpler and order-free);
 *  - sockets, FIFOs and device nodes are not sent (reported in `skipped`); reading a FIFO would block;
 *  - directories are read one at a time as the walk reaches them and file bodies are streamed from disk
 *    with backpressure, so memory stays bounded for multi-GB files and large trees.
 */
import { constants as fsConstants, type Dirent } from 'node:fs';
import { lstat, open, readdir, readFile, readlink, type FileHandle } from 'node:fs/promises';
import { join, posix, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { describeError, inputError, isEnvsealError } from '../../core/errors.js';
import { createTarWriter } from '../../tar/tar-stream-codec.js';
import { createContextFilter, type ContextFilter } from './dockerignore.js';

/** A file that is not on disk (a generated Dockerfile, a lock copy), or that replaces one that is. */
export interface GeneratedFile {
  content: string | Uint8Array;
  /** Stored with mode 0755 instead of 0644. */
  executable?: boolean;
}

export interface BuildContextOptions {
  /** The project directory (the context root). */
  dir: string;
  /**
   * The Dockerfile: its path inside the context (what `POST /build?dockerfile=` names; default "Dockerfile")
   * and, for a generated Dockerfile, its content (otherwise the file at that path on disk is sent). Always
   * included, as Docker does.
   */
  dockerfile?: { path: string; content?: string | Uint8Array };
  /** More generated files, context path → content. They are never excluded and win over files on disk. */
  extraFiles?: Record<string, string | Uint8Array | GeneratedFile>;
  /** `.dockerignore` content to apply. When omitted, `<dir>/.dockerignore` is read if it exists. */
  ignoreFile?: string;
  /** Patterns applied after `.dockerignore` (a `!` line there cannot re-include these). */
  extraIgnore?: readonly string[];
  /** Seconds since the epoch for every entry's mtime (default 0; pass SOURCE_DATE_EPOCH to match a build). */
  mtime?: number;
  /** Apply DEFAULT_CONTEXT_EXCLUDES (default true). */
  defaultExcludes?: boolean;
}

export interface BuildContextSummary {
  /** Regular files sent (generated ones included). */
  files: number;
  directories: number;
  symlinks: number;
  /** Size of the tar stream in bytes (what the engine receives). */
  bytes: number;
  /** Sum of the file sizes. */
  contentBytes: number;
  /** Special files (sockets, FIFOs, devices) that were not sent, as context paths. */
  skipped: string[];
  /** Symlinks whose target is absolute or leaves the context: stored as links, never followed. */
  externalSymlinks: string[];
}

export interface BuildContext {
  /** The tar. Destroy it to stop the walk (e.g. when the engine rejected the build). */
  stream: Readable;
  /** Resolves once the whole tar has been read from `stream`; rejects with the reason it could not be. */
  done: Promise<BuildContextSummary>;
}

/** One entry of the context, in archive order (see walkBuildContext). */
export type ContextEntry =
  | { kind: 'directory'; path: string }
  | { kind: 'file'; path: string; absolutePath: string }
  | { kind: 'generated'; path: string; content: Buffer; executable: boolean }
  | { kind: 'symlink'; path: string; target: string; external: boolean }
  | { kind: 'skipped'; path: string; reason: string };

const DIR_MODE = 0o755;
const EXEC_MODE = 0o755;
const FILE_MODE = 0o644;
const SYMLINK_MODE = 0o777;

/** Streams the build context of `options.dir` as a tar (see the module comment for what goes in and how). */
export function createBuildContext(options: BuildContextOptions): BuildContext {
  const writer = createTarWriter();
  const mtime = Math.floor(options.mtime ?? 0);
  const summary: BuildContextSummary = {
    files: 0,
    directories: 0,
    symlinks: 0,
    bytes: 0,
    contentBytes: 0,
    skipped: [],
    externalSymlinks: [],
  };

  async function writeAll(): Promise<BuildContextSummary> {
    try {
      for await (const entry of walkBuildContext(options)) {
        switch (entry.kind) {
          case 'directory':
            await writer.add({ name: entry.path, type: 'directory', mode: DIR_MODE, mtime });
            summary.directories++;
            break;
          case 'symlink':
            await writer.add({ name: entry.path, type: 'symlink', linkname: entry.target, mode: SYMLINK_MODE, mtime });
            summary.symlinks++;
            if (entry.external) summary.externalSymlinks.push(entry.path);
            break;
          case 'generated':
            await writer.add({ name: entry.path, type: 'file', mode: entry.executable ? EXEC_MODE : FILE_MODE, mtime }, entry.content);
            summary.files++;
            summary.contentBytes += entry.content.byteLength;
            break;
          case 'file':
            summary.contentBytes += await writeDiskFile(entry.path, entry.absolutePath);
            summary.files++;
            break;
          case 'skipped':
            summary.skipped.push(entry.path);
            break;
        }
      }
      writer.finish();
      await waitForEnd(writer.stream);
      summary.bytes = writer.bytesWritten;
      return summary;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      writer.fail(error);
      throw error;
    }
  }

  async function writeDiskFile(path: string, absolutePath: string): Promise<number> {
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: the walk saw a regular file; if it was swapped for a symlink since, fail instead of following.
      handle = await open(absolutePath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (err) {
      throw unreadable(absolutePath, err);
    }
    let size: number;
    let mode: number;
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new Error('it is no longer a regular file');
      size = stat.size;
      mode = stat.mode & 0o111 ? EXEC_MODE : FILE_MODE;
    } catch (err) {
      await handle.close().catch(() => {});
      throw unreadable(absolutePath, err);
    }
    if (size === 0) {
      await handle.close();
      await writer.add({ name: path, type: 'file', mode, mtime, size: 0 }, Buffer.alloc(0));
      return 0;
    }
    // The read is bounded to the size in the header: a file that grows meanwhile cannot corrupt the tar.
    const body = handle.createReadStream({ start: 0, end: size - 1, highWaterMark: 64 * 1024 });
    let readError: unknown;
    body.on('error', (err) => {
      readError = err;
    });
    try {
      await writer.add({ name: path, type: 'file', mode, mtime, size }, body);
    } catch (err) {
      body.destroy();
      if (readError !== undefined) throw unreadable(absolutePath, readError);
      throw err;
    }
    return size;
  }

  const done = writeAll();
  // Callers may only watch `stream`; the rejection is still delivered to whoever awaits `done`.
  done.catch(() => {});
  return { stream: writer.stream, done };
}

/**
 * Walks the context in archive order without reading file contents: what createBuildContext sends, for
 * listings (`--dry-run`) and tests. Generated files (Dockerfile content, extraFiles) are merged in.
 */
export async function* walkBuildContext(options: BuildContextOptions): AsyncGenerator<ContextEntry> {
  const root = resolvePath(options.dir);
  await assertDirectory(root);
  const generated = collectGeneratedFiles(options);
  const ignoreFile = options.ignoreFile ?? (await readOptionalFile(join(root, '.dockerignore')));
  const alwaysInclude = ['.dockerignore', normaliseContextPath(options.dockerfile?.path ?? 'Dockerfile', 'dockerfile.path')];
  const filter = createContextFilter({
    ...(ignoreFile !== undefined ? { ignoreFile } : {}),
    ...(options.extraIgnore ? { extraIgnore: options.extraIgnore } : {}),
    alwaysInclude,
    defaultExcludes: options.defaultExcludes ?? true,
  });
  yield* walkDirectory({ filter, generated }, '', root);
}

interface WalkState {
  filter: ContextFilter;
  generated: GeneratedTree;
}

interface Child {
  name: string;
  /** Sort key: `name` for files, `name/` for directories (see the module comment). */
  key: Buffer;
  dirent?: Dirent;
  generated?: GeneratedNode;
}

async function* walkDirectory(state: WalkState, relDir: string, absDir: string | undefined): AsyncGenerator<ContextEntry> {
  const children = await listChildren(state, relDir, absDir);
  for (const child of children) {
    const path = relDir ? `${relDir}/${child.name}` : child.name;
    const absolutePath = absDir !== undefined ? join(absDir, child.name) : undefined;
    const gen = child.generated;
    if (gen?.kind === 'file') {
      yield { kind: 'generated', path, content: gen.content, executable: gen.executable };
      continue;
    }
    const isDir = gen?.kind === 'dir' || child.dirent?.isDirectory() === true;
    if (isDir) {
      const diskDir = child.dirent?.isDirectory() ? absolutePath : undefined;
      if (state.filter.excludes(path)) {
        // Docker walks an excluded directory only when an exception may re-include something inside it; we
        // also walk it when a generated file lives there. The directory itself gets no entry (nor in Docker).
        if (gen?.kind === 'dir' || state.filter.mustWalkExcludedDir(path)) yield* walkDirectory(state, path, diskDir);
        continue;
      }
      yield { kind: 'directory', path };
      yield* walkDirectory(state, path, diskDir);
      continue;
    }
    const dirent = child.dirent;
    if (!dirent || absolutePath === undefined || state.filter.excludes(path)) continue;
    if (dirent.isFile()) {
      yield { kind: 'file', path, absolutePath };
    } else if (dirent.isSymbolicLink()) {
      let target: string;
      try {
        target = await readlink(absolutePath);
      } catch (err) {
        throw unreadable(absolutePath, err);
      }
      yield { kind: 'symlink', path, target, external: isExternalTarget(path, target) };
    } else {
      yield { kind: 'skipped', path, reason: describeSpecialFile(dirent) };
    }
  }
}

async function listChildren(state: WalkState, relDir: string, absDir: string | undefined): Promise<Child[]> {
  const byName = new Map<string, Child>();
  if (absDir !== undefined) {
    let dirents: Dirent[];
    try {
      dirents = await readdir(absDir, { withFileTypes: true });
    } catch (err) {
      throw unreadable(absDir, err);
    }
    for (const dirent of dirents) {
      byName.set(dirent.name, { name: dirent.name, key: sortKey(dirent.name, dirent.isDirectory()), dirent });
    }
  }
  for (const [name, node] of state.generated.get(relDir) ?? []) {
    const path = relDir ? `${relDir}/${name}` : name;
    const existing = byName.get(name);
    if (existing?.dirent) {
      const diskIsDir = existing.dirent.isDirectory();
      if (node.kind === 'file' && diskIsDir) {
        throw inputError('build.context-conflict', `generated file ${path} would replace the directory ${join(absDir ?? '', name)}`, {
          hint: 'choose another path inside the context for the generated file',
        });
      }
      if (node.kind === 'dir' && !diskIsDir) {
        throw inputError('build.context-conflict', `generated files under ${path}/ need a directory, but ${join(absDir ?? '', name)} is not one`, {
          hint: 'choose another path inside the context for the generated files',
        });
      }
    }
    byName.set(name, { name, key: sortKey(name, node.kind === 'dir'), generated: node, ...(existing?.dirent ? { dirent: existing.dirent } : {}) });
  }
  return [...byName.values()].sort((a, b) => Buffer.compare(a.key, b.key));
}

function sortKey(name: string, isDir: boolean): Buffer {
  return Buffer.from(isDir ? `${name}/` : name, 'utf8');
}

// ---------------------------------------------------------------------------------------------------------
// Generated files

type GeneratedNode = { kind: 'file'; content: Buffer; executable: boolean } | { kind: 'dir' };
/** context directory path ('' = root) → child name → node */
type GeneratedTree = Map<string, Map<string, GeneratedNode>>;

function collectGeneratedFiles(options: BuildContextOptions): GeneratedTree {
  const files = new Map<string, { content: Buffer; executable: boolean }>();
  for (const [rawPath, value] of Object.entries(options.extraFiles ?? {})) {
    const path = normaliseContextPath(rawPath, `extraFiles["${rawPath}"]`);
    const file = typeof value === 'string' || value instanceof Uint8Array ? { content: value } : value;
    files.set(path, { content: toBuffer(file.content), executable: file.executable ?? false });
  }
  if (options.dockerfile?.content !== undefined) {
    const path = normaliseContextPath(options.dockerfile.path, 'dockerfile.path');
    files.set(path, { content: toBuffer(options.dockerfile.content), executable: false });
  }
  const tree: GeneratedTree = new Map();
  const childrenOf = (dir: string) => {
    let children = tree.get(dir);
    if (!children) tree.set(dir, (children = new Map()));
    return children;
  };
  for (const [path, file] of files) {
    const parts = path.split('/');
    for (let i = 0; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const name = parts[i]!;
      const isLast = i === parts.length - 1;
      const existing = childrenOf(dir).get(name);
      if (existing && (existing.kind === 'file' || isLast)) {
        throw inputError('build.context-conflict', `generated files conflict at ${parts.slice(0, i + 1).join('/')}`, {
          hint: 'a generated path cannot be both a file and a directory',
        });
      }
      childrenOf(dir).set(name, isLast ? { kind: 'file', ...file } : { kind: 'dir' });
    }
  }
  return tree;
}

/** A relative, '/'-separated path inside the context, without '.' or '..' segments. */
function normaliseContextPath(raw: string, what: string): string {
  const path = posix.normalize(raw.replace(/\\/g, '/')).replace(/^(\.\/)+/, '');
  if (!path || path === '.' || path.startsWith('/') || path === '..' || path.startsWith('../') || path.endsWith('/')) {
    throw inputError('build.context-path', `${what}: "${raw}" is not a file path inside the build context`, {
      hint: 'use a relative path such as "envseal.Dockerfile" or ".envseal/envseal.lock"',
    });
  }
  return path;
}

function toBuffer(content: string | Uint8Array): Buffer {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** True when a symlink's target is absolute or, resolved from the link's directory, leaves the context. */
function isExternalTarget(linkPath: string, target: string): boolean {
  if (posix.isAbsolute(target)) return true;
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  return resolved === '..' || resolved.startsWith('../');
}

function describeSpecialFile(dirent: Dirent): string {
  if (dirent.isSocket()) return 'socket';
  if (dirent.isFIFO()) return 'FIFO';
  if (dirent.isCharacterDevice()) return 'character device';
  if (dirent.isBlockDevice()) return 'block device';
  return 'special file';
}

async function assertDirectory(root: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await lstat(root)).isDirectory();
  } catch (err) {
    throw inputError('build.context-missing', `the build context directory ${root} cannot be read: ${describeError(err)}`, {
      hint: 'run envseal from the project directory, or pass the right directory',
      cause: err,
    });
  }
  if (!isDir) {
    throw inputError('build.context-missing', `the build context ${root} is not a directory`, {
      hint: 'pass the project directory as the build context',
    });
  }
}

async function readOptionalFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(path, err);
  }
}

function unreadable(path: string, err: unknown): Error {
  if (isEnvsealError(err)) return err;
  return inputError('build.context-unreadable', `cannot read ${path} for the build context: ${describeError(err)}`, {
    hint: 'fix its permissions, or exclude it in .dockerignore',
    cause: err,
  });
}

function waitForEnd(stream: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (stream.readableEnded) return resolve();
    if (stream.destroyed) return reject(stream.errored ?? new Error('the build context stream was closed before it was fully read'));
    stream.once('end', resolve);
    stream.once('error', reject);
    stream.once('close', () => {
      if (!stream.readableEnded) reject(new Error('the build context stream was closed before it was fully read'));
    });
  });
}
