import { InvalidNameError } from '@lightbus/core/transport';
import {
  Names,
  apiBindingKey,
  eventRoutingKey,
  eventStream,
  groupQueue,
  parseRoutingKey,
  rpcQueue,
  schemaStream,
  streamSegmentBytes,
} from './topology';

const names = new Names('lightbus');
const groupDefaults = { durable: true, queue_type: 'quorum' as const, delivery_limit: 10, dead_letter: true };

describe('amqp topology', () => {
  it('names everything under the prefix', () => {
    expect(names.eventsExchange).toBe('lightbus.events');
    expect(names.deadLetter).toBe('lightbus.dead-letter');
    expect(names.schemaStream).toBe('lightbus.schemas');
    expect(names.rpcQueue('support.case')).toBe('lightbus.rpc.support.case');
    expect(names.groupQueue('billing-notify')).toBe('lightbus.group.billing-notify');
    expect(names.eventStream('support.case')).toBe('lightbus.stream.support.case');
    expect(names.replyQueue('svc', 'p1', 'abc')).toBe('lightbus.reply.svc.p1.abc');
  });

  it('routes events by <api>.<event> and binds a whole API with <api>.*', () => {
    expect(eventRoutingKey('support.case', 'caseCreated')).toBe('support.case.caseCreated');
    expect(apiBindingKey('support.case')).toBe('support.case.*');
    expect(parseRoutingKey('support.case.caseCreated')).toEqual({ apiName: 'support.case', eventName: 'caseCreated' });
    expect(parseRoutingKey('nodot')).toBeUndefined();
  });

  it('refuses names RabbitMQ would refuse, saying what to shorten', () => {
    expect(() => names.groupQueue('x'.repeat(300))).toThrow(InvalidNameError);
    expect(() => names.groupQueue('x'.repeat(300))).toThrow(/RabbitMQ allows 255/);
    expect(names.replyQueue('s'.repeat(200), 'p'.repeat(100), 'abc')).toBe('lightbus.reply.abc');
  });

  it('declares group queues as quorum queues with a delivery limit and dead-lettering', () => {
    expect(groupQueue(names, 'svc-l', groupDefaults)).toEqual({
      name: 'lightbus.group.svc-l',
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 10, 'x-dead-letter-exchange': 'lightbus.dead-letter' },
    });
    expect(
      groupQueue(names, 'svc-l', {
        ...groupDefaults,
        queue_type: 'classic',
        durable: false,
        dead_letter: false,
        message_ttl: 1.5,
        max_length: 7,
      }),
    ).toEqual({
      name: 'lightbus.group.svc-l',
      durable: false,
      arguments: { 'x-queue-type': 'classic', 'x-message-ttl': 1500, 'x-max-length': 7 },
    });
    expect(
      groupQueue(names, 'g', { ...groupDefaults, delivery_limit: 0 }).arguments['x-delivery-limit'],
    ).toBeUndefined();
  });

  it('declares streams with retention', () => {
    expect(eventStream(names, 'a.b', { stream_max_age: 3600, stream_max_bytes: 200_000_000 })).toEqual({
      name: 'lightbus.stream.a.b',
      durable: true,
      arguments: {
        'x-queue-type': 'stream',
        'x-max-age': '3600s',
        'x-max-length-bytes': 200_000_000,
        'x-stream-max-segment-size-bytes': 10_000_000,
      },
    });
    expect(streamSegmentBytes(1_048_576)).toBe(1_000_000);
    expect(streamSegmentBytes(1e12)).toBe(500_000_000);
    expect(schemaStream(names).arguments['x-queue-type']).toBe('stream');
    expect(rpcQueue(names, 'a').arguments).toEqual({ 'x-queue-type': 'classic' });
  });
});
