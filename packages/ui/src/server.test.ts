/** The UI server without a browser, on the memory transport: who may use it, validation, paging. */
import http from 'node:http';
import lightbus, { Api, Event, MessageRejectedError, Type, procedure, type Bus } from '@lightbus/core';
import { resetMemoryBroker } from '@lightbus/core/transport';
import { untilTime, waitFor } from '@lightbus/testing';
import { startUi, UiOptionsError, type UiServer } from './index';

class ThingApi extends Api {
  static override meta = { name: 'things.store' };
  added = new Event({ parameters: Type.Object({ id: Type.Integer() }) });
  get = procedure(
    { parameters: Type.Object({ id: Type.Integer({ minimum: 1 }) }), response: Type.String() },
    async ({ id }) => `thing ${id}`,
  );
}

let worker: Bus;
const servers: UiServer[] = [];

beforeEach(async () => {
  resetMemoryBroker();
  worker = lightbus.create({ logLevel: 'critical' });
  worker.client.registerApi(new ThingApi());
  for (let i = 0; i < 30; i++) {
    const name = `many.api${String(i).padStart(2, '0')}`;
    worker.client.registerApi(
      new (class extends Api {
        static override meta = { name };
      })(),
    );
  }
  await worker.start();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await worker.close();
});

async function serve(token?: string): Promise<UiServer> {
  const server = await startUi({
    bus: lightbus.create({ logLevel: 'critical' }),
    port: 0,
    ...(token ? { token } : {}),
  });
  servers.push(server);
  return server;
}

it('refuses to bind beyond localhost without a token, naming the fix', async () => {
  const bus = lightbus.create({ logLevel: 'critical' });
  try {
    await expect(startUi({ bus, host: '0.0.0.0', port: 0 })).rejects.toThrow(UiOptionsError);
    await expect(startUi({ bus, host: '0.0.0.0', port: 0 })).rejects.toThrow(/--token .*LIGHTBUS_UI_TOKEN/);
  } finally {
    await bus.close();
  }
});

it('with a token, refuses every request without it and accepts the bearer header or the cookie set from ?token=', async () => {
  const ui = await serve('s3cret');
  expect((await fetch(`${ui.url}api/services`)).status).toBe(401);
  expect((await fetch(`${ui.url}api/services`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  expect((await fetch(`${ui.url}api/services`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
  const opened = await fetch(`${ui.url}?token=s3cret`, { redirect: 'manual' });
  expect(opened.status).toBe(303);
  expect(opened.headers.get('location')).toBe('/');
  const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
  expect(opened.headers.get('set-cookie')).toContain('HttpOnly');
  expect((await fetch(`${ui.url}api/services`, { headers: { cookie } })).status).toBe(200);
});

it('on localhost without a token, refuses a request naming another host (DNS rebinding)', async () => {
  const ui = await serve();
  expect((await fetch(`${ui.url}api/services`)).status).toBe(200);
  // fetch() will not send another Host header; node:http will.
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const request = http.get(`${ui.url}api/services`, { headers: { host: 'attacker.example' } }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', reject);
  });
  expect(status).toBe(401);
});

it('pages the APIs list and filters it by name', async () => {
  const ui = await serve();
  const page = (await (await fetch(`${ui.url}api/apis?q=many.&offset=25&limit=10`)).json()) as {
    total: number;
    items: { name: string }[];
  };
  expect(page.total).toBe(30);
  expect(page.items.map((i) => i.name)).toEqual(['many.api25', 'many.api26', 'many.api27', 'many.api28', 'many.api29']);
});

it('validates parameters against the API schema before calling, and calls when they are right', async () => {
  const ui = await serve();
  const post = async (body: unknown): Promise<Record<string, unknown>> =>
    (await (
      await fetch(`${ui.url}api/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, unknown>;
  expect(await post({ api: 'things.store', procedure: 'get', params: { id: 0 } })).toMatchObject({
    ok: false,
    kind: 'invalid',
    problems: [{ path: '/id', message: 'id must be >= 1' }],
  });
  expect(await post({ api: 'things.store', procedure: 'get', params: { id: 3 } })).toMatchObject({
    ok: true,
    result: 'thing 3',
  });
  // A form post from another site cannot send JSON: refused.
  const form = await fetch(`${ui.url}api/call`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: '{}',
  });
  expect(form.status).toBe(415);
});

it('reads history a page at a time, newest first', async () => {
  const ui = await serve();
  for (let id = 1; id <= 3; id++) {
    await worker.client.fireEvent('things.store', 'added', { id });
    await untilTime(Date.now() + 2); // distinct times: pages are cut by time
  }
  type HistoryPage = { supported: boolean; items: { kwargs: { id: number } }[]; next?: string };
  const first = (await (await fetch(`${ui.url}api/events/history?api=things.store&limit=2`)).json()) as HistoryPage;
  expect(first.supported).toBe(true);
  expect(first.items.map((e) => e.kwargs.id)).toEqual([3, 2]);
  const second = (await (
    await fetch(`${ui.url}api/events/history?api=things.store&limit=2&before=${encodeURIComponent(first.next!)}`)
  ).json()) as HistoryPage;
  expect(second.items.map((e) => e.kwargs.id)).toEqual([1]);
  expect(second.next).toBeUndefined();
});

it('lists dead letters, replays one only when confirmed, and the fixed handler gets it', async () => {
  let fixed = false;
  const handled: number[] = [];
  worker.client.listen(
    ['things.store', 'added'],
    ({ id }) => {
      if (!fixed) throw new MessageRejectedError(`thing ${String(id)} is not ready`);
      handled.push(id as number);
    },
    { listenerName: 'picky' },
  );
  await worker.client.fireEvent('things.store', 'added', { id: 9 });
  const ui = await serve();
  type Listed = { supported: boolean; entries: { id: string; reason: string; group?: string }[] };
  const list = async (): Promise<Listed> =>
    (await (await fetch(`${ui.url}api/deadletters?api=things.store`)).json()) as Listed;
  const letters = await waitFor(
    async () => ((await list()).entries.length === 1 ? (await list()).entries : undefined),
    {
      timeout: 5000,
      message: 'the rejected event set aside',
    },
  );
  expect(letters[0]).toMatchObject({
    reason: expect.stringContaining('thing 9 is not ready'),
    group: `${worker.client.serviceName}-picky`,
  });
  const replay = (body: unknown): Promise<Response> =>
    fetch(`${ui.url}api/deadletters/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  expect((await replay({ id: letters[0]!.id })).status).toBe(400); // not confirmed: nothing done
  expect((await list()).entries).toHaveLength(1);
  fixed = true;
  expect(await (await replay({ id: letters[0]!.id, confirm: true })).json()).toEqual({ ok: true, count: 1 });
  await waitFor(() => handled.includes(9), { timeout: 5000, message: 'the replayed event handled' });
  expect((await list()).entries).toEqual([]);
});
