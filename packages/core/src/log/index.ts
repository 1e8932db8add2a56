/**
 * Logging. Lightbus logs through a small `Logger` interface; give your own to
 * `lightbus.create({ logger })` (pino and winston through `fromPino` /
 * `fromWinston`) or use the default, which writes text or JSON lines to stderr.
 */
export type { LogFields, LogFormat, Logger, LogLevel } from './types';
export { LOG_FORMATS, LOG_LEVELS } from './types';
export { ConsoleLogger, logFormatFromEnv } from './console';
export type { ConsoleLoggerOptions } from './console';
export { fromPino, fromWinston } from './adapters';
export type { PinoLike, WinstonLike } from './adapters';
export { redactFields, redactText } from './redact';
