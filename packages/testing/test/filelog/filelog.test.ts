/**
 * The example file-log transport (transport.ts, written from the docs with the
 * kit) through both conformance tiers, and across a restart: groups, replay,
 * history and delivery counts come back from the file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConsoleLogger, createRole, type EventMessage, type EventTransport } from '@lightbus/core/transport';
import { Collector } from '@lightbus/testing';
import { busConformance, transportConformance } from '@lightbus/testing/jest';
import { openLog, readRecords, releaseLog } from './log';
import { filelogCapabilities, transport } from './transport';

const folders: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-filelog-'));
  folders.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

/** Put a line the transport cannot decode on a stream, as a broken producer would. */
function injectMalformed(dir: string, api: string, eventName: string): void {
  const log = openLog(dir);
  log.append({ type: 'event', stream: `${api}.${eventName}`, time: Date.now(), payload: '{not json' });
  releaseLog(log);
}

/** The dead letters of (api, event) in the file. */
function deadLetters(dir: string, api: string, eventName: string): Array<{ id?: string; reason: string }> {
  return readRecords(dir).flatMap((r) =>
    r.type === 'dead' && r.stream === `${api}.${eventName}` ? [{ id: r.id, reason: r.reason }] : [],
  );
}

transportConformance({
  name: 'filelog (example)',
  capabilities: filelogCapabilities,
  canInjectMalformedEvents: true,
  deadLetterStore: false, // the example keeps its dead letters in a file it does not read back
  deliveryLimit: 2,
  patience: 5000,
  namespace: () => {
    const dir = freshDir();
    return {
      connect: (context) => ({
        rpc: createRole(transport, 'rpc', { dir }, context),
        result: createRole(transport, 'result', { dir }, context),
        event: createRole(transport, 'event', { dir, delivery_limit: 2 }, context),
        schema: createRole(transport, 'schema', { dir }, context),
      }),
      cleanup: async () => undefined,
      injectMalformedEvent: async (api, eventName) => injectMalformed(dir, api, eventName),
      deadLetters: async (api, eventName) => deadLetters(dir, api, eventName),
    };
  },
});

busConformance({
  name: 'filelog (example)',
  capabilities: filelogCapabilities,
  transports: [transport],
  readsDeadLetters: true,
  canInjectMalformedEvents: true,
  patience: 5000,
  namespace() {
    const dir = freshDir();
    const role = { filelog: { dir } };
    return {
      config: () => ({
        bus: { schema: { transport: role } },
        apis: { default: { rpc_transport: role, result_transport: role, event_transport: role } },
      }),
      injectMalformedEvent: async (api, eventName) => injectMalformed(dir, api, eventName),
      deadLetters: async (api, eventName) => deadLetters(dir, api, eventName),
      cleanup: async () => undefined,
    };
  },
});

describe('filelog (example): across a restart', () => {
  const context = { serviceName: 'restart', processName: 'p1', logger: new ConsoleLogger('critical') };
  const api = 'restart.api';
  const event = (n: number): EventMessage => ({
    id: `e${n}`,
    apiName: api,
    eventName: 'tick',
    version: 1,
    kwargs: { n },
  });
  const open = (dir: string): EventTransport => createRole(transport, 'event', { dir, delivery_limit: 1 }, context);
  const spec = { events: [{ apiName: api, eventName: 'tick' }], group: 'svc-tally', consumer: 'c1' };

  it('keeps groups, acknowledgements, delivery counts, replay and history in the file', async () => {
    const dir = freshDir();
    const first = open(dir);
    const seen = new Collector<string>();
    const consumer = await first.consume(spec, async (m) => {
      seen.push(m.id);
      if (m.kwargs.n === 2) throw new Error('fails on 2');
    });
    for (const n of [1, 2, 3]) await first.sendEvent(event(n), { timeoutSeconds: 5 });
    await seen.waitForCount(3, 5000);
    await consumer.stop();
    await first.close(); // the last user: the process's copy of the log goes, the file stays

    // "Restarted": a new transport reads the file. e2 was not acknowledged and failed once (delivery_limit 1).
    const second = open(dir);
    const again = new Collector<string>();
    const resumed = await second.consume(spec, async (m) => {
      again.push(m.id);
      if (m.kwargs.n === 2) throw new Error('fails on 2 again');
    });
    await second.sendEvent(event(4), { timeoutSeconds: 5 });
    await again.waitForCount(2, 5000);
    expect(again.items).toEqual(['e2', 'e4']);
    await resumed.stop();
    // Its second failure was its last allowed delivery: set aside with the last error.
    expect(deadLetters(dir, api, 'tick')).toEqual([{ id: 'e2', reason: expect.stringContaining('fails on 2 again') }]);

    const replayed = new Collector<string>();
    const replay = await second.consume({ ...spec, group: 'svc-new', since: { kind: 'beginning' } }, async (m) =>
      replayed.push(m.id),
    );
    await replayed.waitForCount(4, 5000);
    expect(replayed.items).toEqual(['e1', 'e2', 'e3', 'e4']);
    await replay.stop();
    const history: string[] = [];
    for await (const m of second.history!({ apiName: api, limit: 3 })) history.push(m.id);
    expect(history).toEqual(['e4', 'e3', 'e2']);
    await second.close();
  });
});
