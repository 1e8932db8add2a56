/**
 * The settle rule: how one delivery of an event ends, the same on every
 * transport. A transport decodes what it received, hands it here with the
 * handler, and carries out what this decides with its own broker commands:
 *
 * - it cannot be decoded: set aside (dead letter) with the reason;
 * - the handler resolved: acknowledge;
 * - the handler rejected it (MessageRejectedError, poison): set aside with the reason;
 * - the handler failed on the event's last allowed delivery (`delivery_limit`):
 *   set aside with the last error;
 * - the handler failed otherwise: leave it unacknowledged, for redelivery.
 *
 * `delivery_limit` has one meaning on every transport: how many times an event
 * whose handler keeps failing is delivered again before it is set aside. The
 * handler runs at most `delivery_limit + 1` times; 0 means no limit.
 */
import { Type, type TInteger } from '@sinclair/typebox';
import { isMessageRejected } from '../../errors';
import type { EventMessage } from '../../message';
import { errorText } from '../../util/async';
import type { ConsumeSpec, DeadLetterCause, EventMessageHandler } from '../interfaces';
import type { Decoded } from './codec';

/** The default of every transport's `delivery_limit` option. */
export const DEFAULT_DELIVERY_LIMIT = 10;

/** The `delivery_limit` event option, with one description and default for every transport's options schema. */
export function deliveryLimitOption(description = ''): TInteger {
  return Type.Integer({
    minimum: 0,
    default: DEFAULT_DELIVERY_LIMIT,
    description:
      'How many times an event whose handler keeps failing is delivered again before it is set aside (dead letter) with ' +
      `its last error; the handler runs at most delivery_limit + 1 times. 0: no limit.${description ? ` ${description}` : ''}`,
  });
}

/** A received event: decoded, or why it cannot be (with its id when that could be read). */
export type ReceivedEvent = Decoded<EventMessage>;

/** How a delivery ended. */
export type Settlement =
  | { readonly kind: 'ack' }
  | {
      readonly kind: 'dead-letter';
      readonly reason: string;
      readonly cause: DeadLetterCause;
      readonly id?: string;
      readonly message?: EventMessage;
    }
  | { readonly kind: 'redeliver'; readonly error: unknown; readonly deliveries: number };

/** What the transport does for each outcome, with its own broker commands. */
export interface SettleActions {
  /** The handler succeeded: acknowledge. */
  ack(): void | Promise<void>;
  /** Set the event aside with `reason`, then acknowledge it. May throw when that fails (then nothing is acknowledged). */
  deadLetter(reason: string, id: string | undefined): void | Promise<void>;
  /** Leave it unacknowledged; `deliveries` counts this one. Optional: most transports just do nothing. */
  redeliver?(error: unknown, deliveries: number): void | Promise<void>;
}

export interface SettleOptions {
  /** The transport's `delivery_limit` option (0: no limit). */
  readonly deliveryLimit: number;
  /**
   * How many times the group has had this event delivered, this delivery
   * included (1 the first time). Asked only when the handler failed, so a
   * transport may read it from the broker.
   */
  deliveries(): number | Promise<number>;
  /** The consumer's `spec.onDeadLetter`: told of each event set aside, once it is. */
  readonly onDeadLetter?: ConsumeSpec['onDeadLetter'];
}

/** The dead-letter reason of an event that cannot be decoded. */
export function undecodableReason(reason: string): string {
  return `cannot be decoded: ${reason}`;
}

/** The dead-letter reason of an event its handler rejected. */
export function rejectedReason(error: unknown): string {
  return `rejected by the handler: ${errorText(error)}`;
}

/** The dead-letter reason of an event whose handler failed on every delivery allowed. */
export function deliveryLimitReason(deliveries: number, limit: number, error: unknown): string {
  return `the handler failed on ${deliveries} deliveries (delivery_limit ${limit}); last error: ${errorText(error)}`;
}

/** Whether a failed delivery, the `deliveries`-th, was the last one `limit` allows. */
export function deliveryLimitReached(deliveries: number, limit: number): boolean {
  return limit > 0 && deliveries > limit;
}

/**
 * Run `handler` on a received event and settle it by the rule above, through
 * `actions`. Resolves with what was decided once the action is done. Errors of
 * the handler never escape; an error of an action (a dead letter that could
 * not be written, an acknowledgement that failed) does.
 */
export async function settleEvent(
  received: ReceivedEvent,
  handler: EventMessageHandler,
  options: SettleOptions,
  actions: SettleActions,
): Promise<Settlement> {
  const settlement = await decide(received, handler, options);
  switch (settlement.kind) {
    case 'ack':
      await actions.ack();
      break;
    case 'dead-letter': {
      await actions.deadLetter(settlement.reason, settlement.id);
      const { cause, message } = settlement;
      options.onDeadLetter?.(message ? { cause, apiName: message.apiName, eventName: message.eventName } : { cause });
      break;
    }
    case 'redeliver':
      await actions.redeliver?.(settlement.error, settlement.deliveries);
      break;
  }
  return settlement;
}

async function decide(
  received: ReceivedEvent,
  handler: EventMessageHandler,
  options: SettleOptions,
): Promise<Settlement> {
  if (!received.ok) {
    const reason = undecodableReason(received.reason);
    return received.id === undefined
      ? { kind: 'dead-letter', reason, cause: 'undecodable' }
      : { kind: 'dead-letter', reason, cause: 'undecodable', id: received.id };
  }
  const message = received.value;
  const deadLetter = (reason: string, cause: DeadLetterCause): Settlement => ({
    kind: 'dead-letter',
    reason,
    cause,
    id: message.id,
    message,
  });
  try {
    await handler(message);
    return { kind: 'ack' };
  } catch (error) {
    if (isMessageRejected(error)) return deadLetter(rejectedReason(error), isInvalid(error) ? 'invalid' : 'rejected');
    const deliveries = await options.deliveries();
    if (deliveryLimitReached(deliveries, options.deliveryLimit)) {
      return deadLetter(deliveryLimitReason(deliveries, options.deliveryLimit, error), 'delivery_limit');
    }
    return { kind: 'redeliver', error, deliveries };
  }
}

/** A rejection because the event failed validation on receipt: a ValidationError in its causes. */
function isInvalid(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current !== null && typeof current === 'object' && depth < 8; depth++) {
    if ((current as { code?: unknown }).code === 'LIGHTBUS_VALIDATION') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
