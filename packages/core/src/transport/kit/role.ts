/**
 * One role of a transport made the way create() makes it from a config: the
 * options validated against the role's schema (defaults filled), then the
 * factory called. For core's transport pool, and for a transport's own tests
 * (the conformance tiers), which then need no copy of the defaults.
 */
import { ConfigError, TransportCapabilityError } from '../../errors';
import { validateAgainst } from '../../config/validate';
import type { AnyTransportDefinition, RoleTransport, TransportContext, TransportRole } from '../interfaces';

export interface CreateRoleOptions {
  /** The config key of the options, for errors (default: `<transport>.<role>`). */
  readonly path?: string;
  /** Where the config came from, for errors (default: "transport options"). */
  readonly source?: string;
}

/**
 * `definition`'s `role` with `options` (not modified: a copy gets the defaults).
 * Options the role's schema refuses: ConfigError naming each key. A role the
 * transport lacks: TransportCapabilityError.
 */
export function createRole<R extends TransportRole>(
  definition: AnyTransportDefinition,
  role: R,
  options: Readonly<Record<string, unknown>>,
  context: TransportContext,
  where: CreateRoleOptions = {},
): RoleTransport[R] {
  const path = where.path ?? `${definition.name}.${role}`;
  const factory = definition[role] as ((options: unknown, context: TransportContext) => RoleTransport[R]) | undefined;
  if (!factory) throw new TransportCapabilityError(`${path}: transport '${definition.name}' has no ${role} role.`);
  const filled = structuredClone(options) as Record<string, unknown>;
  const schema = definition.options[role];
  const issues = schema ? validateAgainst(schema, filled, path) : [];
  if (issues.length > 0) throw new ConfigError(where.source ?? 'transport options', issues);
  return factory(filled, context);
}
