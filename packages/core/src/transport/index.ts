/** Transport interfaces, the registry, and the built-in memory transport. */
export * from './interfaces';
export { ConsumerSet } from './consumers';
export * from './kit';
export type { StartableConsumer } from './consumers';
export { TransportRegistry } from './registry';
export type { TransportRegistryOptions } from './registry';
export {
  memoryTransport,
  memoryBroker,
  resetMemoryBroker,
  MemoryBroker,
  memoryCapabilities,
} from './memory';
export type { DeadLetter } from './memory';
/** Trace context on the wire: a transport checks a traceparent it reads before handing it to core. */
export { isTraceparent } from '../telemetry/carrier';
