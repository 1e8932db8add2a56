/**
 * Adapters for common loggers. Lightbus calls `logger.info(message, fields)`;
 * pino wants `info(fields, message)` and serialises an Error only under `err`,
 * and winston's JSON format turns an Error into `{}`. These keep every field.
 * No dependency on either library: they take the logger object you already have.
 */
import { errorRecord } from './console';
import { redactFields, redactText } from './redact';
import type { LogFields, Logger } from './types';

type PinoMethod = (fields: object, message: string) => void;
/** The part of a pino logger (or a pino child) that Lightbus uses. */
export interface PinoLike {
  debug: PinoMethod;
  info: PinoMethod;
  warn: PinoMethod;
  error: PinoMethod;
}

type WinstonMethod = (message: string, meta: object) => unknown;
/** The part of a winston logger that Lightbus uses. */
export interface WinstonLike {
  debug: WinstonMethod;
  info: WinstonMethod;
  warn: WinstonMethod;
  error: WinstonMethod;
}

/** Plain data for a structured logger: URLs redacted, Errors as `{ type, message, code, stack }`. */
function plainFields(fields: LogFields | undefined): LogFields {
  const out: LogFields = {};
  if (!fields) return out;
  for (const [key, value] of Object.entries(redactFields(fields))) {
    if (value !== undefined) out[key] = value instanceof Error ? errorRecord(value) : value;
  }
  return out;
}

/** `lightbus.create({ logger: fromPino(pino()) })`: every field becomes a pino field; levels map one to one. */
export function fromPino(pino: PinoLike): Logger {
  const at =
    (method: keyof PinoLike) =>
    (message: string, fields?: LogFields): void =>
      pino[method](plainFields(fields), redactText(message));
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** `lightbus.create({ logger: fromWinston(winston.createLogger(...)) })`: fields become winston metadata. */
export function fromWinston(winston: WinstonLike): Logger {
  const at =
    (method: keyof WinstonLike) =>
    (message: string, fields?: LogFields): void => {
      winston[method](redactText(message), plainFields(fields));
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
