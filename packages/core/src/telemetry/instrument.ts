/**
 * One place that wraps each bus operation in its span and its metrics, so the
 * client and the worker call one function per operation and stay readable.
 */
import type { Attributes, BatchObservableResult, Context, Span } from '@opentelemetry/api';
import { context, otel, propagation, trace } from './otel';
import { RpcTimeoutError } from '../errors';
import type { DeadLettered } from '../transport/interfaces';
import { extractTrace, injectTrace, type TraceCarrier } from './carrier';
import { BusMetrics, type Operation, type Outcome } from './metrics';
import { endSpan, errorType, eventAttributes, rpcAttributes, SpanKind, startSpan, type Destination } from './spans';

export interface Received {
  readonly id: string;
  readonly traceContext?: TraceCarrier;
}

/** One consumer group's lag on one destination, with the attributes to report it under. */
export interface ObservedLag {
  readonly attributes: Attributes;
  readonly lag?: number;
  readonly pending?: number;
}

export interface HandlerInfo extends Destination {
  readonly listenerName: string;
  readonly group?: string;
}

function outcomeOf(error: unknown): Outcome {
  if (error === undefined) return 'ok';
  return error instanceof RpcTimeoutError ? 'timeout' : 'error';
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

/**
 * What the API gives when no SDK is registered: the no-op tracer provider, and the no-op meter's
 * class (undefined when `@opentelemetry/api` is not installed: nothing can observe the bus then).
 */
const NOOP_TRACER_PROVIDER = otel && new otel.ProxyTracerProvider().getDelegate();
const NOOP_METER = otel?.createNoopMeter().constructor;

/** Whether an OpenTelemetry SDK traces or propagates now (a tracer provider or a propagator is registered). */
function tracing(): boolean {
  if (!otel) return false;
  const provider = trace.getTracerProvider();
  if (!(provider instanceof otel.ProxyTracerProvider) || provider.getDelegate() !== NOOP_TRACER_PROVIDER) return true;
  return propagation.fields().length > 0;
}

export class Telemetry {
  readonly metrics = new BusMetrics();
  /** Metrics are bound when the bus is created: a real meter then, or no-ops for good. */
  private readonly metered = NOOP_METER !== undefined && !(this.metrics.meter instanceof NOOP_METER);

  /**
   * Whether anything observes the bus. Without an SDK every operation runs bare: no attributes,
   * spans, carriers or timings are made for nobody (the API's no-ops are cheap, but not free per message).
   */
  private get observed(): boolean {
    return this.metered || tracing();
  }

  /** A call from this process: `send` gets the carrier to put on the outgoing message. */
  call<T>(to: Destination, send: (traceContext: TraceCarrier | undefined) => Promise<T>): Promise<T> {
    if (!this.observed) return send(undefined);
    const attributes = rpcAttributes(to);
    const span = startSpan(`${to.apiName}/${to.member}`, SpanKind.CLIENT, attributes);
    return this.measure(span, 'call', to.apiName, {
      work: (ctx) => send(injectTrace(ctx)),
      record: (took, error) => this.metrics.callDuration.record(took, { ...attributes, ...outcomeAttributes(error) }),
    });
  }

  /**
   * A call executed by this worker, in the caller's trace; nested calls and fires join it.
   * `failure` tells the error of an outcome that is not thrown (an error result to send back).
   */
  execute<T>(
    to: Destination,
    message: Received,
    run: (traceContext: TraceCarrier | undefined) => Promise<T>,
    failure: (outcome: T) => unknown = () => undefined,
  ): Promise<T> {
    if (!this.observed) return run(undefined);
    const attributes = { ...rpcAttributes(to), 'messaging.message.id': message.id };
    const span = startSpan(
      `${to.apiName}/${to.member}`,
      SpanKind.SERVER,
      attributes,
      extractTrace(message.traceContext),
    );
    return this.measure(span, 'execution', to.apiName, {
      activate: true,
      work: (ctx) => run(injectTrace(ctx)),
      failure,
      record: (took, error) =>
        this.metrics.executionDuration.record(took, { ...rpcAttributes(to), ...outcomeAttributes(error) }),
    });
  }

  /** An event fired by this process: `send` gets the carrier to put on the event. */
  fire<T>(
    to: Destination,
    messageId: string,
    send: (traceContext: TraceCarrier | undefined) => Promise<T>,
  ): Promise<T> {
    if (!this.observed) return send(undefined);
    const attributes = { ...eventAttributes(to, 'publish'), 'messaging.message.id': messageId };
    const span = startSpan(`publish ${to.apiName}.${to.member}`, SpanKind.PRODUCER, attributes);
    return this.measure(span, 'fire', to.apiName, {
      work: (ctx) => send(injectTrace(ctx)),
      record: (_took, error) =>
        this.metrics.eventsSent.add(1, { ...eventAttributes(to, 'publish'), ...outcomeAttributes(error) }),
    });
  }

  /** A listener's handler run on one event, in the firer's trace; calls and fires inside join it. */
  handle<T>(on: HandlerInfo, message: Received, run: () => Promise<T>): Promise<T> {
    if (!this.observed) return run();
    const base = { ...eventAttributes(on, 'process'), 'lightbus.listener': on.listenerName };
    const attributes = {
      ...base,
      'messaging.message.id': message.id,
      ...(on.group !== undefined ? { 'messaging.consumer.group.name': on.group } : {}),
    };
    const span = startSpan(
      `process ${on.apiName}.${on.member}`,
      SpanKind.CONSUMER,
      attributes,
      extractTrace(message.traceContext),
    );
    return this.measure(span, 'handler', on.apiName, {
      activate: true,
      work: () => run(),
      record: (took, error) => this.metrics.handlerDuration.record(took, { ...base, ...outcomeAttributes(error) }),
    });
  }

  /**
   * Run one operation in its span: counted in flight meanwhile, its duration and outcome
   * recorded by `record`, the span ended with the error (thrown, or told by `failure`).
   * `activate` makes the span the active one while the work runs (so work inside joins it).
   */
  private async measure<T>(
    span: Span,
    operation: Operation,
    apiName: string,
    how: {
      readonly work: (ctx: Context) => Promise<T>;
      readonly record: (seconds: number, error: unknown) => void;
      readonly failure?: (outcome: T) => unknown;
      readonly activate?: boolean;
    },
  ): Promise<T> {
    const ctx = trace.setSpan(context.active(), span);
    const done = this.metrics.begin(operation, apiName);
    const started = performance.now();
    let error: unknown;
    try {
      const outcome = await (how.activate ? context.with(ctx, () => how.work(ctx)) : how.work(ctx));
      error = how.failure?.(outcome);
      return outcome;
    } catch (caught) {
      error = caught;
      throw caught;
    } finally {
      done();
      how.record(seconds(started), error);
      endSpan(span, error);
    }
  }

  /**
   * Report consumer lag and pending counts, read from the transports by `collect` each time
   * the SDK collects metrics. Call once (the worker does, at start); the returned function stops it.
   */
  observeConsumers(collect: () => Promise<readonly ObservedLag[]>): () => void {
    const { consumerLag, consumerPending } = this.metrics;
    const callback = async (result: BatchObservableResult): Promise<void> => {
      for (const { attributes, lag, pending } of await collect()) {
        if (lag !== undefined) result.observe(consumerLag, lag, attributes);
        if (pending !== undefined) result.observe(consumerPending, pending, attributes);
      }
    };
    const { meter } = this.metrics;
    meter.addBatchObservableCallback(callback, [consumerLag, consumerPending]);
    return () => meter.removeBatchObservableCallback(callback, [consumerLag, consumerPending]);
  }

  /** A listener's event set aside by its transport, with why (the API and event when it could be decoded). */
  deadLettered(listenerName: string, setAside: DeadLettered): void {
    this.metrics.deadLettered.add(1, {
      ...(setAside.apiName !== undefined ? { 'lightbus.api': setAside.apiName } : {}),
      ...(setAside.eventName !== undefined ? { 'lightbus.event': setAside.eventName } : {}),
      'lightbus.listener': listenerName,
      'lightbus.dead_letter.reason': setAside.cause,
    });
  }
}

function outcomeAttributes(error: unknown): Record<string, string> {
  return error === undefined
    ? { 'lightbus.outcome': 'ok' }
    : { 'lightbus.outcome': outcomeOf(error), 'error.type': errorType(error) };
}
