/**
 * Spans of the bus, after OpenTelemetry's RPC and messaging semantic
 * conventions. Calls: a CLIENT span on the caller and a SERVER span on the
 * worker, named `<api>/<procedure>`. Events: a PRODUCER span on fire
 * (`publish <api>.<event>`) and a CONSUMER span around each handler
 * (`process <api>.<event>`), a child of the producer's context so one trace
 * runs caller -> worker -> events fired there -> every listener.
 */
import type { Attributes, Context, Span, SpanKind as Kind } from '@opentelemetry/api';
import { context, SpanKind, SpanStatusCode, trace } from './otel';
import { LightbusError, RemoteError } from '../errors';

const TRACER = '@lightbus/core';

export interface Destination {
  readonly apiName: string;
  /** The procedure or event name. */
  readonly member: string;
  /** The transport's name (`redis`, `amqp`, ...), as `lightbus.transport`. */
  readonly transport: string;
}

export function rpcAttributes(to: Destination): Attributes {
  return {
    'rpc.system': 'lightbus',
    'rpc.service': to.apiName,
    'rpc.method': to.member,
    'messaging.system': to.transport,
    'messaging.destination.name': `${to.apiName}:rpc_queue`,
    'lightbus.transport': to.transport,
  };
}

export function eventAttributes(to: Destination, operation: 'publish' | 'process'): Attributes {
  return {
    'messaging.system': to.transport,
    'messaging.operation': operation,
    'messaging.operation.type': operation === 'publish' ? 'send' : 'process',
    'messaging.operation.name': operation,
    'messaging.destination.name': `${to.apiName}.${to.member}`,
    'lightbus.api': to.apiName,
    'lightbus.event': to.member,
    'lightbus.transport': to.transport,
  };
}

export function startSpan(name: string, kind: Kind, attributes: Attributes, parent: Context = context.active()): Span {
  return trace.getTracer(TRACER).startSpan(name, { kind, attributes }, parent);
}

/** The error's stable name for `error.type`: a Lightbus code, a remote error's type, else its class. */
export function errorType(error: unknown): string {
  if (error instanceof RemoteError) return error.remoteType ?? error.code;
  if (error instanceof LightbusError) return error.code;
  if (error instanceof Error) return error.name;
  return typeof error;
}

/** End `span`: OK, or ERROR with the exception recorded and `error.type` set. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.setAttribute('error.type', errorType(error));
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

export { SpanKind };
