/**
 * @lightbus/core — the application's entry: define APIs, create a bus, call
 * procedures, fire and listen to events, run workers, catch errors.
 * Transport authors: `@lightbus/core/transport` (interfaces, registry, kit,
 * memory transport). Every error class: `@lightbus/core/errors`. docs/reference/entry-points.md lists each entry's names.
 */
import { create } from './client/bus';

// Creating a bus
export { create };
export type { Bus, CreateOptions } from './client/bus';
// Applications extend BusApis (declare module '@lightbus/core' { interface BusApis {...} }): a module
// augmentation merges into a plain re-export, not into an `export type` one.
export { BusApis } from './client/bus';
export type { BusClient } from './client/client';
export type { CallOptions } from './client/call';
export type { StartOptions } from './worker/worker';
export type { LightbusConfigInput } from './config/schema';

// Declaring APIs
export { Api } from './api/api';
export { Event } from './api/event';
// The types an Event member has, so that declaration emit can name them in a user's project.
export type { EventDefinition, NamedParams, Params } from './api/event';
export { procedure, Wire } from './schema/declare';
export type { Procedure } from './schema/declare';
/** TypeBox's builder, for typed declarations: `Type.Object({ id: Type.Integer() })`. */
export { Type } from '@sinclair/typebox';
export type { Static } from '@sinclair/typebox';

// Calling and listening, typed
export type { ApiClient, EventClient, EventHandler, Listener, ListenOptions } from './api/types';
export type { EventMessage, ResultMessage, RpcMessage } from './message';

// Logging
export type { Logger, LogFormat, LogLevel } from './log/types';
export { fromPino, fromWinston } from './log/adapters';

// Health (bus.health(), lightbus run --health-port)
export type { Health } from './health/report';

// Errors an application catches (each has a stable `code`; docs/reference/errors.md). Every error class,
// these and the rarer ones (UnknownProcedureError, TransportCapabilityError, ...): '@lightbus/core/errors'.
export {
  LightbusError,
  ConfigError,
  InvalidParametersError,
  ValidationError,
  EncodingError,
  RemoteError,
  RpcTimeoutError,
  EventFireTimeoutError,
  BrokerConnectionError,
  BusClosedError,
  MessageRejectedError,
} from './errors';

/** `import lightbus from '@lightbus/core'; const bus = lightbus.create();` */
const lightbus = { create };
export default lightbus;
