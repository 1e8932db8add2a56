/** Turning a role's options and the transport context into the Link's settings. */
import type { TransportContext } from '@lightbus/core/transport';
import type { OpenSettings } from './adapter';
import { defaultConnectionName, type Purpose, type Role } from './link';
import type { AmqpConnectionOptions } from './options';

/**
 * `purpose` separates a role's publishing connection from its consuming one, as
 * RabbitMQ advises: flow control blocks a connection that publishes, and
 * acknowledgements on a blocked connection would wait too.
 */
export function linkSettings(
  options: AmqpConnectionOptions,
  role: Role,
  context: TransportContext,
  purpose?: Purpose,
): OpenSettings {
  const connectionName =
    options.connection_name !== undefined
      ? `${options.connection_name}${purpose ? ` (${purpose})` : ''}`
      : defaultConnectionName(role, context.serviceName, context.processName, purpose);
  return {
    options,
    connectionName,
    clientProperties: {
      lightbus_service: context.serviceName,
      lightbus_process: context.processName,
      lightbus_role: purpose ? `${role} ${purpose}` : role,
    },
  };
}
