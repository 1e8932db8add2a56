/**
 * Metrics of the bus through the OpenTelemetry metrics API. The instruments are
 * made when the bus is created, from the global MeterProvider: register your
 * SDK before `lightbus.create()`. Without one they are no-ops.
 *
 * | instrument | kind | unit | attributes |
 * |---|---|---|---|
 * | `rpc.client.call.duration` | histogram | s | rpc.*, lightbus.outcome (ok, error, timeout), error.type |
 * | `rpc.server.call.duration` | histogram | s | rpc.*, lightbus.outcome (ok, error), error.type |
 * | `messaging.client.sent.messages` | counter | {message} | messaging.*, lightbus.outcome |
 * | `messaging.process.duration` | histogram | s | messaging.*, lightbus.listener, lightbus.outcome |
 * | `lightbus.events.dead_lettered` | counter | {message} | lightbus.api, lightbus.event (when decoded), lightbus.listener, lightbus.dead_letter.reason |
 * | `lightbus.in_flight` | up-down counter | {operation} | lightbus.operation (call, execution, fire, handler), lightbus.api |
 * | `messaging.consumer.lag` | gauge | {message} | messaging.system, messaging.destination.name, messaging.consumer.group.name, lightbus.listener |
 * | `messaging.consumer.pending` | gauge | {message} | as lag |
 */
import type { Attributes, Counter, Histogram, Meter, ObservableGauge, UpDownCounter } from '@opentelemetry/api';
import { metrics } from './otel';

const METER = '@lightbus/core';
/** Bucket bounds in seconds, for message latencies (0.5 ms to 10 s). */
const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type Outcome = 'ok' | 'error' | 'timeout';
export type Operation = 'call' | 'execution' | 'fire' | 'handler';

export class BusMetrics {
  readonly callDuration: Histogram;
  readonly executionDuration: Histogram;
  readonly eventsSent: Counter;
  readonly handlerDuration: Histogram;
  readonly deadLettered: Counter;
  readonly inFlight: UpDownCounter;
  readonly consumerLag: ObservableGauge;
  readonly consumerPending: ObservableGauge;
  readonly meter: Meter;

  constructor() {
    const meter = metrics.getMeter(METER);
    this.meter = meter;
    const seconds = { unit: 's', advice: { explicitBucketBoundaries: SECONDS_BUCKETS } };
    this.callDuration = meter.createHistogram('rpc.client.call.duration', {
      description: 'Calls made, by outcome, and how long they took',
      ...seconds,
    });
    this.executionDuration = meter.createHistogram('rpc.server.call.duration', {
      description: 'Calls executed by this worker, by outcome, and how long they took',
      ...seconds,
    });
    this.eventsSent = meter.createCounter('messaging.client.sent.messages', {
      description: 'Events fired',
      unit: '{message}',
    });
    this.handlerDuration = meter.createHistogram('messaging.process.duration', {
      description: 'Events handled by listeners, by outcome, and how long the handler took',
      ...seconds,
    });
    this.deadLettered = meter.createCounter('lightbus.events.dead_lettered', {
      description:
        'Events set aside (dead letter) for a listener: undecodable, invalid, rejected by its handler, or past delivery_limit',
      unit: '{message}',
    });
    this.inFlight = meter.createUpDownCounter('lightbus.in_flight', {
      description: 'Calls, executions, fires and handlers in progress',
      unit: '{operation}',
    });
    this.consumerLag = meter.createObservableGauge('messaging.consumer.lag', {
      description: "Events not yet delivered to a listener's consumer group, where the transport can tell",
      unit: '{message}',
    });
    this.consumerPending = meter.createObservableGauge('messaging.consumer.pending', {
      description:
        "Events delivered to a listener's consumer group and not yet acknowledged, where the transport can tell",
      unit: '{message}',
    });
  }

  /** Count an operation in flight until the returned function is called. */
  begin(operation: Operation, apiName: string): () => void {
    const attributes: Attributes = { 'lightbus.operation': operation, 'lightbus.api': apiName };
    this.inFlight.add(1, attributes);
    return () => this.inFlight.add(-1, attributes);
  }
}
