/** The logging vocabulary: levels, formats, fields and the `Logger` interface Lightbus logs through. */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'critical';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warning', 'error', 'critical'];

export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export type LogFields = Record<string, unknown>;

/** What Lightbus logs through: message first, then structured fields. Adapt other loggers with fromPino/fromWinston. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}
