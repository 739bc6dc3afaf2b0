/**
 * `WWW-Authenticate` header parsing (RFC 7235 §4.1 and §2.1, RFC 9110 §11.6.1):
 *
 *   WWW-Authenticate = 1#challenge
 *   challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param       = token BWS "=" BWS ( token / quoted-string )
 *   token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 *
 * One header may hold several challenges separated by commas, and quoted values may themselves contain
 * commas (`scope="repository:a:pull,push"`), so splitting on "," is wrong. A new challenge starts at a
 * list element that is a bare token (a scheme) rather than `name=value`.
 */

export interface AuthChallenge {
  /** The auth-scheme, lowercased (schemes are case-insensitive): "bearer", "basic", ... */
  scheme: string;
  /** auth-params with lowercased names (names are case-insensitive); the first occurrence wins. */
  params: Record<string, string>;
  /** Set when the challenge carries a token68 instead of auth-params. */
  token68?: string;
}

/** Thrown for a header that does not follow the grammar; callers wrap it in their own error. */
export class AuthenticateHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthenticateHeaderError';
  }
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_RE = /^[A-Za-z0-9\-._~+/]+=*/;

/** Parses every challenge in a `WWW-Authenticate` header value, in order. */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const parser = new HeaderParser(header);
  return parser.parseChallenges();
}

/** The first challenge with the given scheme (case-insensitive), if any. */
export function findChallenge(challenges: AuthChallenge[], scheme: string): AuthChallenge | undefined {
  const wanted = scheme.toLowerCase();
  return challenges.find((c) => c.scheme === wanted);
}

class HeaderParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseChallenges(): AuthChallenge[] {
    const challenges: AuthChallenge[] = [];
    for (;;) {
      this.skipListSeparators();
      if (this.atEnd()) break;
      challenges.push(this.parseChallenge());
    }
    if (challenges.length === 0) this.fail('no challenge in header');
    return challenges;
  }

  private parseChallenge(): AuthChallenge {
    const scheme = this.readToken();
    if (scheme === undefined) this.fail('expected an auth-scheme');
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    const spaceAfterScheme = this.skipWhitespace();
    if (this.atEnd() || this.peek() === ',') return this.finishParams(challenge);
    if (!spaceAfterScheme) this.fail(`expected a space after auth-scheme "${scheme}"`);

    // Right after the scheme: either the first auth-param or a token68.
    const param = this.tryReadParam();
    if (param) {
      setParam(challenge, param.name, param.value);
      return this.finishParams(challenge);
    }
    const match = TOKEN68_RE.exec(this.text.slice(this.pos));
    if (!match) this.fail(`unexpected character ${JSON.stringify(this.peek())} after auth-scheme "${scheme}"`);
    this.pos += match[0].length;
    challenge.token68 = match[0];
    this.skipWhitespace();
    if (!this.atEnd() && this.peek() !== ',') this.fail('expected "," after token68');
    return challenge;
  }

  /** Reads `, name=value` elements until the end or the start of the next challenge. */
  private finishParams(challenge: AuthChallenge): AuthChallenge {
    for (;;) {
      const sawComma = this.skipListSeparators();
      if (this.atEnd()) return challenge;
      if (!sawComma) this.fail('expected "," between auth-params');
      const start = this.pos;
      const param = this.tryReadParam();
      if (!param) {
        // A bare token here is the scheme of the next challenge.
        this.pos = start;
        return challenge;
      }
      setParam(challenge, param.name, param.value);
    }
  }

  /** `token BWS "=" BWS ( token / quoted-string )`; leaves the position untouched when it does not match. */
  private tryReadParam(): { name: string; value: string } | undefined {
    const start = this.pos;
    const name = this.readToken();
    if (name === undefined) return undefined;
    this.skipWhitespace();
    if (this.peek() !== '=') {
      this.pos = start;
      return undefined;
    }
    this.pos += 1;
    this.skipWhitespace();
    if (this.peek() === '"') return { name, value: this.readQuotedString() };
    const value = this.readToken();
    if (value === undefined) {
      // `name=` followed by no value: this is a token68 ending in "=" (e.g. "Basic dXNlcg=="), not a param.
      this.pos = start;
      return undefined;
    }
    return { name, value };
  }

  private readToken(): string | undefined {
    const start = this.pos;
    while (!this.atEnd() && TCHAR.test(this.peek())) this.pos += 1;
    return this.pos > start ? this.text.slice(start, this.pos) : undefined;
  }

  /** quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, quoted-pair = "\" char. */
  private readQuotedString(): string {
    this.pos += 1;
    let value = '';
    while (!this.atEnd()) {
      const ch = this.peek();
      this.pos += 1;
      if (ch === '"') return value;
      if (ch === '\\') {
        if (this.atEnd()) break;
        value += this.peek();
        this.pos += 1;
      } else {
        value += ch;
      }
    }
    return this.fail('unterminated quoted string');
  }

  private skipWhitespace(): boolean {
    const start = this.pos;
    while (!this.atEnd() && (this.peek() === ' ' || this.peek() === '\t')) this.pos += 1;
    return this.pos > start;
  }

  /** RFC 9110 §5.6.1: list elements are separated by "," with optional whitespace; empty elements are allowed. */
  private skipListSeparators(): boolean {
    let sawComma = false;
    while (!this.atEnd() && (this.peek() === ',' || this.peek() === ' ' || this.peek() === '\t')) {
      if (this.peek() === ',') sawComma = true;
      this.pos += 1;
    }
    return sawComma;
  }

  private peek(): string {
    return this.text[this.pos] ?? '';
  }

  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private fail(why: string): never {
    throw new AuthenticateHeaderError(`malformed WWW-Authenticate header at character ${this.pos + 1}: ${why}: ${JSON.stringify(this.text)}`);
  }
}

function setParam(challenge: AuthChallenge, name: string, value: string): void {
  const key = name.toLowerCase();
  if (Object.prototype.hasOwnProperty.call(challenge.params, key)) return;
  // defineProperty, so that a hostile "__proto__=x" becomes a plain entry instead of touching the prototype.
  Object.defineProperty(challenge.params, key, { value, enumerable: true, writable: true, configurable: true });
}
