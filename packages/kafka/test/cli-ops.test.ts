/**
 * `lightbus deadletters` against Kafka, as an operator runs it: a worker (`lightbus run`) whose listener sets
 * poison events aside on the dead-letter topic, and the command as separate processes on the same config.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { newMessageId } from '@lightbus/core/transport';
import { KafkaEventTransport } from '@lightbus/kafka';
import { startNode, waitFor, type ChildRun } from '@lightbus/testing';
import {
  TEST_FETCH,
  TEST_GROUP_TIMING,
  cleanupRun,
  context,
  eventOptions,
  kafkaBrokers,
  uniquePrefix,
} from './helpers';

const BIN = path.resolve(__dirname, '..', '..', 'core', 'bin', 'lightbus.js');
const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'ops-bus.ts');
const children: ChildRun[] = [];
let dir: string;

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.child.exitCode === null && child.child.signalCode === null) {
      child.kill('SIGTERM');
      await child.exit;
    }
  }
  rmSync(dir, { recursive: true, force: true });
});
afterAll(() => cleanupRun());

describe('lightbus deadletters on Kafka', () => {
  it('lists what a worker set aside, replays one to the worker and discards the rest with --all', async () => {
    const prefix = uniquePrefix('cli');
    const api = `ops${prefix.split('.').slice(1, 3).join('')}.orders`;
    const service = 'ops-kafka';
    dir = mkdtempSync(path.join(tmpdir(), 'lightbus-ops-kafka-'));
    const config = path.join(dir, 'lightbus.json');
    const base = { brokers: kafkaBrokers(), topic_prefix: prefix, ...TEST_FETCH };
    const grouped = { kafka: { ...base, ...TEST_GROUP_TIMING } };
    writeFileSync(
      config,
      JSON.stringify({
        service_name: service,
        bus: { schema: { transport: { kafka: base } } },
        apis: { default: { rpc_transport: grouped, result_transport: { kafka: base }, event_transport: grouped } },
      }),
    );
    const lightbus = (...args: string[]): ChildRun => {
      const run = startNode([BIN, ...args, '--config', config], {
        cwd: dir,
        env: { OPS_API: api, OPS_FIXED_FILE: path.join(dir, 'fixed'), LIGHTBUS_MODULE: '' },
      });
      children.push(run);
      return run;
    };
    const output = async (...args: string[]): Promise<string> => {
      const run = lightbus(...args);
      const { code } = await run.exit;
      if (code !== 0) throw new Error(`lightbus ${args.join(' ')} exited ${code}:\n${run.output()}`);
      return run.output();
    };
    const jsonLine = (text: string): unknown => {
      const line = text.split('\n').find((l) => l.startsWith('{"'));
      if (line === undefined) throw new Error(`no JSON line in:\n${text}`);
      return JSON.parse(line);
    };

    const worker = lightbus('run', '--bus', FIXTURE);
    await worker.waitForOutput('Lightbus ready', 60_000);
    const firer = new KafkaEventTransport(eventOptions(prefix), context('firer', 'ops-firer'));
    try {
      const fire = (id: number, poison = false) =>
        firer.sendEvent(
          { id: newMessageId(), apiName: api, eventName: 'created', version: 1, kwargs: { id, poison } },
          { timeoutSeconds: 10 },
        );
      for (const id of [1, 2, 3]) await fire(id, true);
      await fire(4);
      await worker.waitForOutput('handled 4', 30_000);

      type Listed = {
        entries: Array<{ id: string; group: string; reason: string; message: { kwargs: { id: number } } }>;
      };
      let listed: Listed = { entries: [] };
      await waitFor(
        async () => {
          listed = jsonLine(await output('deadletters', 'list', '--api', api, '--json')) as Listed;
          return listed.entries.length === 3;
        },
        { timeout: 30_000, message: () => `three dead letters listed (${JSON.stringify(listed)})` },
      );
      expect(listed.entries.map((e) => e.message.kwargs.id)).toEqual([1, 2, 3]);
      expect(listed.entries[0]).toMatchObject({
        group: `${service}-notify`,
        reason: expect.stringContaining('poison 1'),
      });

      const first = listed.entries[0]!.id;
      writeFileSync(path.join(dir, 'fixed'), '');
      expect(await output('deadletters', 'replay', first)).toContain(`Replayed 1 dead letter(s) '${first}'.`);
      await worker.waitForOutput('handled 1', 30_000);

      const discarded = jsonLine(await output('deadletters', 'discard', '--all', '--api', api, '--yes', '--json'));
      expect(discarded).toEqual({ action: 'discard', count: 2, selection: { apiName: api } });
      expect(jsonLine(await output('deadletters', 'list', '--api', api, '--json'))).toEqual({ entries: [] });
      expect(worker.output()).not.toMatch(/handled [23]/);
    } finally {
      await firer.close();
    }
  });
});
