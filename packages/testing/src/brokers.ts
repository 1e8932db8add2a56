/**
 * Broker start-up for integration tests: make sure a broker listens before the
 * tests run, start it when it is local and missing, and fail the run with what
 * to do when it stays missing (in CI and locally alike: never a silent skip).
 * A transport package adds a `BrokerHelper` of its own and lists it in the
 * test run's global setup.
 */
import { spawnSync } from 'node:child_process';
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
        start: isLocal(host) ? `redis-server --daemonize yes --bind 127.0.0.1 --port ${port} --save "" --appendonly no` : undefined,
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
      ensureBroker({ name: 'RabbitMQ', host, port, start: isLocal(host) ? 'rabbitmq-server -detached' : undefined, waitMs: 120_000 }),
  };
}
