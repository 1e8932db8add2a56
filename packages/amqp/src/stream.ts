/**
 * Reading RabbitMQ stream queues (x-queue-type: stream) over AMQP 0-9-1. A
 * stream never tells a reader that it reached the end, so a reader first
 * appends a marker (type lightbus.marker, a fresh message id) and reads until
 * it sees that marker: everything confirmed before the marker was written is
 * read, deterministically, with no idle timeout. Every reader skips markers.
 */
import { randomUUID } from 'node:crypto';
import { BusClosedError, deferred, errorText } from '@lightbus/core/transport';
import { StreamReadError } from './errors';
import { closeChannel, type Delivery } from './adapter';
import { isMarker, numberHeader } from './codec';
import type { Link } from './link';
import type { Publisher } from './publisher';
import { MESSAGE_TYPE } from './topology';

/** Where a stream reader starts: RabbitMQ's x-stream-offset. */
export type StreamStart =
  | { readonly kind: 'first' }
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'time'; readonly time: Date };

/** Seconds a reader starting at a time begins early, in case the broker's clock is behind ours; readers filter by time. */
export const CLOCK_MARGIN_SECONDS = 60;

/** Unacknowledged messages a stream reader lets the broker send ahead (stream consumers need a prefetch). */
const STREAM_PREFETCH = 500;

/** A stream read made no progress for this long: something is wrong (stream deleted, marker lost). */
const STALL_MS = 15_000;

export function offsetArgument(start: StreamStart): unknown {
  switch (start.kind) {
    case 'first':
      return 'first';
    case 'offset':
      return start.offset;
    case 'time': {
      // Never later than now: a read starting in the future would never reach the marker written now (readers filter by time).
      const from = Math.min(start.time.getTime(), Date.now());
      return { '!': 'timestamp', value: Math.max(0, Math.floor(from / 1000) - CLOCK_MARGIN_SECONDS) };
    }
  }
}

/** Append a marker to the stream (confirmed) and return its id. */
export async function writeMarker(publisher: Publisher, stream: string): Promise<string> {
  const id = randomUUID();
  await publisher.publish('', stream, Buffer.from('{}'), {
    type: MESSAGE_TYPE.marker,
    messageId: id,
    persistent: true,
    contentType: 'application/json',
  });
  return id;
}

/** The stream offset of a delivery from a stream queue. */
export function streamOffset(delivery: Delivery): number | undefined {
  return numberHeader(delivery, 'x-stream-offset');
}

/**
 * Read `stream` from `start` up to the marker `markerId`, calling `visit` for
 * each message (markers excluded) in order, one at a time. `visit` returning
 * false stops the read early.
 *
 * Interrupted by the transport's close() (the link closes), it fails with
 * core's BusClosedError, not StreamReadError; `signal` (its consumer stopping)
 * ends it the same way at once, even while it waits for data.
 */
export async function readStream(
  link: Link,
  stream: string,
  start: StreamStart,
  markerId: string,
  visit: (delivery: Delivery) => Promise<boolean | void> | boolean | void,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted) throw stoppedError(stream);
  const channel = await link.channel(signal);
  const buffered: Delivery[] = [];
  let wake = deferred<void>();
  let failure: Error | undefined;
  channel.once('close', () => {
    failure ??= link.isClosed
      ? link.closedError()
      : new StreamReadError(`The channel reading stream '${stream}' closed before the read finished.`);
    wake.resolve();
  });
  const stop = (): void => {
    failure ??= stoppedError(stream);
    wake.resolve();
  };
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await channel.prefetch(STREAM_PREFETCH, false);
    await channel.consume(
      stream,
      (delivery) => {
        if (delivery === null)
          failure ??= new StreamReadError(`RabbitMQ cancelled the read of stream '${stream}' (was it deleted?).`);
        else buffered.push(delivery);
        wake.resolve();
      },
      { noAck: false, arguments: { 'x-stream-offset': offsetArgument(start) } },
    );
    let unacked = 0;
    for (;;) {
      while (buffered.length === 0 && !failure) {
        const stall = setTimeout(() => {
          failure ??= new StreamReadError(`Reading stream '${stream}' made no progress for ${STALL_MS / 1000}s.`);
          wake.resolve();
        }, STALL_MS);
        await wake.promise;
        clearTimeout(stall);
        wake = deferred<void>();
      }
      const delivery = buffered.shift();
      if (!delivery) throw failure!;
      // Stream acknowledgements only grant credit; acknowledge in batches.
      if (++unacked >= Math.max(1, Math.floor(STREAM_PREFETCH / 2))) {
        channel.ack(delivery, true);
        unacked = 0;
      }
      if (isMarker(delivery)) {
        if (delivery.properties.messageId === markerId) return;
        continue;
      }
      if ((await visit(delivery)) === false) return;
    }
  } catch (error) {
    // close() cut the read short (its channel or connection closed under it): the caller is told the bus closed.
    if (link.isClosed && !(error instanceof BusClosedError)) throw link.closedError();
    if (error instanceof StreamReadError || error instanceof BusClosedError) throw error;
    if (signal?.aborted) throw stoppedError(stream);
    throw new StreamReadError(`Reading stream '${stream}' failed: ${errorText(error)}`, { cause: error });
  } finally {
    signal?.removeEventListener('abort', stop);
    await closeChannel(channel);
  }
}

function stoppedError(stream: string): BusClosedError {
  return new BusClosedError(
    `The read of stream '${stream}' was stopped: its consumer stopped or the transport closed.`,
  );
}

/**
 * Run a whole stream operation (marker, read) of a transport; if it fails because
 * `links` closed meanwhile, fail with core's BusClosedError instead of what the
 * cut connection threw.
 */
export async function closedInstead<T>(links: readonly Link[], run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const closed = links.find((link) => link.isClosed);
    if (closed && !(error instanceof BusClosedError)) throw closed.closedError();
    throw error;
  }
}
