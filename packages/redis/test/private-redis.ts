/**
 * A Redis server of a test's own (redis-server on a free port, no persistence),
 * for what must not be done to the shared one: stopping and restarting it,
 * requiring a password.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { waitFor } from '@lightbus/testing';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class PrivateRedis {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly password?: string,
  ) {}

  static async start(options: { password?: string } = {}): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort(), options.password);
    await server.start();
    return server;
  }

  url(password = this.password): string {
    return `redis://${password ? `:${password}@` : ''}127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    if (this.password) args.push('--requirepass', this.password);
    this.process = spawn('redis-server', args, { stdio: 'ignore' });
    await waitFor(
      async () => {
        const client = new Redis(this.url(), { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
        client.on('error', () => undefined);
        try {
          await client.connect();
          return (await client.ping()) === 'PONG';
        } catch {
          return false;
        } finally {
          client.disconnect();
        }
      },
      { timeout: 10_000, interval: 50, message: `redis-server on port ${this.port} to start` },
    );
  }

  /** Stop the server (its data is gone: no persistence). */
  async stop(): Promise<void> {
    const process = this.process;
    this.process = undefined;
    if (!process || process.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => process.once('exit', () => resolve()));
    process.kill('SIGKILL');
    await exited;
  }
}
