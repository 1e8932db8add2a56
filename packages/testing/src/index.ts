/**
 * @lightbus/testing: helpers for tests that import anywhere (jest, node:test,
 * vitest): BusMocker, waiting on conditions, child processes, the TCP fault
 * proxy and broker start-up. The conformance suites, bound to jest, are on
 * the `@lightbus/testing/jest` subpath.
 */
export { Collector, waitFor, untilTime } from './wait';
export type { WaitOptions } from './wait';
export { startNode, startTypeScript } from './child';
export type { ChildOptions, ChildRun } from './child';
export { BusMocker, BusMockerError } from './mocker';
export type { BusMockerOptions, CallAssertion } from './mocker';
export { LogRecorder } from './logs';
export type { LogRecorderOptions } from './logs';
export { FaultProxy } from './proxy';
export {
  addressOf,
  amqpUrl,
  ensureBroker,
  kafkaBroker,
  rabbitmqBroker,
  reachable,
  redisBroker,
  redisUrl,
  waitReachable,
} from './brokers';
export type { BrokerAddress, BrokerHelper, EnsureBrokerOptions, KafkaBrokerOptions, StartedBroker } from './brokers';
