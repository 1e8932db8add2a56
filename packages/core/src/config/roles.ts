/**
 * What an API's transports need of each other, settled when the config is read:
 * defaults a transport chooses from the API's other roles (roleDefaults), then
 * the checks that refuse a config that cannot work (checkRoles).
 */
import type { ConfigIssue } from '../errors';
import type { ApiRoleSelections, TransportRole } from '../transport/interfaces';
import type { TransportRegistry } from '../transport/registry';

export interface TransportSelection {
  readonly name: string;
  readonly options: Readonly<Record<string, unknown>>;
}

export type RoleSelections = {
  readonly [R in Exclude<TransportRole, 'schema'>]: TransportSelection;
};

/** Where each role's selector sits in the config, for messages. */
export const ROLE_KEYS: Record<
  Exclude<TransportRole, 'schema'>,
  'rpc_transport' | 'result_transport' | 'event_transport'
> = {
  rpc: 'rpc_transport',
  result: 'result_transport',
  event: 'event_transport',
};

/** An option a transport chose from the API's other roles, and why (logged at create()). */
export interface ChosenDefault {
  readonly path: string;
  readonly value: unknown;
  readonly reason: string;
}

/**
 * The roles with the defaults each transport chooses from the others (TransportDefinition.roleDefaults),
 * applied only where the user did not set the key. `apiPath` (`apis.<name>`) places them in messages.
 */
export function withRoleDefaults(
  roles: RoleSelections,
  registry: TransportRegistry,
  apiPath: string,
): { roles: RoleSelections; chosen: ChosenDefault[] } {
  const options = {
    rpc: { ...roles.rpc.options },
    result: { ...roles.result.options },
    event: { ...roles.event.options },
  };
  const chosen: ChosenDefault[] = [];
  for (const name of new Set([roles.rpc.name, roles.result.name, roles.event.name])) {
    if (!registry.has(name)) continue;
    // Every transport sees the roles as configured, not what another transport chose.
    for (const choice of registry.resolve(name).roleDefaults?.(roles) ?? []) {
      const own = options[choice.role];
      if (roles[choice.role].name !== name || choice.key in roles[choice.role].options || choice.key in own) continue;
      own[choice.key] = choice.value;
      chosen.push({
        path: `${apiPath}.${ROLE_KEYS[choice.role]}.${name}.${choice.key}`,
        value: choice.value,
        reason: choice.reason,
      });
    }
  }
  if (chosen.length === 0) return { roles, chosen };
  const select = (role: keyof RoleSelections): TransportSelection =>
    Object.freeze({ name: roles[role].name, options: Object.freeze(options[role]) });
  return { roles: Object.freeze({ rpc: select('rpc'), result: select('result'), event: select('event') }), chosen };
}

/** What each transport of an API needs of its other roles (TransportDefinition.checkRoles). */
export function checkRoles(roles: ApiRoleSelections, registry: TransportRegistry, apiPath: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const name of new Set([roles.rpc.name, roles.result.name, roles.event.name])) {
    if (!registry.has(name)) continue;
    issues.push(...(registry.resolve(name).checkRoles?.(roles, apiPath) ?? []));
  }
  return issues;
}
