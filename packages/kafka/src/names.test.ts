import { MAX_TOPIC_LENGTH, TopicNames, safeTopicName } from './names';

describe('topic and group names', () => {
  const names = new TopicNames('lightbus.');

  it('follow the documented layout', () => {
    expect(names.event('support.case', 'caseCreated', 'per_api')).toBe('lightbus.event.support.case');
    expect(names.event('support.case', 'caseCreated', 'per_event')).toBe('lightbus.event.support.case.caseCreated');
    expect(names.request('support.case')).toBe('lightbus.rpc.support.case');
    expect(names.reply('billing')).toBe('lightbus.reply.billing');
    expect(names.schema()).toBe('lightbus.schema');
    expect(names.deadLetter()).toBe('lightbus.dead-letter');
    expect(names.settledMarkers('lightbus.dead-letter')).toBe('lightbus.dead-letter.settled');
    expect(names.isRequestTopic('lightbus.rpc.support.case')).toBe(true);
    expect(names.isRequestTopic('lightbus.event.support.case')).toBe(false);
    expect(names.listenerGroup('billing-send-invoice')).toBe('lightbus.billing-send-invoice');
    expect(names.workerGroup('support.case')).toBe('lightbus.rpc.support.case');
  });

  it('makes any service name a legal topic name', () => {
    expect(names.reply('my service/ü')).toBe('lightbus.reply.my_service__');
    const long = safeTopicName(`lightbus.reply.${'x'.repeat(300)}`);
    expect(long.length).toBeLessThanOrEqual(MAX_TOPIC_LENGTH);
    expect(long).toMatch(/-[0-9a-f]{16}$/);
    expect(safeTopicName(`lightbus.reply.${'x'.repeat(300)}`)).toBe(long); // stable
    expect(safeTopicName(`lightbus.reply.${'x'.repeat(299)}y`)).not.toBe(long);
  });

  it('recognises the per-event topics of an API', () => {
    expect(names.isPerEventTopicOf('lightbus.event.support.case.caseCreated', 'support.case')).toBe(true);
    expect(names.isPerEventTopicOf('lightbus.event.support.case', 'support.case')).toBe(false);
    expect(names.isPerEventTopicOf('lightbus.event.support.case.sub.thing', 'support.case')).toBe(false);
    expect(names.isPerEventTopicOf('lightbus.event.support.caseX.created', 'support.case')).toBe(false);
  });
});
