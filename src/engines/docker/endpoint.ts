/**
 * Which Docker engine to talk to, chosen as the docker CLI chooses it (docker/cli cli/command/cli.go
 * resolveContextName, cli/context/docker/load.go):
 *
 *   1. DOCKER_HOST set → the `default` context with that host (DOCKER_TLS_VERIFY / DOCKER_CERT_PATH for TLS);
 *   2. DOCKER_CONTEXT set → that context;
 *   3. `currentContext` of the client config (`$DOCKER_CONFIG/config.json`, default ~/.docker) → that context;
 *   4. otherwise `default`: the local socket /var/run/docker.sock.
 *
 * A named context lives in `<config dir>/contexts/meta/<sha256(name)>/meta.json` (`Endpoints.docker.Host`,
 * `SkipTLSVerify`) with its TLS material in `<config dir>/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`.
 * A context that cannot be read is the user's input and fails (exit 2): falling back to the local socket would
 * silently build and run on another engine than the one the user chose.
 *
 * ssh:// hosts go through docker-modem's ssh transport (ssh2 running `docker system dial-stdio` on the remote
 * side). ~/.ssh/config is honoured for HostName, User, Port and IdentityFile, and the agent at SSH_AUTH_SOCK.
 * Everything comes in as arguments (the CLI passes its environment); nothing here reads process.env.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, inputError } from '../../core/errors.js';
import { sshOptionsFor, type SshAddress } from './ssh-config.js';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

/** Where an engine is, as the connection takes it: a socket, an http(s) host, or an ssh host. */
export interface EngineAddress {
  socketPath?: string;
  /** TCP engine: a URL (`tcp://h:2375`, `http://h:2375`, `https://h:2376`) or a host name with `port`. */
  host?: string;
  port?: number;
  /** Client certificate and CA for an https engine. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  ssh?: SshAddress;
}

/** The engine chosen and why, for `--verbose` and for messages. */
export interface EngineEndpoint {
  address: EngineAddress;
  /** What chose it: `DOCKER_HOST`, `docker context "lab" (DOCKER_CONTEXT)`, `the default socket`… */
  source: string;
}

export interface EndpointInputs {
  env: Record<string, string | undefined>;
  /** The docker client config directory: $DOCKER_CONFIG, else ~/.docker. */
  configDir: string;
  /** The user's home (for ~/.ssh and the default DOCKER_CERT_PATH). */
  home: string;
}

type Env = Record<string, string | undefined>;

/** The engine to use, in the docker CLI's precedence order (see the file comment). */
export function resolveDockerEndpoint(inputs: EndpointInputs): EngineEndpoint {
  const { env } = inputs;
  if (env.DOCKER_HOST?.trim()) return { address: addressFromEnv(env, inputs.home), source: 'DOCKER_HOST' };
  let name: string | undefined;
  let why: string;
  if (env.DOCKER_CONTEXT?.trim()) {
    name = env.DOCKER_CONTEXT.trim();
    why = 'DOCKER_CONTEXT';
  } else {
    name = currentContextOf(join(inputs.configDir, 'config.json'));
    why = `currentContext in ${join(inputs.configDir, 'config.json')}`;
  }
  if (!name || name === 'default') {
    const address = addressFromEnv(env, inputs.home);
    return { address, source: name ? `docker context "default" (${why})` : 'the default socket' };
  }
  return { address: readContext(inputs, name, why), source: `docker context "${name}" (${why})` };
}

/** `currentContext` of the client config; a missing file means none. Foreign JSON: only that field is read. */
function currentContextOf(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw inputError('docker-config.unreadable', `cannot read Docker config ${path}: ${describeError(err)}`, {
      hint: 'fix the file permissions, or set DOCKER_CONFIG to another directory',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw inputError('docker-config.invalid', `${path}: not valid JSON (${describeError(err)})`, {
      hint: 'fix the file (it is JSON written by `docker login` / `docker context use`)',
    });
  }
  const value = isObject(raw) ? raw.currentContext : undefined;
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string')
    throw inputError('docker-config.invalid', `${path}: "currentContext" must be a string`, { hint: 'run `docker context use NAME`' });
  return value;
}

/** The endpoint of a named context from its meta.json and TLS files. */
function readContext(inputs: EndpointInputs, name: string, why: string): EngineAddress {
  const id = createHash('sha256').update(name).digest('hex');
  const metaPath = join(inputs.configDir, 'contexts', 'meta', id, 'meta.json');
  const hint = `list the contexts with \`docker context ls\`, or choose another one (DOCKER_CONTEXT, \`docker context use NAME\`)`;
  const broken = (why2: string) => inputError('docker.context-invalid', `docker context "${name}" (from ${why}): ${metaPath}: ${why2}`, { hint });
  let text: string;
  try {
    text = readFileSync(metaPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw inputError('docker.context-unknown', `docker context "${name}" (from ${why}) does not exist: there is no ${metaPath}`, { hint });
    }
    throw broken(`cannot read it: ${describeError(err)}`);
  }
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (err) {
    throw broken(`not valid JSON (${describeError(err)})`);
  }
  const endpoints = isObject(meta) && isObject(meta.Endpoints) ? meta.Endpoints : undefined;
  const docker = endpoints && isObject(endpoints.docker) ? endpoints.docker : undefined;
  if (!docker || typeof docker.Host !== 'string' || docker.Host === '') throw broken('it names no docker endpoint (Endpoints.docker.Host)');
  if (docker.SkipTLSVerify === true) throw broken('SkipTLSVerify is set; envseal always verifies the engine certificate');
  const address = parseDockerHost(docker.Host, `docker context "${name}"`, inputs);
  const tlsDir = join(inputs.configDir, 'contexts', 'tls', id, 'docker');
  const tls = readTlsFiles(tlsDir, false, `docker context "${name}"`);
  if (tls) {
    if (address.host?.startsWith('http://')) address.host = `https://${address.host.slice('http://'.length)}`;
    if (address.host) address.tls = tls;
  }
  return address;
}

/**
 * An engine address from a DOCKER_HOST-style value: `unix:///path` (or a bare path), `tcp://host[:port]`
 * (plain HTTP, default port 2375), `http://` and `https://` URLs, and `ssh://[user@]host[:port]`.
 */
export function parseDockerHost(value: string, what: string, inputs: Pick<EndpointInputs, 'env' | 'home'>): EngineAddress {
  const text = value.trim();
  if (text.startsWith('unix://')) return { socketPath: text.slice('unix://'.length) || DEFAULT_SOCKET };
  if (text.startsWith('/')) return { socketPath: text };
  const ssh = /^ssh:\/\/(?:([^@/]+)@)?([^/:@]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(text);
  if (ssh) {
    const user = ssh[1] ? decodeURIComponent(ssh[1]) : undefined;
    return { ssh: sshOptionsFor({ host: ssh[2]!, ...(user ? { user } : {}), ...(ssh[3] ? { port: Number(ssh[3]) } : {}) }, inputs) };
  }
  const match = /^(tcp|http|https):\/\/([^/:]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(text);
  if (!match) {
    throw inputError('docker.host-invalid', `${what}="${text}" is not a supported engine address`, {
      hint: 'use unix:///var/run/docker.sock, tcp://HOST:2375, https://HOST:2376 or ssh://USER@HOST[:PORT]',
    });
  }
  const scheme = match[1] === 'https' ? 'https' : 'http';
  const port = match[3] ? Number(match[3]) : scheme === 'https' ? 2376 : 2375;
  return { host: `${scheme}://${match[2]}`, port };
}

/**
 * The `default` context: DOCKER_HOST as parseDockerHost reads it (unset: the local socket); with
 * DOCKER_TLS_VERIFY=1 a tcp:// engine is spoken to over https, and DOCKER_CERT_PATH (default ~/.docker)
 * holds ca.pem, cert.pem and key.pem, as the docker CLI expects them.
 */
export function addressFromEnv(env: Env, home: string): EngineAddress {
  const value = env.DOCKER_HOST?.trim();
  const address: EngineAddress = value ? parseDockerHost(value, 'DOCKER_HOST', { env, home }) : { socketPath: DEFAULT_SOCKET };
  const tlsVerify = env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '' && env.DOCKER_TLS_VERIFY !== '0';
  if (!address.host || !(tlsVerify || address.host.startsWith('https://'))) return address;
  if (address.host.startsWith('http://')) address.host = `https://${address.host.slice('http://'.length)}`;
  const certDir = env.DOCKER_CERT_PATH || join(home, '.docker');
  const tls = readTlsFiles(certDir, tlsVerify, 'DOCKER_CERT_PATH');
  if (tls) address.tls = tls;
  return address;
}

/** ca.pem, cert.pem and key.pem of a directory; missing ones are errors only when `required`. */
function readTlsFiles(dir: string, required: boolean, what: string): EngineAddress['tls'] | undefined {
  const read = (name: string): Buffer | undefined => {
    try {
      return readFileSync(join(dir, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && !required) return undefined;
      throw inputError('docker.tls-files', `cannot read ${join(dir, name)} (${what}) for the TLS connection to the Docker engine: ${describeError(err)}`, {
        hint:
          what === 'DOCKER_CERT_PATH'
            ? 'set DOCKER_CERT_PATH to the directory with ca.pem, cert.pem and key.pem, or unset DOCKER_TLS_VERIFY'
            : 'fix the permissions of the context TLS files, or recreate the context with `docker context create`',
      });
    }
  };
  const tls = { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
  if (!tls.ca && !tls.cert && !tls.key) return undefined;
  checkTlsMaterial(dir, what, tls);
  return Object.fromEntries(Object.entries(tls).filter(([, value]) => value !== undefined)) as EngineAddress['tls'];
}

/**
 * Files that were read but cannot be used (not PEM, a key that is not the certificate's) are the user's input:
 * exit 2 naming the file, here, rather than an OpenSSL decoder error from the middle of the first engine call.
 */
function checkTlsMaterial(dir: string, what: string, tls: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined }): void {
  const bad = (name: string, why: string) =>
    inputError('docker.tls-files', `${join(dir, name)} (${what}) cannot be used for the TLS connection to the Docker engine: ${why}`, {
      hint: 'ca.pem and cert.pem must be PEM certificates and key.pem the PEM private key of cert.pem (as `docker context create` or dockerd --tlsverify expect)',
    });
  const certificate = (name: string, data: Buffer): X509Certificate => {
    try {
      return new X509Certificate(data);
    } catch (err) {
      throw bad(name, `not a PEM certificate (${describeError(err)})`);
    }
  };
  if (tls.ca) certificate('ca.pem', tls.ca);
  const cert = tls.cert ? certificate('cert.pem', tls.cert) : undefined;
  if (!tls.key) return;
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(tls.key);
  } catch (err) {
    throw bad('key.pem', `not a PEM private key (${describeError(err)})`);
  }
  if (cert && !cert.checkPrivateKey(key)) throw bad('key.pem', 'it is not the private key of cert.pem');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
