import { ConfigError, TransportRegistry, loadConfig, validateAgainst } from '@lightbus/core/transport';
import { transport, AmqpEventOptions, AmqpResultOptions, AmqpRpcOptions, AmqpSchemaOptions } from '.';
import { checkEventOptions } from './events';

function validated<T>(
  schema: Parameters<typeof validateAgainst>[0],
  value: Record<string, unknown>,
): { value: T; issues: ReturnType<typeof validateAgainst> } {
  const copy = structuredClone(value);
  const issues = validateAgainst(schema, copy, 'x');
  return { value: copy as T, issues };
}

describe('amqp options', () => {
  it('fills every default', () => {
    const { value, issues } = validated<Record<string, unknown>>(AmqpEventOptions, {});
    expect(issues).toEqual([]);
    expect(value).toEqual({
      url: 'amqp://127.0.0.1:5672/',
      prefix: 'lightbus',
      heartbeat: 30,
      connection_timeout: 10,
      reconnect_initial_delay: 0.1,
      reconnect_max_delay: 10,
      prefetch: 50,
      durable: true,
      queue_type: 'quorum',
      delivery_limit: 10,
      dead_letter: true,
      stream: false,
      stream_max_age: 604800,
      stream_max_bytes: 10_000_000_000,
    });
    expect(validated<Record<string, unknown>>(AmqpRpcOptions, {}).value.prefetch).toBe(10);
    // No schema default: left out, it stays out, and the config chooses it from the API's rpc transport.
    expect(validated<Record<string, unknown>>(AmqpResultOptions, {}).value).not.toHaveProperty('reply_mode');
    expect(validated<Record<string, unknown>>(AmqpSchemaOptions, {}).value.max_ttl).toBe(600);
  });

  it('names the key that is wrong', () => {
    expect(validated(AmqpRpcOptions, { url: 'http://x' }).issues).toEqual([
      { path: 'x.url', message: 'must match pattern "^amqps?://" (got "http://x")' },
    ]);
    expect(validated(AmqpResultOptions, { reply_mode: 'fast' }).issues).toEqual([
      { path: 'x.reply_mode', message: `must be 'direct' or 'queue' (got "fast")` },
    ]);
    expect(validated(AmqpEventOptions, { prefetch: 0 }).issues[0]!.path).toBe('x.prefetch');
    expect(validated(AmqpEventOptions, { prefix: 'amq.mine' }).issues[0]!.path).toBe('x.prefix');
    expect(validated(AmqpEventOptions, { prefix: 'has space' }).issues[0]!.path).toBe('x.prefix');
    expect(validated(AmqpEventOptions, { prefech: 5 }).issues).toEqual([
      { path: 'x', message: "unknown key 'prefech' (did you mean 'prefetch'?)" },
    ]);
    expect(validated(AmqpEventOptions, { tls: { ca: 'x' } }).issues[0]!.path).toBe('x.tls');
  });

  it('refuses a non-durable quorum queue', () => {
    const { value } = validated<AmqpEventOptions>(AmqpEventOptions, { durable: false });
    expect(() => checkEventOptions(value)).toThrow(ConfigError);
    expect(() => checkEventOptions(value)).toThrow(/with durable: false use queue_type: 'classic'/);
    const classic = validated<AmqpEventOptions>(AmqpEventOptions, { durable: false, queue_type: 'classic' }).value;
    expect(() => checkEventOptions(classic)).not.toThrow();
  });

  it('validates a lightbus config that names amqp, through core', () => {
    const registry = new TransportRegistry([transport]);
    const load = (eventOptions: Record<string, unknown>) =>
      loadConfig(
        {
          config: {
            apis: {
              default: {
                rpc_transport: { amqp: { url: 'amqp://guest:guest@rabbit:5672/%2F' } },
                // Direct replies (the default) need the same RabbitMQ as the calls (checked at create()).
                result_transport: { amqp: { url: 'amqp://guest:guest@rabbit:5672/%2F' } },
                event_transport: { amqp: eventOptions },
              },
            },
          },
        },
        registry,
      );
    expect(() => load({ prefetch: 'many' })).toThrow(
      'apis.default.event_transport.amqp.prefetch: must be integer (got "many")',
    );
    const config = load({ stream: true });
    expect(config.api('support.case').eventTransport).toEqual({
      name: 'amqp',
      options: expect.objectContaining({ stream: true, prefetch: 50 }),
    });
  });
});
