/**
 * The transports a bus uses: one instance per (transport, role, options), shared
 * by every API configured the same way, created on first use, closed together.
 */
import type { Config, TransportSelection } from '../config';
import { BusClosedError, TransportCapabilityError } from '../errors';
import type {
  ConnectionHealth,
  RoleTransport,
  TransportCapabilities,
  TransportContext,
  TransportRole,
} from '../transport/interfaces';
import type { TransportRegistry } from '../transport/registry';
import { stableStringify } from '../util/async';
import { createRole, declaredCapabilities } from '../transport/kit/role';

function poolKey(role: TransportRole, selection: TransportSelection): string {
  return `${selection.name}|${role}|${stableStringify(selection.options)}`;
}

export class TransportPool {
  private readonly instances = new Map<string, RoleTransport[TransportRole]>();
  /** Test doubles that replace the configured transports of a role for every API. */
  private overrides: Partial<RoleTransport> = {};
  private closed = false;
  /** get() by `<role>|<api>`: the config is frozen, so each API's transport for a role never changes. */
  private readonly byApi = new Map<string, RoleTransport[TransportRole]>();

  constructor(
    private readonly config: Config,
    private readonly registry: TransportRegistry,
    private readonly context: TransportContext,
  ) {}

  /** The transport for one role of one API. */
  get<R extends TransportRole>(apiName: string, role: R): RoleTransport[R] {
    if (this.closed)
      throw new BusClosedError(
        'This bus is closed: its transports are closed. Create a new one with lightbus.create().',
      );
    const override = this.overrides[role];
    if (override) return override as RoleTransport[R];
    const memo = `${role}|${apiName}`;
    let transport = this.byApi.get(memo) as RoleTransport[R] | undefined;
    if (!transport) {
      transport = this.instance(
        role,
        this.config.transport(apiName, role),
        role === 'schema' ? 'bus.schema' : `apis.${apiName}`,
      );
      this.byApi.set(memo, transport);
    }
    return transport;
  }

  /**
   * What the event transport of an API can do, as its definition declares for the configured
   * options (read from the config: no transport is created). A test double's own, where one replaces it.
   */
  capabilities(apiName: string): TransportCapabilities {
    const override = this.overrides.event;
    if (override) return override.capabilities;
    const selection = this.config.transport(apiName, 'event');
    return declaredCapabilities(this.registry.resolve(selection.name), selection.options, {
      path: `apis.${apiName}.event_transport.${selection.name}`,
      source: this.config.source,
    });
  }

  /** The pool key of an API's transport for a role: equal keys share one instance. */
  key(apiName: string, role: TransportRole): string {
    if (this.overrides[role]) return `override|${role}`;
    return poolKey(role, this.config.transport(apiName, role));
  }

  private instance<R extends TransportRole>(role: R, selection: TransportSelection, where: string): RoleTransport[R] {
    const key = poolKey(role, selection);
    let instance = this.instances.get(key) as RoleTransport[R] | undefined;
    if (!instance) {
      const definition = this.registry.resolve(selection.name);
      if (!definition[role]) {
        throw new TransportCapabilityError(`${where}: transport '${selection.name}' has no ${role} role.`);
      }
      // Options from a config file were validated at load; an implicit default (memory) was not:
      // createRole validates a copy, which fills its defaults either way.
      const path =
        role === 'schema' ? `${where}.transport.${selection.name}` : `${where}.${role}_transport.${selection.name}`;
      instance = createRole(definition, role, selection.options, this.context, { path, source: this.config.source });
      this.instances.set(key, instance);
    }
    return instance;
  }

  /** The broker connections of every transport created so far (those that report them). */
  connections(): ConnectionHealth[] {
    const seen = new Set<string>();
    const out: ConnectionHealth[] = [];
    for (const instance of this.instances.values()) {
      for (const connection of instance.connections?.() ?? []) {
        const key = `${connection.transport}|${connection.broker}|${connection.connected}|${connection.detail ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(connection);
      }
    }
    return out;
  }

  /** Replace (or, with an empty object, restore) the transports of some roles for every API. */
  override(transports: Partial<RoleTransport>): void {
    this.overrides = { ...transports };
  }

  /** Close every transport created so far (errors are logged, not thrown). */
  async closeAll(): Promise<void> {
    this.closed = true;
    const instances = [...this.instances.values()];
    this.instances.clear();
    this.byApi.clear();
    await Promise.all(
      instances.map((t) =>
        t.close().catch((error: unknown) => this.context.logger.error('Closing a transport failed', { error })),
      ),
    );
  }
}
