/** @lightbus/testing: the transport conformance suite and helpers for tests. */
export { transportConformance } from './conformance';
export type { ConformanceNamespace, ConformanceTarget, TransportSet } from './conformance';
export { Collector, waitFor, untilTime } from './wait';
export type { WaitOptions } from './wait';
export { startNode, startTypeScript } from './child';
export type { ChildOptions, ChildRun } from './child';
export { BusMocker, BusMockerError } from './mocker';
export type { BusMockerOptions, CallAssertion } from './mocker';
