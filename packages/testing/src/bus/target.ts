/**
 * What a transport gives the bus-level tier (`busConformance` from
 * `@lightbus/testing/jest`): a config factory for an isolated namespace, the
 * capabilities it has, and hooks for what only the transport can do (put an
 * undecodable message on a stream, read its dead letters).
 */
import type { LightbusConfigInput } from '@lightbus/core';
import type { AnyTransportDefinition, TransportCapabilities } from '@lightbus/core/transport';
import type { BrokerAddress } from '../brokers';

/** One message the transport set aside (its dead-letter store), as the poison scenario reads it. */
export interface SetAside {
  /** Why it was set aside: the rejection's message, or what could not be decoded. */
  readonly reason: string;
}

export interface BusTierConfigOptions {
  /**
   * Reach the broker through this address (the tier's fault proxy, `127.0.0.1:<port>`)
   * instead of `broker`, for every role. Only asked of a namespace that gives `broker`.
   */
  readonly via?: string;
}

/** One scenario's isolated world on the broker: a key prefix, topic prefix, vhost... */
export interface BusTierNamespace {
  /**
   * The bus config (every role on this transport) for this namespace, as a `lightbus.yaml`
   * would hold it; the tier adds service_name and process_name. Short reconnection and
   * reclaim delays keep the scenarios quick.
   */
  config(options?: BusTierConfigOptions): LightbusConfigInput;
  /** Put a message the transport cannot decode on the stream of (apiName, eventName), as a broken producer would. */
  injectMalformedEvent?(apiName: string, eventName: string): Promise<void>;
  /** What the transport set aside for (apiName, eventName) so far (given when the target says `readsDeadLetters`). */
  deadLetters?(apiName: string, eventName: string): Promise<readonly SetAside[]>;
  /** Delete what the scenario created on the broker. */
  cleanup(): Promise<void>;
}

export interface BusTierTarget {
  /** Shown in test names. */
  readonly name: string;
  /**
   * What the transport can do. Scenarios that need a capability it lacks (`crossProcess` for
   * the scenarios with several processes, `consumerGroups` for a crashed consumer's events
   * going to another) are reported as skipped.
   */
  readonly capabilities: TransportCapabilities;
  /**
   * The broker address every namespace's config points at (host and port of one TCP endpoint).
   * With it, the connection-cut scenario runs through a fault proxy in front of it; without it
   * (an in-process transport, or a client that connects to the addresses the broker advertises,
   * as Kafka's does) that scenario is reported as skipped.
   */
  readonly broker?: BrokerAddress;
  /** True when namespaces give `deadLetters()`: the poison scenario runs (reported as skipped otherwise). */
  readonly readsDeadLetters?: boolean;
  /** True when namespaces give `injectMalformedEvent()`: the poison scenario also puts an undecodable message on the stream. */
  readonly canInjectMalformedEvents?: boolean;
  /**
   * Given when the transport reports consumer lag (`EventTransport.lag()`): the lag scenario runs
   * (reported as skipped otherwise). `inHand`: how many events a consumer takes ahead of its
   * handler that the transport counts as neither lag nor pending (RabbitMQ: the prefetch); default 0.
   */
  readonly consumerLag?: { readonly inHand?: number };
  /** Transports the scenario's own buses register (the transport package, loaded as the test loads it). */
  readonly transports?: readonly AnyTransportDefinition[];
  /** A fresh namespace for one scenario; `apiName` is the scenario API's unique name. */
  namespace(apiName: string): BusTierNamespace | Promise<BusTierNamespace>;
  /**
   * How long (ms) the slowest expected step may take: a group join, a crashed consumer's events
   * reaching another (acknowledgement timeout, session timeout), a reconnection. Default 15000.
   */
  readonly patience?: number;
}
