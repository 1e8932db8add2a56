import { loadConfig, validateAgainst, TransportRegistry, memoryTransport } from '@lightbus/core/transport';
import { transport } from './index';
import { EventOptions, ResultOptions, RpcOptions, SchemaOptions } from './options';
import { kafkaCapabilities, parsePosition } from './events';

describe('kafka options', () => {
  it('fill their defaults', () => {
    const options: Record<string, unknown> = {};
    expect(validateAgainst(EventOptions, options)).toEqual([]);
    expect(options).toMatchObject({
      brokers: ['localhost:9092'],
      ssl: false,
      topic_prefix: 'lightbus.',
      create_topics: true,
      partitions: 6,
      replication_factor: -1,
      topic_config: {},
      linger_ms: 0,
      idempotent: true,
      compression: 'none',
      session_timeout_ms: 30000,
      heartbeat_interval_ms: 3000,
      max_wait_ms: 500,
      topic_use: 'per_api',
      partition_key: 'api',
      retry: { retries: 5, initial_retry_time_ms: 300, max_retry_time_ms: 30000 },
    });
    for (const schema of [RpcOptions, ResultOptions, SchemaOptions]) expect(validateAgainst(schema, {})).toEqual([]);
  });

  it('name the key and the problem in a config file', () => {
    const registry = new TransportRegistry([memoryTransport, transport]);
    const load = (kafka: Record<string, unknown>) => {
      try {
        loadConfig({ config: { apis: { default: { event_transport: { kafka } } } } }, registry);
        return [];
      } catch (error) {
        return (error as { issues: Array<{ path: string; message: string }> }).issues.map(
          (i) => `${i.path}: ${i.message}`,
        );
      }
    };
    expect(
      load({
        brokers: ['kafka-1:9092'],
        partition_key: { parameter: 'customer_id' },
        sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      }),
    ).toEqual([]);
    expect(load({ brokers: 'kafka-1:9092' })).toEqual([
      'apis.default.event_transport.kafka.brokers: must be array (got "kafka-1:9092")',
    ]);
    expect(load({ brokers: ['kafka-1'] })).toEqual([
      expect.stringMatching(/^apis\.default\.event_transport\.kafka\.brokers\.0: must match pattern/),
    ]);
    expect(load({ partiton_key: 'id' })).toEqual([
      expect.stringContaining("unknown key 'partiton_key' (did you mean 'partition_key'?)"),
    ]);
    expect(load({ partition_key: 'customer' })).toEqual([
      `apis.default.event_transport.kafka.partition_key: must be 'api', 'event', 'id' or {parameter: <name>} (got "customer")`,
    ]);
    expect(load({ topic_use: 'per_service' })).toEqual([
      `apis.default.event_transport.kafka.topic_use: must be 'per_api' or 'per_event' (got "per_service")`,
    ]);
    expect(load({ sasl: { mechanism: 'plain', username: 'u' } })).toEqual([
      expect.stringMatching(/^apis\.default\.event_transport\.kafka\.sasl: must be \{mechanism: plain/),
    ]);
    expect(load({ topic_prefix: 'bad prefix' })).toEqual([
      expect.stringMatching(/^apis\.default\.event_transport\.kafka\.topic_prefix: must match pattern/),
    ]);
    expect(load({ session_timeout_ms: 10 })).toEqual([
      'apis.default.event_transport.kafka.session_timeout_ms: must be >= 1000 (got 10)',
    ]);
  });

  it('declare what each partition key keeps in order', () => {
    expect(kafkaCapabilities('api')).toEqual({
      crossProcess: true,
      durable: true,
      consumerGroups: true,
      replay: true,
      history: true,
      ordering: 'per-stream',
    });
    expect(kafkaCapabilities('event').ordering).toBe('per-key');
    expect(kafkaCapabilities({ parameter: 'customer' }).ordering).toBe('per-key');
    expect(kafkaCapabilities('id').ordering).toBe('none');
  });

  it('read since positions: an event nativeId or partition:offset pairs', () => {
    expect(parsePosition('lightbus.event.a:2:41')).toEqual([{ topic: 'lightbus.event.a', partition: 2, offset: 41n }]);
    expect(parsePosition('0:10, 1:20')).toEqual([
      { topic: undefined, partition: 0, offset: 10n },
      { topic: undefined, partition: 1, offset: 20n },
    ]);
    expect(() => parsePosition('1700000000-0')).toThrow(/not a Kafka position: give an event's nativeId/);
  });
});
