/**
 * The transport conformance suite: one set of tests written against core's
 * transport interfaces, run unchanged against every transport. A transport
 * package calls `transportConformance(target)` from a jest test file; what the
 * transport declares in `capabilities` decides which optional tests run.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  ConsoleLogger,
  DEFAULT_DELIVERY_LIMIT,
  ForeignReturnPathError,
  MessageRejectedError,
  deadlineIn,
  newMessageId,
  sendCall,
  type ApiSchema,
  type Consumer,
  type EventMessage,
  type EventTransport,
  type OutgoingCall,
  type ResultMessage,
  type ResultTransport,
  type RpcMessage,
  type RpcTransport,
  type SchemaTransport,
  type TransportCapabilities,
  type TransportContext,
} from '@lightbus/core/transport';
import { deadLetterTests } from './conformance-dead-letters';
import { Collector, untilTime, waitFor } from './wait';

/** The transports one process would hold, in one isolated namespace. */
export interface TransportSet {
  readonly rpc?: RpcTransport;
  readonly result?: ResultTransport;
  readonly event?: EventTransport;
  readonly schema?: SchemaTransport;
}

/** One test's isolated world: unique key prefix, vhost, topic prefix, broker name... */
export interface ConformanceNamespace {
  /** The transports of one process in this namespace (call again for a second process). */
  connect(context: TransportContext): TransportSet | Promise<TransportSet>;
  /** Delete what the test created on the broker (keys, queues, topics). */
  cleanup(): Promise<void>;
  /**
   * Put a message the transport cannot decode on the stream of (apiName, eventName),
   * as a broken or foreign producer would. Enables the poison-message test.
   */
  injectMalformedEvent?(apiName: string, eventName: string): Promise<void>;
  /**
   * The events of (apiName, eventName) in the transport's dead-letter store,
   * with the reason each was set aside. Enables the checks of what a dead
   * letter says (the bounded-redelivery test's last error).
   */
  deadLetters?(
    apiName: string,
    eventName: string,
  ): Promise<ReadonlyArray<{ readonly id?: string; readonly reason: string }>>;
}

export interface ConformanceTarget {
  /** Shown in test names. */
  readonly name: string;
  /**
   * What the event transport (as `namespace().connect()` makes it) can do. Tests of
   * capabilities it lacks are reported as skipped, and one test checks that the
   * transport reports exactly these.
   */
  readonly capabilities: TransportCapabilities;
  /** True when `namespace()` provides injectMalformedEvent (the undecodable-message test runs). */
  readonly canInjectMalformedEvents?: boolean;
  /**
   * False when the event transport keeps no dead-letter store it can read back
   * (`EventTransport.deadLetters`): the dead-letter tests are reported as skipped.
   * Default true: they run, and fail when the store is missing.
   */
  readonly deadLetterStore?: boolean;
  /** The `delivery_limit` the namespace's event transports are configured with (default: every transport's default, 10). */
  readonly deliveryLimit?: number;
  /** A fresh namespace for one test. */
  namespace(): ConformanceNamespace | Promise<ConformanceNamespace>;
  /**
   * How long (ms) the slowest expected delivery may take: group joins, reclaim
   * after a consumer stops (acknowledgement_timeout), rebalances. Default 10000.
   */
  readonly patience?: number;
}

const quietLogger = new ConsoleLogger('critical');

let sequence = 0;
/** Unique API names per test, so tests never see each other's messages. */
function uniqueApi(): string {
  sequence += 1;
  return `conformance.t${Date.now().toString(36)}${sequence}`;
}

function rpcMessage(
  apiName: string,
  procedureName: string,
  kwargs: Record<string, unknown>,
  timeoutSeconds = 5,
): OutgoingCall {
  return { id: newMessageId(), apiName, procedureName, kwargs, deadline: deadlineIn(timeoutSeconds) };
}

function eventMessage(apiName: string, eventName: string, kwargs: Record<string, unknown>): EventMessage {
  return { id: newMessageId(), apiName, eventName, version: 1, kwargs };
}

/** Register the whole suite for one transport. */
export function transportConformance(target: ConformanceTarget): void {
  const patience = target.patience ?? 10_000;
  const caps = target.capabilities;
  /** A test that applies only when the transport has a capability; reported as skipped otherwise. */
  const when = (applies: boolean): typeof it.skip => (applies ? it : it.skip);

  describe(`transport conformance: ${target.name}`, () => {
    let namespace: ConformanceNamespace;
    const toStop: Consumer[] = [];
    const toClose: Array<{ close(): Promise<void> }> = [];
    let processCount = 0;

    async function connect(): Promise<TransportSet> {
      processCount += 1;
      const set = await namespace.connect({
        serviceName: 'conformance',
        processName: `process-${processCount}`,
        logger: quietLogger,
      });
      for (const transport of [set.rpc, set.result, set.event, set.schema]) if (transport) toClose.push(transport);
      return set;
    }

    function keep(consumer: Consumer): Consumer {
      toStop.push(consumer);
      return consumer;
    }

    beforeEach(async () => {
      namespace = await target.namespace();
    });

    afterEach(async () => {
      await Promise.all(toStop.splice(0).map((c) => c.stop()));
      await Promise.all(toClose.splice(0).map((t) => t.close()));
      await namespace.cleanup();
    });

    describe('rpc and result', () => {
      async function rpcPair(): Promise<{ rpc: RpcTransport; result: ResultTransport }> {
        const set = await connect();
        if (!set.rpc || !set.result) throw new Error('this target provides no rpc/result transports');
        return { rpc: set.rpc, result: set.result };
      }

      async function call(
        caller: { rpc: RpcTransport; result: ResultTransport },
        message: OutgoingCall,
      ): Promise<ResultMessage> {
        const { pending } = await sendCall(caller, message);
        try {
          return await pending.result;
        } finally {
          pending.cancel();
        }
      }

      function echoWorker(
        worker: { rpc: RpcTransport; result: ResultTransport },
        api: string,
        seen?: Collector<RpcMessage>,
      ) {
        return worker.rpc.consumeRpcs([api], async (message) => {
          seen?.push(message);
          await worker.result.sendResult(message, {
            id: newMessageId(),
            rpcMessageId: message.id,
            result: { echo: message.kwargs, procedure: message.procedureName },
            error: false,
          });
        });
      }

      it('carries a call to a worker and its result back, values intact', async () => {
        const api = uniqueApi();
        const worker = await rpcPair();
        const caller = await rpcPair();
        keep(await echoWorker(worker, api));
        const kwargs = { id: 7, text: 'héllo ✓', nested: { list: [1, 'two', null, true], empty: {} } };
        const result = await call(caller, rpcMessage(api, 'get', kwargs));
        expect(result.error).toBe(false);
        expect(result.result).toEqual({ echo: kwargs, procedure: 'get' });
      });

      it('carries an error result with its trace', async () => {
        const api = uniqueApi();
        const worker = await rpcPair();
        keep(
          await worker.rpc.consumeRpcs([api], async (message) => {
            await worker.result.sendResult(message, {
              id: newMessageId(),
              rpcMessageId: message.id,
              result: 'boom',
              error: true,
              trace: 'TypeError: boom\n    at somewhere (file.ts:1:1)',
              errorType: 'TypeError',
            });
          }),
        );
        const result = await call(await rpcPair(), rpcMessage(api, 'fail', {}));
        expect(result.error).toBe(true);
        expect(result.result).toBe('boom');
        expect(result.trace).toContain('TypeError: boom');
      });

      it('routes each of many concurrent results to its own caller', async () => {
        const api = uniqueApi();
        const worker = await rpcPair();
        const caller = await rpcPair();
        keep(await echoWorker(worker, api));
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => call(caller, rpcMessage(api, 'get', { i }))),
        );
        expect(results.map((r) => (r.result as { echo: { i: number } }).echo.i)).toEqual(
          Array.from({ length: 30 }, (_, i) => i),
        );
      });

      it('gives each call to exactly one of several competing workers', async () => {
        const api = uniqueApi();
        const seen = new Collector<RpcMessage>();
        const workerA = await rpcPair();
        const workerB = await rpcPair();
        keep(await echoWorker(workerA, api, seen));
        keep(await echoWorker(workerB, api, seen));
        const caller = await rpcPair();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => call(caller, rpcMessage(api, 'get', { i }))),
        );
        expect(results).toHaveLength(20);
        const ids = seen.items.map((m) => m.id);
        expect(new Set(ids).size).toBe(20);
        expect(ids).toHaveLength(20);
      });

      it('serves several APIs from one consumer', async () => {
        const apiA = uniqueApi();
        const apiB = uniqueApi();
        const worker = await rpcPair();
        keep(
          await worker.rpc.consumeRpcs([apiA, apiB], async (message) => {
            await worker.result.sendResult(message, {
              id: newMessageId(),
              rpcMessageId: message.id,
              result: message.apiName,
              error: false,
            });
          }),
        );
        const caller = await rpcPair();
        expect((await call(caller, rpcMessage(apiA, 'which', {}))).result).toBe(apiA);
        expect((await call(caller, rpcMessage(apiB, 'which', {}))).result).toBe(apiB);
      });

      it('executes several calls at once in one worker', async () => {
        const api = uniqueApi();
        const worker = await rpcPair();
        let active = 0;
        let maxActive = 0;
        const release: Array<() => void> = [];
        keep(
          await worker.rpc.consumeRpcs([api], async (message) => {
            active += 1;
            maxActive = Math.max(maxActive, active);
            // Hold each call until a second one is running too (or a while has passed).
            await new Promise<void>((resolve) => {
              release.push(resolve);
              if (active >= 2) release.splice(0).forEach((r) => r());
              setTimeout(resolve, 3000);
            });
            active -= 1;
            await worker.result.sendResult(message, {
              id: newMessageId(),
              rpcMessageId: message.id,
              result: null,
              error: false,
            });
          }),
        );
        const caller = await rpcPair();
        await Promise.all([call(caller, rpcMessage(api, 'a', {})), call(caller, rpcMessage(api, 'b', {}))]);
        expect(maxActive).toBeGreaterThanOrEqual(2);
      });

      it('does not execute a call whose deadline passed before a worker took it', async () => {
        const api = uniqueApi();
        const caller = await rpcPair();
        const expired = rpcMessage(api, 'late', {}, 0.2);
        // A transport may refuse to send a call whose deadline passes before it is sent (on Kafka,
        // creating the API's request topic can take longer than 0.2 s): never executed either way.
        const sent = await sendCall(caller, expired).catch(() => undefined);
        sent?.pending.cancel();
        await untilTime(expired.deadline + 1100);

        const worker = await rpcPair();
        const seen = new Collector<RpcMessage>();
        keep(await echoWorker(worker, api, seen));
        const fresh = await call(caller, rpcMessage(api, 'fresh', {}));
        expect((fresh.result as { procedure: string }).procedure).toBe('fresh');
        expect(seen.items.map((m) => m.procedureName)).toEqual(['fresh']);
      });

      it('refuses a return path of another transport with ForeignReturnPathError, and goes on', async () => {
        const api = uniqueApi();
        const worker = await rpcPair();
        // No transport serves the first; the second (an AMQP direct reply-to that did not travel over AMQP) none can either.
        for (const returnPath of ['nowhere+key://other-transport', 'amqp:amq.rabbitmq.reply-to']) {
          const message = { ...rpcMessage(api, 'p', {}), returnPath };
          const outcome = await worker.result
            .sendResult(message, { id: newMessageId(), rpcMessageId: message.id, result: 1, error: false })
            .then(
              () => undefined,
              (error: unknown) => error,
            );
          expect(outcome).toBeInstanceOf(ForeignReturnPathError);
          expect((outcome as ForeignReturnPathError).code).toBe('LIGHTBUS_FOREIGN_RETURN_PATH');
          // It says what to configure, for which API.
          expect((outcome as Error).message).toMatch(/result_transport/);
          expect((outcome as Error).message).toContain(`API '${api}'`);
        }
        // Its own callers are still answered.
        keep(await echoWorker(worker, api));
        const caller = await rpcPair();
        expect((await call(caller, rpcMessage(api, 'after', {}))).error).toBe(false);
      });

      it('lets a worker send a result nobody waits for any more', async () => {
        const api = uniqueApi();
        const worker = await rpcPair();
        const caller = await rpcPair();
        const handled = new Collector<string>();
        let sendError: unknown;
        keep(
          await worker.rpc.consumeRpcs([api], async (message) => {
            try {
              await worker.result.sendResult(message, {
                id: newMessageId(),
                rpcMessageId: message.id,
                result: 1,
                error: false,
              });
            } catch (error) {
              sendError = error;
            }
            handled.push(message.id);
          }),
        );
        const message = rpcMessage(api, 'abandoned', {});
        const pending = await caller.result.expectResult(message);
        pending.cancel();
        await caller.rpc.callRpc({ ...message, returnPath: pending.returnPath });
        await handled.waitForCount(1, patience);
        expect(sendError).toBeUndefined();
        // The caller still works for the next call.
        keep(await echoWorker(worker, `${api}x`));
        expect((await call(caller, rpcMessage(`${api}x`, 'next', {}))).error).toBe(false);
      });

      it('stop() waits for calls in progress and takes no new ones', async () => {
        const api = uniqueApi();
        const worker = await rpcPair();
        const started = new Collector<string>();
        let finish!: () => void;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        let completed = 0;
        const consumer = await worker.rpc.consumeRpcs([api], async (message) => {
          started.push(message.id);
          await finished;
          completed += 1;
          await worker.result.sendResult(message, {
            id: newMessageId(),
            rpcMessageId: message.id,
            result: 'done',
            error: false,
          });
        });
        const caller = await rpcPair();
        const inFlight = call(caller, rpcMessage(api, 'slow', {}));
        await started.waitForCount(1, patience);
        let stopped = false;
        const stopping = consumer.stop().then(() => (stopped = true));
        await new Promise((resolve) => setImmediate(resolve));
        expect(stopped).toBe(false);
        finish();
        await stopping;
        expect(completed).toBe(1);
        expect((await inFlight).result).toBe('done');
      });
    });

    describe('events', () => {
      async function events(): Promise<EventTransport> {
        const set = await connect();
        if (!set.event) throw new Error('this target provides no event transport');
        return set.event;
      }

      it('reports the capabilities the target declares', async () => {
        expect({ ...(await events()).capabilities }).toEqual({ ...caps });
      });

      function collect(
        transport: EventTransport,
        api: string,
        names: string[],
        group: string,
        consumer = 'c1',
        since?: Parameters<EventTransport['consume']>[0]['since'],
      ) {
        const got = new Collector<EventMessage>();
        const start = transport
          .consume(
            { events: names.map((eventName) => ({ apiName: api, eventName })), group, consumer, since },
            async (m) => got.push(m),
          )
          .then(keep);
        return { got, start };
      }

      it('delivers a fired event with its id, names, version and parameters', async () => {
        const api = uniqueApi();
        const transport = await events();
        const { got, start } = collect(transport, api, ['created'], 'svc-a');
        await start;
        const sent = eventMessage(api, 'created', { id: 1, sender: 'Joe', body: { lines: ['a', 'b'] } });
        await transport.sendEvent(sent, { timeoutSeconds: 5 });
        const [received] = await got.waitForCount(1, patience);
        expect(received).toMatchObject({
          id: sent.id,
          apiName: api,
          eventName: 'created',
          version: 1,
          kwargs: sent.kwargs,
        });
      });

      when(caps.consumerGroups)(
        'gives every group every event, and each event to one consumer of a group',
        async () => {
          const api = uniqueApi();
          const producer = await events();
          const a1 = collect(await events(), api, ['created'], 'svc-a', 'a1');
          const a2 = collect(await events(), api, ['created'], 'svc-a', 'a2');
          const b1 = collect(await events(), api, ['created'], 'svc-b', 'b1');
          await Promise.all([a1.start, a2.start, b1.start]);
          const sent = Array.from({ length: 10 }, (_, i) => eventMessage(api, 'created', { i }));
          for (const message of sent) await producer.sendEvent(message, { timeoutSeconds: 5 });
          await b1.got.waitForCount(10, patience);
          await waitFor(() => a1.got.length + a2.got.length >= 10, {
            timeout: patience,
            message: 'group svc-a to get 10 events',
          });
          const groupA = [...a1.got.items, ...a2.got.items].map((m) => m.id).sort();
          expect(groupA).toEqual(sent.map((m) => m.id).sort());
          expect(b1.got.items.map((m) => m.id).sort()).toEqual(sent.map((m) => m.id).sort());
        },
      );

      it('listens to several events with one consumer', async () => {
        const api = uniqueApi();
        const transport = await events();
        const { got, start } = collect(transport, api, ['created', 'closed'], 'svc-multi');
        await start;
        await transport.sendEvent(eventMessage(api, 'created', { n: 1 }), { timeoutSeconds: 5 });
        await transport.sendEvent(eventMessage(api, 'ignored', { n: 2 }), { timeoutSeconds: 5 });
        await transport.sendEvent(eventMessage(api, 'closed', { n: 3 }), { timeoutSeconds: 5 });
        await got.waitForCount(2, patience);
        const sentinel = eventMessage(api, 'created', { n: 4 });
        await transport.sendEvent(sentinel, { timeoutSeconds: 5 });
        await got.waitForCount(3, patience);
        expect(got.items.map((m) => m.eventName)).toEqual(['created', 'closed', 'created']);
      });

      when(caps.ordering !== 'none')('keeps order within one stream for one consumer', async () => {
        const api = uniqueApi();
        const transport = await events();
        const { got, start } = collect(transport, api, ['tick'], 'svc-order');
        await start;
        for (let i = 0; i < 25; i++) await transport.sendEvent(eventMessage(api, 'tick', { i }), { timeoutSeconds: 5 });
        await got.waitForCount(25, patience);
        expect(got.items.map((m) => m.kwargs.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
      });

      it('starts a new group at new events only, unless since says otherwise', async () => {
        const api = uniqueApi();
        const transport = await events();
        const old = eventMessage(api, 'created', { n: 'old' });
        await transport.sendEvent(old, { timeoutSeconds: 5 });
        const { got, start } = collect(transport, api, ['created'], 'svc-new');
        await start;
        const fresh = eventMessage(api, 'created', { n: 'new' });
        await transport.sendEvent(fresh, { timeoutSeconds: 5 });
        await got.waitForCount(1, patience);
        expect(got.items.map((m) => m.id)).toEqual([fresh.id]);
      });

      when(caps.replay)("replays from the beginning for a new group with since: 'beginning'", async () => {
        const api = uniqueApi();
        const transport = await events();
        const old = [eventMessage(api, 'created', { n: 1 }), eventMessage(api, 'created', { n: 2 })];
        for (const message of old) await transport.sendEvent(message, { timeoutSeconds: 5 });
        const { got, start } = collect(transport, api, ['created'], 'svc-replay', 'c1', { kind: 'beginning' });
        await start;
        await got.waitForCount(2, patience);
        expect(got.items.map((m) => m.id)).toEqual(old.map((m) => m.id));
      });

      when(caps.replay)('replays from a time for a new group', async () => {
        const api = uniqueApi();
        const transport = await events();
        const before = eventMessage(api, 'created', { n: 'before' });
        await transport.sendEvent(before, { timeoutSeconds: 5 });
        const cut = Date.now() + 20;
        await untilTime(cut);
        const after = eventMessage(api, 'created', { n: 'after' });
        await transport.sendEvent(after, { timeoutSeconds: 5 });
        const { got, start } = collect(transport, api, ['created'], 'svc-time', 'c1', {
          kind: 'time',
          time: new Date(cut),
        });
        await start;
        await got.waitForCount(1, patience);
        const sentinel = eventMessage(api, 'created', { n: 'sentinel' });
        await transport.sendEvent(sentinel, { timeoutSeconds: 5 });
        await got.waitForCount(2, patience);
        expect(got.items.map((m) => m.id)).toEqual([after.id, sentinel.id]);
      });

      when(caps.durable)('keeps events for a group whose consumers are down, and delivers them on return', async () => {
        const api = uniqueApi();
        const producer = await events();
        const first = collect(await events(), api, ['created'], 'svc-durable', 'c1');
        const consumer = await first.start;
        await consumer.stop();
        const whileDown = eventMessage(api, 'created', { n: 'while down' });
        await producer.sendEvent(whileDown, { timeoutSeconds: 5 });
        const second = collect(await events(), api, ['created'], 'svc-durable', 'c1');
        await second.start;
        await second.got.waitForCount(1, patience);
        expect(second.got.items[0]!.id).toBe(whileDown.id);
      });

      when(caps.consumerGroups)(
        'redelivers an event whose handler failed to another consumer of the group',
        async () => {
          const api = uniqueApi();
          const producer = await events();
          const failing = await events();
          const attempts = new Collector<EventMessage>();
          const failingConsumer = await failing.consume(
            { events: [{ apiName: api, eventName: 'created' }], group: 'svc-retry', consumer: 'crashy' },
            async (message) => {
              attempts.push(message);
              throw new Error('handler failed');
            },
          );
          const sent = eventMessage(api, 'created', { n: 1 });
          await producer.sendEvent(sent, { timeoutSeconds: 5 });
          await attempts.waitForCount(1, patience);
          await failingConsumer.stop();
          await failing.close();
          const healthy = collect(await events(), api, ['created'], 'svc-retry', 'healthy');
          await healthy.start;
          await healthy.got.waitForCount(1, patience);
          expect(healthy.got.items[0]!.id).toBe(sent.id);
        },
      );

      when(caps.durable)(
        'sets aside, with its last error, an event whose handler fails on delivery_limit + 1 deliveries',
        async () => {
          const api = uniqueApi();
          const limit = target.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT;
          const transport = await events();
          const spec = { events: [{ apiName: api, eventName: 'created' }], group: 'svc-bounded', consumer: 'c1' };
          const attempts = new Collector<string>();
          const failing = async (message: EventMessage): Promise<void> => {
            attempts.push(message.id);
            throw new Error(`handler failed on delivery ${attempts.length}`);
          };
          const doomed = eventMessage(api, 'created', { n: 'doomed' });
          // Each round: a consumer takes the event (again), its handler fails, it stops; the event goes back to the group.
          for (let round = 0; attempts.length < limit + 1; round++) {
            const before = attempts.length;
            const consumer = await transport.consume(spec, failing);
            if (round === 0) await transport.sendEvent(doomed, { timeoutSeconds: 5 });
            await attempts.waitForCount(before + 1, patience);
            await consumer.stop();
          }
          // The last failure set it aside: the group goes on with the next event, and never sees this one again.
          const healthy = collect(transport, api, ['created'], 'svc-bounded', 'c1');
          await healthy.start;
          const next = eventMessage(api, 'created', { n: 'next' });
          await transport.sendEvent(next, { timeoutSeconds: 5 });
          await healthy.got.waitForCount(1, patience);
          expect(healthy.got.items.map((m) => m.id)).toEqual([next.id]);
          expect(attempts.items).toEqual(Array.from({ length: limit + 1 }, () => doomed.id));
          if (namespace.deadLetters) {
            let letters: ReadonlyArray<{ readonly id?: string; readonly reason: string }> = [];
            await waitFor(async () => (letters = await namespace.deadLetters!(api, 'created')).length > 0, {
              timeout: patience,
              message: 'the event in the dead-letter store',
            });
            expect(letters).toHaveLength(1);
            expect(letters[0]!.id).toBe(doomed.id);
            expect(letters[0]!.reason).toContain(`handler failed on delivery ${limit + 1}`);
          }
        },
      );

      it('sets aside an event its handler rejects as poison, and goes on', async () => {
        const api = uniqueApi();
        const transport = await events();
        const seen = new Collector<EventMessage>();
        const consumer = await transport.consume(
          { events: [{ apiName: api, eventName: 'created' }], group: 'svc-poison', consumer: 'c1' },
          async (message) => {
            seen.push(message);
            if (message.kwargs.poison) throw new MessageRejectedError('invalid parameters');
          },
        );
        const poison = eventMessage(api, 'created', { poison: true });
        const good = eventMessage(api, 'created', { poison: false });
        await transport.sendEvent(poison, { timeoutSeconds: 5 });
        await transport.sendEvent(good, { timeoutSeconds: 5 });
        await seen.waitForCount(2, patience);
        await consumer.stop();
        // Nothing comes back after a restart of the group: both were acknowledged.
        const again = collect(await events(), api, ['created'], 'svc-poison', 'c2');
        await again.start;
        const sentinel = eventMessage(api, 'created', { poison: false });
        await transport.sendEvent(sentinel, { timeoutSeconds: 5 });
        await again.got.waitForCount(1, patience);
        expect(again.got.items.map((m) => m.id)).toEqual([sentinel.id]);
      });

      when(target.canInjectMalformedEvents === true)('sets aside a message it cannot decode, and goes on', async () => {
        const api = uniqueApi();
        const transport = await events();
        const { got, start } = collect(transport, api, ['created'], 'svc-malformed');
        await start;
        if (!namespace.injectMalformedEvent)
          throw new Error('canInjectMalformedEvents is true but the namespace has no injectMalformedEvent()');
        await namespace.injectMalformedEvent(api, 'created');
        const good = eventMessage(api, 'created', { n: 1 });
        await transport.sendEvent(good, { timeoutSeconds: 5 });
        await got.waitForCount(1, patience);
        expect(got.items.map((m) => m.id)).toEqual([good.id]);
      });

      it('stop() waits for the handler in progress and returns promptly when idle', async () => {
        const api = uniqueApi();
        const transport = await events();
        const idle = await transport.consume(
          { events: [{ apiName: api, eventName: 'idle' }], group: 'svc-idle', consumer: 'c1' },
          async () => {},
        );
        const t0 = Date.now();
        await idle.stop();
        expect(Date.now() - t0).toBeLessThan(patience);

        let finish!: () => void;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        const started = new Collector<string>();
        let completed = 0;
        const busy = await transport.consume(
          { events: [{ apiName: api, eventName: 'busy' }], group: 'svc-busy', consumer: 'c1' },
          async (m) => {
            started.push(m.id);
            await finished;
            completed += 1;
          },
        );
        await transport.sendEvent(eventMessage(api, 'busy', {}), { timeoutSeconds: 5 });
        await started.waitForCount(1, patience);
        let stopped = false;
        const stopping = busy.stop().then(() => (stopped = true));
        await new Promise((resolve) => setImmediate(resolve));
        expect(stopped).toBe(false);
        finish();
        await stopping;
        expect(completed).toBe(1);
      });

      when(caps.history)('reads history newest first', async () => {
        const transport = await events();
        if (!transport.history) throw new Error('capabilities.history is true but the transport has no history()');
        const api = uniqueApi();
        const sent = [
          eventMessage(api, 'created', { n: 1 }),
          eventMessage(api, 'created', { n: 2 }),
          eventMessage(api, 'closed', { n: 3 }),
        ];
        for (const message of sent) await transport.sendEvent(message, { timeoutSeconds: 5 });
        const read = async (eventName?: string): Promise<string[]> => {
          const ids: string[] = [];
          for await (const message of transport.history!({ apiName: api, eventName, limit: 10 })) ids.push(message.id);
          return ids;
        };
        await waitFor(async () => (await read('created')).length === 2, {
          timeout: patience,
          message: 'history to show 2 events',
        });
        expect(await read('created')).toEqual([sent[1]!.id, sent[0]!.id]);
        expect(await read()).toEqual([sent[2]!.id, sent[1]!.id, sent[0]!.id]);
      });

      deadLetterTests({ events, keep, uniqueApi, patience }, when(target.deadLetterStore !== false));
    });

    describe('schema', () => {
      async function schemas(): Promise<SchemaTransport> {
        const set = await connect();
        if (!set.schema) throw new Error('this target provides no schema transport');
        return set.schema;
      }

      const schemaOf = (title: string): ApiSchema => ({
        rpcs: {
          get: {
            parameters: {
              type: 'object',
              title,
              properties: { id: { type: 'integer' } },
              required: ['id'],
              additionalProperties: false,
            },
            response: { type: 'string' },
          },
        },
        events: {
          created: { parameters: { type: 'object', properties: {}, required: [], additionalProperties: false } },
        },
      });

      it('stores schemas that another process loads', async () => {
        const apiA = uniqueApi();
        const apiB = uniqueApi();
        const writer = await schemas();
        await writer.store(apiA, schemaOf('A'), 60);
        await writer.store(apiB, schemaOf('B'), 60);
        const reader = await schemas();
        const loaded = await reader.load();
        expect(loaded[apiA]).toEqual(schemaOf('A'));
        expect(loaded[apiB]).toEqual(schemaOf('B'));
      });

      it('replaces a schema stored again', async () => {
        const api = uniqueApi();
        const writer = await schemas();
        await writer.store(api, schemaOf('first'), 60);
        await writer.store(api, schemaOf('second'), 60);
        expect((await (await schemas()).load())[api]).toEqual(schemaOf('second'));
      });

      it('forgets a schema once its ttl passed without a refresh', async () => {
        const api = uniqueApi();
        const writer = await schemas();
        // 3 s: long enough to be read back once on a loaded machine (a new reader connects first), short enough to wait out.
        await writer.store(api, schemaOf('short-lived'), 3);
        const reader = await schemas();
        expect((await reader.load())[api]).toBeDefined();
        await waitFor(async () => (await reader.load())[api] === undefined, {
          timeout: patience + 4000,
          interval: 100,
          message: 'the schema to expire',
        });
      });
    });
  });
}
