/**
 * The registry's JSON documents, parsed permissively (only the fields used): manifest media types, image
 * indexes, image manifests and the distribution spec's error bodies.
 */
import type { ImageRef } from '../core/ports.js';
import { externalError, type EnvsealError } from '../core/errors.js';
import type { HttpResponse } from '../http/http.js';
import { describeStatus } from '../http/http.js';
import { formatImageRef, isSha256Digest } from '../core/image-ref.js';
import type { IndexEntry } from './platform.js';

export const MediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
} as const;

/** Every manifest type we understand, sent on each manifest request (index types first). */
export const MANIFEST_ACCEPT = [MediaTypes.ociIndex, MediaTypes.dockerManifestList, MediaTypes.dockerManifest, MediaTypes.ociManifest].join(', ');

export const INDEX_TYPES = new Set<string>([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);
export const MANIFEST_TYPES = new Set<string>([MediaTypes.dockerManifest, MediaTypes.ociManifest]);

export function parseIndex(body: Buffer, ref: ImageRef, digest: string): IndexEntry[] {
  const raw = parseJson(body, ref, `index ${digest}`);
  if (!Array.isArray(raw.manifests)) throw malformed(ref, `index ${digest} has no "manifests" array`);
  return raw.manifests.map((item: unknown, i: number) => {
    if (!isObject(item) || typeof item.digest !== 'string' || !isSha256Digest(item.digest)) {
      throw malformed(ref, `index ${digest}: manifests[${i}] has no valid sha256 digest`);
    }
    const entry: IndexEntry = { digest: item.digest };
    if (typeof item.mediaType === 'string') entry.mediaType = item.mediaType;
    const p = item.platform;
    if (isObject(p) && typeof p.os === 'string' && typeof p.architecture === 'string') {
      entry.platform = { os: p.os, architecture: p.architecture };
      if (typeof p.variant === 'string' && p.variant !== '') entry.platform.variant = p.variant;
    }
    if (isObject(item.annotations)) {
      entry.annotations = Object.fromEntries(Object.entries(item.annotations).filter((kv): kv is [string, string] => typeof kv[1] === 'string'));
    }
    return entry;
  });
}

export function parseImageManifest(body: Buffer, ref: ImageRef, digest: string): { digest: string; mediaType?: string } {
  const raw = parseJson(body, ref, `manifest ${digest}`);
  if (Array.isArray(raw.manifests)) throw malformed(ref, `manifest ${digest} is an index where an image manifest was expected`);
  const config = raw.config;
  if (!isObject(config) || typeof config.digest !== 'string' || !isSha256Digest(config.digest)) {
    throw malformed(ref, `manifest ${digest} has no config with a sha256 digest`);
  }
  return typeof config.mediaType === 'string' ? { digest: config.digest, mediaType: config.mediaType } : { digest: config.digest };
}

/**
 * The media type of a fetched manifest: Content-Type when it names a manifest type, else the body's
 * `mediaType`, else its shape (image-spec: `manifests` ⇒ index, `config` ⇒ manifest).
 */
export function manifestMediaType(res: HttpResponse, ref: ImageRef, reference: string): string {
  const header = contentType(res.headers);
  if (header && (INDEX_TYPES.has(header) || MANIFEST_TYPES.has(header))) return header;
  const raw = parseJson(res.body, ref, `manifest ${reference}`);
  const declared = typeof raw.mediaType === 'string' ? raw.mediaType : undefined;
  if (declared && (INDEX_TYPES.has(declared) || MANIFEST_TYPES.has(declared))) return declared;
  const schema1 = declared?.includes('manifest.v1') || header?.includes('manifest.v1') || raw.schemaVersion === 1;
  if (schema1) {
    throw externalError(
      'registry.unsupported',
      `registry ${ref.registry} served a Docker schema 1 manifest for ${describeRef(ref)}; envseal needs schema 2 or OCI`,
      { hint: 'push the image again with a current Docker (schema 1 is deprecated)', data: refData(ref) },
    );
  }
  if (declared === undefined && Array.isArray(raw.manifests)) return MediaTypes.ociIndex;
  if (declared === undefined && isObject(raw.config)) return MediaTypes.ociManifest;
  throw externalError(
    'registry.unsupported',
    `registry ${ref.registry} served ${describeRef(ref)} as ${declared ?? header ?? 'an unknown type'}, which is not an image manifest or index`,
    { data: refData(ref) },
  );
}

export function parseJson(body: Buffer, ref: ImageRef, what: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw malformed(ref, `${what} is not valid JSON`, err);
  }
  if (!isObject(raw)) throw malformed(ref, `${what} is not a JSON object`);
  return raw;
}

export function malformed(ref: ImageRef, why: string, cause?: unknown): EnvsealError {
  return externalError('registry.protocol', `registry ${ref.registry}: ${why} (resolving ${describeRef(ref)})`, {
    data: refData(ref),
    cause,
  });
}

/** OCI distribution spec error body: `{"errors":[{"code","message","detail"}]}`. */
export function registryErrorCodes(res: HttpResponse): string[] {
  return registryErrors(res).map((e) => e.code);
}

export function registryErrors(res: HttpResponse): { code: string; message?: string }[] {
  if (res.body.length === 0) return [];
  try {
    const raw: unknown = JSON.parse(res.body.toString('utf8'));
    if (!isObject(raw) || !Array.isArray(raw.errors)) return [];
    return raw.errors
      .filter((e: unknown): e is Record<string, unknown> => isObject(e) && typeof e.code === 'string')
      .map((e) => (typeof e.message === 'string' ? { code: e.code as string, message: e.message } : { code: e.code as string }));
  } catch {
    return [];
  }
}

/** "MANIFEST_UNKNOWN: manifest unknown" from an error body, else "HTTP 404 Not Found". */
export function describeRegistryError(res: HttpResponse): string {
  const errors = registryErrors(res);
  if (errors.length) return errors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ');
  return describeStatus(res.status, res.statusText, res.body);
}

export function contentType(headers: HttpResponse['headers']): string | undefined {
  const value = headers.get('content-type');
  if (!value) return undefined;
  return value.split(';')[0]?.trim().toLowerCase() || undefined;
}

export function describeRef(ref: ImageRef): string {
  return ref.original || formatImageRef(ref);
}

export function refData(ref: ImageRef): Record<string, unknown> {
  return {
    registry: ref.registry,
    repository: ref.repository,
    ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
    ...(ref.digest !== undefined ? { digest: ref.digest } : {}),
  };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
