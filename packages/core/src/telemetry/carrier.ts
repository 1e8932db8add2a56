/**
 * W3C trace context on messages. Core puts the active context into a small
 * carrier (`traceparent`, and `tracestate` when there is one) on every call,
 * result and event it sends; transports carry it as they can (headers on AMQP
 * and Kafka, inside the message id on Redis, see each transport's reference),
 * and core reads it back on the other side. Without an OpenTelemetry SDK the
 * propagator is a no-op: the carrier stays empty and nothing is sent.
 */
import { context, propagation, type Context } from '@opentelemetry/api';

/** `{ traceparent: '00-<trace id>-<span id>-<flags>', tracestate?: '...' }`. */
export type TraceCarrier = Readonly<Record<string, string>>;

/** The carrier of `ctx` (default: the active context), or undefined when there is nothing to propagate. */
export function injectTrace(ctx: Context = context.active()): TraceCarrier | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  for (const key in carrier) if (key) return carrier;
  return undefined;
}

/** The context a received carrier continues (the active one when the message has none). */
export function extractTrace(carrier: TraceCarrier | undefined): Context {
  return carrier ? propagation.extract(context.active(), carrier) : context.active();
}

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
