/**
 * @lightbus/core/transport — the transport author's entry: the role
 * interfaces and capabilities, defineTransport, the registry, the kit (settle
 * rule, lifecycle, ...), the memory transport, and the message, error, logging
 * and async helpers a transport uses. Applications use `@lightbus/core`.
 * docs/reference/entry-points.md lists each entry's names.
 */
export * from './interfaces';
export { DEFAULT_DEAD_LETTER_PAGE, deadLetterPageSize, forEachSelected, matchesDeadLetter } from './dead-letters';
export type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterList,
  DeadLetterPage,
  DeadLetterSelection,
  DeadLetterStore,
} from './dead-letters';
export { ConsumerSet } from './consumers';
export * from './kit';
export type { StartableConsumer } from './consumers';
export { TransportRegistry } from './registry';
export type { TransportRegistryOptions } from './registry';
export { memoryTransport, memoryBroker, resetMemoryBroker, MemoryBroker, memoryCapabilities } from './memory';
export type { MemoryDeadLetter } from './memory';
/** Trace context on the wire: a transport checks a traceparent it reads before handing it to core. */
export { isTraceparent, traceContextFromHeaders, traceHeaders } from '../telemetry/headers';

// Messages and schemas on the wire
export { newMessageId, errorTypeFromTrace, canonicalName, decodeJson, encodeJson, setOwn } from '../message';
export type { EventMessage, Kwargs, OutgoingCall, OutgoingRpcMessage, ResultMessage, RpcMessage } from '../message';
export type { ApiSchema, EventSchema, JsonSchema, RpcSchema } from '../schema/types';

// Options and config: a role's options are validated against its schema
export { validateAgainst } from '../config/validate';
export { loadConfig } from '../config';
export type { LightbusConfigInput } from '../config/schema';

// Errors a transport raises or recognises
export {
  LightbusError,
  BrokerConnectionError,
  BusClosedError,
  ConfigError,
  EncodingError,
  ForeignReturnPathError,
  InvalidNameError,
  InvalidParametersError,
  MessageRejectedError,
  TransportCapabilityError,
  UndecodableResultError,
  isMessageRejected,
} from '../errors';
export type { ConfigIssue, LightbusErrorOptions } from '../errors';

// Logging
export { ConsoleLogger } from '../log/console';
export { redactFields, redactText } from '../log/redact';
export type { LogFields, Logger } from '../log/types';
export { redactUrl } from '../util/url';

// Async helpers
export {
  backoffDelay,
  deferred,
  delay,
  withTimeout,
  InFlight,
  Semaphore,
  errorText,
  isPlainObject,
  stableStringify,
} from '../util/async';
export type { BackoffOptions, Deferred } from '../util/async';
