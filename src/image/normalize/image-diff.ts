/**
 * File-level comparison of two images (`envseal verify --rebuild`, `envseal diff`): which config fields
 * differ, which layers differ, and in those layers which files were added, removed, changed in content or
 * only in metadata, and what changed ("usr/lib/…/foo.pyc: mtime 1700000000 → 1700000123").
 *
 * Layers are matched by index (layer n of one image against layer n of the other) and labelled with the
 * history entry that created them (the Dockerfile instruction). Only layers whose diff_ids differ are read
 * file by file; both images are exported through the engine and those layers spooled to `workDir`.
 * `explainImageDiff` turns the result into lines for people and is pure.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerEngine } from '../../core/ports.js';
import { externalError, inputError, isEnvsealError, describeError } from '../../core/errors.js';
import { readImageArchive, type ImageArchive } from './image-archive.js';
import { describeRawName, type RawTarHeader } from '../../tar/header.js';
import { readRawTarEntries } from '../../tar/raw-reader.js';

export type FileChangeKind = 'added' | 'removed' | 'content' | 'metadata';

/** Header fields compared per file; the first five make a change a content change. */
export type FileField = 'type' | 'content' | 'size' | 'linkname' | 'device' | 'mode' | 'uid' | 'gid' | 'uname' | 'gname' | 'mtime' | 'pax';

export interface FieldChange {
  field: FileField;
  /** For `pax`: the record key, e.g. "SCHILY.xattr.security.capability". */
  key?: string;
  a: string;
  b: string;
}

export interface FileChange {
  /** Path in the layer (leading "./" and trailing "/" removed), non-UTF-8 bytes as \xNN. */
  path: string;
  kind: FileChangeKind;
  /** For content/metadata changes: what differs. */
  changes: FieldChange[];
}

export interface LayerDiff {
  /** 0-based index of the layer in both images. */
  index: number;
  /** The history entry that created the layer (from image A, else B), e.g. "RUN pip install …". */
  label: string;
  /** Absent when the image has no layer at this index. */
  diffIdA?: string;
  diffIdB?: string;
  counts: Record<FileChangeKind, number>;
  /** The first changes in path order, at most `maxFilesPerLayer`. */
  files: FileChange[];
  /** Set when no file differs: why the layer bytes differ anyway. */
  sameFiles?: 'entry-order' | 'encoding';
}

export interface ConfigChange {
  /** JSON path, e.g. "created", "config.Env[2]", "history[3].created". */
  path: string;
  /** JSON text of the value; absent when the field is missing on that side. */
  a?: string;
  b?: string;
}

export interface ImageSide {
  ref: string;
  imageId: string;
  configDigest: string;
  diffIds: string[];
  /** Per layer: the history entry that created it. */
  layerLabels: string[];
}

export interface ImageDiff {
  identical: boolean;
  a: ImageSide;
  b: ImageSide;
  /** Config fields that differ (rootfs.diff_ids excluded: see `layers`). */
  config: ConfigChange[];
  /** Only the layers that differ. */
  layers: LayerDiff[];
}

export interface DiffImagesOptions {
  workDir: string;
  signal?: AbortSignal;
  /** File changes kept per layer (all are counted). Default 500. */
  maxFilesPerLayer?: number;
}

/**
 * Compares two local images. Fails with `diff.image-missing` (exit 2) when one does not exist,
 * `diff.export` when one cannot be exported and `diff.disk-full` when `workDir` fills up.
 */
export async function diffImages(engine: ContainerEngine, refA: string, refB: string, options: DiffImagesOptions): Promise<ImageDiff> {
  const limit = options.maxFilesPerLayer ?? 500;
  const [infoA, infoB] = await Promise.all([engine.inspectImage(refA), engine.inspectImage(refB)]);
  for (const [ref, info] of [
    [refA, infoA],
    [refB, infoB],
  ] as const) {
    if (!info) {
      throw inputError('diff.image-missing', `image ${ref} does not exist in the Docker engine`, { hint: 'build or pull it first' });
    }
  }
  if (infoA!.id === infoB!.id) {
    const side = (ref: string) => ({ ref, imageId: infoA!.id, configDigest: infoA!.id, diffIds: infoA!.layers, layerLabels: [] });
    return { identical: true, a: side(refA), b: side(refB), config: [], layers: [] };
  }

  await mkdir(options.workDir, { recursive: true });
  const dir = join(options.workDir, `envseal-diff-${randomBytes(6).toString('hex')}`);
  await mkdir(dir);
  try {
    // A layer's file can go when, wherever it sits in its image, the other image has the same layer there.
    const needed = (own: string[], other: string[]) => (diffId: string) => {
      const positions = own.flatMap((d, i) => (d === diffId ? [i] : []));
      return !positions.length || positions.some((i) => other[i] !== diffId);
    };
    const archiveA = await exportArchive(engine, refA, join(dir, 'a'), needed(infoA!.layers, infoB!.layers), options.signal);
    const archiveB = await exportArchive(engine, refB, join(dir, 'b'), needed(infoB!.layers, infoA!.layers), options.signal);
    const configA = parseConfig(archiveA.config);
    const configB = parseConfig(archiveB.config);
    const a: ImageSide = describeSide(refA, infoA!.id, archiveA, configA);
    const b: ImageSide = describeSide(refB, infoB!.id, archiveB, configB);

    const layers: LayerDiff[] = [];
    const count = Math.max(a.diffIds.length, b.diffIds.length);
    for (let index = 0; index < count; index++) {
      if (a.diffIds[index] === b.diffIds[index]) continue;
      options.signal?.throwIfAborted();
      const fileA = archiveA.layers[index]?.file;
      const fileB = archiveB.layers[index]?.file;
      const indexA = fileA ? await indexLayer(fileA) : undefined;
      const indexB = fileB ? await indexLayer(fileB) : undefined;
      const compared = compareLayerIndexes(indexA ?? createEmptyIndex(), indexB ?? createEmptyIndex(), limit);
      const layer: LayerDiff = {
        index,
        label: a.layerLabels[index] ?? b.layerLabels[index] ?? `layer ${index + 1}`,
        ...(a.diffIds[index] ? { diffIdA: a.diffIds[index] } : {}),
        ...(b.diffIds[index] ? { diffIdB: b.diffIds[index] } : {}),
        ...compared,
      };
      layers.push(layer);
    }
    return { identical: false, a, b, config: compareConfigs(configA, configB), layers };
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

async function exportArchive(
  engine: ContainerEngine,
  ref: string,
  spoolDir: string,
  keepLayer: (diffId: string) => boolean,
  signal: AbortSignal | undefined,
): Promise<ImageArchive> {
  await mkdir(spoolDir);
  try {
    const stream = await engine.exportImage(ref);
    return await readImageArchive(stream, { spoolDir, keepLayer, ...(signal ? { signal } : {}) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw externalError('diff.disk-full', `no space left in ${spoolDir} while comparing images`, {
        hint: 'free space there or point the work directory at a larger disk (comparing needs the differing layers of both images)',
        cause: err,
      });
    }
    if (isEnvsealError(err) && err.kind === 'input' && err.code !== 'docker.image-missing' && !err.code.startsWith('tar.')) throw err;
    throw externalError('diff.export', `cannot export image ${ref} for comparison: ${describeError(err)}`, {
      hint: isEnvsealError(err) && err.hint ? err.hint : 'check that the engine is running, then try again',
      cause: err,
    });
  }
}

function parseConfig(bytes: Buffer): Record<string, unknown> {
  const parsed: unknown = JSON.parse(bytes.toString('utf8'));
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

function describeSide(ref: string, imageId: string, archive: ImageArchive, config: Record<string, unknown>): ImageSide {
  return { ref, imageId, configDigest: archive.configDigest, diffIds: archive.layers.map((l) => l.diffId), layerLabels: layerLabelsOf(config) };
}

/**
 * Labels for the layers from `history` (image-spec config.md): entries with `empty_layer` create no
 * layer; the others correspond to the layers in order. The classic builder writes `/bin/sh -c #(nop)  COPY
 * …` for metadata/copy steps and `/bin/sh -c <command>` for RUN.
 */
export function layerLabelsOf(config: Record<string, unknown>): string[] {
  const history = Array.isArray(config.history) ? config.history : [];
  const labels: string[] = [];
  for (const entry of history) {
    if (typeof entry !== 'object' || entry === null || (entry as { empty_layer?: unknown }).empty_layer === true) continue;
    const createdBy = (entry as { created_by?: unknown }).created_by;
    const comment = (entry as { comment?: unknown }).comment;
    labels.push(
      typeof createdBy === 'string' && createdBy ? formatLabel(createdBy) : typeof comment === 'string' && comment ? comment : `layer ${labels.length + 1}`,
    );
  }
  return labels;
}

const LABEL_MAX = 60;

function formatLabel(createdBy: string): string {
  let text = createdBy.trim();
  const shell = /^\/bin\/sh -c /.exec(text);
  if (shell) {
    text = text.slice(shell[0].length).trim();
    text = text.startsWith('#(nop)') ? text.slice('#(nop)'.length).trim() : `RUN ${text}`;
  }
  text = text.replace(/\s+/g, ' ');
  return text.length > LABEL_MAX ? `${text.slice(0, LABEL_MAX - 1)}…` : text;
}

// ---------------------------------------------------------------------------------------------------------
// Layer indexes

/** What is compared about one entry. */
export interface FileRecord {
  type: RawTarHeader['type'];
  size: number;
  /** sha256 hex of the body (files only). */
  content?: string;
  linkname?: string;
  device?: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  /** pax records, value as hex (xattrs are binary). */
  pax: Record<string, string>;
}

export interface LayerIndex {
  /** Keyed by path (latin1: one character per byte, so any name round-trips). */
  files: Map<string, FileRecord>;
  /** Paths in archive order. */
  order: string[];
}

export function createEmptyIndex(): LayerIndex {
  return { files: new Map(), order: [] };
}

/** Same key as the normaliser sorts by: no leading "./" or "/", no trailing "/". */
function toPathKey(name: Buffer): string {
  const text = name
    .toString('latin1')
    .replace(/^(?:\.\/|\/)+/, '')
    .replace(/\/+$/, '');
  return text === '.' ? '' : text;
}

/** Reads a layer tar file into an index, hashing every file body. */
export async function indexLayer(file: string): Promise<LayerIndex> {
  const index = createEmptyIndex();
  await readRawTarEntries(createReadStream(file, { highWaterMark: 1024 * 1024 }), async ({ header, body }) => {
    let content: string | undefined;
    if (header.type === 'file') {
      const hash = createHash('sha256');
      for await (const chunk of body as AsyncIterable<Buffer>) hash.update(chunk);
      content = hash.digest('hex');
    }
    index.files.set(toPathKey(header.name), toFileRecord(header, content));
    index.order.push(toPathKey(header.name));
  });
  return index;
}

export function toFileRecord(header: RawTarHeader, content: string | undefined): FileRecord {
  const record: FileRecord = {
    type: header.type,
    size: header.size,
    mode: header.mode,
    uid: header.uid,
    gid: header.gid,
    uname: header.uname,
    gname: header.gname,
    mtime: header.mtime,
    pax: Object.fromEntries(header.pax.map((r) => [r.key, r.value.toString('hex')])),
  };
  if (content !== undefined) record.content = content;
  if (header.linkname) record.linkname = describeRawName(header.linkname);
  if (header.type === 'character-device' || header.type === 'block-device') record.device = `${header.devmajor},${header.devminor}`;
  return record;
}

const CONTENT_FIELDS = new Set<FileField>(['type', 'content', 'size', 'linkname', 'device']);

/** Compares two layer indexes (pure). `limit` caps the listed changes; the counts are always complete. */
export function compareLayerIndexes(a: LayerIndex, b: LayerIndex, limit: number): Pick<LayerDiff, 'counts' | 'files' | 'sameFiles'> {
  const counts: Record<FileChangeKind, number> = { added: 0, removed: 0, content: 0, metadata: 0 };
  const files: FileChange[] = [];
  const keys = [...new Set([...a.files.keys(), ...b.files.keys()])].sort();
  for (const key of keys) {
    const ra = a.files.get(key);
    const rb = b.files.get(key);
    let change: FileChange | undefined;
    const path = describeRawName(Buffer.from(key, 'latin1')) || '.';
    if (!ra) change = { path, kind: 'added', changes: [] };
    else if (!rb) change = { path, kind: 'removed', changes: [] };
    else {
      const changes = compareRecords(ra, rb);
      if (changes.length) change = { path, kind: changes.some((c) => CONTENT_FIELDS.has(c.field)) ? 'content' : 'metadata', changes };
    }
    if (!change) continue;
    counts[change.kind] += 1;
    if (files.length < limit) files.push(change);
  }
  const result: Pick<LayerDiff, 'counts' | 'files' | 'sameFiles'> = { counts, files };
  if (!files.length && a.order.length && b.order.length) {
    result.sameFiles = a.order.length === b.order.length && a.order.every((k, i) => k === b.order[i]) ? 'encoding' : 'entry-order';
  }
  return result;
}

function compareRecords(a: FileRecord, b: FileRecord): FieldChange[] {
  const out: FieldChange[] = [];
  const add = (field: FileField, va: string, vb: string, key?: string) => {
    if (va !== vb) out.push({ field, a: va, b: vb, ...(key ? { key } : {}) });
  };
  add('type', a.type, b.type);
  if (a.type === b.type) {
    add('content', a.content ?? '', b.content ?? '');
    add('size', String(a.size), String(b.size));
  }
  add('linkname', a.linkname ?? '', b.linkname ?? '');
  add('device', a.device ?? '', b.device ?? '');
  add('mode', formatMode(a.mode), formatMode(b.mode));
  add('uid', String(a.uid), String(b.uid));
  add('gid', String(a.gid), String(b.gid));
  add('uname', a.uname, b.uname);
  add('gname', a.gname, b.gname);
  add('mtime', String(a.mtime), String(b.mtime));
  for (const key of [...new Set([...Object.keys(a.pax), ...Object.keys(b.pax)])].sort()) {
    add('pax', a.pax[key] ?? '(none)', b.pax[key] ?? '(none)', key);
  }
  return out;
}

function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

// ---------------------------------------------------------------------------------------------------------
// Config

/** Leaf-by-leaf comparison of two configs (pure), `rootfs.diff_ids` left out (the layers say more). */
export function compareConfigs(a: unknown, b: unknown): ConfigChange[] {
  const leavesA = new Map<string, string>();
  const leavesB = new Map<string, string>();
  flatten(a, '', leavesA);
  flatten(b, '', leavesB);
  const out: ConfigChange[] = [];
  const paths = [...new Set([...leavesA.keys(), ...leavesB.keys()])].filter((p) => !p.startsWith('rootfs.diff_ids'));
  for (const path of paths.sort()) {
    const va = leavesA.get(path);
    const vb = leavesB.get(path);
    if (va === vb) continue;
    out.push({ path, ...(va !== undefined ? { a: va } : {}), ...(vb !== undefined ? { b: vb } : {}) });
  }
  return out;
}

function flatten(value: unknown, path: string, out: Map<string, string>): void {
  if (Array.isArray(value) && value.length) {
    value.forEach((v, i) => flatten(v, `${path}[${i}]`, out));
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, out);
  } else {
    out.set(path, JSON.stringify(value));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Explanation

export interface ExplainOptions {
  /** File lines per layer before "… and N more". Default 20. */
  filesPerLayer?: number;
  /** Config lines before "… and N more". Default 20. */
  configLines?: number;
}

const VALUE_MAX = 80;

function truncate(text: string): string {
  return text.length > VALUE_MAX ? `${text.slice(0, VALUE_MAX - 1)}…` : text;
}

function abbreviateDigest(digest: string | undefined): string {
  return digest ? digest.slice(0, 'sha256:'.length + 12) : '(none)';
}

function describeField(change: FieldChange): string {
  switch (change.field) {
    case 'content':
      return `content sha256:${change.a.slice(0, 12)} → sha256:${change.b.slice(0, 12)}`;
    case 'pax': {
      const name = change.key!.startsWith('SCHILY.xattr.') ? `xattr ${change.key!.slice('SCHILY.xattr.'.length)}` : `pax ${change.key}`;
      return `${name} ${truncate(change.a)} → ${truncate(change.b)}`;
    }
    default:
      return `${change.field} ${truncate(change.a || '(none)')} → ${truncate(change.b || '(none)')}`;
  }
}

/** Human-readable lines for an ImageDiff (pure): the config first, then each differing layer's files. */
export function explainImageDiff(diff: ImageDiff, options: ExplainOptions = {}): string[] {
  const filesPerLayer = options.filesPerLayer ?? 20;
  const configLines = options.configLines ?? 20;
  if (diff.identical) return [`images are identical: ${diff.a.imageId}`];
  const lines: string[] = [`images differ: ${diff.a.ref} (${abbreviateDigest(diff.a.imageId)}) vs ${diff.b.ref} (${abbreviateDigest(diff.b.imageId)})`];
  for (const change of diff.config.slice(0, configLines)) {
    lines.push(`config: ${change.path}: ${truncate(change.a ?? '(none)')} → ${truncate(change.b ?? '(none)')}`);
  }
  if (diff.config.length > configLines) lines.push(`config: … and ${diff.config.length - configLines} more fields`);
  const layerCount = Math.max(diff.a.diffIds.length, diff.b.diffIds.length);
  for (const layer of diff.layers) {
    const prefix = `layer ${layer.index + 1}/${layerCount} (${layer.label})`;
    if (!layer.diffIdA || !layer.diffIdB) {
      lines.push(`${prefix}: only in ${layer.diffIdA ? diff.a.ref : diff.b.ref}`);
      continue;
    }
    lines.push(`${prefix}: diff_id ${abbreviateDigest(layer.diffIdA)} → ${abbreviateDigest(layer.diffIdB)}`);
    for (const file of layer.files.slice(0, filesPerLayer)) {
      const what = file.kind === 'added' || file.kind === 'removed' ? file.kind : file.changes.map(describeField).join(', ');
      lines.push(`${prefix}: ${file.path}: ${what}`);
    }
    const total = layer.counts.added + layer.counts.removed + layer.counts.content + layer.counts.metadata;
    const shown = Math.min(filesPerLayer, layer.files.length);
    if (total > shown) {
      lines.push(
        `${prefix}: … and ${total - shown} more (${total} in all: ${layer.counts.added} added, ${layer.counts.removed} removed, ${layer.counts.content} content, ${layer.counts.metadata} metadata)`,
      );
    }
    if (layer.sameFiles === 'entry-order') lines.push(`${prefix}: same files and metadata, stored in a different order`);
    if (layer.sameFiles === 'encoding') lines.push(`${prefix}: same files, metadata and order; the tar headers are encoded differently`);
  }
  return lines;
}
