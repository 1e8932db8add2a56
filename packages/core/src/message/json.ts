/**
 * JSON as Python Lightbus writes it, read and written exactly.
 *
 * Python's `json` module writes `NaN`, `Infinity` and `-Infinity` for the
 * float values JSON itself has no words for, and integers of any size. The
 * native `JSON.parse` refuses the first and rounds the second to the nearest
 * double. `decodeJson` reads both: the three words as the JavaScript numbers
 * they name, and an integer beyond 2^53 as a `bigint`, exact. `encodeJson`
 * writes a `bigint` as a JSON integer, exact. Ordinary text takes the native
 * fast path; only text that needs it goes through the slower reader here.
 *
 * A key named `__proto__` becomes an ordinary own property, as with
 * `JSON.parse`, never the object's prototype.
 */

/** Deepest nesting read or written: Python's `json` cannot read or write about 1,000 levels or more. */
export const MAX_JSON_DEPTH = 900;

/** An integer literal of 16 digits or more may be beyond 2^53; only then is the exact reader needed. */
const MAYBE_BIG_INTEGER = /\d{16}/;

/** Read JSON text; throws SyntaxError saying where the text is not JSON. */
export function decodeJson(text: string): unknown {
  if (!MAYBE_BIG_INTEGER.test(text)) {
    try {
      return JSON.parse(text);
    } catch (error) {
      // NaN/Infinity, or not JSON at all, or nested past the native reader's stack: the exact reader says which.
      if (!(error instanceof SyntaxError) && !(error instanceof RangeError)) throw error;
    }
  }
  return new Reader(text).document();
}

/** Give `object` an own property `key` (also when the key is `__proto__`). */
export function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

class Reader {
  private at = 0;
  constructor(private readonly text: string) {}

  document(): unknown {
    const value = this.value(0);
    this.space();
    if (this.at < this.text.length) this.fail('unexpected text after the JSON value');
    return value;
  }

  private fail(problem: string): never {
    throw new SyntaxError(`${problem} at position ${this.at}`);
  }

  private space(): void {
    const text = this.text;
    while (this.at < text.length) {
      const c = text.charCodeAt(this.at);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.at++;
      else break;
    }
  }

  private word(word: string, value: unknown): unknown {
    if (this.text.startsWith(word, this.at)) {
      this.at += word.length;
      return value;
    }
    return this.fail(`unexpected token ${JSON.stringify(this.text.charAt(this.at))}`);
  }

  private value(depth: number): unknown {
    this.space();
    const c = this.text.charAt(this.at);
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.word('true', true);
      case 'f':
        return this.word('false', false);
      case 'n':
        return this.word('null', null);
      case 'N':
        return this.word('NaN', Number.NaN);
      case 'I':
        return this.word('Infinity', Number.POSITIVE_INFINITY);
      case '':
        return this.fail('unexpected end of JSON');
      default:
        if (c === '-' && this.text.startsWith('-Infinity', this.at))
          return this.word('-Infinity', Number.NEGATIVE_INFINITY);
        return this.number();
    }
  }

  private number(): number | bigint {
    const match = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    match.lastIndex = this.at;
    const found = match.exec(this.text);
    if (!found) return this.fail(`unexpected token ${JSON.stringify(this.text.charAt(this.at))}`);
    this.at = match.lastIndex;
    const literal = found[0];
    const number = Number(literal);
    if (found[1] === undefined && found[2] === undefined && !Number.isSafeInteger(number)) return BigInt(literal);
    return number;
  }

  private string(): string {
    const text = this.text;
    const start = this.at;
    let end = start + 1;
    let escaped = false;
    for (; end < text.length; end++) {
      const c = text.charCodeAt(end);
      if (c === 92) {
        escaped = true;
        end++;
      } else if (c === 34) break;
    }
    if (end >= text.length) return this.fail('unterminated string');
    this.at = end + 1;
    const raw = text.slice(start, end + 1);
    return escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  }

  private array(depth: number): unknown[] {
    if (depth > MAX_JSON_DEPTH) this.fail(`nested more than ${MAX_JSON_DEPTH} levels deep`);
    this.at++;
    const items: unknown[] = [];
    this.space();
    if (this.text.charAt(this.at) === ']') {
      this.at++;
      return items;
    }
    for (;;) {
      items.push(this.value(depth));
      this.space();
      const c = this.text.charAt(this.at++);
      if (c === ']') return items;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > MAX_JSON_DEPTH) this.fail(`nested more than ${MAX_JSON_DEPTH} levels deep`);
    this.at++;
    const out: Record<string, unknown> = {};
    this.space();
    if (this.text.charAt(this.at) === '}') {
      this.at++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text.charAt(this.at) !== '"') this.fail('expected a property name');
      const key = this.string();
      this.space();
      if (this.text.charAt(this.at++) !== ':') this.fail("expected ':'");
      setOwn(out, key, this.value(depth));
      this.space();
      const c = this.text.charAt(this.at++);
      if (c === '}') return out;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }
}

const BIGINT_MARK = `\u0000lightbus-bigint-${Math.random().toString(36).slice(2)}:`;
const BIGINT_PLACEHOLDER = new RegExp(
  `"${JSON.stringify(BIGINT_MARK).slice(1, -1).replace(/\\/g, '\\\\')}(-?\\d+)"`,
  'g',
);

/**
 * JSON text of `value`, with every `bigint` written as an exact JSON integer.
 * Throws what `JSON.stringify` throws (TypeError for a cycle, ...).
 */
export function encodeJson(value: object): string;
export function encodeJson(value: unknown): string | undefined;
export function encodeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError) || !/BigInt/i.test(error.message)) throw error;
  }
  const text = JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? `${BIGINT_MARK}${item.toString()}` : item,
  );
  return text === undefined ? undefined : text.replace(BIGINT_PLACEHOLDER, '$1');
}
