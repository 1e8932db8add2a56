/** Tracing and metrics through the OpenTelemetry API: free without an SDK. */
export { Telemetry } from './instrument';
export type { HandlerInfo, ObservedLag, Received } from './instrument';
export { extractTrace, injectTrace, isTraceparent } from './carrier';
export type { TraceCarrier } from './carrier';
export type { Destination } from './spans';
