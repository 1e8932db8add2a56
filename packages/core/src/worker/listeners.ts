/**
 * Consuming events for listeners: a listener's events are grouped by event
 * transport, one consumer each, in the group `<service_name>-<listener name>`.
 * Each delivery is validated per the policy, handed to the listener with hooks
 * around it, and its outcome decides what the transport does with it:
 * resolved -> acknowledged; rejected as poison -> set aside; failed -> left for
 * redelivery and (onError 'shutdown') the worker stops, or (onError
 * 'acknowledge_and_log') logged and acknowledged.
 */
import type { EventHandler, ListenOptions } from '../api/types';
import { WorkerFailedError, isMessageRejected } from '../errors';
import type { EventMessage } from '../message';
import type { BusContext } from '../runtime/context';
import type { ObservedLag } from '../telemetry';
import type { EventRef, EventTransport } from '../transport/interfaces';
import { errorText } from '../util/async';
import type { ConsumerStarts } from './consumers';
import { ListenerState } from './listener';

export class ListenerRunner {
  private readonly listeners = new Map<string, ListenerState>();

  constructor(
    private readonly bus: BusContext,
    private readonly starts: ConsumerStarts,
  ) {}

  has(listenerName: string): boolean {
    return this.listeners.has(listenerName);
  }

  /** 'api.event' names of every event listened to. */
  listeningFor(): string[] {
    return [...this.listeners.values()].flatMap((l) => l.events.map((e) => `${e.apiName}.${e.eventName}`));
  }

  /** Add a listener (checked by the client); it consumes once started. */
  add(events: readonly EventRef[], handler: EventHandler, options: ListenOptions): ListenerState {
    const listener = new ListenerState(events, handler, options, (l) => this.stop(l));
    this.listeners.set(listener.listenerName, listener);
    return listener;
  }

  /** Start every listener not started yet, one after the other. */
  async startAll(): Promise<void> {
    for (const listener of [...this.listeners.values()]) await this.start(listener);
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.listeners.values()].map((l) =>
        this.stop(l).catch((error: unknown) =>
          this.bus.logger.error(`Stopping listener '${l.listenerName}' failed`, { error }),
        ),
      ),
    );
  }

  async start(listener: ListenerState): Promise<void> {
    if (listener.started || listener.stopped) return;
    listener.started = true;
    const { config, lifecycle, logger } = this.bus;
    const group = `${config.serviceName}-${listener.listenerName}`;
    try {
      for (const { transport, events } of this.byTransport(listener.events)) {
        if (listener.stopped || lifecycle.isClosing) return;
        const setup = transport.consume(
          {
            events,
            group,
            consumer: config.processName,
            since: listener.since,
            ...(listener.ephemeral ? { ephemeral: true } : {}),
            signal: lifecycle.closingSignal,
            onDeadLetter: (setAside) => this.bus.telemetry.deadLettered(listener.listenerName, setAside),
          },
          (message) => this.handle(listener, message),
        );
        const limit = config.api(events[0]!.apiName).eventListenerSetupTimeout;
        const slow = setTimeout(
          () =>
            logger.warn(
              `Listener '${listener.listenerName}' is taking longer than ${limit}s to start (event_listener_setup_timeout)`,
            ),
          limit * 1000,
        );
        try {
          const kept = await this.starts.open(
            () => setup,
            (consumer) => listener.consumers.push(consumer),
            () => !listener.stopped,
          );
          if (!kept) return;
        } finally {
          clearTimeout(slow);
        }
      }
      logger.info(`Listening for ${listener.events.map((e) => `${e.apiName}.${e.eventName}`).join(', ')}`, { group });
      listener.markReady();
    } catch (error) {
      listener.markFailedToStart(error);
      throw error;
    }
  }

  /** Each running listener's lag on each of its streams, where its transport can tell (for the lag metrics). */
  async lag(): Promise<ObservedLag[]> {
    const { config, logger } = this.bus;
    const out: ObservedLag[] = [];
    for (const listener of this.listeners.values()) {
      if (!listener.started || listener.stopped) continue;
      const group = `${config.serviceName}-${listener.listenerName}`;
      for (const { transport, events } of this.byTransport(listener.events)) {
        if (!transport.lag) continue;
        try {
          for (const { destination, lag, pending } of await transport.lag(events, group)) {
            const attributes = {
              'messaging.system': config.transport(events[0]!.apiName, 'event').name,
              'messaging.destination.name': destination,
              'messaging.consumer.group.name': group,
              'lightbus.listener': listener.listenerName,
            };
            out.push({
              attributes,
              ...(lag !== undefined ? { lag } : {}),
              ...(pending !== undefined ? { pending } : {}),
            });
          }
        } catch (error) {
          logger.debug(`Reading the lag of listener '${listener.listenerName}' failed`, { error: errorText(error) });
        }
      }
    }
    return out;
  }

  private byTransport(refs: readonly EventRef[]): Array<{ transport: EventTransport; events: EventRef[] }> {
    const { transports } = this.bus;
    const groups = new Map<string, { transport: EventTransport; events: EventRef[] }>();
    for (const ref of refs) {
      const key = transports.key(ref.apiName, 'event');
      const entry = groups.get(key) ?? { transport: transports.get(ref.apiName, 'event'), events: [] };
      entry.events.push(ref);
      groups.set(key, entry);
    }
    return [...groups.values()];
  }

  private async stop(listener: ListenerState): Promise<void> {
    listener.stopped = true;
    this.listeners.delete(listener.listenerName);
    const consumers = listener.consumers;
    listener.consumers = [];
    await Promise.all(consumers.map((c) => c.stop()));
  }

  /** One delivery: resolves to acknowledge it, throws to reject it (poison) or leave it for redelivery. */
  private async handle(listener: ListenerState, received: EventMessage): Promise<void> {
    if (listener.failure) throw listener.failure; // stopping: leave it for redelivery
    const { hooks, validation, telemetry, config } = this.bus;
    const message = await validation.incomingEvent(received);
    const on = {
      apiName: message.apiName,
      member: message.eventName,
      transport: config.transport(message.apiName, 'event').name,
      listenerName: listener.listenerName,
      group: `${config.serviceName}-${listener.listenerName}`,
    };
    let error: unknown;
    try {
      await telemetry.handle(on, message, async () => {
        if (hooks.has('beforeEventExecution'))
          await hooks.run('beforeEventExecution', { message, listenerName: listener.listenerName });
        await listener.handler(message.kwargs, message);
      });
    } catch (caught) {
      error = caught;
    }
    if (hooks.has('afterEventExecution')) {
      await hooks.run('afterEventExecution', { message, listenerName: listener.listenerName, error });
    }
    if (error !== undefined) this.failed(listener, message, error);
  }

  private failed(listener: ListenerState, message: EventMessage, error: unknown): void {
    if (isMessageRejected(error)) throw error; // set aside (and counted) by the transport's settleEvent
    const where = `${message.apiName}.${message.eventName} (event id ${message.id})`;
    if (listener.onError === 'acknowledge_and_log') {
      this.bus.logger.error(
        `Listener '${listener.listenerName}' failed on ${where}; acknowledged and logged (onError: acknowledge_and_log)`,
        { error },
      );
      return;
    }
    const failure = new WorkerFailedError(
      `Listener '${listener.listenerName}' failed on ${where}: ${errorText(error)}. The event was not acknowledged and will be ` +
        `delivered again (once it failed delivery_limit + 1 times, it is set aside). Fix the handler, or listen with ` +
        `onError: 'acknowledge_and_log' to log such errors and go on.`,
      { cause: error },
    );
    listener.failure = failure;
    this.bus.lifecycle.fail(failure);
    throw failure;
  }
}
