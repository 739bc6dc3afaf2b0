/**
 * Image references: parsing, Docker's normalisation, formatting.
 *
 * Grammar (distribution/reference, the one `docker pull` uses):
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := host [ ":" port ]      host := domain-name | IPv4 | "[" IPv6 "]"
 *   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 * Normalisation (docker's ParseNormalizedNamed): the first component is a registry only when it contains
 * "." or ":" or is "localhost"; otherwise the whole name lives on Docker Hub ("docker.io"), and a one-part
 * name there gets the "library/" prefix of official images. `index.docker.io` is an alias of `docker.io`.
 *
 * Digests: OCI image-spec descriptor.md registers sha256 (64 lowercase hex) and sha512; every registry
 * envseal targets speaks sha256, and the lock pins sha256, so that is the one accepted here.
 */
import type { ImageRef } from './ports.js';
import { inputError, internalError } from './errors.js';

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io']);
const OFFICIAL_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
/** distribution/reference NameTotalLengthMax: the name as written, registry included. */
const MAX_NAME_LENGTH = 255;

const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT_RE = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_RE = /^\[[0-9a-fA-F:.]+\]$/;
const SHA256_DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

const FORMAT_HINT =
  'write the image as [registry/]repository[:tag][@sha256:<64 hex digits>], e.g. python:3.11, ' +
  'ghcr.io/org/img:tag or 127.0.0.1:5000/python:bookworm@sha256:…';

/** True for a well-formed `sha256:<64 lowercase hex>` digest. */
export function isSha256Digest(text: string): boolean {
  return SHA256_DIGEST_RE.test(text);
}

/**
 * Parses an image reference the way `docker pull` does. The default tag `latest` is added only when the
 * reference has neither tag nor digest, and `addDefaultTag` is not false (a push or a tag needs to know
 * whether one was written). Throws `spec.base.invalid` (exit 2) saying what is wrong.
 */
export function parseImageRef(text: string, options: { addDefaultTag?: boolean } = {}): ImageRef {
  const fail = (why: string): never => {
    throw inputError('spec.base.invalid', `invalid image reference ${JSON.stringify(text)}: ${why}`, {
      hint: FORMAT_HINT,
      data: { reference: text },
    });
  };

  if (text.length === 0) fail('it is empty');
  if (/\s/.test(text)) fail('it contains whitespace');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    checkDigest(digest, fail);
  }

  // A ":" after the last "/" separates the tag; one before it belongs to a registry port.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag.length === 0) fail('the tag after ":" is empty');
    if (tag.length > 128) fail(`the tag is ${tag.length} characters long (at most 128 allowed)`);
    if (!TAG_RE.test(tag)) {
      fail(`tag ${JSON.stringify(tag)} may only contain letters, digits, "_", "." and "-", and must not start with "." or "-"`);
    }
  }

  const name = rest;
  if (name.length === 0) fail('the repository name is missing');
  if (name.length > MAX_NAME_LENGTH) fail(`the name is ${name.length} characters long (at most ${MAX_NAME_LENGTH} allowed)`);

  const { registry, path } = splitRegistry(name);
  if (registry !== undefined) checkRegistryHost(registry, fail);
  checkRepositoryPath(path, fail);

  const normalisedRegistry = registry === undefined ? DOCKER_HUB : normaliseRegistryHost(registry);
  const repository = normalisedRegistry === DOCKER_HUB && !path.includes('/') ? `${OFFICIAL_PREFIX}${path}` : path;

  const ref: ImageRef = { registry: normalisedRegistry, repository, original: text };
  if (tag !== undefined) ref.tag = tag;
  else if (digest === undefined && options.addDefaultTag !== false) ref.tag = DEFAULT_TAG;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function checkDigest(digest: string, fail: (why: string) => never): void {
  if (digest.length === 0) fail('the digest after "@" is empty');
  if (digest.includes('@')) fail('it contains more than one "@"');
  const sep = digest.indexOf(':');
  if (sep < 0) fail(`digest ${JSON.stringify(digest)} has no algorithm (expected sha256:<64 hex digits>)`);
  const algorithm = digest.slice(0, sep);
  const hex = digest.slice(sep + 1);
  if (algorithm !== 'sha256') {
    fail(`digest algorithm ${JSON.stringify(algorithm)} is not supported (only sha256)`);
  }
  if (/[A-F]/.test(hex) && /^[0-9a-fA-F]+$/.test(hex)) fail('the digest must be written in lowercase hex');
  if (!/^[0-9a-f]*$/.test(hex)) fail('the digest contains characters that are not hex digits');
  if (hex.length !== 64) fail(`a sha256 digest has 64 hex digits, this one has ${hex.length}`);
}

/**
 * Docker's rule (reference/normalize.go splitDockerDomain): the part before the first "/" is a registry
 * when it contains "." or ":" or is "localhost". Newer Docker also treats an uppercase first part as a
 * host; we keep the older behaviour, which reports "must be lowercase" instead of sending the user to a
 * registry named "MyOrg".
 */
function splitRegistry(name: string): { registry: string | undefined; path: string } {
  const slash = name.indexOf('/');
  if (slash < 0) return { registry: undefined, path: name };
  const first = name.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') {
    return { registry: first, path: name.slice(slash + 1) };
  }
  return { registry: undefined, path: name };
}

function checkRegistryHost(registry: string, fail: (why: string) => never): void {
  let host = registry;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) fail(`registry ${JSON.stringify(registry)} has an unclosed "[" (IPv6 hosts are written [::1]:5000)`);
    port = host.slice(close + 1);
    host = host.slice(0, close + 1);
    if (port !== '' && !port.startsWith(':')) fail(`registry ${JSON.stringify(registry)} is not host[:port]`);
    port = port === '' ? undefined : port.slice(1);
    if (!IPV6_RE.test(host)) fail(`registry ${JSON.stringify(registry)} is not a valid IPv6 address`);
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) {
      port = host.slice(colon + 1);
      host = host.slice(0, colon);
    }
    if (host.length === 0) fail(`registry ${JSON.stringify(registry)} has no host name`);
    for (const component of host.split('.')) {
      if (!DOMAIN_COMPONENT_RE.test(component)) {
        fail(`registry host ${JSON.stringify(host)} is not a valid host name`);
      }
    }
  }
  if (port !== undefined && !/^[0-9]{1,5}$/.test(port)) {
    fail(`registry port ${JSON.stringify(port)} is not a number`);
  }
}

function checkRepositoryPath(path: string, fail: (why: string) => never): void {
  if (path.length === 0) fail('the repository name is missing after the registry');
  for (const component of path.split('/')) {
    if (component.length === 0) fail(`repository ${JSON.stringify(path)} has an empty path component ("//" or a trailing "/")`);
    if (PATH_COMPONENT_RE.test(component)) continue;
    if (PATH_COMPONENT_RE.test(component.toLowerCase())) {
      fail(`repository name ${JSON.stringify(path)} must be lowercase`);
    }
    fail(
      `repository path component ${JSON.stringify(component)} may only contain lowercase letters, digits ` +
        'and single separators (".", "_", "__", "-") between them',
    );
  }
}

function normaliseRegistryHost(registry: string): string {
  const lower = registry.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/**
 * The repository name as Docker users write it: `python` for docker.io/library/python, `org/img` for
 * other Docker Hub repositories, `registry/repo` everywhere else.
 */
export function formatImageName(ref: Pick<ImageRef, 'registry' | 'repository'>): string {
  if (ref.registry === DOCKER_HUB) {
    const rest = ref.repository.slice(OFFICIAL_PREFIX.length);
    return ref.repository.startsWith(OFFICIAL_PREFIX) && !rest.includes('/') ? rest : ref.repository;
  }
  return `${ref.registry}/${ref.repository}`;
}

/**
 * Formats a reference: `name[:tag][@digest]`. By default the name is Docker's familiar short form
 * (`python:3.11`); `fullyQualified` spells out the registry and `library/` (`docker.io/library/python:3.11`).
 */
export function formatImageRef(ref: Pick<ImageRef, 'registry' | 'repository' | 'tag' | 'digest'>, options: { fullyQualified?: boolean } = {}): string {
  const name = options.fullyQualified ? `${ref.registry}/${ref.repository}` : formatImageName(ref);
  return `${name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/**
 * The pinned form written into locks and `FROM` lines, in Docker's familiar spelling:
 * `python:3.11@sha256:…`, `org/img:tag@sha256:…`, `127.0.0.1:5000/python:bookworm@sha256:…`. The tag is
 * kept for readers; Docker pulls by the digest. A reference given by digest keeps that digest: resolving
 * it to a different one would be our bug.
 */
export function formatPinnedImageRef(ref: Pick<ImageRef, 'registry' | 'repository' | 'tag' | 'digest'>, digest: string): string {
  if (!isSha256Digest(digest)) {
    throw internalError('registry.pin', `cannot pin ${formatImageRef(ref)} to ${JSON.stringify(digest)}: not a sha256 digest`);
  }
  if (ref.digest !== undefined && ref.digest !== digest) {
    throw internalError('registry.pin', `cannot pin ${formatImageRef(ref)} to a different digest ${digest}`);
  }
  return formatImageRef({ registry: ref.registry, repository: ref.repository, tag: ref.tag, digest });
}
