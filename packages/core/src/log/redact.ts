/** Secrets never reach a log line: credentials in URLs inside field values become `***`. */
import { redactUrl } from '../util/url';
import type { LogFields } from './types';

const URL_WITH_USERINFO = /[a-z][a-z0-9+.-]*:\/\/[^\s/@'"]*@[^\s'"]*/gi;

/** `text` with the password (or lone user token) of every URL in it replaced. */
export function redactText(text: string): string {
  return text.includes('@') ? text.replace(URL_WITH_USERINFO, (url) => redactUrl(url)) : text;
}

/** A copy of `fields` with URL credentials redacted in strings, at any depth (errors keep their type). */
export function redactFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) out[key] = redactValue(value, 0);
  return out;
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    const message = redactText(value.message);
    const stack = value.stack === undefined ? undefined : redactText(value.stack);
    if (message === value.message && stack === value.stack) return value;
    const copy = Object.create(Object.getPrototypeOf(value) as object) as Error;
    Object.assign(copy, value);
    Object.defineProperty(copy, 'message', { value: message, enumerable: false, writable: true, configurable: true });
    Object.defineProperty(copy, 'stack', { value: stack, enumerable: false, writable: true, configurable: true });
    return copy;
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactValue(item, depth + 1);
  return out;
}
