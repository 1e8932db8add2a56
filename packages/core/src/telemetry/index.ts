/** Tracing and metrics through the OpenTelemetry API: free without an SDK. */
export { Telemetry } from './instrument';
export type { HandlerInfo, ObservedLag, Received } from './instrument';
export { extractTrace, injectTrace } from './carrier';
export { isTraceparent } from './headers';
export type { TraceCarrier } from './headers';
export type { Destination } from './spans';
