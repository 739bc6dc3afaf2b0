/**
 * `envseal generate`: the lock rendered through templates/Dockerfile.tmpl into `envseal.Dockerfile`, and the
 * lock's CycloneDX SBOM that the Dockerfile copies into the image (`envseal.sbom.cdx.json`, next to the lock).
 * `--check` renders in memory and reports whether the files on disk differ.
 */
import { checkFailed, inputError } from '../core/errors.js';
import { readTextFile } from '../core/read-text-file.js';
import { lockDigest, parseLock } from '../lock/lock-file.js';
import type { Lock } from '../lock/schema.js';
import { renderDockerfile } from '../dockerfile/render-dockerfile.js';
import { describeWriteFailure, writeFileAtomic } from '../core/atomic-write.js';
import { toRel, type ProjectPaths } from './load-inputs.js';
import { displayPath } from '../core/paths.js';
import { imageSbom, type ImageSbom } from './image-sbom.js';
import { lockForPlatform } from '../lock/platforms.js';

export interface GenerateDeps {
  template: string;
  seedHook: string;
  toolVersion: string;
}

export interface RenderedDockerfile {
  /** The lock as the rendered platform sees it (lock/platforms.ts): the file's lock for the primary platform. */
  lock: Lock;
  /** The platform rendered when it is not the primary one (its files carry its name), else null. */
  platform: string | null;
  lockText: string;
  text: string;
  /** The SBOM file the Dockerfile copies into the image. */
  sbom: ImageSbom;
}

export async function loadLockFile(paths: ProjectPaths): Promise<{ lock: Lock; text: string }> {
  let text: string;
  try {
    text = await readTextFile(paths.lock, displayPath(paths.dir, paths.lock));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw inputError('lock.missing', `${toRel(paths.dir, paths.lock)} does not exist`, { hint: 'run `envseal lock` first' });
    }
    throw err;
  }
  return { lock: parseLock(text, toRel(paths.dir, paths.lock)), text };
}

/** Which platform to render (default: the primary one); `command` names the error code of a platform the lock does not hold. */
/** The locked platform `platform` names (null for the primary one); exit 2 naming the locked platforms when it is not locked. */
export async function platformOfLock(paths: ProjectPaths, platform: string): Promise<string | null> {
  const { lock } = await loadLockFile(paths);
  const view = lockForPlatform(lock, platform, toRel(paths.dir, paths.lock), 'generate');
  return view === lock ? null : view.base.platform;
}

export interface PlatformChoice {
  platform?: string;
  command: string;
  /** The lock already read and parsed (verify has it from the lock check), so it is not parsed twice. */
  loaded?: { lock: Lock; text: string };
}

export async function renderFromLock(paths: ProjectPaths, deps: GenerateDeps, choice: PlatformChoice = { command: 'generate' }): Promise<RenderedDockerfile> {
  const { lock: fileLock, text: lockText } = choice.loaded ?? (await loadLockFile(paths));
  const lock = lockForPlatform(fileLock, choice.platform, toRel(paths.dir, paths.lock), choice.command);
  const platform = lock === fileLock ? null : lock.base.platform;
  const sbom = await imageSbom(paths, lock, deps.toolVersion, platform);
  const text = renderDockerfile(lock, {
    template: deps.template,
    seedHook: deps.seedHook,
    lockPath: toRel(paths.dir, paths.lock),
    lockDigest: lockDigest(lockText),
    toolVersion: deps.toolVersion,
    sbom: { path: sbom.contextPath, digest: sbom.digest },
  });
  return { lock, platform, lockText, text, sbom };
}

export async function generateDockerfile(
  paths: ProjectPaths,
  output: string,
  deps: GenerateDeps,
  platform?: string,
): Promise<{ written: boolean; rendered: RenderedDockerfile }> {
  const rendered = await renderFromLock(paths, deps, { ...(platform ? { platform } : {}), command: 'generate' });
  const write = (file: string, text: string) =>
    writeFileAtomic(file, text).catch((err: unknown) => {
      throw describeWriteFailure(err, displayPath(paths.dir, file));
    });
  // The Dockerfile first: a bad `-o` leaves the project as it was.
  const written = await write(output, rendered.text);
  const sbomWritten = await write(rendered.sbom.file, rendered.sbom.text);
  return { written: written || sbomWritten, rendered };
}

/** Throws a check failure when the Dockerfile on disk is missing or differs from what the lock renders. */
export async function checkDockerfile(paths: ProjectPaths, output: string, deps: GenerateDeps, platform?: string): Promise<RenderedDockerfile> {
  const rendered = await renderFromLock(paths, deps, { ...(platform ? { platform } : {}), command: 'generate' });
  const rel = toRel(paths.dir, output);
  const onDisk = await readTextFile(output, displayPath(paths.dir, output)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (onDisk === null) throw checkFailed('dockerfile.missing', `${rel} does not exist`, { hint: 'run `envseal generate`' });
  if (onDisk !== rendered.text) {
    throw checkFailed('dockerfile.stale', `${rel} is not what ${toRel(paths.dir, paths.lock)} renders`, {
      details: firstDifference(onDisk, rendered.text),
      hint: 'run `envseal generate` (the file is generated: edit envseal.yaml or the templates instead)',
    });
  }
  const sbomRel = toRel(paths.dir, rendered.sbom.file);
  const sbomOnDisk = await readSbomFile(rendered.sbom.file, displayPath(paths.dir, rendered.sbom.file));
  if (sbomOnDisk === null)
    throw checkFailed('sbom.missing', `${sbomRel} does not exist`, { hint: 'run `envseal generate` (the Dockerfile copies it into the image)' });
  if (sbomOnDisk !== rendered.sbom.text) {
    throw checkFailed('sbom.stale', `${sbomRel} is not the SBOM of ${toRel(paths.dir, paths.lock)}`, {
      details: firstDifference(sbomOnDisk, rendered.sbom.text),
      hint: 'run `envseal generate` (the file is generated from the lock)',
    });
  }
  return rendered;
}

/** The text of the SBOM file on disk, or null when there is none. */
export async function readSbomFile(file: string, label: string): Promise<string | null> {
  return readTextFile(file, label).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
}

function firstDifference(a: string, b: string): string[] {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return [`first difference at line ${i + 1}:`, `  on disk: ${la[i] ?? '(end of file)'}`, `  expected: ${lb[i] ?? '(end of file)'}`];
  }
  return [];
}
