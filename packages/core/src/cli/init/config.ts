/** `lightbus init`'s lightbus.yaml: the service's name and every role on the chosen transport. */
import { TRANSPORTS, type InitTransport } from './transports';

export function lightbusYaml(service: string, transport: InitTransport): string {
  const { options, broker } = TRANSPORTS[transport];
  const on = `{ ${transport}: ${options} }`;
  return `# Which transport carries each API's calls, results and events, and where schemas are shared.
# ${broker}
# Every key: https://github.com/lightbus-ts/lightbus-ts/blob/main/docs/reference/configuration.md
# service_name names the consumer groups of this service's listeners (${service}-<listener>),
# so a worker that restarts gets the events fired while it was down.
service_name: ${service}
bus:
  schema:
    transport: ${on}
apis:
  default:
    rpc_transport: ${on}
    result_transport: ${on}
    event_transport: ${on}
`;
}
