import { describe, expect, it } from '@jest/globals';
import { waitFor } from '@lightbus/testing';
import { BusClosedError } from '../errors';
import { RecordingLogger } from '../test-helpers';
import type { SchemaTransport } from '../transport/interfaces';
import { deferred, type Deferred } from '../util/async';
import { SchemaRegistry } from './registry';

/** A schema transport whose loads wait until the test settles them. */
function controlledTransport() {
  const loads: Array<Deferred<Record<string, never>>> = [];
  const transport: SchemaTransport = {
    store: async () => undefined,
    load: () => {
      const load = deferred<Record<string, never>>();
      loads.push(load);
      return load.promise;
    },
    close: async () => undefined,
  };
  return { transport, loads };
}

describe('SchemaRegistry refresh', () => {
  it('warns when a refresh fails while the bus runs', async () => {
    const logger = new RecordingLogger();
    const { transport, loads } = controlledTransport();
    const registry = new SchemaRegistry(() => transport, 0.02, logger);
    registry.startRefreshing();
    await waitFor(() => loads.length > 0, { message: 'a refresh to load schemas' });
    loads[0]!.reject(new Error('connection refused'));
    await waitFor(() => logger.records.some((r) => r.level === 'warn'), { message: 'a warning' });
    registry.stopRefreshing();
    expect(logger.records.find((r) => r.level === 'warn')?.message).toContain('Refreshing schemas on the bus failed');
  });

  it('does not warn about a refresh cut short by the bus closing', async () => {
    const logger = new RecordingLogger();
    const { transport, loads } = controlledTransport();
    const registry = new SchemaRegistry(() => transport, 0.02, logger);
    registry.startRefreshing();
    await waitFor(() => loads.length > 0, { message: 'a refresh to load schemas' });
    registry.stopRefreshing();
    loads[0]!.reject(new BusClosedError('The schema transport was closed.'));
    await waitFor(() => logger.records.some((r) => r.message.includes('bus is closing')), {
      message: 'the debug line',
    });
    expect(logger.records.filter((r) => r.level === 'warn')).toEqual([]);
  });
});
