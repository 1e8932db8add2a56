/**
 * Failure and shutdown across real processes (children running the built
 * packages; `npm test` builds first), as far as they are Redis's own; the
 * scenarios every transport shares are in bus-tier.test.ts.
 */
import path from 'node:path';
import { startTypeScript, waitFor } from '@lightbus/testing';
import { REDIS_URL, redisTestKit, uniqueId } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures');
const { raw, keys } = redisTestKit();

// Another consumer taking over a killed one's events: the bus-level tier (bus-tier.test.ts). Here, what is Redis's own:
// which entries a killed consumer leaves pending in its group.
it('a consumer killed mid-batch (SIGKILL): the events it handled were acknowledged one by one; the rest stay pending, owned by it', async () => {
  const api = `kill${uniqueId()}.clock`;
  const service = `svc-${uniqueId()}`;
  keys.api(api);
  const stream = `${api}.*:stream`;
  const group = `${service}-ticks`;
  const child = startTypeScript(path.join(FIXTURES, 'stuck-listener.ts'), {
    env: { REDIS_URL, API: api, SERVICE: service, PROCESS: 'doomed', STUCK_AT: '4' },
  });
  try {
    await child.waitForOutput('ready');
    // 20 events at once (one transaction), so the listener's first read takes a full batch of 10.
    const ids = Array.from({ length: 20 }, (_, i) => `tick-${i}`);
    const fire = raw.multi();
    ids.forEach((id, i) =>
      fire.xadd(stream, '*', 'id', id, 'api_name', api, 'event_name', 'tick', 'version', '1', ':i', String(i)),
    );
    await fire.exec();
    await child.waitForOutput('stuck');
    // Each event is acknowledged as soon as its own handler finished: 0 to 3 are, 4 (in progress) and the
    // 5 not started are still pending.
    const pendingIds = async (): Promise<string[]> =>
      ((await raw.xpending(stream, group, '-', '+', 100)) as Array<[string, string, number, number]>).map((p) => p[0]);
    const all = (await raw.xrange(stream, '-', '+')).map(([entryId]) => entryId);
    await waitFor(async () => (await pendingIds()).length === 6, { message: 'events 0 to 3 to be acknowledged' });
    child.kill('SIGKILL');
    expect((await child.exit).signal).toBe('SIGKILL');
    expect(await pendingIds()).toEqual(all.slice(4, 10));
    const pending = (await raw.xpending(stream, group, '-', '+', 100)) as Array<[string, string, number, number]>;
    expect(new Set(pending.map((p) => p[1]))).toEqual(new Set(['doomed']));
    expect(child.output()).toMatch(/handled 0\nhandled 1\nhandled 2\nhandled 3\nhandled 4\nstuck/);
  } finally {
    child.kill('SIGKILL');
  }
});

it('closing the bus ends every blocking read at once and releases everything: the process exits by itself', async () => {
  const api = `close${uniqueId()}.echo`;
  keys.api(api);
  const service = `svc-${uniqueId()}`;
  const child = startTypeScript(path.join(FIXTURES, 'close-exits.ts'), {
    env: { REDIS_URL, API: api, SERVICE: service },
  });
  const { code, signal } = await child.exit;
  const output = child.output();
  expect({ code, signal, output }).toMatchObject({ code: 0, signal: null });
  expect(output).toContain('echo: hi');
  expect(output).toContain('open after close: []');
  // The result list of the process is gone (empty lists vanish); no connection of it is left on Redis.
  const clients = await raw.client('LIST');
  expect(String(clients)).not.toContain(`lightbus:${service}:`);
});

it('closing while consumers start, run, or wait for an unreachable Redis leaves nothing running: the process exits by itself', async () => {
  const api = `starting${uniqueId()}.demo`;
  keys.api(api);
  const service = `svc-${uniqueId()}`;
  const unreachable = 'redis://:s3cret-pw@127.0.0.1:1/0';
  const child = startTypeScript(path.join(FIXTURES, 'close-while-starting.ts'), {
    env: { REDIS_URL, UNREACHABLE_URL: unreachable, API: api, SERVICE: service },
  });
  const { code, signal } = await child.exit;
  const output = child.output();
  expect({ code, signal, output }).toMatchObject({ code: 0, signal: null });
  expect(output).toContain('done');
  // Closed before or while starting: a clear "closed" error, or a consumer that was then stopped; never anything else.
  for (const round of ['same-tick', 'next-tick', 'a-few-ticks', 'started', 'waiting-for-redis']) {
    const failures = JSON.parse(new RegExp(`${round}: closed; failures: (.*)`).exec(output)![1]!) as string[];
    for (const failure of failures) expect(failure).toMatch(/^BusClosedError: /);
  }
  expect(output).toContain('started: closed; failures: []');
  // Unreachable: each consumer fails on its own with the url, its password hidden; no warning about piling listeners.
  const failures = JSON.parse(/unreachable: closed; failures: (.*)/.exec(output)![1]!) as string[];
  expect(failures).toHaveLength(2);
  for (const failure of failures) {
    expect(failure).toMatch(
      /^BrokerConnectionError: .*cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0 \(connect ECONNREFUSED/,
    );
  }
  expect(output).not.toContain('s3cret-pw');
  expect(output).not.toContain('process warning');
  expect(String(await raw.client('LIST'))).not.toContain(`lightbus:${service}:`);
});
