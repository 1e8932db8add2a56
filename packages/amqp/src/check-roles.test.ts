import {
  ConfigError,
  TransportRegistry,
  loadConfig,
  memoryTransport,
  type LightbusConfigInput,
} from '@lightbus/core/transport';
import { tmpdir } from 'node:os';
import { transport } from '.';

const registry = (): TransportRegistry =>
  new TransportRegistry([memoryTransport, transport], { resolveFrom: tmpdir() });
const load = (config: LightbusConfigInput) => loadConfig({ config }, registry());
const url = 'amqp://guest:guest@127.0.0.1:5672/';
const replyMode = (config: LightbusConfigInput, apiName = 'default'): unknown =>
  load(config).transport(apiName, 'result').options.reply_mode;

describe('amqp: reply_mode left unset is chosen from the rpc transport at create()', () => {
  it('chooses direct replies for calls on amqp on the same broker, however its url is written', () => {
    expect(
      replyMode({ apis: { default: { rpc_transport: { amqp: { url } }, result_transport: { amqp: { url } } } } }),
    ).toBe('direct');
    // The same broker written differently (default port, password) is one broker.
    expect(
      replyMode({
        apis: {
          default: {
            rpc_transport: { amqp: { url: 'amqp://guest:guest@127.0.0.1/' } },
            result_transport: { amqp: { url: 'amqp://guest:other@127.0.0.1:5672' } },
          },
        },
      }),
    ).toBe('direct');
  });

  it('chooses a reply queue for calls on another transport, and says why', () => {
    const config = load({ apis: { default: { rpc_transport: { memory: {} }, result_transport: { amqp: { url } } } } });
    expect(config.transport('default', 'result').options.reply_mode).toBe('queue');
    expect(config.transport('any.other.api', 'result').options.reply_mode).toBe('queue');
    expect(config.chosenDefaults()).toEqual([
      {
        path: 'apis.default.result_transport.amqp.reply_mode',
        value: 'queue',
        reason: expect.stringMatching(/direct reply-to would not work: this API's rpc_transport is 'memory'/),
      },
    ]);
  });

  it('chooses a reply queue for calls on another RabbitMQ broker or vhost', () => {
    expect(
      replyMode({
        apis: {
          default: {
            rpc_transport: { amqp: { url } },
            result_transport: { amqp: { url: 'amqp://guest:secret@127.0.0.1:5672/other' } },
          },
        },
      }),
    ).toBe('queue');
  });

  it('chooses per API, with the roles each inherits from apis.default', () => {
    const config = load({
      apis: {
        default: { rpc_transport: { amqp: { url } }, result_transport: { amqp: { url } } },
        'billing.api': { rpc_transport: { memory: {} } },
      },
    });
    expect(config.transport('default', 'result').options.reply_mode).toBe('direct');
    expect(config.transport('billing.api', 'result').options.reply_mode).toBe('queue');
  });

  it('keeps what the user set', () => {
    expect(
      replyMode({
        apis: {
          default: { rpc_transport: { amqp: { url } }, result_transport: { amqp: { url, reply_mode: 'queue' } } },
        },
      }),
    ).toBe('queue');
    expect(
      load({
        apis: { default: { rpc_transport: { memory: {} }, result_transport: { amqp: { url, reply_mode: 'queue' } } } },
      }).chosenDefaults(),
    ).toEqual([]);
  });
});

describe('amqp: reply_mode direct set where it cannot work is refused at create()', () => {
  it('refuses direct replies for calls that do not travel over amqp, naming the key and the fix', () => {
    const attempt = () =>
      load({
        apis: { default: { rpc_transport: { memory: {} }, result_transport: { amqp: { url, reply_mode: 'direct' } } } },
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /apis\.default\.result_transport\.amqp\.reply_mode: 'direct' .* rpc_transport is 'memory', not amqp: remove reply_mode .* or set reply_mode: queue/,
    );
  });

  it('checks every API with its own roles, inherited ones included', () => {
    const attempt = () =>
      load({
        apis: {
          default: { rpc_transport: { amqp: { url } }, result_transport: { amqp: { url, reply_mode: 'direct' } } },
          'billing.api': { rpc_transport: { memory: {} } },
        },
      });
    expect(attempt).toThrow(/apis\.billing\.api\.result_transport\.amqp\.reply_mode/);
    expect(attempt).not.toThrow(/apis\.default\./);
  });

  it('refuses direct replies when calls and results are on different RabbitMQ brokers or vhosts, naming both', () => {
    const attempt = () =>
      load({
        apis: {
          default: {
            rpc_transport: { amqp: { url } },
            result_transport: { amqp: { url: 'amqp://guest:secret@127.0.0.1:5672/other', reply_mode: 'direct' } },
          },
        },
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /apis\.default\.result_transport\.amqp\.reply_mode: .*different RabbitMQ brokers .*127\.0\.0\.1:5672\/ and .*127\.0\.0\.1:5672\/other\)/,
    );
    expect(attempt).not.toThrow(/secret/);
  });

  it('accepts direct replies set for calls on amqp on the same broker', () => {
    expect(() =>
      load({
        apis: {
          default: { rpc_transport: { amqp: { url } }, result_transport: { amqp: { url, reply_mode: 'direct' } } },
        },
      }),
    ).not.toThrow();
  });
});
