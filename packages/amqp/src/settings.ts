/** Turning a role's options and the transport context into the Link's settings. */
import type { TransportContext } from '@lightbus/core';
import type { OpenSettings } from './adapter';
import { defaultConnectionName, type Role } from './link';
import type { AmqpConnectionOptions } from './options';

export function linkSettings(options: AmqpConnectionOptions, role: Role, context: TransportContext): OpenSettings {
  return {
    options,
    connectionName: options.connection_name ?? defaultConnectionName(role, context.serviceName, context.processName),
    clientProperties: {
      lightbus_service: context.serviceName,
      lightbus_process: context.processName,
      lightbus_role: role,
    },
  };
}
