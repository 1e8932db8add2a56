/**
 * Redis Sentinel failover under load: a topology of this file's own (topologies.ts), a worker
 * serving calls and a listener in one bus, a caller calling and firing without pause, and the
 * master SIGKILLed mid-stream. The replica is promoted; what users rely on:
 * - every call settles by its deadline: its result, or RpcTimeoutError / BrokerConnectionError;
 * - the listener resumes from its group on the new master (events handled before are not handled again);
 * - every fire either resolved or was rejected with a clear error; with wait_for_replicas: 1,
 *   every fire that resolved is delivered (none is lost by the asynchronous replication), and
 *   while the new master has no replica yet, fires are rejected (ReplicationError), not silently at risk.
 */
import {
  Api,
  BrokerConnectionError,
  EventFireTimeoutError,
  Event,
  RpcTimeoutError,
  type LightbusConfigInput,
} from '@lightbus/core';
import { Collector, waitFor } from '@lightbus/testing';
import { ReplicationError, streamKey } from '@lightbus/redis';
import type { Redis } from 'ioredis';
import { busFactory, uniqueId } from './helpers';
import { SentinelTopology } from './topologies';

let topology: SentinelTopology;
let raw: Redis | undefined;
const buses = busFactory();
beforeAll(async () => {
  topology = await SentinelTopology.start();
  raw = topology.client();
}, 60_000);
afterAll(async () => {
  await buses.closeAll();
  raw?.disconnect();
  await topology?.stop();
});

const RPC_TIMEOUT_S = 2;

function config(service: string, process: string): LightbusConfigInput {
  const role = (extra: Record<string, unknown> = {}) => ({
    redis: { url: topology.url, sentinel: topology.option, consumption_restart_delay: 0.2, ...extra },
  });
  const plain = (extra: Record<string, unknown> = {}) => ({
    redis: { url: topology.url, sentinel: topology.option, ...extra },
  });
  return {
    service_name: service,
    process_name: process,
    bus: { schema: { transport: plain() } },
    apis: {
      default: {
        rpc_timeout: RPC_TIMEOUT_S,
        event_fire_timeout: 3,
        rpc_transport: role(),
        result_transport: plain(),
        event_transport: role({ wait_for_replicas: 1, replica_timeout: 0.5, acknowledgement_timeout: 2 }),
      },
    },
  };
}

function echoApi(name: string) {
  return class EchoApi extends Api {
    static override meta = { name };
    tick = new Event({ parameters: ['i'] });
    echo({ n }: { n: number }) {
      return n;
    }
  };
}

/** Errors a fire may end with while the master is gone or has no replica: each says what happened. */
const clearFireFailures = [BrokerConnectionError, ReplicationError, EventFireTimeoutError];

it('the master killed mid-stream: calls settle by their deadline, the listener resumes from its group, every resolved fire is delivered', async () => {
  const apiName = `failover${uniqueId()}.echo`;
  const Echo = echoApi(apiName);
  const worker = buses.make(config(`wsvc-${uniqueId()}`, 'w'));
  worker.client.registerApi(new Echo());
  const handled = new Collector<number>();
  worker.client.listen([apiName, 'tick'], (params) => handled.push(Number(params.i)), { listenerName: 'tally' });
  await worker.start();
  const caller = buses.make(config(`csvc-${uniqueId()}`, 'c'));
  caller.client.registerApi(new Echo());

  // Before: 20 events handled (and acknowledged), a call answered.
  for (let i = 0; i < 20; i += 1) await caller.client.fireEvent(apiName, 'tick', { i });
  expect(await caller.client.callRpc(apiName, 'echo', { n: -1 })).toBe(-1);
  await handled.waitForCount(20);

  // A stream of fires and calls, without pause, until stopped.
  const resolvedFires: number[] = [];
  const failedFires: Array<{ i: number; error: unknown }> = [];
  const calls: Array<{ n: number; ms: number; outcome: PromiseSettledResult<unknown> }> = [];
  let running = true;
  const fireLoop = (async () => {
    for (let i = 20; running; i += 1) {
      try {
        await caller.client.fireEvent(apiName, 'tick', { i });
        resolvedFires.push(i);
      } catch (error) {
        failedFires.push({ i, error });
      }
      await new Promise((resolve) => setImmediate(resolve)); // a loop of instant failures must not starve the timers
    }
  })();
  const callLoop = (async () => {
    for (let n = 0; running; n += 1) {
      const started = Date.now();
      const [outcome] = await Promise.allSettled([caller.client.callRpc(apiName, 'echo', { n })]);
      calls.push({ n, ms: Date.now() - started, outcome: outcome! });
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();

  await waitFor(() => resolvedFires.length >= 10 && calls.length >= 5, {
    timeout: 10_000,
    message: 'the stream to flow',
  });
  const oldMaster = await topology.master();
  const firesBefore = resolvedFires.length;
  await oldMaster.kill();
  await waitFor(async () => (await topology.master().catch(() => oldMaster)) !== oldMaster, {
    timeout: 30_000,
    interval: 100,
    message: 'the sentinels to promote the replica',
  });
  // The new master has no replica: fires that wait for one are refused, clearly.
  await waitFor(() => failedFires.some(({ error }) => error instanceof ReplicationError), {
    timeout: 15_000,
    message: () =>
      `a fire refused for want of a replica (failures: ${failedFires.map((f) => String(f.error)).join('; ')})`,
  });
  // The failed master comes back as a replica of the new one: fires resolve again.
  await topology.restartAsReplica(oldMaster);
  const resolvedAtRestart = resolvedFires.length;
  await waitFor(() => resolvedFires.length >= resolvedAtRestart + 10, {
    timeout: 15_000,
    message: 'fires to resolve again once the new master has a replica',
  });
  const callsAtRestart = calls.length;
  await waitFor(() => calls.slice(callsAtRestart).some((c) => c.outcome.status === 'fulfilled'), {
    timeout: 15_000,
    message: 'a call to succeed after the failover',
  });
  running = false;
  await Promise.all([fireLoop, callLoop]);

  // Every call settled by its deadline (a little slack for the machine), with its result or a clear error.
  for (const { n, ms, outcome } of calls) {
    expect(ms).toBeLessThanOrEqual(RPC_TIMEOUT_S * 1000 + 1000);
    if (outcome.status === 'fulfilled') expect(outcome.value).toBe(n);
    else expect([RpcTimeoutError, BrokerConnectionError].some((type) => outcome.reason instanceof type)).toBe(true);
  }
  // Every failed fire failed with an error saying what happened.
  for (const { error } of failedFires) expect(clearFireFailures.some((type) => error instanceof type)).toBe(true);
  expect(resolvedFires.length).toBeGreaterThan(firesBefore);
  // Every fire that resolved is delivered: none was lost with the old master.
  await waitFor(() => resolvedFires.every((i) => handled.items.includes(i)), {
    timeout: 20_000,
    message: () =>
      `every resolved fire to be handled; missing: ${JSON.stringify(resolvedFires.filter((i) => !handled.items.includes(i)))}`,
  });
  // The listener resumed from its group: the events handled before the failover were not handled again,
  // and its group is on the new master.
  const early = handled.items.filter((i) => i < 20);
  expect(early.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  const groups = (await raw!.xinfo('GROUPS', streamKey(apiName, '*', 'per_api'))) as unknown[][];
  expect(groups.map((g) => String(g[1]))).toEqual([expect.stringMatching(/-tally$/)]);
  await raw!.del(streamKey(apiName, '*', 'per_api'), `${apiName}:rpc_queue`);
}, 120_000);
