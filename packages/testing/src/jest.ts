/**
 * @lightbus/testing/jest: the conformance suites, which register jest tests
 * (they import @jest/globals). Two tiers, run unchanged against every transport:
 * `transportConformance` (the role interfaces) and `busConformance` (whole buses
 * and processes: crash, drain, connection cut, poison).
 */
export { transportConformance } from './conformance';
export type { ConformanceNamespace, ConformanceTarget, TransportSet } from './conformance';
export { busConformance } from './bus/scenarios';
export type { BusTierConfigOptions, BusTierNamespace, BusTierTarget, SetAside } from './bus/target';
