/** A logger for tests: keeps every line, to assert on or to show when a test fails. */
import type { Logger } from '@lightbus/core';
import type { LogFields } from '@lightbus/core/transport';

export interface LogRecorderOptions {
  /** Also print the lines for which this returns true (default: every line when LIGHTBUS_TEST_LOG=debug). */
  readonly echo?: (line: string) => boolean;
}

export class LogRecorder implements Logger {
  /** `<level> <message> <fields as JSON>`, in order. */
  readonly lines: string[] = [];
  private readonly echo: ((line: string) => boolean) | undefined;

  constructor(options: LogRecorderOptions = {}) {
    this.echo = options.echo ?? (process.env.LIGHTBUS_TEST_LOG === 'debug' ? () => true : undefined);
  }

  debug(message: string, fields?: LogFields): void {
    this.add('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.add('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.add('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.add('error', message, fields);
  }

  /** Whether a line contains `text`. */
  has(text: string): boolean {
    return this.lines.some((line) => line.includes(text));
  }

  private add(level: string, message: string, fields?: LogFields): void {
    const line = `${level} ${message} ${fields ? JSON.stringify(fields) : ''}`;
    this.lines.push(line);
    if (this.echo?.(line)) console.log(line);
  }
}
