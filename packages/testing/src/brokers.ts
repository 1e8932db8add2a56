/**
 * Broker start-up for integration tests: make sure a broker listens before the
 * tests run, start it when it is local and missing, and fail the run with what
 * to do when it stays missing (in CI and locally alike: never a silent skip).
 * A transport package adds a `BrokerHelper` of its own and lists it in the
 * test run's global setup.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';

/** A broker the integration tests need: `setup()` makes sure it answers, `teardown()` stops what setup started. */
export interface BrokerHelper {
  /** Shown in messages: "Redis", "RabbitMQ". */
  readonly name: string;
  setup(): Promise<void>;
  teardown?(): Promise<void>;
}

export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

/** Whether something accepts TCP connections on host:port (within `timeoutMs`). */
export function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Resolves true once host:port accepts connections, false after `timeoutMs`. */
export async function waitReachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await reachable(host, port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

export interface EnsureBrokerOptions extends BrokerAddress {
  readonly name: string;
  /** A shell command that starts the broker when nothing listens (omit for a remote broker). */
  readonly start?: string;
  /** How long to wait for it after `start` (ms, default 60000). */
  readonly waitMs?: number;
}

/**
 * Make sure a broker listens on host:port. If not, run `start` and wait up to `waitMs`.
 * A broker that stays missing fails the test run with what to do.
 */
export async function ensureBroker(options: EnsureBrokerOptions): Promise<void> {
  const { name, host, port, start, waitMs = 60_000 } = options;
  if (await reachable(host, port)) return;
  if (start) {
    console.log(`[brokers] ${name} is not running on ${host}:${port}; starting it: ${start}`);
    spawnSync('sh', ['-c', start], { stdio: 'inherit' });
    if (await waitReachable(host, port, waitMs)) return;
  }
  throw new Error(
    `${name} is not reachable on ${host}:${port}${start ? ` (tried: ${start})` : ''}. ` +
      `Integration tests need it: start it, or run only the unit tests (npm run test:unit).`,
  );
}

/** Host and port of a broker URL (`redis://...`, `amqp://...`), with the scheme's default port. */
export function addressOf(url: string, defaultPort: number): BrokerAddress {
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port) || defaultPort };
}

const isLocal = (host: string): boolean => host === '127.0.0.1' || host === 'localhost';

/** The Redis URL the tests use: REDIS_URL, or redis://127.0.0.1:6379/0. */
export function redisUrl(): string {
  return process.env.REDIS_URL || 'redis://127.0.0.1:6379/0';
}

/** The RabbitMQ URL the tests use: LIGHTBUS_AMQP_URL, or amqp://guest:guest@127.0.0.1:5672/. */
export function amqpUrl(): string {
  return process.env.LIGHTBUS_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/';
}

/**
 * Redis at `url` (default redisUrl()): started with `redis-server --daemonize yes` when local
 * and missing. Never flushed, never stopped: other test runs may share it.
 */
export function redisBroker(url = redisUrl()): BrokerHelper {
  const { host, port } = addressOf(url, 6379);
  return {
    name: 'Redis',
    setup: () =>
      ensureBroker({
        name: 'Redis',
        host,
        port,
        start: isLocal(host)
          ? `redis-server --daemonize yes --bind 127.0.0.1 --port ${port} --save "" --appendonly no`
          : undefined,
      }),
  };
}

/**
 * RabbitMQ at `url` (default amqpUrl()): started with `rabbitmq-server -detached` when local
 * and missing (it boots slowly, hence the long wait). Left running afterwards.
 */
export function rabbitmqBroker(url = amqpUrl()): BrokerHelper {
  const { host, port } = addressOf(url, url.startsWith('amqps:') ? 5671 : 5672);
  return {
    name: 'RabbitMQ',
    setup: () =>
      ensureBroker({
        name: 'RabbitMQ',
        host,
        port,
        start: isLocal(host) ? 'rabbitmq-server -detached' : undefined,
        waitMs: 120_000,
      }),
  };
}

/** A broker a helper started for the test run. */
export interface StartedBroker {
  /** `host:port` of the broker, for KAFKA_BROKERS. */
  readonly bootstrap: string;
  readonly pid: number;
  /** Its data directory, removed when it stops (if any). */
  readonly dir?: string;
  stop(options?: { kill?: boolean }): Promise<void>;
}

export interface KafkaBrokerOptions {
  /**
   * Start a broker when KAFKA_BROKERS names none (this repository passes tools/kafka's
   * `startKafka`, a single-node Apache Kafka). Without it, KAFKA_BROKERS must name a cluster.
   */
  readonly start?: () => Promise<StartedBroker>;
  /** Stop a broker started by another copy of this helper (jest loads global teardown afresh). */
  readonly stopByPid?: (pid: number) => Promise<void>;
}

/**
 * Kafka for the integration tests. With KAFKA_BROKERS (host:port,host:port) it checks that the
 * cluster answers; otherwise it starts one with `options.start` and exports its address as
 * KAFKA_BROKERS (and its pid as LIGHTBUS_KAFKA_PID), which jest workers inherit. teardown()
 * stops only a broker it started. A cluster that does not answer fails the run.
 */
export function kafkaBroker(options: KafkaBrokerOptions = {}): BrokerHelper {
  let started: StartedBroker | undefined;
  return {
    name: 'Kafka',
    async setup() {
      const given = process.env.KAFKA_BROKERS;
      if (given && !process.env.LIGHTBUS_KAFKA_PID) {
        const brokers = given
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean);
        const answers = await Promise.all(
          brokers.map((broker) => {
            const at = broker.lastIndexOf(':');
            return reachable(broker.slice(0, at), Number(broker.slice(at + 1)), 3000);
          }),
        );
        if (!answers.some(Boolean)) {
          throw new Error(
            `KAFKA_BROKERS=${given}: no broker answers. Start the cluster${options.start ? ', or unset KAFKA_BROKERS to let the tests start their own broker' : ''}.`,
          );
        }
        console.log(`[brokers] Kafka: using KAFKA_BROKERS=${given}`);
        return;
      }
      if (!options.start) {
        throw new Error('Kafka: set KAFKA_BROKERS to the cluster the integration tests use (host:port,host:port).');
      }
      started = await options.start();
      process.env.KAFKA_BROKERS = started.bootstrap;
      process.env.LIGHTBUS_KAFKA_PID = String(started.pid);
      if (started.dir) process.env.LIGHTBUS_KAFKA_DIR = started.dir;
    },
    async teardown() {
      if (started) {
        await started.stop({ kill: true });
        started = undefined;
        delete process.env.KAFKA_BROKERS;
      } else if (process.env.LIGHTBUS_KAFKA_PID && options.stopByPid) {
        await options.stopByPid(Number(process.env.LIGHTBUS_KAFKA_PID));
        if (process.env.LIGHTBUS_KAFKA_DIR) rmSync(process.env.LIGHTBUS_KAFKA_DIR, { recursive: true, force: true });
      }
      delete process.env.LIGHTBUS_KAFKA_PID;
      delete process.env.LIGHTBUS_KAFKA_DIR;
    },
  };
}
