/**
 * The bus-level conformance tier: whole buses and `lightbus run` processes on
 * one transport, through what users see (calls, events, signals, a broker
 * going away). A transport package calls `busConformance(target)` from a jest
 * test file; the target's capabilities decide which scenarios run, and those
 * that cannot are reported as skipped, with the capability in their name.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { BrokerConnectionError, RpcTimeoutError } from '@lightbus/core';
import { Collector, waitFor } from '../wait';
import { tickHandler } from './api';
import type { BusTierTarget } from './target';
import { consumerLagRisesAndFalls, metricsSdkInstalled, registerMetricsSdk, total, workloadMetrics } from './metrics';
import { otelSdkInstalled, traceAcrossProcesses } from './tracing';
import { World } from './world';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Register the bus-level scenarios for one transport. */
export function busConformance(target: BusTierTarget): void {
  const caps = target.capabilities;
  /** A scenario that needs `needs`; reported as skipped (the need in its name) when the target lacks it. */
  const scenario = (name: string, needs: Record<string, boolean>, body: (world: World) => Promise<void>): void => {
    const missing = Object.entries(needs)
      .filter(([, has]) => !has)
      .map(([need]) => need);
    const title = Object.keys(needs).length > 0 ? `${name} [needs ${Object.keys(needs).join(', ')}]` : name;
    (missing.length > 0 ? it.skip : it)(title, () => body(world));
  };
  let world: World;

  describe(`bus-level conformance: ${target.name}`, () => {
    beforeEach(async () => {
      world = await World.open(target);
    });

    afterEach(async () => {
      await world.close();
    });

    scenario(
      'the seed across two processes: a `lightbus run` worker serves and listens, a client process calls and fires; SIGTERM ends the worker with exit 0',
      { crossProcess: caps.crossProcess },
      async (world) => {
        const worker = world.worker('worker');
        await worker.ready(world.apiName);
        const client = world.client('client');
        const exit = await client.run.exit;
        expect({ ...exit, output: client.run.output() }).toEqual({ code: 0, signal: null, output: expect.any(String) });
        expect(client.lines).toEqual(['echo hello from another process', 'fired 1']);
        await worker.waitForLine('handled 1');

        worker.run.kill('SIGTERM');
        expect({
          ...(await worker.run.exit),
          handlesLeftOpen: worker.run.output().includes('handles still open'),
        }).toEqual({
          code: 0,
          signal: null,
          handlesLeftOpen: false,
        });
        expect(worker.numbers('handled')).toEqual([1]);
      },
    );

    scenario(
      'SIGKILL of one of three consumers mid-stream: every event is handled, and only events the killed one had taken come twice',
      { crossProcess: caps.crossProcess, consumerGroups: caps.consumerGroups },
      async (world) => {
        const workers = ['a', 'b', 'c'].map((name) => world.worker(`consumer-${name}`, { handlerMs: 25 }));
        await Promise.all(workers.map((w) => w.ready(world.apiName)));
        const firer = world.bus('firer');
        firer.client.registerApi(new (world.apiClass())());
        const total = 60;
        await Promise.all(range(0, total).map((i) => firer.client.fireEvent(world.apiName, 'tick', { i })));

        const victim = await waitFor(() => workers.find((w) => w.numbers('handled').length >= 2), {
          timeout: world.patience,
          message: 'a consumer to handle events',
        });
        victim.run.kill('SIGKILL');
        expect((await victim.run.exit).signal).toBe('SIGKILL');
        const handledAll = (): number[] => workers.flatMap((w) => w.numbers('handled'));
        // Mid-stream: events were left when it died.
        expect(new Set(handledAll()).size).toBeLessThan(total);

        await waitFor(() => range(0, total).every((i) => handledAll().includes(i)), {
          timeout: world.patience * 3,
          message: `every event to be handled (missing: ${JSON.stringify(range(0, total).filter((i) => !handledAll().includes(i)))})`,
        });
        // At least once: an event handled twice is one the killed consumer had taken (handled, not yet acknowledged).
        const counts = new Map<number, number>();
        for (const i of handledAll()) counts.set(i, (counts.get(i) ?? 0) + 1);
        const duplicates = [...counts].filter(([, n]) => n > 1).map(([i]) => i);
        const taken = new Set(victim.numbers('started'));
        expect(duplicates.filter((i) => !taken.has(i))).toEqual([]);
        expect(duplicates.length).toBeLessThanOrEqual(taken.size);

        const survivors = workers.filter((w) => w !== victim);
        for (const w of survivors) w.run.kill('SIGTERM');
        for (const w of survivors) expect(await w.run.exit).toEqual({ code: 0, signal: null });
      },
    );

    scenario(
      'SIGTERM drain: the call and the event in hand finish, their result arrives and the event is acknowledged, then the worker exits 0',
      { crossProcess: caps.crossProcess },
      async (world) => {
        const worker = world.worker('drained', { handlerMs: 1500 });
        await worker.ready(world.apiName);
        const caller = world.bus('caller');
        caller.client.registerApi(new (world.apiClass())());
        const call = caller.client.callRpc(world.apiName, 'slow', { ms: 1500 });
        await caller.client.fireEvent(world.apiName, 'tick', { i: 1 });
        await worker.waitForLine('slow started');
        await worker.waitForLine('started 1');

        worker.run.kill('SIGTERM');
        const inHandAtSignal = !worker.lines.includes('handled 1') && !worker.lines.includes('slow done');
        expect(await call).toBe(1500);
        expect(await worker.run.exit).toEqual({ code: 0, signal: null });
        expect(inHandAtSignal).toBe(true);
        expect(worker.lines).toEqual(expect.arrayContaining(['handled 1', 'slow done']));

        // Acknowledged: the next consumer of the group gets what comes after it, not event 1 again.
        const next = world.worker('next');
        await next.ready(world.apiName);
        await caller.client.fireEvent(world.apiName, 'tick', { i: 2 });
        await next.waitForLine('handled 2', world.patience * 2);
        expect(next.numbers('handled')).toEqual([2]);
      },
    );

    scenario(
      'broker connection cut and restored (fault proxy): calls settle by their deadline, consumers and callers reconnect, nothing acknowledged is lost',
      { brokerAddress: target.broker !== undefined },
      async (world) => {
        const proxy = await world.proxy();
        const config = world.namespace.config({ via: proxy.address });
        const worker = world.bus('worker', world.config('worker', config));
        worker.client.registerApi(new (world.apiClass())());
        const handled = new Collector<number>();
        worker.client.listen([world.apiName, 'tick'], (params) => handled.push(Number(params.i)), {
          listenerName: 'tally',
        });
        await worker.start();
        const caller = world.bus('caller', world.config('caller', config, { rpc_timeout: 2 }));
        caller.client.registerApi(new (world.apiClass())());
        const fired: number[] = [];
        const fire = async (i: number): Promise<void> => {
          await caller.client.fireEvent(world.apiName, 'tick', { i });
          fired.push(i);
        };

        expect(await caller.client.callRpc(world.apiName, 'echo', { text: 'before' })).toBe('before');
        for (const i of range(0, 5)) await fire(i);
        await waitFor(() => range(0, 5).every((i) => handled.items.includes(i)), {
          timeout: world.patience,
          message: 'events before the cut',
        });

        proxy.down();
        const firesDuringOutage = range(5, 8).map((i) => fire(i).catch((error: unknown) => error));
        const calls = await Promise.allSettled(
          range(0, 3).map((n) => caller.client.callRpc(world.apiName, 'echo', { text: `during ${n}` })),
        );
        for (const [n, outcome] of calls.entries()) {
          if (outcome.status === 'fulfilled') expect(outcome.value).toBe(`during ${n}`);
          else
            expect(outcome.reason instanceof RpcTimeoutError || outcome.reason instanceof BrokerConnectionError).toBe(
              true,
            );
        }
        proxy.restore();
        for (const outcome of await Promise.all(firesDuringOutage)) {
          if (outcome !== undefined) expect(outcome).toBeInstanceOf(BrokerConnectionError);
        }

        await waitFor(
          async () =>
            (await caller.client.callRpc(world.apiName, 'echo', { text: 'after' }).catch(() => undefined)) === 'after',
          {
            timeout: world.patience,
            message: `a call to succeed after the broker came back\n${world.logs.lines.slice(-20).join('\n')}`,
          },
        );
        for (const i of range(10, 15))
          await waitFor(
            () =>
              fire(i).then(
                () => true,
                () => false,
              ),
            { timeout: world.patience, message: `firing ${i}` },
          );
        await waitFor(() => fired.every((i) => handled.items.includes(i)), {
          timeout: world.patience * 2,
          message: `every event whose fire succeeded to be handled (fired ${JSON.stringify(fired)}, handled ${JSON.stringify(handled.items)})`,
        });
        expect(proxy.cuts).toBeGreaterThan(0);
      },
    );

    scenario(
      'one trace across two processes: the call, its execution, the event fired inside it and the listener that handles it',
      { crossProcess: caps.crossProcess, openTelemetrySdk: otelSdkInstalled() },
      traceAcrossProcesses,
    );

    scenario(
      'consumer lag metrics: they rise while a listener is held and fall to zero once it handles the events',
      { consumerLag: target.consumerLag !== undefined, openTelemetrySdk: metricsSdkInstalled() },
      (world) => consumerLagRisesAndFalls(world, target.consumerLag?.inHand ?? 0),
    );

    scenario(
      'metrics after a known workload: calls made and executed, events fired and handled, nothing left in flight',
      { openTelemetrySdk: metricsSdkInstalled() },
      async (world) => {
        const handled = new Set<number>();
        await workloadMetrics(
          world,
          (i) => handled.add(i),
          () => handled.size,
        );
      },
    );

    scenario(
      'poison messages are set aside with a reason while good ones flow',
      { readsDeadLetters: target.readsDeadLetters === true },
      async (world) => {
        const namespace = world.namespace;
        const lines: string[] = [];
        // With the metrics SDK installed, the dead-lettered counter is checked too (registered before the buses).
        const sdk = metricsSdkInstalled() ? await registerMetricsSdk() : undefined;
        world.onClose(() => sdk?.shutdown());
        const worker = world.bus('worker');
        worker.client.registerApi(new (world.apiClass())());
        worker.client.listen(
          [world.apiName, 'tick'],
          tickHandler({ reject: new Set([3]), log: (line) => lines.push(line) }),
          { listenerName: 'tally' },
        );
        await worker.start();
        const firer = world.bus('firer');
        firer.client.registerApi(new (world.apiClass())());
        for (const i of range(0, 3)) await firer.client.fireEvent(world.apiName, 'tick', { i });
        if (target.canInjectMalformedEvents) await namespace.injectMalformedEvent!(world.apiName, 'tick');
        for (const i of range(3, 7)) await firer.client.fireEvent(world.apiName, 'tick', { i });

        const good = [0, 1, 2, 4, 5, 6];
        await waitFor(() => good.every((i) => lines.includes(`handled ${i}`)), {
          timeout: world.patience,
          message: `the good events to be handled (${lines.join(', ')})`,
        });
        const expected = target.canInjectMalformedEvents ? 2 : 1;
        const setAside = await waitFor(
          async () => {
            const found = await namespace.deadLetters!(world.apiName, 'tick');
            return found.length >= expected ? found : undefined;
          },
          { timeout: world.patience, message: `${expected} messages to be set aside` },
        );
        expect(setAside).toHaveLength(expected);
        expect(setAside.filter((d) => d.reason.includes('tier: poison 3'))).toHaveLength(1);
        for (const d of setAside) expect(d.reason).not.toBe('');

        // The stream goes on after the poison, and the poison was not given again.
        await firer.client.fireEvent(world.apiName, 'tick', { i: 7 });
        await waitFor(() => lines.includes('handled 7'), {
          timeout: world.patience,
          message: 'an event after the poison',
        });
        expect(lines.filter((line) => line === 'started 3')).toEqual(['started 3']);
        if (sdk) {
          const counted = await sdk.metric('lightbus.events.dead_lettered');
          const byReason = (reason: string): number =>
            total(counted, { 'lightbus.listener': 'tally', 'lightbus.dead_letter.reason': reason });
          expect({ rejected: byReason('rejected'), undecodable: byReason('undecodable') }).toEqual({
            rejected: 1,
            undecodable: target.canInjectMalformedEvents ? 1 : 0,
          });
          expect(
            counted.find((p) => p.attributes['lightbus.dead_letter.reason'] === 'rejected')?.attributes,
          ).toMatchObject({ 'lightbus.api': world.apiName, 'lightbus.event': 'tick' });
        }
      },
    );
  });
}
