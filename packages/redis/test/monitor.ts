/**
 * Watch the commands Redis executes (MONITOR), keeping those that mention one
 * of a test's unique names: the exact commands of the wire format, as Redis saw
 * them.
 */
import { Redis } from 'ioredis';
import { waitFor } from '@lightbus/testing';
import { REDIS_URL } from './helpers';

export class CommandLog {
  readonly commands: string[][] = [];
  /** Errors of the monitoring connection (other than the start-up race above). */
  readonly errors: Error[] = [];
  private monitor: Redis | undefined;

  private constructor(private readonly markers: string[]) {}

  /** Also keep commands mentioning `marker`. */
  watch(marker: string): void {
    this.markers.push(marker);
  }

  /** Start watching for commands with an argument containing one of `markers`. */
  static async start(...markers: string[]): Promise<CommandLog> {
    const log = new CommandLog(markers);
    // Not client.monitor(): Redis may send the first monitored commands in the same packet as MONITOR's +OK,
    // before ioredis has switched the connection to monitoring, and ioredis then emits "Command queue state
    // error", which rejects monitor()'s promise. Those commands come from before start() returns (other
    // tests), so this connection only notes such errors instead of failing on them.
    const monitor = new Redis(REDIS_URL, { protocol: 2, monitor: true, lazyConnect: true });
    monitor.on('error', (error: Error) => {
      if (!error.message.startsWith('Command queue state error')) log.errors.push(error);
    });
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((arg) => log.markers.some((marker) => String(arg).includes(marker)))) {
        // Command names as Redis knows them (upper case), arguments as sent.
        log.commands.push([String(args[0]).toUpperCase(), ...args.slice(1).map(String)]);
      }
    });
    const monitoring = new Promise<void>((resolve) => monitor.once('monitoring', () => resolve()));
    await monitor.connect();
    await monitoring;
    log.monitor = monitor;
    return log;
  }

  /** Commands named `name`. */
  named(name: string): string[][] {
    return this.commands.filter((c) => c[0] === name);
  }

  /** Wait until a command matching `predicate` was seen. */
  async waitFor(description: string, predicate: (command: string[]) => boolean): Promise<string[]> {
    return waitFor(() => this.commands.find(predicate), {
      message: `Redis to execute ${description}; saw:\n${this.describe()}`,
    });
  }

  describe(): string {
    const errors = this.errors.map((e) => `(monitor connection error: ${e.message})`);
    return [...this.commands.map((c) => c.join(' ')), ...errors].join('\n');
  }

  async stop(): Promise<void> {
    this.monitor?.disconnect();
  }
}
