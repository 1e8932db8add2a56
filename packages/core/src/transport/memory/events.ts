/** The memory transport's event role: streams with consumer groups, replay and history in the in-process broker. */
import { encodeJson, type EventMessage } from '../../message';
import type {
  ConsumeSpec,
  Consumer,
  EventMessageHandler,
  EventTransport,
  HistoryQuery,
  TransportCapabilities,
  TransportContext,
} from '../interfaces';
import { settleEvent } from '../kit/settle';
import { decodeEvent } from './codec';
import type { DeadLetterStore } from '../dead-letters';
import { MemoryDeadLetters } from './dead-letters';
import { memoryBroker, type GroupState, type MemoryBroker, type MemoryStream, type StreamEntry } from './broker';

export const memoryCapabilities: TransportCapabilities = Object.freeze({
  crossProcess: false,
  durable: true,
  consumerGroups: true,
  replay: true,
  history: true,
  ordering: 'per-stream',
});

interface Subscription {
  readonly stream: MemoryStream;
  readonly group: GroupState;
}

export class MemoryEventTransport implements EventTransport {
  readonly capabilities = memoryCapabilities;
  readonly deadLetters: DeadLetterStore;
  private readonly broker: MemoryBroker;
  constructor(
    private readonly options: { name: string; max_stream_length: number; delivery_limit: number },
    private readonly context: TransportContext,
  ) {
    this.broker = memoryBroker(options.name);
    this.deadLetters = new MemoryDeadLetters(this.broker, options.max_stream_length);
  }

  private stream(apiName: string, eventName: string): MemoryStream {
    return this.broker.stream(`${apiName}.${eventName}`, this.options.max_stream_length);
  }

  async sendEvent(message: EventMessage): Promise<void> {
    const { apiName, eventName, id, version, kwargs, traceContext } = message;
    this.stream(apiName, eventName).append(
      apiName,
      eventName,
      encodeJson({ id, apiName, eventName, version, kwargs, traceContext }),
    );
  }

  async consume(spec: ConsumeSpec, handler: EventMessageHandler): Promise<Consumer> {
    const subscriptions: Subscription[] = spec.events.map(({ apiName, eventName }) => {
      const stream = this.stream(apiName, eventName);
      const group = stream.group(spec.group, spec.since);
      group.consumers += 1;
      return { stream, group };
    });
    const abort = new AbortController();
    const mine = new Set<{ sub: Subscription; seq: number }>();

    const next = (): { sub: Subscription; seq: number } | undefined => {
      for (const sub of subscriptions) {
        const { group, stream } = sub;
        while (group.redeliver.length > 0) {
          const seq = group.redeliver.shift()!;
          if (stream.entry(seq, group)) return { sub, seq };
          group.pending.delete(seq); // trimmed away meanwhile
          group.deliveries.delete(seq);
        }
        const replayed = group.replayQueue.shift();
        if (replayed !== undefined) return { sub, seq: replayed };
        if (group.cursor < stream.firstSeq) group.cursor = stream.firstSeq;
        if (group.cursor < stream.endSeq) return { sub, seq: group.cursor++ };
      }
      return undefined;
    };

    const waitForAny = async (): Promise<void> => {
      const local = new AbortController();
      const onAbort = (): void => local.abort();
      abort.signal.addEventListener('abort', onAbort, { once: true });
      await Promise.race(subscriptions.map((s) => s.stream.changed.wait(local.signal)));
      local.abort();
      abort.signal.removeEventListener('abort', onAbort);
    };

    const loop = async (): Promise<void> => {
      while (!abort.signal.aborted) {
        const item = next();
        if (!item) {
          await waitForAny();
          continue;
        }
        const { sub, seq } = item;
        const entry = sub.stream.entry(seq, sub.group)!;
        sub.group.pending.set(seq, spec.consumer);
        const deliveries = (sub.group.deliveries.get(seq) ?? 0) + 1;
        sub.group.deliveries.set(seq, deliveries);
        const settled = (): void => {
          sub.group.pending.delete(seq);
          sub.group.deliveries.delete(seq);
          sub.group.replayed.delete(seq);
        };
        await settleEvent(
          decodeEvent(entry),
          handler,
          { deliveryLimit: this.options.delivery_limit, deliveries: () => deliveries, onDeadLetter: spec.onDeadLetter },
          {
            ack: settled,
            deadLetter: (reason, id) => {
              this.setAside(spec.group, entry, reason, id ?? String(seq));
              settled();
            },
            // Not acknowledged: stays pending and goes back to the group when this consumer stops.
            redeliver: () => void mine.add(item),
          },
        );
      }
    };
    const running = loop();
    let left = false;
    return {
      stop: async () => {
        abort.abort();
        await running;
        for (const { sub, seq } of mine) {
          if (sub.group.pending.get(seq) === spec.consumer) {
            sub.group.pending.delete(seq);
            sub.group.redeliver.push(seq);
            sub.stream.changed.notify();
          }
        }
        if (left) return;
        left = true;
        for (const { stream, group } of subscriptions) {
          group.consumers -= 1;
          // An ephemeral group goes with its last consumer, and what waited in it with it.
          if (spec.ephemeral && group.consumers === 0 && stream.groups.get(spec.group) === group) {
            stream.groups.delete(spec.group);
          }
        }
      },
    };
  }

  private setAside(group: string, entry: StreamEntry, reason: string, id: string): void {
    const stream = `${entry.apiName}.${entry.eventName}`;
    this.broker.setAside({ kind: 'event', group, stream, payload: entry.payload, reason });
    this.context.logger.warn('Event set aside (dead letter)', { id, group, reason });
  }

  async *history(query: HistoryQuery): AsyncIterable<EventMessage> {
    const streams = [...this.broker.streams.entries()]
      .filter(([key]) =>
        query.eventName ? key === `${query.apiName}.${query.eventName}` : key.startsWith(`${query.apiName}.`),
      )
      .map(([, stream]) => stream);
    const entries = streams
      .flatMap((s) => s.entries)
      .filter((e) => e.apiName === query.apiName)
      .filter((e) => (!query.start || e.time >= query.start) && (!query.stop || e.time <= query.stop))
      .sort((a, b) => b.order - a.order);
    let count = 0;
    for (const entry of entries) {
      if (query.limit !== undefined && count++ >= query.limit) return;
      const decoded = decodeEvent(entry);
      if (decoded.ok) yield decoded.value;
    }
  }

  async close(): Promise<void> {}
}
