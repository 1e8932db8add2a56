/**
 * Redis topologies of a test file's own, on 127.0.0.1 with Debian's redis-server,
 * on free ports, without persistence, always stopped at the end:
 * - SentinelTopology: one master, one replica, three sentinels (quorum 2) that
 *   fail over a second after the master stops answering.
 * - ClusterTopology: a Redis Cluster of three masters (no replicas), the slots
 *   spread over them by `redis-cli --cluster create`.
 * The processes are killed when the test process exits, also when a test failed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from '@lightbus/testing';
import { Cluster } from 'ioredis';
import type { ClusterOption, SentinelOption } from '../src/options';
import { freePort } from './private-redis';

/** Every process any topology of this test process started, killed on exit whatever happened. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** One redis-server (or sentinel) process. */
export class RedisProcess {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly port: number,
    private readonly args: readonly string[],
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    const child = spawn('redis-server', [...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', () => running.delete(child));
    running.add(child);
    this.child = child;
  }

  /** The last lines it printed (for failure messages). */
  log(): string {
    return this.output;
  }

  /** A client to this one process (no reconnection), closed by `use`'s end. */
  async use<T>(body: (client: Redis) => Promise<T>): Promise<T> {
    const client = new Redis({
      host: '127.0.0.1',
      port: this.port,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await body(client);
    } finally {
      client.disconnect();
    }
  }

  /** SIGKILL: the process is gone at once, its clients see their connections reset. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
}

/** Data nodes write nothing where the tests run (a replica's full sync saves an RDB file in --dir). */
const dataDir = mkdtempSync(path.join(tmpdir(), 'lightbus-redis-nodes-'));
process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));

const serverArgs = (port: number): string[] => [
  '--dir',
  dataDir,
  '--dbfilename',
  `dump-${port}.rdb`,
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--repl-diskless-sync-delay',
  '0',
];

/** Parse a flat [name, value, name, value...] reply into a map. */
function pairs(reply: unknown): Map<string, string> {
  const map = new Map<string, string>();
  if (!Array.isArray(reply)) return map;
  for (let i = 0; i + 1 < reply.length; i += 2) map.set(String(reply[i]), String(reply[i + 1]));
  return map;
}

export class SentinelTopology {
  /** Ports of the data nodes: [first master, first replica]. */
  readonly nodes: readonly RedisProcess[];
  readonly sentinels: readonly RedisProcess[];
  private readonly dir: string;

  private constructor(
    readonly masterName: string,
    ports: readonly number[],
  ) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'lightbus-sentinel-'));
    const [master, replica, ...sentinelPorts] = ports as [number, number, ...number[]];
    this.nodes = [
      new RedisProcess(master, serverArgs(master)),
      new RedisProcess(replica, [...serverArgs(replica), '--replicaof', '127.0.0.1', String(master)]),
    ];
    this.sentinels = sentinelPorts.map((port) => {
      const file = path.join(this.dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${this.dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${master} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 10000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      return new RedisProcess(port, [file, '--sentinel']);
    });
  }

  /** Start the five processes; resolves once the replica is in sync and every sentinel knows the rest. */
  static async start(): Promise<SentinelTopology> {
    const ports: number[] = [];
    while (ports.length < 5) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const topology = new SentinelTopology(`lightbus-${randomBytes(4).toString('hex')}`, ports);
    try {
      await topology.startAll();
    } catch (error) {
      await topology.stop();
      throw error;
    }
    return topology;
  }

  private async startAll(): Promise<void> {
    for (const node of this.nodes) node.start();
    const [, replica] = this.nodes as [RedisProcess, RedisProcess];
    await waitFor(() => replica.use(async (c) => (await c.info('replication')).includes('master_link_status:up')), {
      timeout: 15_000,
      interval: 50,
      message: () => `the replica to sync with its master\n${replica.log()}`,
    });
    for (const sentinel of this.sentinels) sentinel.start();
    await waitFor(
      async () => {
        for (const sentinel of this.sentinels) {
          const info = await sentinel.use(async (c) => pairs(await c.call('SENTINEL', 'MASTER', this.masterName)));
          if (info.get('num-slaves') !== '1' || info.get('num-other-sentinels') !== '2') return false;
        }
        return true;
      },
      {
        timeout: 20_000,
        interval: 100,
        message: () => `the sentinels to know the replica and each other\n${this.sentinels[0]?.log() ?? ''}`,
      },
    );
  }

  /**
   * Start a stopped data node again, as a replica of the master now (what an operator, or the
   * sentinels a few seconds later, would make of a failed master coming back); resolves once in sync.
   */
  async restartAsReplica(node: RedisProcess): Promise<void> {
    const master = await this.master();
    const index = this.nodes.indexOf(node);
    const restarted = new RedisProcess(node.port, [
      ...serverArgs(node.port),
      '--replicaof',
      '127.0.0.1',
      String(master.port),
    ]);
    (this.nodes as RedisProcess[])[index] = restarted;
    restarted.start();
    await waitFor(() => restarted.use(async (c) => (await c.info('replication')).includes('master_link_status:up')), {
      timeout: 15_000,
      interval: 50,
      message: () => `the restarted node to sync with the new master\n${restarted.log()}`,
    });
  }

  /** The `sentinel` option of every role. */
  get option(): SentinelOption {
    return { sentinels: this.sentinels.map((s) => `127.0.0.1:${s.port}`), master_name: this.masterName };
  }

  /** A url for the roles (its host and port are not used with sentinels; the database is). */
  readonly url = 'redis://127.0.0.1:6379/0';

  /** The data node the sentinels name master now. */
  async master(): Promise<RedisProcess> {
    for (const sentinel of this.sentinels) {
      if (!sentinel.running) continue;
      const reply = await sentinel
        .use((c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName))
        .catch(() => undefined);
      if (Array.isArray(reply)) {
        const port = Number(reply[1]);
        const node = this.nodes.find((n) => n.port === port);
        if (node) return node;
      }
    }
    throw new Error('No sentinel names a master');
  }

  /** A raw client that follows the master through the sentinels (as an operator's tool would). */
  client(): Redis {
    const client = new Redis({
      sentinels: this.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      name: this.masterName,
      protocol: 2,
      maxRetriesPerRequest: 20,
    });
    client.on('error', () => undefined); // while the master is down; commands wait and retry
    return client;
  }

  /** Kill every process and remove the sentinels' files. */
  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.nodes].map((p) => p.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A run of redis-cli, rejecting with its output when it fails. */
function redisCli(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', [...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

export class ClusterTopology {
  readonly nodes: readonly RedisProcess[];
  private readonly dir: string;

  /** `ports`: the client port and the cluster bus port of each node (the bus port is not port + 10000, which may be taken or past 65535). */
  private constructor(ports: ReadonlyArray<readonly [number, number]>) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'lightbus-cluster-'));
    this.nodes = ports.map(
      ([port, busPort]) =>
        new RedisProcess(port, [
          ...serverArgs(port),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(this.dir, `nodes-${port}.conf`),
          '--cluster-port',
          String(busPort),
          '--cluster-node-timeout',
          '2000',
        ]),
    );
  }

  /** Start three masters and make them one cluster; resolves once every node sees every slot served. */
  static async start(masters = 3): Promise<ClusterTopology> {
    const ports: number[] = [];
    while (ports.length < masters * 2) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const pairsOfPorts = Array.from({ length: masters }, (_, i) => [ports[2 * i]!, ports[2 * i + 1]!] as const);
    const topology = new ClusterTopology(pairsOfPorts);
    try {
      await topology.startAll();
    } catch (error) {
      await topology.stop();
      throw error;
    }
    return topology;
  }

  private async startAll(): Promise<void> {
    for (const node of this.nodes) node.start();
    await waitFor(
      () => Promise.all(this.nodes.map((n) => n.use(async (c) => (await c.ping()) === 'PONG'))).then(() => true),
      {
        timeout: 15_000,
        interval: 50,
        message: () => `the cluster nodes to answer\n${this.nodes.map((n) => n.log()).join('\n')}`,
      },
    );
    await redisCli([
      '--cluster',
      'create',
      ...this.nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitFor(
      async () => {
        for (const node of this.nodes) {
          const ok = await node.use(async (c) => {
            const info = String(await c.call('CLUSTER', 'INFO'));
            return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${this.nodes.length}`);
          });
          if (!ok) return false;
        }
        return true;
      },
      {
        timeout: 20_000,
        interval: 100,
        message: () => `every node to see the cluster ok\n${this.nodes[0]?.log() ?? ''}`,
      },
    );
  }

  /** The `cluster` option of every role. */
  get option(): ClusterOption {
    return { nodes: this.nodes.map((n) => `127.0.0.1:${n.port}`) };
  }

  /** A url for the roles (its host and port are not used with a cluster). */
  readonly url = 'redis://127.0.0.1:6379/0';

  /** A raw cluster client (as an operator's tool would use it). */
  client(): Cluster {
    const client = new Cluster(
      this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      { redisOptions: { protocol: 2 } },
    );
    client.on('error', () => undefined);
    return client;
  }

  /** The port of the master serving `key` (CLUSTER KEYSLOT, CLUSTER SLOTS). */
  async portOf(key: string): Promise<number> {
    const first = this.nodes[0]!;
    return first.use(async (c) => {
      const slot = Number(await c.call('CLUSTER', 'KEYSLOT', key));
      const ranges = (await c.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`No node serves slot ${slot}`);
      return Number(range[2][1]);
    });
  }

  /** Kill every node and remove the nodes' files. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((p) => p.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
