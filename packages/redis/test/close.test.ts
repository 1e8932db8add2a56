/**
 * close() ends the blocking reads (BLMOVE of a worker, BLPOP of the result reader,
 * XREADGROUP BLOCK of a listener) at once, without waiting out their block.
 *
 * No elapsed time is measured. The blocks here last 10 minutes (BLOCK_MS is
 * replaced for this file), far past jest's 60 s per test: a close() that
 * waited for a blocked read to time out would hang the test until jest fails
 * it. What is asserted are conditions: Redis reported each read blocked, each
 * was released by CLIENT UNBLOCK (Redis answered 1: that client was blocked
 * and is now released), and once close() resolves no connection of the
 * process is left on Redis.
 */
import lightbus, { Api, Event } from '@lightbus/core';
import { newMessageId, type Consumer, type OutgoingCall } from '@lightbus/core/transport';
import { waitFor } from '@lightbus/testing';
import { RedisConnection, type Command, type Reply } from '../src/connection';
import {
  RedisEventTransport,
  RedisResultTransport,
  RedisRpcTransport,
  TouchedKeys,
  context,
  eventOptions,
  quietLogger,
  rawRedis,
  redisConfig,
  resultOptions,
  rpcOptions,
  uniqueId,
} from './helpers';
import { schemaKey, transport } from '@lightbus/redis';

/** 10 minutes, in ms; the replacement of BLOCK_MS (a literal: jest.mock factories are hoisted). */
const LONG_BLOCK_MS = 600_000;

jest.mock('../src/blocking', () => ({
  ...jest.requireActual<typeof import('../src/blocking')>('../src/blocking'),
  BLOCK_MS: 600_000,
}));

const raw = rawRedis();
const keys = new TouchedKeys();

/** Every command sent by the transports, with Redis's reply. */
const sent: Array<{ command: Command; reply: Promise<Reply> }> = [];
const send = RedisConnection.prototype.send;
beforeEach(() => {
  jest.spyOn(RedisConnection.prototype, 'send').mockImplementation(function (this: RedisConnection, command: Command) {
    const reply = send.call(this, command);
    reply.catch(() => undefined);
    sent.push({ command, reply });
    return reply;
  });
});

afterEach(async () => {
  jest.restoreAllMocks();
  sent.length = 0;
  await keys.cleanup(raw);
});

afterAll(async () => {
  await raw.quit();
});

interface Client {
  readonly id: string;
  readonly name: string;
  readonly cmd: string;
  readonly flags: string;
}

/** CLIENT LIST entries whose name starts with `prefix`. */
async function clientsNamed(prefix: string): Promise<Client[]> {
  const list = String(await raw.client('LIST'));
  return list
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(
      (line) =>
        Object.fromEntries(
          line
            .trim()
            .split(' ')
            .map((field) => field.split(/=(.*)/s).slice(0, 2)),
        ) as Record<string, string>,
    )
    .filter((fields) => (fields.name ?? '').startsWith(prefix))
    .map((fields) => ({ id: fields.id!, name: fields.name!, cmd: fields.cmd!, flags: fields.flags! }));
}

/** Wait until Redis reports each of `names` blocked (flag b) in `cmd`; their clients. */
async function blockedIn(prefix: string, expected: ReadonlyArray<{ name: string; cmd: string }>): Promise<Client[]> {
  return waitFor(
    async () => {
      const clients = await clientsNamed(prefix);
      const blocked = expected.map(({ name, cmd }) =>
        clients.find((c) => c.name === `${prefix}${name}` && c.cmd === cmd && c.flags.includes('b')),
      );
      return blocked.every((c) => c !== undefined) ? (blocked as Client[]) : undefined;
    },
    {
      message: `Redis to report ${expected.map((e) => `${prefix}${e.name} blocked in ${e.cmd}`).join(', ')}; CLIENT LIST: ${prefix}...`,
    },
  );
}

/** The replies Redis gave to CLIENT UNBLOCK <id>. */
async function unblockRepliesFor(id: string): Promise<Reply[]> {
  const unblocks = sent.filter(
    ({ command }) => command[0] === 'CLIENT' && command[1] === 'UNBLOCK' && String(command[2]) === id,
  );
  return Promise.all(unblocks.map(({ reply }) => reply.catch((error: unknown) => String(error))));
}

/** How long each blocking read sent would block, in ms (BLPOP in s, XREADGROUP BLOCK in ms). */
function blockTimesMs(): number[] {
  return sent.flatMap(({ command }) => {
    if (command[0] === 'BLPOP' || command[0] === 'BLMOVE') return [Number(command[command.length - 1]) * 1000];
    if (command[0] === 'XREADGROUP' && command.includes('BLOCK'))
      return [Number(command[command.indexOf('BLOCK') + 1])];
    return [];
  });
}

function call(apiName: string): OutgoingCall {
  return { id: newMessageId(), apiName, procedureName: 'p', kwargs: {}, deadline: Date.now() + 60_000 };
}

/** A role started so that it blocks in Redis: its blocking connection, the command it blocks in, how to close it. */
interface BlockedRole {
  readonly connection: string;
  readonly cmd: 'blpop' | 'blmove' | 'xreadgroup';
  close(): Promise<void>;
  readonly consumer?: Consumer;
}

/** Start one role of process `processName` of `service`, so that it blocks in Redis. */
async function startRole(
  role: 'worker' | 'results' | 'listener',
  service: string,
  processName: string,
  api: string,
): Promise<BlockedRole> {
  const ctx = context(service, processName);
  switch (role) {
    case 'worker': {
      const rpc = new RedisRpcTransport(rpcOptions(), ctx);
      const consumer = await rpc.consumeRpcs([api], async () => undefined);
      return { connection: 'rpc-consumer', cmd: 'blmove', close: () => rpc.close(), consumer };
    }
    case 'results': {
      const result = new RedisResultTransport(resultOptions(), ctx);
      keys.add(result.resultKey);
      const pending = await result.expectResult(call(api));
      void pending.result.catch(() => undefined); // rejected with BusClosedError by close()
      return { connection: 'result-reader', cmd: 'blpop', close: () => result.close() };
    }
    case 'listener': {
      // No reclaim due for an hour: the read blocks for the whole BLOCK_MS.
      const events = new RedisEventTransport(eventOptions({ acknowledgement_timeout: 3600 }), ctx);
      const group = `${service}-l`;
      const consumer = await events.consume(
        { events: [{ apiName: api, eventName: 'e' }], group, consumer: processName },
        async () => undefined,
      );
      return { connection: `listener:${group}`, cmd: 'xreadgroup', close: () => events.close(), consumer };
    }
  }
}

/**
 * With the reads of `expected` (connections named `<prefix><name>`) started:
 * wait until Redis reports each blocked, call `close`, and check that each
 * read was released by CLIENT UNBLOCK and that nothing named `<prefix>...` is
 * left on Redis once close() resolved.
 */
async function closeWhileBlocked(
  prefix: string,
  expected: ReadonlyArray<{ name: string; cmd: string }>,
  close: () => Promise<unknown>,
): Promise<void> {
  let blocked: Client[];
  try {
    blocked = await blockedIn(prefix, expected);
    // Every read sent (one per role, or more after a call or a result) would block for 10 minutes.
    const blockTimes = blockTimesMs();
    expect(blockTimes.length).toBeGreaterThanOrEqual(expected.length);
    expect(blockTimes.filter((ms) => ms !== LONG_BLOCK_MS)).toEqual([]);
  } catch (error) {
    await close();
    throw error;
  }

  // A close() that waited out a block would not resolve before jest's timeout.
  await close();

  for (const client of blocked) {
    // 1: Redis unblocked that client (it was blocked in its read), rather than the read timing out or its socket being dropped.
    expect({ client: client.name, replies: await unblockRepliesFor(client.id) }).toEqual({
      client: client.name,
      replies: expect.arrayContaining([1]),
    });
  }
  expect(await clientsNamed(prefix)).toEqual([]);
}

const ROLES = ['worker', 'results', 'listener'] as const;

/** Start `which` roles in one process, and close them all while they are blocked. */
async function closeRolesWhileBlocked(which: ReadonlyArray<(typeof ROLES)[number]>): Promise<void> {
  const service = `close-${uniqueId()}`;
  const api = `close${uniqueId()}.api`;
  keys.api(api);
  const started = await Promise.all(which.map((role) => startRole(role, service, 'p', api)));
  await closeWhileBlocked(
    `lightbus:${service}:p:`,
    started.map((role) => ({ name: role.connection, cmd: role.cmd })),
    () => Promise.all(started.map((role) => role.close())),
  );
  // Stopping a consumer close() already stopped is harmless.
  await Promise.all(started.map((role) => role.consumer?.stop()));
}

it.each([
  ['a worker (BLMOVE from its call queue)', 'worker'],
  ['a result reader (BLPOP of its result list)', 'results'],
  ['a listener (XREADGROUP BLOCK)', 'listener'],
] as const)(
  'close() of %s blocked in Redis releases the read with CLIENT UNBLOCK, without waiting out its 10-minute block',
  async (_label, role) => {
    await closeRolesWhileBlocked([role]);
  },
);

it('close() of a worker, a result reader and a listener of one process, all blocked in Redis at once, releases every read and leaves no connection of the process', async () => {
  await closeRolesWhileBlocked(ROLES);
});

it('bus.close() while the bus serves calls, waits for results and listens, all blocked in Redis, releases every read and leaves no connection', async () => {
  const service = `close-${uniqueId()}`;
  const api = `close${uniqueId()}.echo`;
  keys.api(api);
  keys.add(schemaKey(api));
  keys.schemaNames.add(api);
  class EchoApi extends Api {
    static override meta = { name: api };
    said = new Event({ parameters: ['text'] });
    echo({ text }: { text: string }) {
      return text;
    }
  }
  const bus = lightbus.create({
    config: redisConfig({ service, process: 'p' }, { event: { acknowledgement_timeout: 3600 } }),
    logger: quietLogger,
    transports: [transport],
  });
  bus.client.registerApi(new EchoApi());
  bus.client.listen([api, 'said'], () => undefined, { listenerName: 'hear' });
  try {
    await bus.start();
    // After its first result the result reader waits in BLPOP again.
    expect(await bus.client.callRpc(api, 'echo', { text: 'hi' })).toBe('hi');
  } catch (error) {
    await bus.close();
    throw error;
  }
  await closeWhileBlocked(
    `lightbus:${service}:p:`,
    [
      { name: 'rpc-consumer', cmd: 'blmove' },
      { name: 'result-reader', cmd: 'blpop' },
      { name: `listener:${service}-hear`, cmd: 'xreadgroup' },
    ],
    () => bus.close(),
  );
});
