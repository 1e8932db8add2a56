/**
 * A TCP proxy in front of the shared Redis that can cut a connection at a
 * chosen moment: after forwarding a command to Redis, before Redis's reply
 * reaches the client. The client then sees its connection drop with the
 * command executed but unanswered — the case a resend would duplicate.
 */
import net from 'node:net';
import { REDIS_URL } from './helpers';

export class CuttingProxy {
  private readonly sockets = new Set<net.Socket>();
  /** Cut the client connection whose outgoing data matches, once that data has been forwarded. */
  private cutWhen: ((data: string) => boolean) | undefined;
  /** How many connections were cut. */
  cuts = 0;

  private constructor(private readonly server: net.Server) {}

  static async start(): Promise<CuttingProxy> {
    const target = new URL(REDIS_URL);
    const server = net.createServer();
    const proxy = new CuttingProxy(server);
    server.on('connection', (client) => {
      const upstream = net.connect(Number(target.port || 6379), target.hostname);
      proxy.track(client);
      proxy.track(upstream);
      let cut = false;
      client.on('data', (data) => {
        if (cut) return;
        upstream.write(data);
        const when = proxy.cutWhen;
        if (when && when(data.toString('latin1'))) {
          proxy.cutWhen = undefined;
          proxy.cuts += 1;
          cut = true;
          // Redis gets the command (the upstream socket is ended only after the write is flushed);
          // the client never sees the reply.
          client.destroy();
          upstream.end();
        }
      });
      upstream.on('data', (data) => {
        if (!cut) client.write(data);
      });
      const closeBoth = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', () => (cut ? undefined : closeBoth()));
      upstream.on('close', closeBoth);
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return proxy;
  }

  get url(): string {
    const { port } = this.server.address() as net.AddressInfo;
    return `redis://127.0.0.1:${port}/0`;
  }

  /** Cut the next client connection that sends data for which `predicate` holds, after forwarding it. */
  cutAfter(predicate: (data: string) => boolean): void {
    this.cutWhen = predicate;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
