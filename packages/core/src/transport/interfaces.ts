/**
 * The four transport roles, as in Lightbus: rpc, result, event and schema.
 * A transport package implements some or all of them and declares what it can
 * do (capabilities). Core talks to transports only through these interfaces.
 *
 * Contract for consumers (rpc and event): the transport calls `handler` for each
 * message it receives and awaits it.
 * - Event handler resolves: the transport acknowledges the message.
 * - Event handler throws MessageRejectedError: the message is poison; the
 *   transport sets it aside (dead letter, with the reason), acknowledges it and
 *   goes on. It is never redelivered.
 * - Event handler throws anything else: the transport does NOT acknowledge it;
 *   the message stays for redelivery (to this group's other consumers, or after
 *   a restart). Core decides whether to stop the consumer (onError). When the
 *   handler failed on delivery `delivery_limit + 1`, the transport sets the
 *   message aside with the last error instead.
 *   `settleEvent()` (transport/kit/settle.ts) carries out these rules.
 * - A message the transport cannot decode is logged with its id and set aside by
 *   the transport itself; consumption goes on.
 * - RPC handlers never throw for a failing procedure (core turns failures into
 *   error results); calls past their deadline are dropped before the handler.
 * `Consumer.stop()` stops taking new messages, waits for handlers in progress,
 * acknowledges what they finished, and resolves.
 */
import type { TSchema } from '@sinclair/typebox';
import type { Logger } from '../log';
import type { EventMessage, OutgoingCall, OutgoingRpcMessage, ResultMessage, RpcMessage } from '../message';
import type { ApiSchema } from '../schema/types';
import type { DeadLetterStore } from './dead-letters';

export type TransportRole = 'rpc' | 'result' | 'event' | 'schema';
export const TRANSPORT_ROLES: readonly TransportRole[] = ['rpc', 'result', 'event', 'schema'];

/** Given to every transport factory. */
export interface TransportContext {
  readonly serviceName: string;
  readonly processName: string;
  readonly logger: Logger;
}

/** One broker connection a role transport holds, for health checks (`bus.health()`, `/readyz`). */
export interface ConnectionHealth {
  /** The transport's name (`redis`, `amqp`, ...). */
  readonly transport: string;
  /** The broker, credentials redacted. */
  readonly broker: string;
  readonly connected: boolean;
  /** Why not, when not connected ("reconnecting", ...). */
  readonly detail?: string;
}

export interface Closeable {
  /** Stop everything, release connections. Idempotent. */
  close(): Promise<void>;
  /**
   * The broker connections this role has opened so far, and whether each is up now.
   * Optional: a transport without it is taken as connected (only start and drain decide readiness).
   */
  connections?(): readonly ConnectionHealth[];
}

/** A running consumer. */
export interface Consumer {
  /** Stop taking work, finish and acknowledge what is in hand, then resolve. */
  stop(): Promise<void>;
}

export type RpcHandler = (message: RpcMessage) => Promise<void>;
export type EventMessageHandler = (message: EventMessage) => Promise<void>;

export interface RpcTransport extends Closeable {
  /**
   * Send a call; resolves once the broker has it. The message is final (frozen):
   * its return path is set, and `message.deadline` is the one deadline of the
   * call: give up sending at it, and make the broker or the worker drop the
   * call once it passed.
   */
  callRpc(message: OutgoingRpcMessage): Promise<void>;
  /** Consume calls to these APIs, several at once where configured. */
  consumeRpcs(apiNames: readonly string[], handler: RpcHandler, options?: ConsumeRpcsOptions): Promise<Consumer>;
}

/** A result being waited for; created before the call is sent. */
export interface PendingResult {
  /** Put into the call so the worker knows where to reply. */
  readonly returnPath: string;
  /** Resolves with the result message; rejects at the call's deadline (RpcTimeoutError) or on close (BusClosedError). */
  readonly result: Promise<ResultMessage>;
  /** Stop waiting (timeout or shutdown); releases what was held for this call. */
  cancel(): void;
}

export interface ResultTransport extends Closeable {
  /** Prepare to receive the result of `call` (before it is sent); the kit's ReplyMatcher does the bookkeeping. */
  expectResult(call: OutgoingCall): Promise<PendingResult>;
  /**
   * Send a result back along `call.returnPath`, retrying until the call's
   * deadline (`deadlineOf(call, ...)`). A return path this transport cannot
   * serve: throw `foreignReturnPath(...)` (ForeignReturnPathError).
   */
  sendResult(call: RpcMessage, result: ResultMessage): Promise<void>;
}

export interface EventRef {
  readonly apiName: string;
  readonly eventName: string;
}

/** Where a new consumer group starts. Absent: only events fired from now on. */
export type StartPosition =
  | { readonly kind: 'beginning' }
  | { readonly kind: 'time'; readonly time: Date }
  | { readonly kind: 'position'; readonly position: string };

export interface ConsumeSpec {
  readonly events: readonly EventRef[];
  /** Consumer group: `<service_name>-<listener_name>`. One delivery per group. */
  readonly group: string;
  /** This consumer within the group (the process name). */
  readonly consumer: string;
  /** Applies only when the group is created. */
  readonly since?: StartPosition;
  /**
   * The group lasts only while it has consumers (ListenOptions.ephemeral): when the last one
   * stops, or its process goes where the broker can tell, the transport removes the group and
   * what waits in it. A transport that cannot ignores it (the group stays, as a durable one).
   */
  readonly ephemeral?: boolean;
  /** Aborted when the bus closes while the consumer still starts (waits for its broker): stop starting. */
  readonly signal?: AbortSignal;
  /**
   * Hears each event this consumer set aside (dead letter), once it is set aside: core counts
   * them (the `lightbus.events.dead_lettered` metric). `settleEvent()` calls it when given it
   * in its options; a transport that sets events aside elsewhere calls it there too.
   */
  readonly onDeadLetter?: (setAside: DeadLettered) => void;
}

/** Why an event was set aside: `lightbus.dead_letter.reason` on the dead-lettered counter. */
export type DeadLetterCause =
  /** The transport could not decode it. */
  | 'undecodable'
  /** It failed validation against the API's schema on receipt (validate.incoming, strict_validation). */
  | 'invalid'
  /** Its handler rejected it (MessageRejectedError). */
  | 'rejected'
  /** Its handler failed on every delivery `delivery_limit` allows (or the broker gave it back that often). */
  | 'delivery_limit';

/** An event set aside, as `ConsumeSpec.onDeadLetter` hears it (the API and event when it could be decoded). */
export interface DeadLettered {
  readonly cause: DeadLetterCause;
  readonly apiName?: string;
  readonly eventName?: string;
}

export interface ConsumeRpcsOptions {
  /** Aborted when the bus closes while the consumer still starts (waits for its broker): stop starting. */
  readonly signal?: AbortSignal;
}

export interface HistoryQuery {
  readonly apiName: string;
  /** Absent: every event of the API. */
  readonly eventName?: string;
  /** Newest first, at most this many. */
  readonly limit?: number;
  readonly start?: Date;
  readonly stop?: Date;
}

export interface SendEventOptions {
  readonly timeoutSeconds: number;
}

/** How far one consumer group is behind on one stream, queue or topic (for metrics). */
export interface ConsumerLag {
  /** The stream, queue or topic. */
  readonly destination: string;
  /** Messages not yet delivered to the group, where the broker can tell. */
  readonly lag?: number;
  /** Messages delivered to the group but not yet acknowledged, where the broker can tell. */
  readonly pending?: number;
}

/** One consumer group reading some events, as operator tools show it (`lightbus ui`). */
export interface ConsumerGroupInfo extends ConsumerLag {
  /** The group's name (`<service_name>-<listener_name>` for Lightbus listeners). */
  readonly group: string;
  /** Consumers in the group, where the broker can tell. */
  readonly consumers?: number;
}

export interface EventTransport extends Closeable {
  readonly capabilities: TransportCapabilities;
  /** Resolves once the broker has the event. */
  sendEvent(message: EventMessage, options: SendEventOptions): Promise<void>;
  consume(spec: ConsumeSpec, handler: EventMessageHandler): Promise<Consumer>;
  /** Past events, newest first; only where `capabilities.history`. */
  history?(query: HistoryQuery): AsyncIterable<EventMessage>;
  /** How far `group` is behind on the events' streams (optional; read by the consumer-lag metrics). */
  lag?(events: readonly EventRef[], group: string): Promise<readonly ConsumerLag[]>;
  /**
   * Every consumer group reading the events' streams, with its lag, pending and consumers (optional:
   * a broker that cannot list its groups leaves it out, and tools ask lag() about named groups).
   */
  groups?(events: readonly EventRef[]): Promise<readonly ConsumerGroupInfo[]>;
  /** The events this transport set aside, to list, replay or discard (optional; transport/dead-letters.ts). */
  readonly deadLetters?: DeadLetterStore;
}

export interface SchemaTransport extends Closeable {
  /** Store (or refresh) one API's schema; it expires after `ttlSeconds` unless stored again. */
  store(apiName: string, schema: ApiSchema, ttlSeconds: number): Promise<void>;
  /** Every live API's schema, by API name. */
  load(): Promise<Record<string, ApiSchema>>;
}

/** What a transport can do; the conformance suite and create() read these. */
export interface TransportCapabilities {
  /** Messages reach other processes (false for memory). */
  readonly crossProcess: boolean;
  /** Events wait in the broker for consumers that are down. */
  readonly durable: boolean;
  /** Every consumer group gets every event; one consumer of a group handles each. */
  readonly consumerGroups: boolean;
  /** A new group can start from the beginning, a time or a position (`since`). */
  readonly replay: boolean;
  /** Past events can be read (`history`, `lightbus inspect`). */
  readonly history: boolean;
  /** Order kept: per stream, per partition key, or none. */
  readonly ordering: 'per-stream' | 'per-key' | 'none';
}

export type RoleTransport = {
  rpc: RpcTransport;
  result: ResultTransport;
  event: EventTransport;
  schema: SchemaTransport;
};

export type RoleFactory<R extends TransportRole, O> = (options: O, context: TransportContext) => RoleTransport[R];

type Options<S> = S extends TSchema ? import('@sinclair/typebox').Static<S> : Record<string, never>;

/**
 * A transport package's export (`export const transport = defineTransport({...})`).
 * `options` holds the JSON Schema (TypeBox) of each role's options: core
 * validates the config against it, fills defaults, and passes the result to the
 * role's factory. A role without a factory is a role the transport lacks.
 */
export interface TransportDefinition<
  RS extends TSchema = TSchema,
  ReS extends TSchema = TSchema,
  ES extends TSchema = TSchema,
  SS extends TSchema = TSchema,
> {
  readonly name: string;
  /** Capabilities with default options (see `eventCapabilities` where options change them). */
  readonly capabilities: TransportCapabilities;
  /**
   * What the event role can do with these options (defaults filled), where options change it
   * (a stream to replay from, a partition key). The one source of an API's capabilities: core
   * reads them from the config through this (else `capabilities`) without creating the
   * transport, to refuse what it cannot do (`since`, history) when asked; the event transport
   * must report the same (core checks when it creates one).
   */
  readonly eventCapabilities?: (options: Options<ES>) => TransportCapabilities;
  readonly options: { rpc?: RS; result?: ReS; event?: ES; schema?: SS };
  readonly rpc?: RoleFactory<'rpc', Options<RS>>;
  readonly result?: RoleFactory<'result', Options<ReS>>;
  readonly event?: RoleFactory<'event', Options<ES>>;
  readonly schema?: RoleFactory<'schema', Options<SS>>;
  /**
   * What this transport needs of an API's other roles, checked when the config is read (create()),
   * not at the first call: given the API's three role selections (options with defaults filled)
   * and the config path of the API, it returns issues that refuse the config, each naming the key
   * and the fix. Called for every API whose roles use this transport.
   */
  readonly checkRoles?: (roles: ApiRoleSelections, apiPath: string) => readonly RoleIssue[];
  /**
   * Defaults that depend on an API's other roles (an option the schema leaves without a default):
   * given the API's role selections (schema defaults filled, such keys absent), the values to use.
   * Core applies each only where the user did not set the key, logs it with its reason at create(),
   * then runs checkRoles on the result. Called for every API whose roles use this transport.
   */
  readonly roleDefaults?: (roles: ApiRoleSelections) => readonly RoleDefault[];
  /**
   * Python Lightbus has this transport too, with the same config keys: a config file whose
   * transports all say so may be read by Python services, and core warns about what they would refuse.
   */
  readonly pythonCompatible?: boolean;
}

/** An API's transport for each role, as the config selects them (see TransportDefinition.checkRoles). */
export interface ApiRoleSelections {
  readonly rpc: { readonly name: string; readonly options: Readonly<Record<string, unknown>> };
  readonly result: { readonly name: string; readonly options: Readonly<Record<string, unknown>> };
  readonly event: { readonly name: string; readonly options: Readonly<Record<string, unknown>> };
}

/** A default chosen from an API's roles (TransportDefinition.roleDefaults): this transport's option `key` in `role`. */
export interface RoleDefault {
  readonly role: 'rpc' | 'result' | 'event';
  readonly key: string;
  readonly value: unknown;
  /** Why this value, for the log line at create(). */
  readonly reason: string;
}

/** A config problem a transport finds in an API's roles: the key's path and what to do. */
export interface RoleIssue {
  readonly path: string;
  readonly message: string;
}

/** Any transport definition, whatever its option types. */
export interface AnyTransportDefinition {
  readonly name: string;
  readonly capabilities: TransportCapabilities;
  readonly eventCapabilities?: (options: never) => TransportCapabilities;
  readonly options: Partial<Record<TransportRole, TSchema>>;
  readonly rpc?: RoleFactory<'rpc', never>;
  readonly result?: RoleFactory<'result', never>;
  readonly event?: RoleFactory<'event', never>;
  readonly schema?: RoleFactory<'schema', never>;
  readonly checkRoles?: (roles: ApiRoleSelections, apiPath: string) => readonly RoleIssue[];
  readonly roleDefaults?: (roles: ApiRoleSelections) => readonly RoleDefault[];
  readonly pythonCompatible?: boolean;
}

/** Declare a transport; types each factory's options from its schema. */
export function defineTransport<
  RS extends TSchema = TSchema,
  ReS extends TSchema = TSchema,
  ES extends TSchema = TSchema,
  SS extends TSchema = TSchema,
>(definition: TransportDefinition<RS, ReS, ES, SS>): AnyTransportDefinition {
  return definition as unknown as AnyTransportDefinition;
}

/** The roles a definition provides. */
export function rolesOf(definition: AnyTransportDefinition): TransportRole[] {
  return TRANSPORT_ROLES.filter((role) => typeof definition[role] === 'function');
}
