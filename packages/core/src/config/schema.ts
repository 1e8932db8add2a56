/**
 * The JSON Schema of the config file (Python Lightbus's keys). Transport
 * selectors (`rpc_transport`, ...) are filled with the option schemas of the
 * transports in use, so options are validated and defaulted by their owners.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { LOG_LEVELS } from '../log';
import { rolesOf, type AnyTransportDefinition, type TransportRole } from '../transport/interfaces';

/** Stand-in for "whatever transports are installed", used to derive the static config type. */
const GENERIC: readonly AnyTransportDefinition[] = [];
const GenericSelector = Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()));

/** Schema of one role's selector: exactly one key, the transport name, with its options. */
export function transportSelectorSchema(
  role: TransportRole,
  transports: readonly AnyTransportDefinition[],
): typeof GenericSelector {
  if (transports === GENERIC) return GenericSelector;
  const properties: Record<string, TSchema> = {};
  for (const transport of transports) {
    if (!rolesOf(transport).includes(role)) continue;
    properties[transport.name] = Type.Optional(
      transport.options[role] ?? Type.Object({}, { additionalProperties: false }),
    );
  }
  // Statically every selector is "transport name -> options"; at run time it lists the real transports.
  return Type.Object(properties, {
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    errorHint: `must name exactly one transport (available for ${role}: ${Object.keys(properties).join(', ') || 'none'}), e.g. {memory: {}}`,
    description: `The ${role} transport: one key naming the transport, holding its options, e.g. {redis: {url: "redis://127.0.0.1:6379/0"}}.`,
  }) as unknown as typeof GenericSelector;
}

const Validate = Type.Union(
  [
    Type.Boolean(),
    Type.Object(
      { incoming: Type.Optional(Type.Boolean()), outgoing: Type.Optional(Type.Boolean()) },
      { additionalProperties: false },
    ),
  ],
  {
    description: 'Validate parameters and results against the schema: true/false, or {incoming, outgoing}.',
    errorHint: 'must be true, false, or {incoming: bool, outgoing: bool}',
  },
);

/** One API's options (or apis.default). Absent keys fall back to apis.default, then the built-in default. */
export function apiConfigSchema(transports: readonly AnyTransportDefinition[]) {
  return Type.Object(
    {
      rpc_timeout: Type.Optional(
        Type.Number({ exclusiveMinimum: 0, description: 'Seconds a caller waits for a result (default 5).' }),
      ),
      event_fire_timeout: Type.Optional(
        Type.Number({
          exclusiveMinimum: 0,
          description: 'Seconds fire() waits for the broker to take the event (default 5).',
        }),
      ),
      event_listener_setup_timeout: Type.Optional(
        Type.Number({
          exclusiveMinimum: 0,
          description: 'Seconds a listener may take to start consuming (default 1).',
        }),
      ),
      validate: Type.Optional(Validate),
      strict_validation: Type.Optional(
        Type.Boolean({ description: 'Refuse calls and events of APIs with no known schema (default false).' }),
      ),
      cast_values: Type.Optional(
        Type.Boolean({
          description: 'Convert incoming values to the declared types (Date, bigint, ...) (default true).',
        }),
      ),
      rpc_transport: Type.Optional(transportSelectorSchema('rpc', transports)),
      result_transport: Type.Optional(transportSelectorSchema('result', transports)),
      event_transport: Type.Optional(transportSelectorSchema('event', transports)),
    },
    { additionalProperties: false },
  );
}

export const PLUGIN_DEFAULTS = {
  internal_state: { enabled: false, ping_interval: 60, ping_enabled: true },
  internal_metrics: { enabled: false },
} as const;

/** The whole config file. */
export function rootConfigSchema(transports: readonly AnyTransportDefinition[]) {
  return Type.Object(
    {
      service_name: Type.Optional(
        Type.String({
          minLength: 1,
          description:
            'Name of this service; consumer groups are <service_name>-<listener>. Placeholders: {hostname} {pid} {random4} {random8} {random16} {friendly}. Default {friendly}.',
        }),
      ),
      process_name: Type.Optional(
        Type.String({
          minLength: 1,
          description: 'Name of this process within the service; same placeholders. Default {random4}.',
        }),
      ),
      bus: Type.Optional(
        Type.Object(
          {
            log_level: Type.Optional(
              Type.Union(
                LOG_LEVELS.map((l) => Type.Literal(l)),
                { errorHint: `must be one of: ${LOG_LEVELS.join(', ')}` },
              ),
            ),
            schema: Type.Optional(
              Type.Object(
                {
                  human_readable: Type.Optional(
                    Type.Boolean({ description: 'Indent schemas written by dumpschema (default true).' }),
                  ),
                  ttl: Type.Optional(
                    Type.Integer({
                      minimum: 1,
                      description: 'Seconds a stored schema lives unless refreshed (default 60).',
                    }),
                  ),
                  transport: Type.Optional(transportSelectorSchema('schema', transports)),
                },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
      ),
      apis: Type.Optional(
        Type.Record(Type.String({ minLength: 1 }), apiConfigSchema(transports), {
          description: 'Per-API options; the key "default" applies to every API without its own value.',
        }),
      ),
      plugins: Type.Optional(
        Type.Object(
          {
            internal_state: Type.Optional(
              Type.Object(
                {
                  enabled: Type.Optional(Type.Boolean()),
                  ping_interval: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
                  ping_enabled: Type.Optional(
                    Type.Boolean({
                      description: 'Send worker_ping events every ping_interval seconds (default true).',
                    }),
                  ),
                },
                {
                  additionalProperties: false,
                  description: 'Fire internal.state events when workers start, ping and stop.',
                },
              ),
            ),
            internal_metrics: Type.Optional(
              Type.Object(
                { enabled: Type.Optional(Type.Boolean()) },
                {
                  additionalProperties: false,
                  description: 'Fire internal.metrics events for every call, result and event.',
                },
              ),
            ),
          },
          { additionalProperties: false },
        ),
      ),
    },
    {
      additionalProperties: false,
      $id: 'https://lightbus.org/schemas/typescript/config.json',
      title: 'Lightbus config',
    },
  );
}

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- a value only for its type, below
const genericRoot = rootConfigSchema(GENERIC);
/** The config as written in lightbus.yaml or passed as `create({ config })`. */
export type LightbusConfigInput = Static<typeof genericRoot>;
/** One API's options (or apis.default). */
export type ApiConfigInput = NonNullable<LightbusConfigInput['apis']>[string];
