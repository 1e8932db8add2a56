/**
 * Logging. Lightbus logs through a small `Logger` interface; give your own to
 * `lightbus.create({ logger })` (pino, winston, ...) or use the default, which
 * writes one line per record to stderr.
 */

export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'critical';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warning', 'error', 'critical'];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };

function formatFields(fields: LogFields | undefined): string {
  if (!fields) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (value instanceof Error) {
      parts.push(`${key}=${value.stack ?? value.message}`);
    } else {
      parts.push(`${key}=${typeof value === 'string' ? value : safeJson(value)}`);
    }
  }
  return parts.length ? ` ${parts.join(' ')}` : '';
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The default logger: `lightbus <level> <message> key=value ...` to stderr, filtered by level. */
export class ConsoleLogger implements Logger {
  constructor(
    public level: LogLevel = 'info',
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  private log(level: LogLevel, message: string, fields?: LogFields): void {
    if (rank[level] < rank[this.level]) return;
    this.write(`lightbus ${level.toUpperCase()} ${message}${formatFields(fields)}`);
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
