/** What `bus.health()` returns and the health endpoints answer, and how it is worked out. */
import type { BusContext } from '../runtime/context';
import type { ConnectionHealth } from '../transport/interfaces';

export interface Health {
  /** The process runs and is not shutting down because of a failure. */
  readonly live: boolean;
  /** It takes work: started, every consumer running, every broker connection up, not draining. */
  readonly ready: boolean;
  /** idle, starting, running, stopping (draining), closed. */
  readonly state: string;
  readonly service: string;
  readonly process: string;
  readonly connections: readonly ConnectionHealth[];
  /** Why it is not ready, one line per reason. */
  readonly reasons: readonly string[];
}

/** The health of one bus now: its lifecycle, and the connections its transports report. */
export function healthOf(bus: Pick<BusContext, 'lifecycle' | 'config' | 'transports'>): Health {
  const { lifecycle, config, transports } = bus;
  const state = lifecycle.state;
  const connections = transports.connections();
  const reasons: string[] = [];
  if (state === 'idle') reasons.push('not started');
  else if (state === 'starting') reasons.push('starting: not every consumer has started yet');
  else if (state === 'stopping') reasons.push('draining: finishing work in hand before exiting');
  else if (state === 'closed') reasons.push('stopped');
  for (const connection of connections) {
    if (!connection.connected) {
      reasons.push(
        `${connection.transport} broker ${connection.broker} unreachable${connection.detail ? ` (${connection.detail})` : ''}`,
      );
    }
  }
  return {
    live: !lifecycle.hasFailed && state !== 'closed',
    ready: reasons.length === 0,
    state,
    service: config.serviceName,
    process: config.processName,
    connections,
    reasons,
  };
}
