/**
 * The in-memory broker behind the memory transport: RPC queues, result
 * mailboxes, event streams with consumer groups, schemas with TTL. One per
 * name per process (option `name`, default "default"), so several buses in one
 * process share a bus, as separate processes share Redis.
 */
import type { ReplyMatcher } from '../kit/reply';
import type { ApiSchema } from '../../schema/types';
import type { StartPosition } from '../interfaces';
import { Notifier } from '../../util/notifier';

export interface StreamEntry {
  readonly seq: number;
  /** Broker-wide arrival order, across streams (for history). */
  readonly order: number;
  readonly time: Date;
  /** The message as it would travel: a JSON text, decoded for each delivery. */
  readonly payload: string;
  readonly apiName: string;
  readonly eventName: string;
}

export interface GroupState {
  /** Next sequence number never delivered to this group. */
  cursor: number;
  /** Delivered, not yet acknowledged: seq -> consumer name. */
  readonly pending: Map<number, string>;
  /** Unacknowledged entries given back by consumers that stopped: delivered again first. */
  readonly redeliver: number[];
  /** Deliveries so far of entries not yet settled: seq -> count (for delivery_limit). */
  readonly deliveries: Map<number, number>;
  /** Dead letters replayed to this group only, by negative seq, until settled. */
  readonly replayed: Map<number, StreamEntry>;
  /** Replayed entries not yet delivered (negative seqs), delivered before new ones. */
  readonly replayQueue: number[];
  /** Consumers running in the group (an ephemeral group goes when the last one stops). */
  consumers: number;
}

export class MemoryStream {
  readonly entries: StreamEntry[] = [];
  readonly groups = new Map<string, GroupState>();
  readonly changed = new Notifier();
  private nextSeq = 1;
  private nextReplaySeq = -1;

  constructor(
    private readonly maxLength: number,
    private readonly nextOrder: () => number,
  ) {}

  get firstSeq(): number {
    return this.entries[0]?.seq ?? this.nextSeq;
  }

  get endSeq(): number {
    return this.nextSeq;
  }

  append(apiName: string, eventName: string, payload: string): StreamEntry {
    const entry: StreamEntry = {
      seq: this.nextSeq++,
      order: this.nextOrder(),
      time: new Date(),
      payload,
      apiName,
      eventName,
    };
    this.entries.push(entry);
    if (this.entries.length > this.maxLength) this.entries.splice(0, this.entries.length - this.maxLength);
    this.changed.notify();
    return entry;
  }

  /** An entry of the stream (positive seq), or one replayed to `group` (negative seq). */
  entry(seq: number, group?: GroupState): StreamEntry | undefined {
    if (seq < 0) return group?.replayed.get(seq);
    const index = seq - this.firstSeq;
    return index >= 0 ? this.entries[index] : undefined;
  }

  /** Give a dead letter's payload back to one group (created at new events if missing): no other group sees it. */
  replay(groupName: string, apiName: string, eventName: string, payload: string): void {
    const group = this.group(groupName, undefined);
    const seq = this.nextReplaySeq--;
    group.replayed.set(seq, { seq, order: this.nextOrder(), time: new Date(), payload, apiName, eventName });
    group.replayQueue.push(seq);
    this.changed.notify();
  }

  group(name: string, since: StartPosition | undefined): GroupState {
    let state = this.groups.get(name);
    if (!state) {
      state = {
        cursor: this.startSeq(since),
        pending: new Map(),
        redeliver: [],
        deliveries: new Map(),
        replayed: new Map(),
        replayQueue: [],
        consumers: 0,
      };
      this.groups.set(name, state);
    }
    return state;
  }

  private startSeq(since: StartPosition | undefined): number {
    if (!since) return this.endSeq;
    switch (since.kind) {
      case 'beginning':
        return this.firstSeq;
      case 'time': {
        const found = this.entries.find((e) => e.time.getTime() >= since.time.getTime());
        return found ? found.seq : this.endSeq;
      }
      case 'position': {
        const seq = Number(since.position);
        return Number.isInteger(seq) && seq > 0 ? Math.max(seq, this.firstSeq) : this.endSeq;
      }
    }
  }
}

export interface MemoryDeadLetter {
  readonly kind: 'event' | 'rpc';
  /** Its id in the broker (increasing). */
  readonly seq: number;
  readonly group?: string;
  /** The stream it was taken from (`<api>.<event>`). */
  readonly stream?: string;
  readonly payload: string;
  readonly reason: string;
  readonly time: Date;
}

export class MemoryBroker {
  /** Calls waiting per API, as JSON text. */
  readonly rpcQueues = new Map<string, string[]>();
  readonly rpcArrived = new Notifier();
  /** Each open result transport's calls waiting for results, by its return path. */
  readonly replyEndpoints = new Map<string, ReplyMatcher>();
  readonly streams = new Map<string, MemoryStream>();
  readonly schemas = new Map<string, { schema: ApiSchema; expiresAt: number }>();
  /** Messages set aside: undecodable or rejected (poison). */
  readonly deadLetters: MemoryDeadLetter[] = [];
  private order = 0;
  private deadLetterSeq = 0;

  constructor(readonly name: string) {}

  /** Keep a message set aside (in arrival order, with a new id). */
  setAside(letter: Omit<MemoryDeadLetter, 'seq' | 'time'>): void {
    this.deadLetters.push({ ...letter, seq: ++this.deadLetterSeq, time: new Date() });
  }

  rpcQueue(apiName: string): string[] {
    let queue = this.rpcQueues.get(apiName);
    if (!queue) {
      queue = [];
      this.rpcQueues.set(apiName, queue);
    }
    return queue;
  }

  /** Calls waiting for their results, on every result transport of this broker. */
  get waitingResults(): number {
    let count = 0;
    for (const matcher of this.replyEndpoints.values()) count += matcher.size;
    return count;
  }

  stream(key: string, maxLength: number): MemoryStream {
    let stream = this.streams.get(key);
    if (!stream) {
      stream = new MemoryStream(maxLength, () => ++this.order);
      this.streams.set(key, stream);
    }
    return stream;
  }
}

const brokers = new Map<string, MemoryBroker>();

/** The process's memory broker of that name (created on first use). */
export function memoryBroker(name = 'default'): MemoryBroker {
  let broker = brokers.get(name);
  if (!broker) {
    broker = new MemoryBroker(name);
    brokers.set(name, broker);
  }
  return broker;
}

/** Forget a memory broker and everything in it (tests use unique names instead). */
export function resetMemoryBroker(name = 'default'): void {
  brokers.delete(name);
}
