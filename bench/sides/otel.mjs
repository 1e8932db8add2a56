// The OpenTelemetry SDK as a production service would register it (tracing through a batch span
// processor, metrics through a periodic reader, W3C trace context, AsyncLocalStorage context),
// with exporters that drop what they are given: the bus's own cost of being observed, without
// any network or disk behind it.
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

const done = { code: 0 };

export function registerOtel() {
  const spanExporter = {
    export: (_spans, resultCallback) => resultCallback(done),
    shutdown: async () => {},
    forceFlush: async () => {},
  };
  const metricExporter = {
    export: (_metrics, resultCallback) => resultCallback(done),
    selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
    shutdown: async () => {},
    forceFlush: async () => {},
  };
  const tracerProvider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: spanExporter })] });
  const meterProvider = new MeterProvider({
    readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 10_000 })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return async () => {
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  };
}
