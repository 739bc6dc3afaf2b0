/**
 * Finds where JSON text breaks, as a line and column a person can jump to. `JSON.parse` on Node 20 often
 * reports no position at all (`Unexpected token '}', "{"a":}" is not valid JSON`), so this scanner walks the
 * RFC 8259 grammar itself. It is only called after `JSON.parse` has failed, so it favours clarity over speed.
 */
export interface JsonSyntaxError {
  /** 1-based line. */
  line: number;
  /** 1-based column, in UTF-16 code units (what editors count for the BMP). */
  column: number;
  message: string;
}

/** Returns the first syntax error in `text`, or null when it is valid JSON. */
export function locateJsonSyntaxError(text: string): JsonSyntaxError | null {
  const scanner = new JsonScanner(text);
  try {
    scanner.skipWhitespace();
    scanner.scanValue();
    scanner.skipWhitespace();
    if (!scanner.atEnd()) scanner.fail(`unexpected ${scanner.describeCurrent()} after the end of the JSON value`);
    return null;
  } catch (err) {
    if (err instanceof ScanFailure) return { ...lineAndColumn(text, err.offset), message: err.message };
    throw err;
  }
}

class ScanFailure extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

class JsonScanner {
  private pos = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  fail(message: string, offset = this.pos): never {
    throw new ScanFailure(message, offset);
  }

  describeCurrent(): string {
    if (this.atEnd()) return 'end of input';
    return `character ${JSON.stringify(this.text[this.pos])}`;
  }

  skipWhitespace(): void {
    while (!this.atEnd() && ' \t\n\r'.includes(this.text[this.pos]!)) this.pos += 1;
  }

  scanValue(): void {
    const ch = this.text[this.pos];
    if (ch === '{') return this.scanObject();
    if (ch === '[') return this.scanArray();
    if (ch === '"') return this.scanString();
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return this.scanNumber();
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    this.fail(`expected a value, found ${this.describeCurrent()}`);
  }

  private enter(): void {
    // Deep nesting would otherwise overflow the JS stack before reporting anything useful.
    this.depth += 1;
    if (this.depth > 10_000) this.fail('nesting deeper than 10000 levels');
  }

  private scanObject(): void {
    this.enter();
    this.pos += 1;
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos += 1;
      this.depth -= 1;
      return;
    }
    for (;;) {
      if (this.text[this.pos] !== '"') this.fail(`expected a property name in double quotes, found ${this.describeCurrent()}`);
      this.scanString();
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail(`expected ':' after the property name, found ${this.describeCurrent()}`);
      this.pos += 1;
      this.skipWhitespace();
      this.scanValue();
      this.skipWhitespace();
      const ch = this.text[this.pos];
      if (ch === '}') {
        this.pos += 1;
        this.depth -= 1;
        return;
      }
      if (ch !== ',') this.fail(`expected ',' or '}' after a property value, found ${this.describeCurrent()}`);
      this.pos += 1;
      this.skipWhitespace();
    }
  }

  private scanArray(): void {
    this.enter();
    this.pos += 1;
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos += 1;
      this.depth -= 1;
      return;
    }
    for (;;) {
      this.scanValue();
      this.skipWhitespace();
      const ch = this.text[this.pos];
      if (ch === ']') {
        this.pos += 1;
        this.depth -= 1;
        return;
      }
      if (ch !== ',') this.fail(`expected ',' or ']' after an array element, found ${this.describeCurrent()}`);
      this.pos += 1;
      this.skipWhitespace();
    }
  }

  private scanString(): void {
    const start = this.pos;
    this.pos += 1;
    for (;;) {
      if (this.atEnd()) this.fail('unterminated string', start);
      const code = this.text.charCodeAt(this.pos);
      if (code === 0x22) {
        this.pos += 1;
        return;
      }
      if (code < 0x20) this.fail('control character inside a string (escape it, e.g. \\n)');
      if (code === 0x5c) {
        const next = this.text[this.pos + 1];
        if (next !== undefined && '"\\/bfnrt'.includes(next)) this.pos += 2;
        else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) this.pos += 6;
        else this.fail('invalid escape sequence in a string');
        continue;
      }
      this.pos += 1;
    }
  }

  private scanNumber(): void {
    // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    const pattern = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    pattern.lastIndex = this.pos;
    const match = pattern.exec(this.text);
    if (!match) this.fail('invalid number');
    this.pos += match[0].length;
    const next = this.text[this.pos];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.fail('invalid number');
  }
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i += 1) {
    if (text.charCodeAt(i) === 0x0a) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
