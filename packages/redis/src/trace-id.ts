/**
 * Trace context on the Redis wire. Python Lightbus refuses any metadata field it
 * does not know, but treats message ids as opaque text: it keeps them, echoes a
 * call's id as `rpc_message_id`, and names the expiry key after it. So the
 * sender's W3C `traceparent` rides at the end of the id:
 * `<id>;tp=00-<trace id>-<span id>-<flags>` (checked against Python Lightbus
 * 1.3: calls, results and events with such ids are handled as usual).
 * `tracestate` is not carried on Redis.
 */
import { isTraceparent } from '@lightbus/core/transport';

const MARK = ';tp=';

/** The id as written: `id` with the traceparent of `traceContext` appended, when there is one. */
export function wireId(id: string, traceContext: Readonly<Record<string, string>> | undefined): string {
  const traceparent = traceContext?.traceparent;
  return traceparent && isTraceparent(traceparent) && !id.includes(MARK) ? `${id}${MARK}${traceparent}` : id;
}

/** An id as read: the message id before the mark, and the trace context after it (if well formed). */
export function splitWireId(wire: string): { id: string; traceContext?: Readonly<Record<string, string>> } {
  const at = wire.lastIndexOf(MARK);
  if (at <= 0) return { id: wire };
  const traceparent = wire.slice(at + MARK.length);
  return isTraceparent(traceparent) ? { id: wire.slice(0, at), traceContext: { traceparent } } : { id: wire };
}
