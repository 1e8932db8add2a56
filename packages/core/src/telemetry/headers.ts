/**
 * The W3C trace context as message headers, for transports that have headers
 * (AMQP, Kafka). Kept apart from carrier.ts so a transport's types never need
 * `@opentelemetry/api` (an optional peer of core).
 */
/** `{ traceparent: '00-<trace id>-<span id>-<flags>', tracestate?: '...' }`. */
export type TraceCarrier = Readonly<Record<string, string>>;

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Whether `value` is a well-formed W3C traceparent (transports check what they read off the wire). */
export function isTraceparent(value: unknown): value is string {
  return typeof value === 'string' && TRACEPARENT.test(value);
}

/** The carrier as message headers (`traceparent`, `tracestate`): what a transport with headers writes. */
export function traceHeaders(traceContext: TraceCarrier | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (traceContext?.traceparent && isTraceparent(traceContext.traceparent)) {
    out.traceparent = traceContext.traceparent;
    if (traceContext.tracestate) out.tracestate = traceContext.tracestate;
  }
  return out;
}

/** The carrier read back from headers (`header(name)` gives a header's value as text, or undefined), when well formed. */
export function traceContextFromHeaders(header: (name: string) => string | undefined): { traceContext?: TraceCarrier } {
  const traceparent = header('traceparent');
  if (!isTraceparent(traceparent)) return {};
  const tracestate = header('tracestate');
  return { traceContext: tracestate ? { traceparent, tracestate } : { traceparent } };
}
