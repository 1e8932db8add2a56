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
  private monitor: Redis | undefined;

  private constructor(private readonly markers: string[]) {}

  /** Also keep commands mentioning `marker`. */
  watch(marker: string): void {
    this.markers.push(marker);
  }

  /** Start watching for commands with an argument containing one of `markers`. */
  static async start(...markers: string[]): Promise<CommandLog> {
    const log = new CommandLog(markers);
    // monitor() opens a connection of its own: this client never connects, so no QUIT of ours reaches the
    // monitor while ioredis is still switching that connection into monitor mode ("Command queue state error").
    const client = new Redis(REDIS_URL, { protocol: 2, lazyConnect: true });
    const monitor = await client.monitor();
    client.disconnect();
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((arg) => log.markers.some((marker) => String(arg).includes(marker)))) {
        // Command names as Redis knows them (upper case), arguments as sent.
        log.commands.push([String(args[0]).toUpperCase(), ...args.slice(1).map(String)]);
      }
    });
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
    return this.commands.map((c) => c.join(' ')).join('\n');
  }

  async stop(): Promise<void> {
    this.monitor?.disconnect();
  }
}
