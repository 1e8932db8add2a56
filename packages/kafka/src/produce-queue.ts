/**
 * Producer batching. kafkajs sends each send() as its own request and has no
 * linger setting; this queue gathers records and sends them in one request:
 * those that arrive within `linger_ms` of the first, and all that arrive while
 * a request is in flight (so under load batches grow by themselves, as with
 * the Java client's batching). One request in flight per queue.
 */
import { BrokerConnectionError } from '@lightbus/core/transport';
import type { OutgoingRecord } from './codec';

export interface ProduceQueueOptions {
  readonly lingerMs: number;
  readonly batchSize: number;
  readonly batchBytes: number;
}

export interface QueuedRecord {
  readonly topic: string;
  readonly record: OutgoingRecord;
}

interface Item extends QueuedRecord {
  readonly bytes: number;
  /** Not sent after this time (ms since the epoch): the caller has given up. */
  readonly deadline: number | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** A record still queued when its deadline passed: dropped, never sent later. A broker problem as far as the caller knows. */
export class DeadlinePassedError extends BrokerConnectionError {
  constructor(topic: string) {
    super(
      `Not produced to ${topic}: its deadline passed while it waited to be sent, and it will not be sent later. ` +
        `Check that the Kafka brokers are reachable and not overloaded.`,
      { retriable: true },
    );
  }
}

function sizeOf(record: OutgoingRecord): number {
  let bytes =
    (record.key === null ? 0 : Buffer.byteLength(record.key)) +
    (record.value === null ? 0 : Buffer.byteLength(record.value)) +
    70;
  for (const [name, value] of Object.entries(record.headers))
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 4;
  return bytes;
}

export class ProduceQueue {
  private readonly queue: Item[] = [];
  private sending: Promise<void> | undefined;
  private timer: { cancel(): void } | undefined;

  constructor(
    private readonly send: (records: readonly QueuedRecord[]) => Promise<void>,
    private readonly options: ProduceQueueOptions,
  ) {}

  /** Queue one record; resolves once the broker has it. */
  push(topic: string, record: OutgoingRecord, deadline?: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, record, bytes: sizeOf(record), deadline, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.sending || this.timer) return;
    if (this.options.lingerMs > 0) {
      const timeout = setTimeout(() => this.flush(), this.options.lingerMs);
      this.timer = { cancel: () => clearTimeout(timeout) };
    } else {
      const immediate = setImmediate(() => this.flush());
      this.timer = { cancel: () => clearImmediate(immediate) };
    }
  }

  private flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.sending || this.queue.length === 0) return;
    const now = Date.now();
    const batch: Item[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && batch.length < this.options.batchSize) {
      const next = this.queue[0]!;
      if (batch.length > 0 && bytes + next.bytes > this.options.batchBytes) break;
      this.queue.shift();
      if (next.deadline !== undefined && now > next.deadline) {
        next.reject(new DeadlinePassedError(next.topic));
        continue;
      }
      batch.push(next);
      bytes += next.bytes;
    }
    if (batch.length === 0) {
      if (this.queue.length > 0) this.schedule();
      return;
    }
    this.sending = this.send(batch).then(
      () => batch.forEach((item) => item.resolve()),
      (error: unknown) => batch.forEach((item) => item.reject(error)),
    );
    void this.sending.finally(() => {
      this.sending = undefined;
      // Whatever arrived meanwhile goes at once: it has waited a request already.
      if (this.queue.length > 0) this.flush();
    });
  }

  /** Send what is queued and wait for every request in flight. */
  async drain(): Promise<void> {
    for (;;) {
      if (!this.sending && this.queue.length > 0) {
        this.timer?.cancel();
        this.flush();
      }
      if (!this.sending) {
        if (this.queue.length === 0) return;
        continue;
      }
      await this.sending;
    }
  }
}
