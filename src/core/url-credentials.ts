/**
 * Credentials inside URLs (`scheme://user:password@host/…`, RFC 3986 §3.2.1 userinfo) and where they may go.
 *
 * envseal's committed formats (lock, Dockerfile, records) and its logs never carry userinfo: index URLs are
 * split into a clean URL, which is what gets written and hashed, and the credentials, which live only in memory
 * in a `CredentialStore` and are sent as `Authorization: Basic` to the URL's origin (scheme, host and port), the
 * way pip applies index credentials to every URL on the same host. `maskUrlCredentials` is the last line of
 * defence for free text (error messages, environment values) that may still hold a URL with userinfo.
 */

export const REDACTED = '<redacted>';

export interface UrlCredentials {
  username: string;
  password: string;
}

/** Masks `user:password@` in every URL inside `value` (scheme://userinfo@host…). */
export function maskUrlCredentials(value: string): string {
  // RFC 3986 §3.2.1: userinfo precedes '@' in the authority, which starts after "scheme://" and cannot
  // contain '/', '?', '#' or whitespace.
  // Greedy up to the last '@' of the authority, so an unencoded '@' inside a password does not leak its tail.
  // An ssh login name alone (`ssh://git@host`) is an account, not a secret (ssh authenticates with keys): kept.
  return value.replace(/\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#\s]+)@/g, (whole, scheme: string, userinfo: string) =>
    /^(git\+)?ssh:\/\/$/i.test(scheme) && !/[:@]/.test(userinfo) ? whole : `${scheme}${REDACTED}@`,
  );
}

/**
 * Splits a URL into the URL without userinfo and the (percent-decoded) credentials it carried. A string that
 * is not a URL comes back unchanged, without credentials. The clean URL keeps the rest of the text as written
 * (no normalisation), so a URL without userinfo is returned byte for byte.
 */
export function splitUrlCredentials(url: string): { url: string; credentials?: UrlCredentials } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#\s]*)@/.exec(url);
  if (!m) return { url };
  const userinfo = m[2]!;
  const colon = userinfo.indexOf(':');
  const clean = m[1]! + url.slice(m[0].length);
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const password = colon < 0 ? '' : decode(userinfo.slice(colon + 1));
  return { url: clean, credentials: { username, password } };
}

/** `scheme://host[:port]` of a URL (lower-case, default ports dropped), or undefined when it is not a URL. */
export function urlOrigin(url: string): string | undefined {
  try {
    const u = new URL(splitUrlCredentials(url).url);
    return u.origin === 'null' ? undefined : u.origin;
  } catch {
    return undefined;
  }
}

/** `Basic base64(user:password)` (RFC 7617). */
export function basicAuthorization(credentials: UrlCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

/**
 * Credentials by origin, filled from the places a user may put them (userinfo in envseal.yaml or a
 * requirements file, a netrc file) and asked by the HTTP client for every request. The first credentials
 * given for an origin win, so a caller adds the most specific source first.
 */
export class CredentialStore {
  private readonly byOrigin = new Map<string, UrlCredentials>();
  /** From netrc: by host name, any scheme and port (netrc has no ports); used after an origin match. */
  private readonly byHost = new Map<string, UrlCredentials>();

  /** Remembers the credentials of a URL with userinfo (no-op without); returns the URL without them. */
  addFromUrl(url: string): string {
    const { url: clean, credentials } = splitUrlCredentials(url);
    if (credentials) this.add(clean, credentials);
    return clean;
  }

  add(url: string, credentials: UrlCredentials): void {
    const origin = urlOrigin(url);
    if (origin && !this.byOrigin.has(origin)) this.byOrigin.set(origin, credentials);
  }

  /** Adds every entry of another store that this one has no credentials for yet. */
  addAll(other: CredentialStore): void {
    for (const [origin, credentials] of other.byOrigin) if (!this.byOrigin.has(origin)) this.byOrigin.set(origin, credentials);
    for (const [host, credentials] of other.byHost) if (!this.byHost.has(host)) this.byHost.set(host, credentials);
  }

  /**
   * Adds the `machine` entries of netrc text. A `default` entry is ignored: it would send a password to every
   * host envseal talks to, which is more than a user who wrote it for one tool meant.
   */
  addNetrc(text: string): void {
    for (const [host, credentials] of parseNetrc(text))
      if (host !== '' && !this.byHost.has(host.toLowerCase())) this.byHost.set(host.toLowerCase(), credentials);
  }

  forUrl(url: string): UrlCredentials | undefined {
    const origin = urlOrigin(url);
    if (!origin) return undefined;
    return this.byOrigin.get(origin) ?? this.byHost.get(new URL(origin).hostname.replace(/^\[|\]$/g, ''));
  }

  get size(): number {
    return this.byOrigin.size + this.byHost.size;
  }

  /**
   * A netrc file (the format pip reads through requests when `NETRC` names it) with the credentials for the
   * hosts of `urls`, or '' when there are none. netrc matches on the host name only (no port, no scheme).
   */
  toNetrc(urls: string[]): string {
    const lines = new Map<string, string>();
    for (const url of urls) {
      const credentials = this.forUrl(url);
      if (!credentials) continue;
      const host = new URL(splitUrlCredentials(url).url).hostname.replace(/^\[|\]$/g, '');
      if (!lines.has(host))
        lines.set(host, `machine ${netrcToken(host)} login ${netrcToken(credentials.username)} password ${netrcToken(credentials.password)}`);
    }
    return [...lines.values()].map((l) => `${l}\n`).join('');
  }
}

/** Python's netrc (3.11+) reads a double-quoted token with backslash escapes; plain tokens are left bare. */
function netrcToken(value: string): string {
  if (value.length > 0 && !/[\s"\\#]/.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Reads netrc text (`machine <host> login <user> password <secret>`, `default …`; `macdef` bodies skipped) into
 * host → credentials. Only what pip would use: a machine needs a password to count.
 */
export function parseNetrc(text: string): Map<string, UrlCredentials> {
  const tokens: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    if (/^\s*#/.test(line)) continue;
    const lineTokens = [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!));
    if (lineTokens[0] === 'macdef') {
      while (i + 1 < lines.length && lines[i + 1]!.trim() !== '') i += 1;
      continue;
    }
    tokens.push(...lineTokens);
  }
  const out = new Map<string, UrlCredentials>();
  let host: string | undefined;
  let entry: Partial<UrlCredentials> = {};
  const finish = () => {
    if (host !== undefined && entry.password !== undefined && !out.has(host)) out.set(host, { username: entry.username ?? '', password: entry.password });
  };
  for (let i = 0; i < tokens.length; i += 1) {
    const t = tokens[i]!;
    if (t === 'machine' || t === 'default') {
      finish();
      host = t === 'machine' ? tokens[++i] : '';
      entry = {};
    } else if ((t === 'login' || t === 'user') && host !== undefined) {
      entry.username = tokens[++i];
    } else if (t === 'password' && host !== undefined) {
      entry.password = tokens[++i];
    } else if (t === 'account') {
      i += 1;
    }
  }
  finish();
  return out;
}
