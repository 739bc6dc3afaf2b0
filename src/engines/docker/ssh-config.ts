/**
 * The ssh side of `DOCKER_HOST=ssh://…`: what the docker CLI gets from running the system `ssh`, rebuilt for
 * ssh2 (which docker-modem uses and which reads no ssh config of its own). From ~/.ssh/config: HostName,
 * User, Port and IdentityFile of the matching `Host` blocks, first value wins as in ssh_config(5); values in
 * the URL beat the file. Authentication: the agent at SSH_AUTH_SOCK, and the first identity file that exists
 * (IdentityFile, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, inputError } from '../../core/errors.js';

/** An ssh engine endpoint, ready for ssh2's `connect`. */
export interface SshAddress {
  /** The name in the URL (for messages). */
  alias: string;
  /** The host connected to (HostName from the config, else the alias). */
  host: string;
  port: number;
  username: string;
  agent?: string;
  privateKey?: Buffer;
  /** Where the private key came from (for messages; never the key). */
  identityFile?: string;
}

interface SshConfigEntry {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
}

const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/** Connection options for `ssh://[user@]alias[:port]`, with ~/.ssh/config and the agent applied. */
export function sshOptionsFor(
  url: { host: string; user?: string; port?: number },
  inputs: { env: Record<string, string | undefined>; home: string },
): SshAddress {
  const alias = url.host.replace(/^\[(.*)\]$/, '$1');
  const configPath = join(inputs.home, '.ssh', 'config');
  const entry = sshConfigFor(readOptional(configPath) ?? '', alias, configPath);
  const username = url.user ?? entry.user ?? inputs.env.USER ?? inputs.env.LOGNAME ?? 'root';
  const address: SshAddress = { alias, host: entry.hostName ?? alias, port: url.port ?? entry.port ?? 22, username };
  if (inputs.env.SSH_AUTH_SOCK) address.agent = inputs.env.SSH_AUTH_SOCK;
  const candidates = entry.identityFiles.length ? entry.identityFiles : DEFAULT_IDENTITIES.map((name) => join(inputs.home, '.ssh', name));
  for (const file of candidates) {
    const path = file.replace(/^~(?=\/|$)/, inputs.home);
    const key = readOptional(path);
    if (key === undefined) {
      if (entry.identityFiles.length && !address.agent) {
        throw inputError('docker.ssh-identity', `IdentityFile ${file} (for ${alias} in ${configPath}) does not exist`, {
          hint: 'fix the IdentityFile line, or start an ssh agent holding the key (SSH_AUTH_SOCK)',
        });
      }
      continue;
    }
    address.privateKey = Buffer.from(key);
    address.identityFile = path;
    break;
  }
  return address;
}

/** The values of the `Host` blocks that match `alias` (patterns with * and ?, negation with !). */
export function sshConfigFor(text: string, alias: string, source: string): SshConfigEntry {
  const entry: SshConfigEntry = { identityFiles: [] };
  let applies = true;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!match) continue;
    const key = match[1]!.toLowerCase();
    const value = match[2]!.trim().replace(/^"(.*)"$/, '$1');
    if (key === 'host') {
      applies = hostMatches(value.split(/\s+/), alias);
      continue;
    }
    if (key === 'match') {
      // Match blocks need ssh's own evaluation (exec, canonical names): their lines are not applied.
      applies = false;
      continue;
    }
    if (!applies) continue;
    if (key === 'hostname') entry.hostName ??= value.replace(/%h/g, alias);
    else if (key === 'user') entry.user ??= value;
    else if (key === 'identityfile') entry.identityFiles.push(value);
    else if (key === 'port' && entry.port === undefined) {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw inputError('docker.ssh-config', `${source}:${index + 1}: Port "${value}" is not a port number`, { hint: 'fix the Port line' });
      }
      entry.port = port;
    }
  }
  return entry;
}

function hostMatches(patterns: string[], alias: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const glob = negated ? pattern.slice(1) : pattern;
    const regex = new RegExp(
      `^${glob
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      'i',
    );
    if (regex.test(alias)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw inputError('docker.ssh-config', `cannot read ${path}: ${describeError(err)}`, { hint: 'fix its permissions' });
  }
}
