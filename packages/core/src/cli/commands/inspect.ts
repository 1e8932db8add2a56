/**
 * `lightbus inspect`: events of the bus's APIs from their event transports' history, newest first;
 * with --follow, new events as they arrive (oldest first) until Ctrl-C. Reading history creates
 * no consumer group and acknowledges nothing, so following is invisible to the bus's listeners.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import type { Bus } from '../../client/bus';
import type { EventMessage } from '../../message';
import { isoTime, openBus, positiveInteger, withBusOptions, type BusOptions } from '../options';
import { eventJson, eventText, processIo, type CommandIo } from '../format';
import { eventMatcher, isPattern, jsonPathTest, selectApis, type JsonPathTest } from '../event-filter';

export interface InspectOptions extends BusOptions {
  api?: string;
  event?: string;
  id?: string;
  jsonPath?: JsonPathTest[];
  internal?: boolean;
  limit?: number;
  since?: Date;
  until?: Date;
  format?: string;
  follow?: boolean;
  /** --follow: milliseconds between looks at the history (default 500). */
  interval?: number;
}

export function inspectCommand(): Command {
  const command = new Command('inspect')
    .description('Show events of the bus, newest first, or follow new ones (where the event transport keeps history)')
    .option('-a, --api <name>', "the API, or a pattern with * and ? (e.g. 'billing.*'; default: every API)")
    .option('-e, --event <name>', "only this event, or a pattern with * and ? (e.g. 'order*')")
    .option('-i, --id <event id>', 'only the event with this Lightbus id')
    .option(
      '-j, --json-path <path=value>',
      'only events whose parameter at this dotted path has this value, e.g. address.city=London (repeatable)',
      (v: string, previous: JsonPathTest[] | undefined) => jsonPathTest(v, previous),
    )
    .option('--internal', "include the internal.* APIs in a pattern's matches (left out by default)")
    .option('-n, --limit <n>', 'at most this many events (default 20; not with --follow)', (v) =>
      positiveInteger(v, '--limit'),
    )
    .option('--since <time>', 'only events at or after this ISO 8601 time', (v) => isoTime(v, '--since'))
    .option('--until <time>', 'only events at or before this ISO 8601 time', (v) => isoTime(v, '--until'))
    .option('-f, --format <format>', 'json (one object per line) or human', 'human')
    .option('--follow', 'keep printing new events as they arrive, oldest first, until Ctrl-C')
    .option('--interval <ms>', '--follow: milliseconds between looks (default 500)', (v) =>
      positiveInteger(v, '--interval'),
    );
  return withBusOptions(command, false).action(async (options: InspectOptions) => {
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const bus = await openBus(options, false);
    try {
      await inspect(bus, options, processIo(), stop.signal);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await bus.close();
    }
  });
}

/** Print the events the options select; with `follow`, until `signal` aborts. */
export async function inspect(bus: Bus, options: InspectOptions, io: CommandIo, signal?: AbortSignal): Promise<void> {
  const format = options.format ?? 'human';
  if (format !== 'json' && format !== 'human') {
    throw new InvalidArgumentError(`--format must be json or human (got '${format}').`);
  }
  if (options.follow && options.until) throw new InvalidArgumentError('--until cannot be given with --follow.');
  await bus.client.schemas.load();
  const pattern = options.api ?? '*';
  const apis = selectApis(pattern, Object.keys(bus.client.schemas.all()), options.internal === true);
  const print = (message: EventMessage): void => {
    io.out.write(format === 'json' ? `${JSON.stringify(eventJson(message))}\n` : eventText(message));
  };
  const reader = new HistoryReader(bus, options, io, !isPattern(pattern));
  if (options.follow) return follow(reader, apis, options, io, print, signal);

  const wanted = options.id !== undefined ? 1 : (options.limit ?? 20);
  let printed = 0;
  for await (const message of newestFirst(apis.map((api) => reader.read(api, { stop: options.until })))) {
    print(message);
    if (++printed >= wanted) break;
  }
  if (options.id !== undefined && printed === 0) {
    throw new InvalidArgumentError(
      `No event with id '${options.id}' in the history of ${apis.join(', ')} (with the other filters given).`,
    );
  }
}

/** Reads one API's history with the options' filters; notes (or, for one API named exactly, throws) where there is none. */
class HistoryReader {
  readonly matches: (message: EventMessage) => boolean;
  private readonly noted = new Set<string>();

  constructor(
    private readonly bus: Bus,
    private readonly options: InspectOptions,
    private readonly io: CommandIo,
    private readonly exact: boolean,
  ) {
    this.matches = eventMatcher(options);
  }

  /** One API's events, newest first: those the filters keep, or (`all`) every one in the range. */
  async *read(
    apiName: string,
    range: { start?: Date; stop?: Date; limit?: number },
    all = false,
  ): AsyncGenerator<EventMessage> {
    const eventName =
      this.options.event !== undefined && !isPattern(this.options.event) ? this.options.event : undefined;
    let events: AsyncIterable<EventMessage>;
    try {
      events = this.bus.client.history({
        apiName,
        ...(eventName !== undefined ? { eventName } : {}),
        ...(range.limit !== undefined ? { limit: range.limit } : {}),
        ...((range.start ?? this.options.since) ? { start: range.start ?? this.options.since } : {}),
        ...(range.stop ? { stop: range.stop } : {}),
      });
    } catch (error) {
      if (this.exact) throw error;
      if (!this.noted.has(apiName)) this.io.err.write(`Note: ${(error as Error).message} Left out.\n`);
      this.noted.add(apiName);
      return;
    }
    for await (const message of events) if (all || this.matches(message)) yield message;
  }
}

function timeOf(message: EventMessage): number {
  return message.time?.getTime() ?? 0;
}

/** Several newest-first streams as one, newest first (each read only as far as needed). */
async function* newestFirst(sources: AsyncGenerator<EventMessage>[]): AsyncGenerator<EventMessage> {
  const heads = await Promise.all(sources.map(async (source) => ({ source, next: await source.next() })));
  for (;;) {
    let newest: (typeof heads)[number] | undefined;
    for (const head of heads) {
      if (head.next.done) continue;
      if (!newest || timeOf(head.next.value) > timeOf(newest.next.value as EventMessage)) newest = head;
    }
    if (!newest) return;
    yield newest.next.value as EventMessage;
    newest.next = await newest.source.next();
  }
}

/**
 * Follow: look at each API's history every interval for events at or after the newest seen
 * (the broker's time, so the clocks of this machine and the broker's need not agree), skip those
 * already printed, and print the rest oldest first. Starts at --since, else after the newest event.
 */
async function follow(
  reader: HistoryReader,
  apis: readonly string[],
  options: InspectOptions,
  io: CommandIo,
  print: (message: EventMessage) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  // Every event moves the cursors (a filtered-out one too, so it is not read again); the matches are printed.
  const cursors = new Map<string, { since?: Date; seen: Set<string> }>();
  for (const api of apis) {
    if (options.since) {
      cursors.set(api, { since: options.since, seen: new Set() });
      continue;
    }
    let newest: EventMessage | undefined;
    for await (const message of reader.read(api, { limit: 1 }, true)) newest = message;
    // The events at the newest one's time (the same millisecond) are old too.
    const seen = new Set(newest ? [newest.id] : []);
    if (newest?.time) for await (const message of reader.read(api, { start: newest.time }, true)) seen.add(message.id);
    cursors.set(api, { ...(newest?.time ? { since: newest.time } : {}), seen });
  }
  io.err.write(`Following the events of ${apis.join(', ')} (Ctrl-C to stop)\n`);
  while (!signal?.aborted) {
    const fresh: EventMessage[] = [];
    for (const [api, cursor] of cursors) {
      const found: EventMessage[] = [];
      for await (const message of reader.read(api, cursor.since ? { start: cursor.since } : {}, true)) {
        if (!cursor.seen.has(message.id)) found.push(message);
      }
      fresh.push(...found.reverse()); // oldest first (the sort below keeps the order of events of one millisecond)
      const last = Math.max(cursor.since?.getTime() ?? 0, ...found.map(timeOf));
      if (last > (cursor.since?.getTime() ?? 0)) {
        cursor.since = new Date(last);
        cursor.seen.clear();
      }
      // Events at the newest time come again next time (the start is inclusive): remember them.
      for (const message of found) if (timeOf(message) >= last || !message.time) cursor.seen.add(message.id);
    }
    fresh
      .sort((a, b) => timeOf(a) - timeOf(b))
      .filter(reader.matches)
      .forEach(print);
    try {
      await sleep(options.interval ?? 500, undefined, signal ? { signal } : {});
    } catch {
      return; // aborted: Ctrl-C
    }
  }
}
