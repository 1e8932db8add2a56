/**
 * Who may use the UI. Bound to a loopback address it needs no token, but a browser must name the
 * host it connected to (`Host: localhost:4000`), so that a web page on another site cannot reach it
 * through DNS rebinding. Bound anywhere else it refuses to start without a token, and then every
 * request carries it: `Authorization: Bearer <token>`, or the cookie set when the browser first
 * opened `/?token=<token>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const COOKIE = 'lightbus_ui_token';
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function cookies(request: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), decodeURIComponent(part.slice(eq + 1).trim()));
  }
  return out;
}

export class Access {
  private readonly expected: Buffer | undefined;

  constructor(
    token: string | undefined,
    private readonly loopbackOnly: boolean,
  ) {
    this.expected = token ? digest(token) : undefined;
  }

  private equals(given: string | undefined): boolean {
    return given !== undefined && this.expected !== undefined && timingSafeEqual(digest(given), this.expected);
  }

  /** The token in the query string, if it is the right one: the caller sets the cookie and redirects. */
  tokenFromQuery(url: URL): string | undefined {
    const given = url.searchParams.get('token') ?? undefined;
    return this.equals(given) ? given : undefined;
  }

  cookie(token: string): string {
    return `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
  }

  /** Why this request is refused, or undefined when it may go on. */
  refusal(request: IncomingMessage): string | undefined {
    if (this.expected) {
      const header = request.headers.authorization;
      const bearer = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
      if (this.equals(bearer) || this.equals(cookies(request).get(COOKIE))) return undefined;
      return 'This Lightbus UI needs its token: open it as /?token=<token> once, or send Authorization: Bearer <token>.';
    }
    if (this.loopbackOnly) {
      const host = (request.headers.host ?? '').replace(/:\d+$/, '');
      if (!isLoopback(host))
        return `Host '${host}' refused: this UI serves localhost only (start it with --token to serve others).`;
    }
    return undefined;
  }
}
