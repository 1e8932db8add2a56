/**
 * Listening, the client's half: check what listen() was given, name the events
 * it selects and make sure their transports can do what it asks (since). The
 * worker runs the listener (see worker/listeners.ts). Reading past events
 * (history) is here too.
 */
import { assertApiName, assertListenerName, assertMemberName } from '../api/names';
import type { EventHandler, ListenOptions } from '../api/types';
import { DuplicateListenerError, InvalidParametersError, TransportCapabilityError } from '../errors';
import type { EventMessage } from '../message';
import type { BusContext } from '../runtime/context';
import type { EventRef, HistoryQuery } from '../transport/interfaces';
import { isPlainObject } from '../util/async';
import { describeValue } from '../util/describe';
import { PATH_SEGMENTS } from './path';

/** Something that names one event: 'api.name.event', [api, event], or a bus path / typed event client. */
export type EventSelector = string | readonly [apiName: string, eventName: string] | object;

function isEventSelectorList(value: EventSelector | readonly EventSelector[]): value is readonly EventSelector[] {
  // A tuple [api, event] of two strings is one selector; a list of selectors is anything else that is an array.
  return (
    Array.isArray(value) &&
    !(value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string' && !value[1].includes('.'))
  );
}

function checkSince(since: ListenOptions['since']): void {
  if (since === undefined || since === 'beginning' || since === 'latest') return;
  if (since instanceof Date && !Number.isNaN(since.getTime())) return;
  if (isPlainObject(since) && typeof since.position === 'string' && since.position.length > 0) return;
  throw new InvalidParametersError(
    `listen() option since must be a Date, 'beginning', 'latest' or { position: '<transport position>' } (got ${describeValue(since)}).`,
  );
}

function checkOptions(handler: EventHandler, options: ListenOptions): void {
  if (typeof handler !== 'function') {
    throw new InvalidParametersError(
      'listen(handler, options): the handler must be a function (params, message) => ...',
    );
  }
  if (!options || typeof options !== 'object') {
    throw new InvalidParametersError(
      "listen() needs options with a listenerName, e.g. { listenerName: 'send-welcome-email' }.",
    );
  }
  assertListenerName(options.listenerName);
  if (options.onError !== undefined && options.onError !== 'shutdown' && options.onError !== 'acknowledge_and_log') {
    throw new InvalidParametersError(
      `listen() option onError must be 'shutdown' or 'acknowledge_and_log' (got ${describeValue(options.onError)}).`,
    );
  }
  checkSince(options.since);
  if (options.ephemeral !== undefined && typeof options.ephemeral !== 'boolean') {
    throw new InvalidParametersError(
      `listen() option ephemeral must be true or false (got ${describeValue(options.ephemeral)}).`,
    );
  }
}

/** The [api, event] a selector names. */
function eventRef(bus: BusContext, selector: EventSelector): EventRef {
  let apiName: string;
  let eventName: string;
  if (typeof selector === 'string') {
    const dot = selector.lastIndexOf('.');
    if (dot <= 0) {
      throw new InvalidParametersError(
        `Event '${selector}' must be written '<api name>.<event name>', e.g. 'support.case.caseCreated'.`,
      );
    }
    apiName = selector.slice(0, dot);
    eventName = selector.slice(dot + 1);
  } else if (Array.isArray(selector) && selector.length === 2) {
    [apiName, eventName] = selector as unknown as readonly [string, string];
  } else {
    const segments = (selector as Record<symbol, unknown>)[PATH_SEGMENTS] as readonly string[] | undefined;
    if (!segments || segments.length < 2) {
      throw new InvalidParametersError(
        `listen(): cannot tell which event ${describeValue(selector)} is. Pass bus.<api>.<event>, 'api.event' or [api, event].`,
      );
    }
    apiName = segments.slice(0, -1).join('.');
    eventName = segments[segments.length - 1]!;
  }
  assertApiName(apiName);
  assertMemberName(apiName, 'event', eventName);
  bus.apis.checkListenedEvent(apiName, eventName);
  return { apiName, eventName };
}

/**
 * Check a listen() request; returns the events it names. `taken` tells
 * whether a listener of that name exists already.
 */
export function listenedEvents(
  bus: BusContext,
  events: EventSelector | readonly EventSelector[],
  handler: EventHandler,
  options: ListenOptions,
  taken: (listenerName: string) => boolean,
): EventRef[] {
  checkOptions(handler, options);
  if (taken(options.listenerName)) {
    throw new DuplicateListenerError(
      `A listener named '${options.listenerName}' already exists on this bus. Each listener needs its own name: ` +
        `it names the consumer group '${bus.config.serviceName}-${options.listenerName}'.`,
    );
  }
  const selectors = isEventSelectorList(events) ? events : [events];
  if (selectors.length === 0) throw new InvalidParametersError('listen() needs at least one event.');
  const refs = selectors.map((selector) => eventRef(bus, selector));
  if (options.since !== undefined && options.since !== 'latest') {
    for (const ref of refs) {
      if (bus.transports.capabilities(ref.apiName).replay) continue;
      const name = bus.config.transport(ref.apiName, 'event').name;
      throw new TransportCapabilityError(
        `Listener '${options.listenerName}' asks for since=${describeValue(options.since)} but the event transport ` +
          `'${name}' of API '${ref.apiName}' cannot replay events with its options (event_transport of apis.${ref.apiName} ` +
          `or apis.default in the config). Remove 'since', or choose options or a transport that can (see its reference).`,
      );
    }
  }
  return refs;
}

/** Past events of an API (newest first), where its event transport keeps history. */
export function history(bus: BusContext, query: HistoryQuery): AsyncIterable<EventMessage> {
  assertApiName(query.apiName);
  const transport = bus.transports.capabilities(query.apiName).history
    ? bus.transports.get(query.apiName, 'event')
    : undefined;
  if (!transport?.history) {
    throw new TransportCapabilityError(
      `The event transport '${bus.config.transport(query.apiName, 'event').name}' of API '${query.apiName}' keeps no history ` +
        `with its options (event_transport of apis.${query.apiName} or apis.default in the config): choose options or a transport that can (see its reference).`,
    );
  }
  return transport.history(query);
}
