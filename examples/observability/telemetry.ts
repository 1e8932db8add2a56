// OpenTelemetry for one process, loaded before anything else (`node --import tsx --import ./telemetry.ts ...`).
// Traces: printed to the console, or sent by OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
// Metrics: a Prometheus endpoint on PROMETHEUS_PORT. Lightbus needs nothing else: it uses the global API.
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, ConsoleSpanExporter, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';

const resource = resourceFromAttributes({
  'service.name': process.env.LIGHTBUS_SERVICE_NAME ?? 'observability-example',
});

const exporter: SpanExporter = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
  ? new OTLPTraceExporter()
  : new ConsoleSpanExporter();
const tracerProvider = new TracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 200 })],
});
const prometheus = new PrometheusExporter({ port: Number(process.env.PROMETHEUS_PORT ?? 9464) });
const meterProvider = new MeterProvider({ resource, readers: [prometheus] });

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(tracerProvider);
metrics.setGlobalMeterProvider(meterProvider);

// On SIGTERM the worker drains (lightbus run handles the signal); close the metrics endpoint so the
// process can end, and send the spans still buffered once it is about to.
process.once('SIGTERM', () => void meterProvider.shutdown());
process.once('beforeExit', () => void tracerProvider.shutdown());
