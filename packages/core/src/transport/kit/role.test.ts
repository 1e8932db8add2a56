/**
 * createRole and declaredCapabilities: a role made as create() makes it, and the
 * capabilities a definition declares for given options as the one source that
 * listen() and history() read, and that the event transport must agree with.
 */
import { Type } from '@sinclair/typebox';
import { ConfigError, TransportCapabilityError } from '../../errors';
import { ConsoleLogger } from '../../log/console';
import { busFactory, memoryConfig } from '../../test-helpers';
import { defineTransport, type EventTransport, type TransportCapabilities } from '../interfaces';
import { memoryCapabilities, memoryTransport } from '../memory';
import { createRole, declaredCapabilities } from './role';

const context = { serviceName: 'svc', processName: 'p', logger: new ConsoleLogger('critical') };

/** Memory's event role, with replay and history only when its option `keep` says so. */
function keeping(options: { lie?: boolean } = {}) {
  const made: string[] = [];
  const definition = defineTransport({
    name: 'keeping',
    capabilities: { ...memoryCapabilities, replay: false, history: false },
    eventCapabilities: (o) => ({ ...memoryCapabilities, replay: o.keep, history: o.keep }),
    options: {
      event: Type.Object(
        { name: Type.String({ default: 'keeping' }), keep: Type.Boolean({ default: false }) },
        { additionalProperties: false },
      ),
    },
    event: (o, ctx): EventTransport => {
      made.push(o.name);
      const inner = createRole(memoryTransport, 'event', { name: o.name }, ctx);
      const capabilities: TransportCapabilities = {
        ...memoryCapabilities,
        replay: options.lie ? true : o.keep,
        history: options.lie ? true : o.keep,
      };
      return Object.assign(Object.create(inner) as EventTransport, { capabilities });
    },
  });
  return { definition, made };
}

describe('createRole', () => {
  it('fills the defaults of the role options and calls the factory', () => {
    const role = createRole(memoryTransport, 'event', { name: 'role-test' }, context);
    expect(role.capabilities).toEqual(memoryCapabilities);
  });

  it('refuses options the role schema refuses with a ConfigError naming the key', () => {
    const attempt = () => createRole(memoryTransport, 'event', { name: 'x', delivery_limit: -1 }, context);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/memory\.event\.delivery_limit/);
  });

  it('refuses an event transport that reports other capabilities than its definition declares', () => {
    const { definition } = keeping({ lie: true });
    expect(() => createRole(definition, 'event', {}, context)).toThrow(TransportCapabilityError);
    expect(() => createRole(definition, 'event', {}, context)).toThrow(/declares .* but its event transport reports/);
    expect(createRole(keeping().definition, 'event', { keep: true }, context).capabilities.replay).toBe(true);
  });
});

describe('declaredCapabilities', () => {
  it('reads eventCapabilities with the defaults filled, else the static capabilities', () => {
    const { definition } = keeping();
    expect(declaredCapabilities(definition, {}).replay).toBe(false);
    expect(declaredCapabilities(definition, { keep: true }).replay).toBe(true);
    expect(declaredCapabilities(memoryTransport, {})).toEqual(memoryCapabilities);
  });
});

describe('capabilities read from the config, before any transport exists', () => {
  const buses = busFactory();
  afterEach(() => buses.closeAll());

  it("refuses since and history where the configured options cannot, naming the API's event_transport", async () => {
    const { definition, made } = keeping();
    const config = memoryConfig();
    const bus = buses.make({
      config: { ...config, apis: { ...config.apis, 'support.case': { event_transport: { keeping: {} } } } },
      transports: [definition],
    });
    const listen = () =>
      bus.support.case.caseClosed.listen(() => undefined, { listenerName: 'replayer', since: 'beginning' });
    expect(listen).toThrow(TransportCapabilityError);
    expect(listen).toThrow(/cannot replay events with its options \(event_transport of apis\.support\.case/);
    expect(() => bus.client.history({ apiName: 'support.case' })).toThrow(/keeps no history with its options/);
    // Decided from the config alone: no event transport was made for it.
    expect(made).toEqual([]);
  });

  it('lets since through where the options can replay', async () => {
    const { definition } = keeping();
    const config = memoryConfig();
    const bus = buses.make({
      config: { ...config, apis: { ...config.apis, 'support.case': { event_transport: { keeping: { keep: true } } } } },
      transports: [definition],
    });
    expect(() =>
      bus.support.case.caseClosed.listen(() => undefined, { listenerName: 'replayer', since: 'beginning' }),
    ).not.toThrow();
  });
});
