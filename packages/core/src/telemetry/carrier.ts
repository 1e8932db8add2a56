/**
 * W3C trace context on messages. Core puts the active context into a small
 * carrier (`traceparent`, and `tracestate` when there is one) on every call,
 * result and event it sends; transports carry it as they can (headers on AMQP
 * and Kafka, inside the message id on Redis, see each transport's reference),
 * and core reads it back on the other side. Without an OpenTelemetry SDK the
 * propagator is a no-op: the carrier stays empty and nothing is sent.
 */
import type { Context } from '@opentelemetry/api';
import { context, propagation } from './otel';

import type { TraceCarrier } from './headers';

export { isTraceparent, traceContextFromHeaders, traceHeaders, type TraceCarrier } from './headers';

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
