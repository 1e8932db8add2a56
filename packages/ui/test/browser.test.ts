/**
 * The management UI in headless Chromium (Debian's /usr/bin/chromium through playwright-core),
 * against a real worker on Redis and on RabbitMQ: the service is listed, a procedure is called
 * through its generated form, an event fired through its form shows in the live tail, and a
 * consumer group's lag rises while its listener is held and falls once it is released; a dead
 * letter is listed and replayed to its listener.
 * Screenshots of each page: into docs/images/ui/ with UPDATE_SCREENSHOTS=1 (the docs' pictures),
 * else into .lightbus-test/ui/.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import lightbus, { Api, Event, MessageRejectedError, Type, procedure, type Bus } from '@lightbus/core';
import { transport as redisTransport } from '@lightbus/redis';
import { transport as amqpTransport } from '@lightbus/amqp';
import { waitFor } from '@lightbus/testing';
import { startUi, type UiServer } from '@lightbus/ui';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AMQP_URL, TestNamespace, listExchanges, listQueues } from '../../amqp/test/helpers';

const run = promisify(execFile);
const CHROMIUM = process.env.LIGHTBUS_CHROMIUM ?? '/usr/bin/chromium';
const REDIS_URL = 'redis://127.0.0.1:6379/13';
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? path.join(__dirname, '..', '..', '..', 'docs', 'images', 'ui')
  : path.join(__dirname, '..', '..', '..', '.lightbus-test', 'ui');

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set LIGHTBUS_CHROMIUM.`,
    );
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
});

interface Setup {
  readonly config: (service: string) => Record<string, unknown>;
  /** Whether the broker lists its groups (else the UI watches one by name). */
  readonly listsGroups: boolean;
  readonly transport: typeof redisTransport;
  readonly cleanup: (run: string) => Promise<void>;
  readonly screenshots: boolean;
  /** Whether the event transport keeps history. */
  readonly history: boolean;
  /** The consumer groups (queues on RabbitMQ) of the live tail of the UI whose service is `ui-<run>`. */
  readonly tailGroups: (run: string) => Promise<string[]>;
}

const redisCli = (...args: string[]): Promise<{ stdout: string }> => run('redis-cli', ['-n', '13', ...args]);

const amqpNs = new TestNamespace('ui');

const SETUPS: Record<string, Setup> = {
  redis: {
    config: (service) => {
      const role = { redis: { url: REDIS_URL } };
      // A replayed dead letter is pending again for its group and delivered by the group's next reclaim pass.
      const events = { redis: { url: REDIS_URL, reclaim_interval: 0.5 } };
      return {
        service_name: service,
        bus: { schema: { transport: role } },
        apis: { default: { rpc_transport: role, result_transport: role, event_transport: events } },
        plugins: { internal_state: { enabled: true, ping_interval: 1 } },
      };
    },
    listsGroups: true,
    history: true,
    transport: redisTransport,
    screenshots: true,
    tailGroups: async (id) => {
      const streams = [`uitest${id}*:stream`, 'internal.*:stream'];
      const found: string[] = [];
      for (const pattern of streams) {
        for (const stream of (await redisCli('--scan', '--pattern', pattern)).stdout.split('\n').filter(Boolean)) {
          const groups = (await redisCli('XINFO', 'GROUPS', stream)).stdout.split('\n');
          found.push(...groups.map((g) => g.trim()).filter((g) => g.startsWith(`ui-${id}-live-tail-`)));
        }
      }
      return found;
    },
    cleanup: async (id) => {
      const cli = (...args: string[]): Promise<{ stdout: string }> => run('redis-cli', ['-n', '13', ...args]);
      const scan = async (pattern: string): Promise<string[]> =>
        (await cli('--scan', '--pattern', pattern)).stdout.split('\n').filter(Boolean);
      for (const key of await scan(`*${id}*`)) await cli('DEL', key);
      const schemas = (await cli('SMEMBERS', 'schemas')).stdout.split('\n').filter((api) => api.includes(id));
      for (const api of schemas) await cli('SREM', 'schemas', api.trim());
      // This run's UI also joined the streams of APIs other runs left in the schema store (and the state stream):
      // leave their groups, and remove a stream no group reads any more.
      for (const stream of [...(await scan('internal.*')), ...(await scan('uitest*:stream'))]) {
        const groups = (await cli('XINFO', 'GROUPS', stream).catch(() => ({ stdout: '' }))).stdout.split('\n');
        for (const group of groups.filter((g) => g.includes(id))) await cli('XGROUP', 'DESTROY', stream, group.trim());
        const left = (await cli('XINFO', 'GROUPS', stream).catch(() => ({ stdout: '' }))).stdout.trim();
        if (left === '') await cli('DEL', stream, ...(stream.startsWith('internal.') ? ['schema:internal.state'] : []));
      }
    },
  },
  amqp: {
    config: (service) => {
      const role = { amqp: { url: AMQP_URL, prefix: amqpNs.prefix } };
      return {
        service_name: service,
        bus: { schema: { transport: role } },
        apis: {
          default: {
            rpc_transport: role,
            result_transport: role,
            event_transport: { amqp: { url: AMQP_URL, prefix: amqpNs.prefix, prefetch: 1 } },
          },
        },
        plugins: { internal_state: { enabled: true, ping_interval: 1 } },
      };
    },
    listsGroups: false,
    history: false,
    transport: amqpTransport,
    screenshots: false,
    tailGroups: async (id) =>
      (await listQueues(amqpNs.prefix)).map((q) => q.name).filter((q) => q.includes(`.group.ui-${id}-live-tail-`)),
    cleanup: async () => {
      (await listQueues(amqpNs.prefix)).forEach((q) => amqpNs.queues.add(q.name));
      (await listExchanges(amqpNs.prefix)).forEach((e) => amqpNs.exchanges.add(e.name));
      await amqpNs.cleanup();
    },
  },
};

describe.each(Object.keys(SETUPS))('lightbus ui on %s', (name) => {
  const setup = SETUPS[name]!;
  const id = randomBytes(4).toString('hex');
  const apiName = `uitest${id}.shop`;
  const service = `shop-${id}`;
  let worker: Bus;
  let ui: UiServer;
  let page: Page;
  let release: () => void = () => undefined;
  let entered = 0;

  const shot = async (file: string): Promise<void> => {
    if (setup.screenshots) await page.screenshot({ path: path.join(SHOTS, file) });
  };

  beforeAll(async () => {
    class ShopApi extends Api {
      static override meta = { name: apiName };
      orderPlaced = new Event({
        parameters: Type.Object({
          order_id: Type.Integer({ description: 'Which order' }),
          item: Type.String(),
          gift: Type.Optional(Type.Boolean()),
        }),
      });
      add = procedure(
        {
          parameters: Type.Object({ a: Type.Integer({ description: 'First addend' }), b: Type.Integer() }),
          response: Type.Integer(),
        },
        async ({ a, b }) => a + b,
      );
      refund = procedure({ parameters: Type.Object({ order_id: Type.Integer() }), response: Type.Null() }, async () => {
        throw new RangeError('refund window closed');
      });
    }
    worker = lightbus.create({ config: setup.config(service), transports: [setup.transport], logLevel: 'critical' });
    worker.client.registerApi(new ShopApi());
    let held = new Promise<void>((resolve) => (release = resolve));
    worker.client.listen(
      [apiName, 'orderPlaced'],
      async () => {
        entered += 1;
        await held;
      },
      { listenerName: 'audit' },
    );
    release = ((resolve) => () => {
      resolve();
      held = Promise.resolve();
    })(release);
    await worker.start();
    const uiBus = lightbus.create({
      config: setup.config(`ui-${id}`),
      transports: [setup.transport],
      logLevel: 'critical',
    });
    ui = await startUi({ bus: uiBus, port: 0, schemaRefreshMs: 1000 });
    page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  });

  afterAll(async () => {
    release();
    await page?.close();
    await ui?.close();
    await worker?.close();
    await setup.cleanup(id);
  });

  it('lists the worker as an alive service with its API and listener', async () => {
    await page.goto(`${ui.url}#/services`);
    const row = page.locator(`tr[data-service="${service}"]`);
    await row.waitFor({ timeout: 10_000 });
    await expect(row.locator('.badge').textContent()).resolves.toBe('alive');
    await expect(row.textContent()).resolves.toContain(apiName);
    await expect(row.textContent()).resolves.toContain(`${apiName}.orderPlaced`);
    await shot('services.png');
  });

  it('calls a procedure through its form and shows the result, and a remote error with its type', async () => {
    await page.goto(`${ui.url}#/apis/${apiName}`);
    const add = page.getByTestId('procedure-add');
    await add.locator('summary').click();
    await add.locator('[data-param="a"]').fill('2');
    await add.locator('[data-param="b"]').fill('40');
    await add.getByTestId('submit-procedure-add').click();
    await expect(add.getByTestId('result').textContent({ timeout: 10_000 })).resolves.toBe('42');
    await expect(add.getByTestId('outcome').textContent()).resolves.toMatch(/in [\d.]+ ms/);

    const refund = page.getByTestId('procedure-refund');
    await refund.locator('summary').click();
    await refund.getByTestId('submit-procedure-refund').click();
    // Validated before sending: order_id is required.
    await expect(refund.getByTestId('outcome').textContent({ timeout: 10_000 })).resolves.toContain(
      "missing required parameter 'order_id'",
    );
    await refund.locator('[data-param="order_id"]').fill('7');
    await refund.getByTestId('submit-procedure-refund').click();
    await waitFor(async () => (await refund.getByTestId('outcome').textContent())?.includes('RangeError'), {
      timeout: 10_000,
      message: 'the remote RangeError shown',
    });
    await expect(refund.getByTestId('outcome').textContent()).resolves.toContain('refund window closed');
    await shot('apis.png');
  });

  it('fires an event through its form and shows it in the live tail', async () => {
    const tail = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    try {
      await tail.goto(`${ui.url}#/events`);
      await tail.getByTestId('tail-api').fill(apiName);
      await tail.getByTestId('tail-api').press('Enter');
      await page.goto(`${ui.url}#/apis/${apiName}`);
      const fire = page.getByTestId('event-orderPlaced');
      await fire.locator('summary').click();
      await fire.locator('[data-param="order_id"]').fill('1001');
      await fire.locator('[data-param="item"]').fill('teapot');
      await fire.getByTestId('submit-event-orderPlaced').click();
      await expect(fire.getByTestId('outcome').textContent({ timeout: 10_000 })).resolves.toContain('Fired');
      const seen = tail.locator(`[data-testid="tail"] li[data-event="${apiName}.orderPlaced"]`, { hasText: 'teapot' });
      await seen.waitFor({ timeout: 10_000 });
      await seen.locator('summary').click();
      await expect(seen.locator('pre').textContent()).resolves.toContain('"order_id": 1001');
      // History, where the transport keeps it (Redis streams; RabbitMQ only with stream: true).
      await tail.getByTestId('history-api').fill(apiName);
      await tail.getByTestId('history-api').press('Enter');
      await tail.getByTestId('history-load').click();
      if (setup.history) {
        await tail.locator('[data-testid="history"] li', { hasText: 'teapot' }).waitFor({ timeout: 10_000 });
      } else {
        await tail.locator('.notice', { hasText: 'keeps no history' }).waitFor({ timeout: 10_000 });
      }
      if (setup.screenshots) await tail.screenshot({ path: path.join(SHOTS, 'events.png'), fullPage: true });
    } finally {
      await tail.close();
    }
  });

  it("shows a consumer group's lag rise while its listener is held and fall once released", async () => {
    // The listener holds the first event; ten more wait behind it.
    await worker.client.fireEvent(apiName, 'orderPlaced', { order_id: 0, item: 'cup' });
    await waitFor(() => entered >= 1, { timeout: 10_000, message: 'the held listener entered' });
    for (let i = 0; i < 10; i++) {
      await worker.client.fireEvent(apiName, 'orderPlaced', { order_id: i, item: 'cup' });
    }
    await page.goto(`${ui.url}#/groups`);
    const card = page.getByTestId(`groups-${apiName}`);
    let lag: () => Promise<number>;
    if (setup.listsGroups) {
      const cell = card.locator(`tr[data-group="${service}-audit"] [data-testid="lag"]`);
      lag = async () => Number(await cell.textContent({ timeout: 10_000 }));
    } else {
      await card.getByTestId(`watch-${apiName}`).fill(`${service}-audit`);
      await card.getByRole('button', { name: 'Watch' }).click();
      const cell = card.getByTestId('watched-lag').locator('strong');
      lag = async () => Number(await cell.textContent({ timeout: 10_000 }));
    }
    await waitFor(async () => (await lag()) >= 5, { timeout: 15_000, message: 'a lag of 5 or more shown' });
    await shot('groups.png');
    release();
    await waitFor(async () => (await lag()) === 0, { timeout: 15_000, message: 'the lag back to 0' });
  });

  it('leaves no consumer group of its live tail behind once it stops (ephemeral)', async () => {
    expect(await setup.tailGroups(id)).not.toEqual([]);
    await ui.close();
    await waitFor(async () => (await setup.tailGroups(id)).length === 0, {
      timeout: 10_000,
      message: "the live tail's groups removed",
    });
  });
});

/**
 * Dead letters: an event its listener rejects is set aside; once the handler is fixed, Replay
 * (confirmed in a dialog) sends it back to that group and the handler gets it. In one process on
 * memory; on Redis and RabbitMQ against a worker with a bus of its own, as for the pages above.
 */
describe.each(['memory', ...Object.keys(SETUPS)])('dead letters in lightbus ui on %s', (name) => {
  const setup = SETUPS[name];
  const id = randomBytes(4).toString('hex');
  const apiName = `uidl${id}.mail`;
  const service = `mailer-${id}`;
  let worker: Bus;
  let ui: UiServer;
  let page: Page;
  let fixed = false;
  const handled: string[] = [];

  beforeAll(async () => {
    class MailApi extends Api {
      static override meta = { name: apiName };
      bounced = new Event({ parameters: Type.Object({ address: Type.String() }) });
    }
    worker = setup
      ? lightbus.create({ config: setup.config(service), transports: [setup.transport], logLevel: 'critical' })
      : lightbus.create({ config: { service_name: service }, logLevel: 'critical' });
    worker.client.registerApi(new MailApi());
    worker.client.listen(
      [apiName, 'bounced'],
      ({ address }) => {
        if (!fixed) throw new MessageRejectedError(`no mailbox for ${String(address)}`);
        handled.push(address as string);
      },
      { listenerName: 'notify' },
    );
    await worker.start();
    const uiBus = setup
      ? lightbus.create({ config: setup.config(`ui-${id}`), transports: [setup.transport], logLevel: 'critical' })
      : lightbus.create({ logLevel: 'critical' });
    ui = await startUi({ bus: uiBus, port: 0, schemaRefreshMs: 1000 });
    page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  });

  afterAll(async () => {
    await page?.close();
    await ui?.close();
    await worker?.close();
    await setup?.cleanup(id);
  });

  it('lists a rejected event with its reason, and replays it to the fixed handler once confirmed', async () => {
    await worker.client.fireEvent(apiName, 'bounced', { address: 'ann@example.com' });
    await page.goto(`${ui.url}#/deadletters`);
    await page.getByTestId('dl-api').fill(apiName);
    await page.getByTestId('dl-api').press('Enter');
    const row = page.locator('[data-testid="deadletters"] tr[data-letter]', {
      hasText: 'no mailbox for ann@example.com',
    });
    await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        return (await row.count()) === 1;
      },
      { timeout: 10_000, message: 'the dead letter listed' },
    );
    await expect(row.textContent()).resolves.toContain(`${service}-notify`);
    await row.locator('summary').click();
    await expect(row.locator('pre').textContent()).resolves.toContain('ann@example.com');
    if (name === 'memory') await page.screenshot({ path: path.join(SHOTS, 'deadletters.png') });

    fixed = true;
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByTestId('dl-replay').click();
    await expect(page.getByTestId('dl-note').textContent({ timeout: 10_000 })).resolves.toBe('Replayed 1 dead letter.');
    await waitFor(() => handled.includes('ann@example.com'), {
      timeout: 15_000,
      message: 'the replayed event handled',
    });
    expect(handled).toEqual(['ann@example.com']);
    await page.getByTestId('dl-empty').waitFor({ timeout: 10_000 });
  });
});
