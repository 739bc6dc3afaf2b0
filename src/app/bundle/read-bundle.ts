/**
 * Reading an offline bundle: one pass that hashes every entry and checks the archive against manifest.json
 * and the manifest against the lock inside, before anything is loaded; and later passes that stream chosen
 * entries out, hashing them again so a file changed in between is still caught.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { describeError, isEnvsealError } from '../../core/errors.js';
import { lockDigest, parseLock } from '../../lock/lock-file.js';
import type { Lock } from '../../lock/schema.js';
import { readTarEntries } from '../../tar/tar-stream-codec.js';
import {
  checkEntries,
  checkManifestAgainstLock,
  damaged,
  DOCKERFILE_ENTRY,
  LOCK_ENTRY,
  MANIFEST_ENTRY,
  parseManifest,
  type BundleManifest,
  type ScannedEntry,
} from './manifest.js';

export interface VerifiedBundle {
  manifest: BundleManifest;
  lock: Lock;
  lockText: string;
  dockerfileText: string;
}

/** Small entries kept in memory while scanning (the manifest, lock and Dockerfile). */
const KEPT = new Set([MANIFEST_ENTRY, LOCK_ENTRY, DOCKERFILE_ENTRY]);
const MAX_KEPT_BYTES = 64 * 1024 * 1024;

/** Reads the whole bundle once and checks it; throws `bundle.damaged` (exit 2) naming the entry. */
export async function verifyBundle(file: string, label: string): Promise<VerifiedBundle> {
  const scanned = new Map<string, ScannedEntry>();
  const kept = new Map<string, Buffer>();
  let current = '(the first entry)';
  try {
    await readTarEntries(openBundle(file), async ({ header, body }) => {
      current = header.name;
      if (header.type !== 'file') throw damaged(label, header.name, `is a ${header.type}, a bundle holds files only`);
      if (scanned.has(header.name)) throw damaged(label, header.name, 'appears twice in the archive');
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      let size = 0;
      const keep = KEPT.has(header.name) && header.size <= MAX_KEPT_BYTES;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        if (keep) chunks.push(chunk);
      }
      scanned.set(header.name, { size, sha256: hash.digest('hex') });
      if (keep) kept.set(header.name, Buffer.concat(chunks));
      current = `the entry after ${header.name}`;
    });
  } catch (err) {
    if (isEnvsealError(err) && err.code === 'bundle.damaged') throw err;
    if (isEnvsealError(err) && err.code === 'file.unreadable') throw err;
    throw damaged(label, current, `cannot be read: the archive is truncated or corrupt (${describeError(err)})`);
  }
  const manifestBytes = kept.get(MANIFEST_ENTRY);
  if (!manifestBytes) throw damaged(label, MANIFEST_ENTRY, 'is missing (the archive is truncated, or not an envseal bundle)');
  const manifest = parseManifest(manifestBytes.toString('utf8'), label);
  checkEntries(manifest, scanned, label);
  const lockText = kept.get(LOCK_ENTRY)!.toString('utf8');
  let lock: Lock;
  try {
    lock = parseLock(lockText, `${label}: ${LOCK_ENTRY}`);
  } catch (err) {
    throw damaged(label, LOCK_ENTRY, `is not a valid lock: ${describeError(err)}`);
  }
  checkManifestAgainstLock(manifest, lock, lockDigest(lockText), label);
  return { manifest, lock, lockText, dockerfileText: kept.get(DOCKERFILE_ENTRY)!.toString('utf8') };
}

/**
 * Streams the entries `want` accepts to `visit`, each through a hash that is checked against the manifest
 * once the visitor has read it all. A mismatch (the file changed since it was verified) is `bundle.damaged`.
 */
export async function readBundleEntries(
  file: string,
  label: string,
  manifest: BundleManifest,
  want: (path: string) => boolean,
  visit: (path: string, body: Readable) => Promise<void>,
): Promise<void> {
  const expected = new Map(manifest.entries.map((e) => [e.path, e]));
  let current = '(the first entry)';
  try {
    await readTarEntries(openBundle(file), async ({ header, body }) => {
      current = header.name;
      if (!want(header.name)) return;
      const entry = expected.get(header.name);
      if (!entry) throw damaged(label, header.name, 'is in the archive but not listed in manifest.json');
      const hash = createHash('sha256');
      let size = 0;
      const counted = body.pipe(
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        }),
      );
      await visit(header.name, counted);
      const sha256 = hash.digest('hex');
      if (size !== entry.size || sha256 !== entry.sha256)
        throw damaged(label, header.name, 'changed while it was being read (sha256 or size differ from manifest.json)');
    });
  } catch (err) {
    if (isEnvsealError(err)) throw err;
    throw damaged(label, current, `cannot be read: ${describeError(err)}`);
  }
}

function openBundle(file: string): Readable {
  return createReadStream(file, { highWaterMark: 1024 * 1024 });
}
