import { tmpdir } from 'node:os';
import { Type } from '@sinclair/typebox';
import { ConfigError } from '../errors';
import { memoryTransport, TransportRegistry, defineTransport } from '../transport';
import { loadConfig, type LightbusConfigInput } from '.';

/** A result role whose `mode` default depends on the rpc transport, and which refuses `mode: paired` elsewhere. */
const paired = defineTransport({
  name: 'paired',
  capabilities: memoryTransport.capabilities,
  options: {
    result: Type.Object(
      {
        mode: Type.Optional(Type.Union([Type.Literal('paired'), Type.Literal('alone')])),
        size: Type.Integer({ default: 1 }),
      },
      { additionalProperties: false },
    ),
  },
  result: () => {
    throw new Error('not used');
  },
  roleDefaults: (roles) => [
    roles.rpc.name === 'paired'
      ? { role: 'result', key: 'mode', value: 'paired', reason: 'calls are paired' }
      : { role: 'result', key: 'mode', value: 'alone', reason: `calls are on ${roles.rpc.name}` },
    // Only a role of this transport gets this transport's defaults: the rpc role here is memory's.
    { role: 'rpc', key: 'mode', value: 'never', reason: 'not this transport' },
  ],
  checkRoles: (roles, apiPath) =>
    roles.result.options.mode === 'paired' && roles.rpc.name !== 'paired'
      ? [{ path: `${apiPath}.result_transport.paired.mode`, message: 'needs paired calls' }]
      : [],
});

const load = (config: LightbusConfigInput) =>
  loadConfig({ config }, new TransportRegistry([memoryTransport, paired], { resolveFrom: tmpdir() }));

describe('defaults a transport chooses from an API’s other roles', () => {
  it('fills a key the user left out, per API, and says which and why', () => {
    const config = load({
      apis: {
        default: { result_transport: { paired: {} } },
        'other.api': { result_transport: { paired: { size: 2 } } },
      },
    });
    expect(config.transport('default', 'result').options).toEqual({ mode: 'alone', size: 1 });
    expect(config.transport('other.api', 'result').options).toEqual({ mode: 'alone', size: 2 });
    expect(config.transport('unnamed.api', 'result').options).toEqual({ mode: 'alone', size: 1 });
    expect(config.transport('default', 'rpc').options).toEqual({});
    expect(config.chosenDefaults()).toEqual([
      { path: 'apis.default.result_transport.paired.mode', value: 'alone', reason: 'calls are on memory' },
      { path: 'apis.other.api.result_transport.paired.mode', value: 'alone', reason: 'calls are on memory' },
    ]);
  });

  it('keeps what the user set, and checks it', () => {
    const attempt = () => load({ apis: { default: { result_transport: { paired: { mode: 'paired' } } } } });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/apis\.default\.result_transport\.paired\.mode: needs paired calls/);
    expect(load({ apis: { default: { result_transport: { paired: { mode: 'alone' } } } } }).chosenDefaults()).toEqual(
      [],
    );
  });
});
