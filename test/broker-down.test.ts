/**
 * A caller whose own broker connection is down hears it at once: a call and a fire fail with
 * BrokerConnectionError naming the broker (password hidden), not with RpcTimeoutError (which
 * tells the user to check a worker) after the deadline. On every transport with a broker,
 * against a port nobody listens on, with deadlines far longer than the test waits.
 */
import { createServer, type AddressInfo } from 'node:net';
import lightbus, { Api, BrokerConnectionError, Event } from '@lightbus/core';
import { transport as amqp } from '@lightbus/amqp';
import { transport as kafka } from '@lightbus/kafka';
import { transport as redis } from '@lightbus/redis';

class DownApi extends Api {
  static override meta = { name: 'down.api' };
  happened = new Event({ parameters: ['n'] });
  async get(): Promise<number> {
    return 1;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Settles with what `promise` gives within `ms`, or 'still waiting'. */
async function within(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)));
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: unknown) => error,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const cases = [
  ['redis', (port: number) => ({ url: `redis://:secret@127.0.0.1:${port}/0` }), 'redis://:***@127.0.0.1:'],
  ['amqp', (port: number) => ({ url: `amqp://guest:secret@127.0.0.1:${port}/` }), 'amqp://guest:***@127.0.0.1:'],
  ['kafka', (port: number) => ({ brokers: [`127.0.0.1:${port}`] }), 'Kafka at 127.0.0.1:'],
] as const;

it.each(cases)(
  '%s: a call and a fire fail at once with BrokerConnectionError naming the broker',
  async (name, options, shown) => {
    const port = await freePort();
    const on = { [name]: options(port) };
    const bus = lightbus.create({
      config: {
        service_name: 'down-svc',
        bus: { schema: { transport: on } },
        apis: {
          default: {
            rpc_transport: on,
            result_transport: on,
            event_transport: on,
            rpc_timeout: 120,
            event_fire_timeout: 120,
          },
        },
      },
      transports: [redis, amqp, kafka],
      logLevel: 'critical',
    });
    const caller = lightbus.create({
      config: {
        service_name: 'down-caller',
        bus: { schema: { transport: on } },
        apis: { default: { rpc_transport: on, result_transport: on, event_transport: on, rpc_timeout: 120 } },
      },
      transports: [redis, amqp, kafka],
      logLevel: 'critical',
    });
    bus.client.registerApi(new DownApi());
    try {
      // 20 s: far beyond a connection refused, far below the 120 s deadlines.
      const call = await within(caller.client.callRpc('down.api', 'get', {}), 20_000);
      expect(call).toBeInstanceOf(BrokerConnectionError);
      expect((call as Error).message).toContain(`${shown}${port}`);
      expect((call as Error).message).not.toContain('secret');

      const fire = await within(bus.api(DownApi).happened.fire({ n: 1 }), 20_000);
      expect(fire).toBeInstanceOf(BrokerConnectionError);
      expect((fire as Error).message).toContain(`${shown}${port}`);
      expect((fire as Error).message).not.toContain('secret');
    } finally {
      await Promise.all([bus.close(), caller.close()]);
    }
  },
  60_000,
);
