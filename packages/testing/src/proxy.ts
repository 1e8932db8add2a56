/**
 * A TCP fault proxy: put it between a client and its broker, then cut the
 * connections, refuse new ones for a while (an outage only this test's clients
 * see, the shared broker stays up), or cut one connection at a chosen moment.
 * Protocol-agnostic: it forwards bytes and never parses them.
 */
import net from 'node:net';
import type { BrokerAddress } from './brokers';

export class FaultProxy {
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private cutWhen: { match: (data: Buffer) => boolean; done: () => void } | undefined;
  private refusing = false;
  /** How many connections were cut (by cut(), down() or cutAfter()). */
  cuts = 0;
  /** How many connections were refused while down. */
  refused = 0;

  private constructor(
    private readonly server: net.Server,
    readonly target: BrokerAddress,
  ) {}

  /** Listen on a free port of 127.0.0.1, forwarding every connection to `target`. */
  static async start(target: BrokerAddress): Promise<FaultProxy> {
    const server = net.createServer();
    const proxy = new FaultProxy(server, target);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  /** The port the proxy listens on (on 127.0.0.1). */
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `127.0.0.1:<port>`: put this where the client's config names the broker. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Connections open through the proxy now. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Cut every open connection (both sides, at once). New connections are still forwarded. */
  cut(): void {
    for (const pair of [...this.pairs]) this.close(pair, true, true);
  }

  /** An outage: cut every open connection and refuse new ones until restore(). */
  down(): void {
    this.refusing = true;
    this.cut();
  }

  /** End the outage: forward new connections again. */
  restore(): void {
    this.refusing = false;
  }

  /** True between down() and restore(). */
  get isDown(): boolean {
    return this.refusing;
  }

  /**
   * Cut the first connection whose client sends bytes that `match`, once those bytes were
   * forwarded: the broker gets the request, the client never sees the answer. Resolves when cut.
   */
  cutAfter(match: (data: Buffer) => boolean): Promise<void> {
    return new Promise<void>((done) => {
      this.cutWhen = { match, done };
    });
  }

  /** Cut everything and stop listening. */
  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.refusing) {
      this.refused += 1;
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: this.target.host, port: this.target.port });
    upstream.on('error', () => undefined);
    const pair = { client, upstream };
    this.pairs.add(pair);
    let cut = false;
    client.on('data', (data: Buffer) => {
      if (cut) return;
      upstream.write(data);
      const when = this.cutWhen;
      if (when && when.match(data)) {
        this.cutWhen = undefined;
        cut = true;
        // The upstream socket ends only after the write is flushed: the broker gets the bytes.
        this.close(pair, false, true);
        when.done();
      }
    });
    upstream.on('data', (data: Buffer) => {
      if (!cut) client.write(data);
    });
    client.on('close', () => (cut ? undefined : this.close(pair, true, false)));
    upstream.on('close', () => this.close(pair, true, false));
  }

  private close(pair: { client: net.Socket; upstream: net.Socket }, destroyUpstream: boolean, isCut: boolean): void {
    if (!this.pairs.delete(pair)) {
      pair.client.destroy();
      if (destroyUpstream) pair.upstream.destroy();
      return;
    }
    if (isCut) this.cuts += 1;
    pair.client.destroy();
    if (destroyUpstream) pair.upstream.destroy();
    else pair.upstream.end();
  }
}
