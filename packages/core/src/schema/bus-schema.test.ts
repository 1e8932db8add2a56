import { Collector, waitFor } from '@lightbus/testing';
import {
  Api,
  EncodingError,
  Event,
  RemoteError,
  Type,
  ValidationError,
  Wire,
  procedure,
  type EventMessage,
  type LightbusConfigInput,
  type Params,
} from '..';
import { UnknownApiError } from '../errors';
import { memoryBroker } from '../transport';
import { busFactory, memoryConfig, RecordingLogger } from '../test-helpers';
import { registerTestSdk } from '../../../../test/otel-sdk';

const Invoice = Type.Object({
  id: Type.Integer(),
  issued: Wire.Date(),
  amount: Wire.BigInt(),
  pdf: Wire.Bytes(),
  tags: Wire.Set(Type.String()),
  lines: Wire.Map(Type.Integer()),
});

class BillingApi extends Api {
  static override meta = { name: 'billing' };

  invoiceSent = new Event({
    parameters: Type.Object({
      id: Type.Integer(),
      at: Wire.Date(),
      channel: Type.Optional(Type.String({ default: 'email' })),
    }),
  });

  create = procedure(
    { parameters: Type.Object({ customer: Type.String({ minLength: 1 }), due: Wire.Date() }), response: Invoice },
    ({ customer, due }) => ({
      id: customer.length,
      issued: due,
      amount: 12345678901234567890n,
      pdf: Buffer.from('%PDF'),
      tags: new Set(['new']),
      lines: new Map([['widget', 2]]),
    }),
  );

  broken = procedure(
    { parameters: Type.Object({}), response: Type.Integer() },
    () => 'not a number' as unknown as number,
  );

  seen: unknown[] = [];
  typeOfDue = procedure({ parameters: Type.Object({ due: Wire.Date() }), response: Type.String() }, ({ due }) => {
    this.seen.push(due);
    return due instanceof Date ? 'Date' : typeof due;
  });

  legacy(params: { cb?: unknown }) {
    return params;
  }
}

const buses = busFactory();
afterEach(() => buses.closeAll());

async function setup(extra: LightbusConfigInput = {}, clientExtra: LightbusConfigInput = {}) {
  const config = memoryConfig(undefined, extra);
  const api = new BillingApi();
  const worker = buses.make({ config });
  worker.client.registerApi(api);
  await worker.start();
  const client = buses.make({
    config: { ...config, apis: { ...config.apis, default: { ...config.apis!.default, ...clientExtra.apis?.default } } },
  });
  const broker = (config.bus!.schema!.transport as { memory: { name: string } }).memory.name;
  return { worker, client, api, config, broker };
}

describe('typed procedures across buses', () => {
  it('converts Date, bigint, Buffer, Set and Map both ways', async () => {
    const { client, api } = await setup();
    const due = new Date('2026-12-01T00:00:00.000Z');
    const invoice = await client.api(BillingApi).create({ customer: 'acme', due });
    expect(invoice).toEqual({
      id: 4,
      issued: due,
      amount: 12345678901234567890n,
      pdf: Buffer.from('%PDF'),
      tags: new Set(['new']),
      lines: new Map([['widget', 2]]),
    });
    expect(await client.api(BillingApi).typeOfDue({ due })).toBe('Date');
    expect(api.seen[0]).toEqual(due);
  });

  it('leaves values as JSON with cast_values off', async () => {
    const { client } = await setup({}, { apis: { default: { cast_values: false } } });
    const invoice = (await client.billing.create({
      customer: 'acme',
      due: new Date('2026-12-01T00:00:00.000Z'),
    })) as Record<string, unknown>;
    expect(invoice).toMatchObject({
      issued: '2026-12-01T00:00:00.000Z',
      amount: '12345678901234567890',
      pdf: 'JVBERg==',
      tags: ['new'],
    });
  });

  it('checks outgoing parameters before anything is sent', async () => {
    const { client, worker } = await setup();
    let executed = 0;
    worker.client.on('beforeRpcExecution', () => void (executed += 1));
    const error = await client
      .api(BillingApi)
      .create({ customer: '', due: new Date() })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toBe(
      `Invalid parameters for billing.create(): 'customer' must NOT have fewer than 1 characters (got "").`,
    );
    expect(executed).toBe(0);
  });

  it('checks incoming parameters in the worker and answers with an error result', async () => {
    const { client } = await setup({}, { apis: { default: { validate: { outgoing: false, incoming: true } } } });
    const error = (await client.billing
      .create({ customer: 'acme', due: 'tomorrow' })
      .catch((e: unknown) => e)) as RemoteError;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.remoteType).toBe('ValidationError');
    expect(error.remoteMessage).toBe(
      `Invalid parameters for billing.create(): 'due' must match format "date-time" (got "tomorrow").`,
    );
  });

  it('reports a result that breaks its schema, in the worker and in the caller, and delivers it: the procedure has run', async () => {
    const config = memoryConfig();
    const workerLog = new RecordingLogger();
    const callerLog = new RecordingLogger();
    const worker = buses.make({ config, logger: workerLog });
    worker.client.registerApi(new BillingApi());
    await worker.start();
    const client = buses.make({ config, logger: callerLog });
    await expect(client.api(BillingApi).broken({})).resolves.toBe('not a number');
    expect(workerLog.messages('warn').join('\n')).toMatch(
      /Invalid result of billing\.broken\(\): must be integer \(got "not a number"\)\. The procedure has already run/,
    );
    expect(callerLog.messages('warn').join('\n')).toMatch(
      /Invalid result from billing\.broken\(\): must be integer .*The procedure has already run/,
    );
  });

  it('skips validation when validate is false', async () => {
    const { client } = await setup({}, { apis: { default: { validate: false } } });
    const error = await client.billing.create({ customer: '', due: 'x' }).catch((e: unknown) => e);
    // The worker still validates what it receives (its own config validates).
    expect((error as RemoteError).remoteType).toBe('ValidationError');
  });

  it('refuses a value JSON cannot carry before sending, naming where', async () => {
    const { client } = await setup();
    await expect(client.billing.legacy({ cb: () => 1 })).rejects.toThrow(EncodingError);
    await expect(client.billing.legacy({ cb: () => 1 })).rejects.toThrow(
      /Cannot send the parameters of billing\.legacy\(\): 'cb' is a function/,
    );
  });
});

describe('typed events', () => {
  it('fills defaults, converts, validates, and casts for the listener', async () => {
    const { worker, client } = await setup();
    const got = new Collector<[Record<string, unknown>, EventMessage]>();
    client
      .api(BillingApi)
      .invoiceSent.listen((params, message) => got.push([params, message]), { listenerName: 'typed' });
    await client.start();
    const at = new Date('2026-11-23T12:00:00.000Z');
    await worker.api(BillingApi).invoiceSent.fire({ id: 1, at });
    const [params] = (await got.waitForCount(1))[0]!;
    expect(params).toEqual({ id: 1, at, channel: 'email' });
  });

  it('refuses an invalid event before firing', async () => {
    const { worker } = await setup();
    await expect(worker.billing.invoiceSent.fire({ id: 1.5, at: new Date() })).rejects.toThrow(
      `Invalid parameters for event billing.invoiceSent: 'id' must be integer (got 1.5).`,
    );
  });

  it('sets an invalid incoming event aside with its id, counts it as invalid, and goes on', async () => {
    const { worker, broker, config } = await setup({
      apis: { default: { validate: { outgoing: false, incoming: true } } },
    });
    const sdk = registerTestSdk(); // before the listener's bus: its instruments come from this SDK
    try {
      const logger = new RecordingLogger();
      const listener = buses.make({ config, logger });
      const got = new Collector<unknown>();
      listener.billing.invoiceSent.listen((params: Params) => got.push(params.id), { listenerName: 'strict-reader' });
      await listener.start();
      await worker.client.fireEvent('billing', 'invoiceSent', { id: 'one', at: '2026-01-01T00:00:00Z' });
      await worker.client.fireEvent('billing', 'invoiceSent', { id: 2, at: '2026-01-01T00:00:00Z' });
      expect(await got.waitForCount(1)).toEqual([2]);
      const dead = memoryBroker(broker).deadLetters;
      await waitFor(() => dead.length === 1);
      expect(dead[0]!.reason).toMatch(/'id' must be integer \(got "one"\)/);
      const counted = await sdk.metric('lightbus.events.dead_lettered');
      expect(
        counted.map((p) => [p.attributes['lightbus.dead_letter.reason'], p.attributes['lightbus.event'], p.value]),
      ).toEqual([['invalid', 'invoiceSent', 1]]);
      expect(
        logger
          .messages('error')
          .some((m) => /^Event [0-9a-f-]+ set aside: Invalid parameters for event billing\.invoiceSent/.test(m)),
      ).toBe(true);
    } finally {
      await buses.closeAll();
      await sdk.shutdown();
    }
  });
});

describe('schemas on the bus', () => {
  it('stores the schemas of registered APIs when the worker starts; clients load them', async () => {
    const { client } = await setup();
    await client.client.schemas.load();
    const schema = client.client.schemas.get('billing')!;
    expect(Object.keys(schema.rpcs).sort()).toEqual(['broken', 'create', 'legacy', 'typeOfDue']);
    expect(Object.keys(schema.events)).toEqual(['invoiceSent']);
  });

  it('makes a missing schema an error under strict_validation', async () => {
    const client = buses.make({ config: memoryConfig(undefined, { apis: { default: { strict_validation: true } } }) });
    await expect(client.nobody.here({})).rejects.toThrow(UnknownApiError);
    await expect(client.nobody.here({})).rejects.toThrow(
      /No schema is known for API 'nobody' and strict_validation is on/,
    );
  });

  it('refreshes stored schemas while the worker runs, and forgets them after it stops', async () => {
    const { worker, broker, config } = await setup({ bus: { schema: { ttl: 1 } } });
    const stored = () => memoryBroker(broker).schemas.get('billing')?.expiresAt ?? 0;
    // The worker stores it again before it expires (every ttl * 0.8 s).
    const first = stored();
    await waitFor(() => stored() > first, { timeout: 5000, message: 'the worker to refresh its schema' });
    expect(stored()).toBeGreaterThan(Date.now());
    await worker.close();
    const reader = buses.make({ config });
    await waitFor(
      async () => {
        await reader.client.schemas.load();
        return reader.client.schemas.get('billing') === undefined;
      },
      { timeout: 5000, interval: 100 },
    );
  });

  it('loads schemas from files for validation without storing them', async () => {
    const client = buses.make({ config: memoryConfig() });
    client.client.schemas.addFromFiles({
      'remote.api': {
        rpcs: {
          go: {
            parameters: {
              type: 'object',
              properties: { n: { type: 'integer' } },
              required: ['n'],
              additionalProperties: false,
            },
            response: {},
          },
        },
        events: {},
      },
    });
    await expect(client.remote.api.go({ n: 'x' })).rejects.toThrow(
      `Invalid parameters for remote.api.go(): 'n' must be integer (got "x").`,
    );
    await expect(client.remote.api.stop({})).rejects.toThrow(/has no procedure 'stop' \(per its schema\)/);
  });
});
