/**
 * @lightbus/core: define APIs, create a bus, call procedures, fire and listen to
 * events, run workers; the transport interfaces and registry; the memory transport.
 */
export { Api, describeApi, readMeta } from './api/api';
export type { ApiClass, ApiDefinition, ApiMeta, ProcedureDefinition } from './api/api';
export { Event, EventDefinition } from './api/event';
export type { EventParams, NamedParams, ParameterSpec, Params } from './api/event';
export { assertApiName, assertMemberName, assertListenerName, RESERVED_MEMBER_NAMES } from './api/names';
export type {
  ApiClient,
  EventClient,
  EventHandler,
  EventNames,
  Listener,
  ListenOptions,
  OnError,
  ProcedureClient,
  ProcedureNames,
  Since,
} from './api/types';
export * from './client';
export { LightbusMetricsApi, LightbusStateApi } from './plugins';
export * from './config';
export * from './errors';
export * from './log';
export * from './message';
export * from './transport';
export * from './schema';
/** TypeBox's builder, for typed declarations: `Type.Object({ id: Type.Integer() })`. */
export { Type } from '@sinclair/typebox';
export type { Static, TObject, TSchema } from '@sinclair/typebox';
export { backoffDelay, deferred, delay, withTimeout, InFlight, Semaphore, errorText, isPlainObject, stableStringify } from './util/async';
export type { BackoffOptions } from './util/async';
export { redactUrl } from './util/url';
export type { Deferred } from './util/async';

import { create } from './client/bus';
/** `import lightbus from '@lightbus/core'; const bus = lightbus.create();` */
const lightbus = { create };
export default lightbus;
