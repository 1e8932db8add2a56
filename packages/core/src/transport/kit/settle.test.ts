import { MessageRejectedError, ValidationError } from '../../errors';
import type { EventMessage } from '../../message';
import type { DeadLettered } from '../interfaces';
import { settleEvent, type ReceivedEvent, type SettleActions } from './settle';

const message: EventMessage = { id: 'e1', apiName: 'svc.api', eventName: 'tick', version: 1, kwargs: {} };
const received: ReceivedEvent = { ok: true, value: message };

function recorder(): SettleActions & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    ack: () => void log.push('ack'),
    deadLetter: (reason, id) => void log.push(`dead-letter ${id ?? '-'}: ${reason}`),
    redeliver: (_error, deliveries) => void log.push(`redeliver after ${deliveries}`),
  };
}

const fails = (error: unknown) => async (): Promise<void> => {
  throw error;
};

describe('settleEvent', () => {
  it('acknowledges an event whose handler succeeded, without asking for the delivery count', async () => {
    const actions = recorder();
    const deliveries = jest.fn(() => 1);
    expect(await settleEvent(received, async () => {}, { deliveryLimit: 3, deliveries }, actions)).toEqual({
      kind: 'ack',
    });
    expect(actions.log).toEqual(['ack']);
    expect(deliveries).not.toHaveBeenCalled();
  });

  it('sets aside an event that cannot be decoded, without running the handler', async () => {
    const actions = recorder();
    const handler = jest.fn(async () => {});
    await settleEvent(
      { ok: false, reason: 'not JSON', id: 'x' },
      handler,
      { deliveryLimit: 3, deliveries: () => 1 },
      actions,
    );
    expect(actions.log).toEqual(['dead-letter x: cannot be decoded: not JSON']);
    expect(handler).not.toHaveBeenCalled();
  });

  it('sets aside an event the handler rejects, on its first delivery', async () => {
    const actions = recorder();
    await settleEvent(
      received,
      fails(new MessageRejectedError('bad n')),
      { deliveryLimit: 3, deliveries: () => 1 },
      actions,
    );
    expect(actions.log).toEqual(['dead-letter e1: rejected by the handler: bad n']);
  });

  it('leaves a failed event for redelivery until delivery_limit + 1 deliveries failed, then sets it aside with the last error', async () => {
    const outcomes: string[] = [];
    for (let deliveries = 1; deliveries <= 4; deliveries++) {
      const actions = recorder();
      await settleEvent(
        received,
        fails(new Error(`boom ${deliveries}`)),
        { deliveryLimit: 3, deliveries: async () => deliveries },
        actions,
      );
      outcomes.push(...actions.log);
    }
    expect(outcomes).toEqual([
      'redeliver after 1',
      'redeliver after 2',
      'redeliver after 3',
      'dead-letter e1: the handler failed on 4 deliveries (delivery_limit 3); last error: boom 4',
    ]);
  });

  it('never sets aside a failed event with delivery_limit 0', async () => {
    const actions = recorder();
    await settleEvent(received, fails(new Error('boom')), { deliveryLimit: 0, deliveries: () => 1000 }, actions);
    expect(actions.log).toEqual(['redeliver after 1000']);
  });

  it('tells onDeadLetter why each event was set aside, once it is', async () => {
    const heard: DeadLettered[] = [];
    const options = { deliveryLimit: 1, deliveries: () => 2, onDeadLetter: (d: DeadLettered) => void heard.push(d) };
    const invalid = new MessageRejectedError('bad id', { cause: new ValidationError("'id' must be integer") });
    await settleEvent({ ok: false, reason: 'not JSON' }, async () => {}, options, recorder());
    await settleEvent(received, fails(invalid), options, recorder());
    await settleEvent(received, fails(new MessageRejectedError('poison')), options, recorder());
    await settleEvent(received, fails(new Error('boom')), options, recorder());
    await settleEvent(received, async () => {}, options, recorder());
    const event = { apiName: 'svc.api', eventName: 'tick' };
    expect(heard).toEqual([
      { cause: 'undecodable' },
      { cause: 'invalid', ...event },
      { cause: 'rejected', ...event },
      { cause: 'delivery_limit', ...event },
    ]);
    // Not set aside (the dead letter could not be written): not counted.
    const failing = { ack: () => undefined, deadLetter: () => Promise.reject(new Error('store down')) };
    await expect(settleEvent(received, fails(invalid), options, failing)).rejects.toThrow('store down');
    expect(heard).toHaveLength(4);
  });

  it('lets an error of an action through (the transport leaves the event unacknowledged)', async () => {
    const actions = {
      ack: () => undefined,
      deadLetter: () => Promise.reject(new Error('dead-letter store unreachable')),
    };
    await expect(
      settleEvent(received, fails(new MessageRejectedError('bad')), { deliveryLimit: 3, deliveries: () => 1 }, actions),
    ).rejects.toThrow('dead-letter store unreachable');
  });
});
