/**
 * Registry credentials as the docker CLI finds them (docker/cli cli/config/configfile/file.go
 * GetCredentialsStore, cli/config/credentials/native_store.go): `credHelpers[host]` first, else `credsStore`,
 * else the inline `auths` entry. A helper is the program `docker-credential-<name>`, run as
 * `docker-credential-<name> get` with the server on stdin; it answers `{"ServerURL","Username","Secret"}` on
 * stdout (docker-credential-helpers' protocol). A Username of `<token>` means Secret is an identity token
 * (a refresh token for the registry's OAuth2 token endpoint), not a password. "credentials not found" is no
 * error: the registry is then used anonymously, as the docker CLI does.
 *
 * Secrets stay in memory: messages and debug lines name the helper, the registry and the user name only.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../core/ports.js';
import { silentLogger } from '../core/ports.js';
import { externalError, inputError } from '../core/errors.js';
import { findCredentialHelper, findRegistryCredentials, normaliseRegistryKey, type DockerConfig, type RegistryCredentials } from './docker-config.js';

/** docker-credential-helpers' ErrCredentialsNotFound message. */
const NOT_FOUND = 'credentials not found in native keychain';
const DEFAULT_HELPER_TIMEOUT_MS = 30_000;
/** The username a helper answers with when Secret is an identity token (docker/cli credentials.tokenUsername). */
const TOKEN_USERNAME = '<token>';

export interface CredentialHelperOptions {
  /** The environment the helper runs in (PATH finds it); the CLI passes its own. */
  env: Record<string, string | undefined>;
  timeoutMs?: number;
}

/**
 * Runs `docker-credential-<helper> get` for `serverUrl`. Undefined when the helper has no credentials for it.
 * A helper that is not installed is exit 2 (the config names it); one that fails, hangs or answers garbage is
 * exit 3.
 */
export async function runCredentialHelper(helper: string, serverUrl: string, options: CredentialHelperOptions): Promise<RegistryCredentials | undefined> {
  const program = `docker-credential-${helper}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(helper)) {
    throw inputError('registry.credential-helper-name', `credential helper name ${JSON.stringify(helper)} is not a program name`, {
      hint: 'fix "credsStore" / "credHelpers" in the Docker config',
    });
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(program, ['get'], { env: options.env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(
        externalError(
          'registry.credential-helper-timeout',
          `credential helper ${program} did not answer within ${timeoutMs / 1000} s (asked for ${serverUrl})`,
          {
            hint: `run \`echo ${serverUrl} | ${program} get\` to see what it waits for (a locked keychain, a login prompt), or raise --timeout`,
          },
        ),
      );
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => undefined);
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err.code === 'ENOENT') {
        reject(
          inputError(
            'registry.credential-helper-missing',
            `credential helper ${program} (named in the Docker config for ${serverUrl}) is not installed: not found on PATH`,
            {
              hint: `install ${program}, or remove it from "credsStore" / "credHelpers" in the Docker config`,
            },
          ),
        );
      } else {
        reject(
          externalError('registry.credential-helper-failed', `credential helper ${program} could not be started: ${err.message}`, { hint: `check ${program}` }),
        );
      }
    });
    child.on('close', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
    });
    child.stdin.end(serverUrl);
  });
  if (result.code !== 0) {
    const said = firstLine(result.stdout) || firstLine(result.stderr);
    if (said === NOT_FOUND) return undefined;
    throw externalError(
      'registry.credential-helper-failed',
      `credential helper ${program} failed for ${serverUrl} (exit ${result.code ?? 'signal'}): ${said || 'no message'}`,
      {
        hint: `run \`echo ${serverUrl} | ${program} get\` to see the failure; log in again with \`docker login\``,
      },
    );
  }
  return parseHelperAnswer(result.stdout, program, serverUrl);
}

function parseHelperAnswer(stdout: string, program: string, serverUrl: string): RegistryCredentials | undefined {
  const garbage = () =>
    externalError(
      'registry.credential-helper-failed',
      `credential helper ${program} answered ${serverUrl} with something other than {"Username","Secret"} JSON`,
      {
        hint: `check \`echo ${serverUrl} | ${program} get\``,
      },
    );
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    throw garbage();
  }
  if (typeof raw !== 'object' || raw === null) throw garbage();
  const { Username: username, Secret: secret } = raw as Record<string, unknown>;
  if (typeof username !== 'string' || typeof secret !== 'string') throw garbage();
  if (secret === '') return undefined;
  const server = `${program} (${serverUrl})`;
  if (username === TOKEN_USERNAME) return { username: '', password: '', identityToken: secret, server };
  return { username, password: secret, server };
}

/** A helper's output can quote what it was given; only a short first line goes into messages. */
function firstLine(text: string): string {
  const line = text.trim().split(/\r?\n/)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * The credentials for each registry host, looked up once per process (a helper may prompt or be slow) and
 * shared by the registry client (base-image resolution) and the engine (X-Registry-Auth of pull and push).
 */
export class RegistryCredentialSource {
  private readonly cache = new Map<string, Promise<RegistryCredentials | undefined>>();

  /** Without `helpers`, only the inline `auths` entries are used. */
  constructor(
    readonly config: DockerConfig,
    private readonly helpers?: CredentialHelperOptions,
    private readonly logger: Logger = silentLogger,
  ) {}

  /** The helper the config sends this registry's logins to, if any (for messages). */
  helperFor(registry: string): string | undefined {
    return findCredentialHelper(this.config, registry);
  }

  credentialsFor(registry: string): Promise<RegistryCredentials | undefined> {
    const key = normaliseRegistryKey(registry);
    let found = this.cache.get(key);
    if (!found) {
      found = this.lookUp(registry, key);
      this.cache.set(key, found);
    }
    return found;
  }

  private async lookUp(registry: string, key: string): Promise<RegistryCredentials | undefined> {
    const helper = findCredentialHelper(this.config, registry);
    if (!helper || !this.helpers) return findRegistryCredentials(this.config, registry);
    // docker login stores Docker Hub under its v1 index URL; other registries under their host.
    const serverUrl = key === 'docker.io' ? 'https://index.docker.io/v1/' : key;
    const credentials = await runCredentialHelper(helper, serverUrl, this.helpers);
    this.logger.debug(
      credentials
        ? `registry ${key}: credentials from docker-credential-${helper} (${credentials.identityToken ? 'identity token' : `user ${JSON.stringify(credentials.username)}`})`
        : `registry ${key}: docker-credential-${helper} has no credentials for it; anonymous`,
    );
    return credentials;
  }
}
