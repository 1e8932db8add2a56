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

describe('amqp: what its roles need of the others, checked at create()', () => {
  it('refuses direct replies for calls that do not travel over amqp, naming the key and the fix', () => {
    const attempt = () =>
      load({ apis: { default: { rpc_transport: { memory: {} }, result_transport: { amqp: { url } } } } });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /apis\.default\.result_transport\.amqp\.reply_mode: 'direct' \(the default\) .* rpc_transport is 'memory': set reply_mode: queue/,
    );
  });

  it('checks every API with its own roles, inherited ones included', () => {
    const attempt = () =>
      load({
        apis: {
          default: { rpc_transport: { amqp: { url } }, result_transport: { amqp: { url } } },
          'billing.api': { rpc_transport: { memory: {} } },
        },
      });
    expect(attempt).toThrow(/apis\.billing\.api\.result_transport\.amqp\.reply_mode/);
  });

  it('refuses direct replies when calls and results are on different RabbitMQ brokers or vhosts, naming both', () => {
    const attempt = () =>
      load({
        apis: {
          default: {
            rpc_transport: { amqp: { url } },
            result_transport: { amqp: { url: 'amqp://guest:secret@127.0.0.1:5672/other' } },
          },
        },
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /apis\.default\.result_transport\.amqp\.reply_mode: .*same RabbitMQ .*127\.0\.0\.1:5672\/ and .*127\.0\.0\.1:5672\/other: use one url for both, or set reply_mode: queue/,
    );
    expect(attempt).not.toThrow(/secret/);
    // The same broker written differently (default port, password) is one broker.
    expect(() =>
      load({
        apis: {
          default: {
            rpc_transport: { amqp: { url: 'amqp://guest:guest@127.0.0.1/' } },
            result_transport: { amqp: { url: 'amqp://guest:other@127.0.0.1:5672' } },
          },
        },
      }),
    ).not.toThrow();
  });

  it('accepts reply queues with any rpc transport, and direct replies with amqp calls', () => {
    expect(() =>
      load({
        apis: { default: { rpc_transport: { memory: {} }, result_transport: { amqp: { url, reply_mode: 'queue' } } } },
      }),
    ).not.toThrow();
    expect(() =>
      load({ apis: { default: { rpc_transport: { amqp: { url } }, result_transport: { amqp: { url } } } } }),
    ).not.toThrow();
  });
});
