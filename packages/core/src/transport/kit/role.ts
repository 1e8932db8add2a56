/**
 * One role of a transport made the way create() makes it from a config: the
 * options validated against the role's schema (defaults filled), then the
 * factory called. For core's transport pool, and for a transport's own tests
 * (the conformance tiers), which then need no copy of the defaults. And what
 * an event role with given options can do, from the definition alone.
 */
import type { TSchema } from '@sinclair/typebox';
import { ConfigError, TransportCapabilityError } from '../../errors';
import { validateAgainst } from '../../config/validate';
import { stableStringify } from '../../util/async';
import type {
  AnyTransportDefinition,
  RoleTransport,
  TransportCapabilities,
  TransportContext,
  TransportRole,
} from '../interfaces';

export interface CreateRoleOptions {
  /** The config key of the options, for errors (default: `<transport>.<role>`). */
  readonly path?: string;
  /** Where the config came from, for errors (default: "transport options"). */
  readonly source?: string;
}

/**
 * A copy of `options` with the defaults of `schema` filled in, as core passes a role's options
 * from a config; ConfigError naming each key the schema refuses (under `where.path`).
 */
export function optionsWithDefaults<T = Record<string, unknown>>(
  schema: TSchema,
  options: Readonly<Record<string, unknown>>,
  where: CreateRoleOptions = {},
): T {
  const filled = structuredClone(options) as Record<string, unknown>;
  const issues = validateAgainst(schema, filled, where.path ?? '');
  if (issues.length > 0) throw new ConfigError(where.source ?? 'transport options', issues);
  return filled as T;
}

function filledOptions(
  definition: AnyTransportDefinition,
  role: TransportRole,
  options: Readonly<Record<string, unknown>>,
  where: CreateRoleOptions,
): Record<string, unknown> {
  const schema = definition.options[role];
  const path = where.path ?? `${definition.name}.${role}`;
  return schema ? optionsWithDefaults(schema, options, { ...where, path }) : structuredClone(options);
}

/**
 * What `definition`'s event role can do with `options` (defaults filled): its
 * `eventCapabilities(options)`, else its `capabilities`.
 */
export function declaredCapabilities(
  definition: AnyTransportDefinition,
  options: Readonly<Record<string, unknown>>,
  where: CreateRoleOptions = {},
): TransportCapabilities {
  if (!definition.eventCapabilities) return definition.capabilities;
  const of = definition.eventCapabilities as (options: Record<string, unknown>) => TransportCapabilities;
  return of(filledOptions(definition, 'event', options, where));
}

/**
 * `definition`'s `role` with `options` (not modified: a copy gets the defaults).
 * Options the role's schema refuses: ConfigError naming each key. A role the
 * transport lacks: TransportCapabilityError. An event role that reports other
 * capabilities than its definition declares for these options:
 * TransportCapabilityError (a bug of the transport).
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
  const filled = filledOptions(definition, role, options, { ...where, path });
  const made = factory(filled, context);
  if (role === 'event') {
    const reported = (made as RoleTransport['event']).capabilities;
    const declared = declaredCapabilities(definition, filled, { ...where, path });
    if (stableStringify(reported) !== stableStringify(declared)) {
      throw new TransportCapabilityError(
        `${path}: transport '${definition.name}' declares ${stableStringify(declared)} for these options ` +
          `(eventCapabilities or capabilities of its definition) but its event transport reports ` +
          `${stableStringify(reported)}. Fix the transport: the two must agree.`,
      );
    }
  }
  return made;
}
