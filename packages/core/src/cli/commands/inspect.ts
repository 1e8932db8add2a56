/** `lightbus inspect`: past events of an API, from the event transport's history. */
import { Command, InvalidArgumentError } from 'commander';
import { UnknownApiError } from '../../errors';
import { isoTime, openBus, positiveInteger, withBusOptions, type BusOptions } from '../options';

interface InspectOptions extends BusOptions {
  api: string;
  event?: string;
  limit: number;
  since?: Date;
  until?: Date;
  format: string;
}

export function inspectCommand(): Command {
  const command = new Command('inspect')
    .description('Show past events of an API, newest first (where its event transport keeps history)')
    .requiredOption('-a, --api <name>', 'the API')
    .option('-e, --event <name>', 'only this event')
    .option('-n, --limit <n>', 'at most this many events', (v) => positiveInteger(v, '--limit'), 20)
    .option('--since <time>', 'only events at or after this ISO 8601 time', (v) => isoTime(v, '--since'))
    .option('--until <time>', 'only events at or before this ISO 8601 time', (v) => isoTime(v, '--until'))
    .option('-f, --format <format>', 'json (one object per line) or human', 'human');
  return withBusOptions(command, false).action(inspect);
}

async function inspect(options: InspectOptions): Promise<void> {
  if (options.format !== 'json' && options.format !== 'human') {
    throw new InvalidArgumentError(`--format must be json or human (got '${options.format}').`);
  }
  const bus = await openBus(options, false);
  try {
    await bus.client.schemas.load();
    const known = Object.keys(bus.client.schemas.all()).sort();
    if (!known.includes(options.api)) {
      throw new UnknownApiError(
        `No API '${options.api}' on this bus: neither the bus module registers it nor has a worker stored its schema. ` +
          `Known APIs: ${known.join(', ') || 'none'}. Check the name and --config (the transports it names), or start the API's worker.`,
      );
    }
    const events = bus.client.history({
      apiName: options.api,
      eventName: options.event,
      limit: options.limit,
      start: options.since,
      stop: options.until,
    });
    for await (const event of events) {
      const { id, apiName, eventName, version, kwargs, nativeId, time } = event;
      process.stdout.write(
        options.format === 'json'
          ? `${JSON.stringify({ id, api_name: apiName, event_name: eventName, version, kwargs, native_id: nativeId, time })}\n`
          : `${time?.toISOString() ?? '-'}  ${apiName}.${eventName}  id=${id}${nativeId ? ` native_id=${nativeId}` : ''}\n    ${JSON.stringify(kwargs)}\n`,
      );
    }
  } finally {
    await bus.close();
  }
}
