/**
 * The OpenTelemetry API, when the application has it. `@opentelemetry/api` is
 * an optional peer dependency of core (a production install stays small):
 * install it, with an SDK, and the bus's spans, metrics and trace context
 * work; without it, these stand-ins do nothing, as the API itself does when
 * no SDK is registered. Loaded once, when core is loaded.
 */
import type * as Otel from '@opentelemetry/api';

type Api = Pick<typeof Otel, 'context' | 'propagation' | 'trace' | 'metrics' | 'SpanKind' | 'SpanStatusCode'>;

/** What core calls of the API, doing nothing; the casts are for the members core never calls. */
function stubApi(): Api {
  const root = {
    getValue: () => undefined,
    setValue: () => root,
    deleteValue: () => root,
  };
  const span = {
    spanContext: () => ({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 }),
    setAttribute: () => span,
    setAttributes: () => span,
    addEvent: () => span,
    addLink: () => span,
    addLinks: () => span,
    setStatus: () => span,
    updateName: () => span,
    end: () => undefined,
    isRecording: () => false,
    recordException: () => undefined,
  };
  const instrument = { add: () => undefined, record: () => undefined };
  const observable = { addCallback: () => undefined, removeCallback: () => undefined };
  const meter = {
    createHistogram: () => instrument,
    createCounter: () => instrument,
    createUpDownCounter: () => instrument,
    createGauge: () => instrument,
    createObservableGauge: () => observable,
    createObservableCounter: () => observable,
    createObservableUpDownCounter: () => observable,
    addBatchObservableCallback: () => undefined,
    removeBatchObservableCallback: () => undefined,
  };
  return {
    context: {
      active: () => root,
      with: (_context: unknown, fn: (...args: unknown[]) => unknown, thisArg?: unknown, ...args: unknown[]) =>
        fn.call(thisArg, ...args),
    } as unknown as Api['context'],
    propagation: {
      inject: () => undefined,
      extract: (context: unknown) => context,
    } as unknown as Api['propagation'],
    trace: {
      getTracer: () => ({ startSpan: () => span }),
      getActiveSpan: () => undefined,
      getSpan: () => undefined,
      setSpan: (context: unknown) => context,
    } as unknown as Api['trace'],
    metrics: { getMeter: () => meter } as unknown as Api['metrics'],
    SpanKind: { INTERNAL: 0, SERVER: 1, CLIENT: 2, PRODUCER: 3, CONSUMER: 4 } as Api['SpanKind'],
    SpanStatusCode: { UNSET: 0, OK: 1, ERROR: 2 } as Api['SpanStatusCode'],
  };
}

function load(): typeof Otel | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional peer: absent is a normal case
    return require('@opentelemetry/api') as typeof Otel;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return undefined;
  }
}

/** The installed `@opentelemetry/api`, or undefined (then the stand-ins below serve). */
export const otel = load();
export const { context, propagation, trace, metrics, SpanKind, SpanStatusCode } = otel ?? stubApi();
