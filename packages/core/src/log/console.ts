/** The default logger: one line per record on stderr, as text for people or JSON for machines. */
import type { LogFields, LogFormat, Logger, LogLevel } from './types';
import { LOG_FORMATS } from './types';
import { redactFields, redactText } from './redact';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };
const colours: Record<LogLevel, string> = {
  debug: '\x1b[90m',
  info: '\x1b[36m',
  warning: '\x1b[33m',
  error: '\x1b[31m',
  critical: '\x1b[35m',
};
const RESET = '\x1b[0m';

export interface ConsoleLoggerOptions {
  /** 'text' (default) or 'json'; the LIGHTBUS_LOG_FORMAT environment variable when not given. */
  readonly format?: LogFormat;
  /** Fields on every record, e.g. `{ api }` (a child logger's). */
  readonly base?: LogFields;
  /** Fields on every JSON record only, e.g. `{ service, process }`; text lines leave them out to stay short. */
  readonly context?: LogFields;
  /** Where lines go (default: stderr). */
  readonly write?: (line: string) => void;
  /** Colour the level in text mode (default: when stderr is a TTY and NO_COLOR is unset). */
  readonly colour?: boolean;
  /** The clock, for tests. */
  readonly now?: () => Date;
}

/** The log format named by LIGHTBUS_LOG_FORMAT, or undefined (an unknown value is reported and ignored). */
export function logFormatFromEnv(env: NodeJS.ProcessEnv = process.env): LogFormat | undefined {
  const value = env.LIGHTBUS_LOG_FORMAT;
  if (value === undefined || value === '') return undefined;
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  process.stderr.write(
    `lightbus: LIGHTBUS_LOG_FORMAT='${value}' is not one of ${LOG_FORMATS.join(', ')}; using text\n`,
  );
  return undefined;
}

/**
 * Text: `2026-12-07T10:00:00.000Z INFO  message key=value ...`.
 * JSON: `{"time":"...","level":"info","msg":"...","service":"...","process":"...",...fields}`.
 * Credentials in URLs are replaced by `***` in both.
 */
export class ConsoleLogger implements Logger {
  readonly format: LogFormat;
  private readonly base: LogFields;
  private readonly context: LogFields;
  private readonly write: (line: string) => void;
  private readonly colour: boolean;
  private readonly now: () => Date;

  constructor(
    public level: LogLevel = 'info',
    options: ConsoleLoggerOptions | ((line: string) => void) = {},
  ) {
    const resolved: ConsoleLoggerOptions = typeof options === 'function' ? { write: options } : options;
    this.format = resolved.format ?? logFormatFromEnv() ?? 'text';
    this.base = redactFields(resolved.base ?? {});
    this.context = redactFields(resolved.context ?? {});
    this.write = resolved.write ?? ((line) => process.stderr.write(`${line}\n`));
    this.colour =
      resolved.colour ?? (resolved.write === undefined && process.stderr.isTTY === true && !process.env.NO_COLOR);
    this.now = resolved.now ?? (() => new Date());
  }

  /** A logger with more fields on every record (same level, format and destination). */
  child(fields: LogFields): ConsoleLogger {
    return new ConsoleLogger(this.level, {
      format: this.format,
      base: { ...this.base, ...fields },
      context: this.context,
      write: this.write,
      colour: this.colour,
      now: this.now,
    });
  }

  private log(level: LogLevel, message: string, fields?: LogFields): void {
    if (rank[level] < rank[this.level]) return;
    const all = fields ? { ...this.base, ...redactFields(fields) } : this.base;
    const text = redactText(message);
    this.write(
      this.format === 'json'
        ? jsonLine(this.now(), level, text, { ...this.context, ...all })
        : this.textLine(level, text, all),
    );
  }

  private textLine(level: LogLevel, message: string, fields: LogFields): string {
    const name = level.toUpperCase().padEnd(7);
    const shown = this.colour ? `${colours[level]}${name}${RESET}` : name;
    return `${this.now().toISOString()} ${shown} ${message}${textFields(fields)}`;
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warning', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }
}

function textFields(fields: LogFields): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (value instanceof Error) parts.push(`${key}=${value.stack ?? value.message}`);
    else parts.push(`${key}=${typeof value === 'string' ? value : safeJson(value)}`);
  }
  return parts.length ? ` ${parts.join(' ')}` : '';
}

function jsonLine(time: Date, level: LogLevel, message: string, fields: LogFields): string {
  const record: Record<string, unknown> = { time: time.toISOString(), level, msg: message };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || key in record) continue;
    record[key] = value instanceof Error ? errorRecord(value) : value;
  }
  return safeJson(record);
}

/** An Error as JSON: type, message, code, stack (JSON.stringify would give `{}`). */
export function errorRecord(error: Error): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return { type: error.name, message: error.message, ...(code !== undefined ? { code } : {}), stack: error.stack };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
}
