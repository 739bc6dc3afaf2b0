/**
 * Registry credentials from Docker's client config (`~/.docker/config.json`, the file `docker login`
 * writes). The format (docker/cli cli/config/configfile/file.go):
 *
 *   { "auths": { "<server>": { "auth": base64("user:password") } | { "username": …, "password": … } },
 *     "credsStore": "desktop", "credHelpers": { "<host>": "ecr-login" } }
 *
 * `<server>` is a host ("127.0.0.1:5000") or a URL ("https://ghcr.io", "https://index.docker.io/v1/" for
 * Docker Hub); docker/cli matches entries by host only (registry.ConvertToHostname). Credential helpers
 * (`credsStore`, `credHelpers`) are programs that credential-helper.ts runs.
 *
 * Foreign format, parsed permissively: only these fields are read, anything else is ignored.
 */
import { readFile } from 'node:fs/promises';
import { describeError, inputError } from '../core/errors.js';

export interface DockerAuthEntry {
  /** The key as written in `auths`, for messages. */
  server: string;
  username?: string;
  password?: string;
  /** An OAuth2 refresh token `docker login` stored instead of a password. */
  identityToken?: string;
}

export interface DockerConfig {
  /** Where the config was read from (for messages); undefined for configs built in code. */
  path?: string;
  /** `auths` entries keyed by normalised host (see `normaliseRegistryKey`). */
  auths: Record<string, DockerAuthEntry>;
  credsStore?: string;
  /** `credHelpers` keyed by normalised host. */
  credHelpers: Record<string, string>;
}

export interface RegistryCredentials {
  username: string;
  password: string;
  /** An identity token (OAuth2 refresh token) to use instead of username and password. */
  identityToken?: string;
  /** Where they came from, for messages: the `auths` key, or the credential helper. */
  server: string;
}

/** Docker Hub's names: what users write, the v1 index URL `docker login` stores, and the API hosts. */
const DOCKER_HUB_KEYS = ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'];

export function emptyDockerConfig(): DockerConfig {
  return { auths: {}, credHelpers: {} };
}

/**
 * Reads a Docker client config. A missing file means "no credentials" (anonymous pulls), not an error;
 * an unreadable or malformed file is the user's input and fails with exit 2.
 */
export async function loadDockerConfig(path: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...emptyDockerConfig(), path };
    throw inputError('docker-config.unreadable', `cannot read Docker config ${path}: ${describeError(err)}`, {
      hint: 'fix the file permissions, or point envseal at another Docker config',
      cause: err,
    });
  }
  return parseDockerConfig(text, path);
}

/** Parses the text of a Docker client config; `source` names it in messages. */
export function parseDockerConfig(text: string, source = 'Docker config'): DockerConfig {
  const invalid = (why: string, cause?: unknown) =>
    inputError('docker-config.invalid', `${source}: ${why}`, {
      hint: 'fix the file (it is JSON written by `docker login`), or remove it and log in again',
      cause,
    });

  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(`not valid JSON (${describeError(err)})`, err);
  }
  if (!isObject(raw)) throw invalid('expected a JSON object at the top level');

  const config: DockerConfig = { ...emptyDockerConfig(), path: source };

  if (raw.auths !== undefined) {
    if (!isObject(raw.auths)) throw invalid('"auths" must be an object');
    for (const [server, value] of Object.entries(raw.auths)) {
      if (!isObject(value)) throw invalid(`auths.${server} must be an object`);
      const entry = parseAuthEntry(server, value, invalid);
      const key = normaliseRegistryKey(server);
      // docker/cli keeps the first entry whose host matches; keep that order.
      if (!Object.hasOwn(config.auths, key)) setOwn(config.auths, key, entry);
    }
  }
  if (raw.credsStore !== undefined) {
    if (typeof raw.credsStore !== 'string') throw invalid('"credsStore" must be a string');
    if (raw.credsStore !== '') config.credsStore = raw.credsStore;
  }
  if (raw.credHelpers !== undefined) {
    if (!isObject(raw.credHelpers)) throw invalid('"credHelpers" must be an object');
    for (const [server, helper] of Object.entries(raw.credHelpers)) {
      if (typeof helper !== 'string') throw invalid(`credHelpers.${server} must be a string`);
      setOwn(config.credHelpers, normaliseRegistryKey(server), helper);
    }
  }
  return config;
}

function parseAuthEntry(server: string, value: Record<string, unknown>, invalid: (why: string) => Error): DockerAuthEntry {
  const entry: DockerAuthEntry = { server };
  if (value.identitytoken !== undefined && value.identitytoken !== '') {
    if (typeof value.identitytoken !== 'string') throw invalid(`auths.${server}.identitytoken must be a string`);
    entry.identityToken = value.identitytoken;
  }
  if (value.auth !== undefined && value.auth !== '') {
    if (typeof value.auth !== 'string') throw invalid(`auths.${server}.auth must be a string`);
    // base64 of "user:password"; the password may itself contain ":", so split at the first one.
    const decoded = decodeBase64Strict(value.auth);
    const colon = decoded === undefined ? -1 : decoded.indexOf(':');
    if (decoded === undefined || colon < 0) {
      throw invalid(`auths.${server}.auth is not base64 of "username:password"`);
    }
    entry.username = decoded.slice(0, colon);
    entry.password = decoded.slice(colon + 1);
    return entry;
  }
  for (const field of ['username', 'password'] as const) {
    const v = value[field];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string') throw invalid(`auths.${server}.${field} must be a string`);
    entry[field] = v;
  }
  return entry;
}

function decodeBase64Strict(text: string): string | undefined {
  const compact = text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return undefined;
  return Buffer.from(compact, 'base64').toString('utf8');
}

/**
 * The host an `auths`/`credHelpers` key stands for: scheme and path dropped, lowercased, Docker Hub's
 * aliases folded into "docker.io" (docker/cli registry.ConvertToHostname, plus the Hub special case).
 */
export function normaliseRegistryKey(server: string): string {
  let host = server.trim().toLowerCase();
  host = host.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  return DOCKER_HUB_KEYS.includes(host) ? 'docker.io' : host;
}

/** Inline credentials for a registry (as written in an image reference), if the config has complete ones. */
export function findRegistryCredentials(config: DockerConfig, registry: string): RegistryCredentials | undefined {
  const entry = ownValue(config.auths, normaliseRegistryKey(registry));
  if (entry?.identityToken !== undefined) return { username: entry.username ?? '', password: '', identityToken: entry.identityToken, server: entry.server };
  if (!entry || entry.username === undefined || entry.password === undefined) return undefined;
  return { username: entry.username, password: entry.password, server: entry.server };
}

/** The credential helper the config sends this registry's logins to (`credHelpers[host]`, else `credsStore`), if any. */
export function findCredentialHelper(config: DockerConfig, registry: string): string | undefined {
  return ownValue(config.credHelpers, normaliseRegistryKey(registry)) ?? config.credsStore;
}

function ownValue<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Plain assignment would let a key "__proto__" replace the prototype; this always makes an own entry. */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
