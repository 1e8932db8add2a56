/**
 * `lightbus deadletters list|show|replay|discard`: the events the bus's event transports set aside,
 * through `bus.client.deadLetters` (every transport's store as one). Replaying or discarding more
 * than one needs --all and a confirmation (--yes, or y at the prompt on a terminal); every action
 * is logged with what it acted on.
 */
import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError } from 'commander';
import type { Bus } from '../../client/bus';
import type { DeadLetter, DeadLetterFilter } from '../../transport/dead-letters';
import { isoTime, openBus, positiveInteger, withBusOptions, type BusOptions } from '../options';
import { eventJson, processIo, table, truncate, type CommandIo } from '../format';

export interface DeadLetterOptions extends BusOptions {
  api?: string;
  event?: string;
  group?: string;
  since?: Date;
  limit?: number;
  cursor?: string;
  json?: boolean;
  all?: boolean;
  yes?: boolean;
}

type Action = 'replay' | 'discard';

export function deadLettersCommand(): Command {
  const command = new Command('deadletters').description(
    'List, show, replay or discard the events the event transports set aside (dead letters)',
  );
  const sub = (name: string, description: string): Command =>
    withBusOptions(
      filterOptions(new Command(name).description(description)).option('--json', 'print JSON (for scripts)'),
      false,
    );
  command.addCommand(
    sub('list', 'One page of dead letters, oldest first')
      .option('-n, --limit <n>', 'at most this many (default 20)', (v) => positiveInteger(v, '--limit'))
      .option('--cursor <next>', 'continue from a previous page (the `next` it printed)')
      .action((options: DeadLetterOptions) => withBus(options, (bus) => listDeadLetters(bus, options))),
  );
  command.addCommand(
    sub('show', 'One dead letter: why, when, from where, and the original message')
      .argument('<id>', 'the id `list` printed')
      .action((id: string, options: DeadLetterOptions) => withBus(options, (bus) => showDeadLetter(bus, id, options))),
  );
  for (const action of ['replay', 'discard'] as const) {
    command.addCommand(
      sub(
        action,
        action === 'replay'
          ? 'Put dead letters back to the consumer group they were set aside from, then remove them'
          : 'Remove dead letters for good',
      )
        .argument('[id]', 'the one to act on (or --all)')
        .option('--all', 'every dead letter matching the filters (asks first)')
        .option('-y, --yes', 'do not ask for confirmation (for scripts)')
        .action((id: string | undefined, options: DeadLetterOptions) =>
          withBus(options, (bus) => actOnDeadLetters(bus, action, id, options)),
        ),
    );
  }
  return command.showHelpAfterError();
}

function filterOptions(command: Command): Command {
  return command
    .option('-a, --api <name>', 'only this API')
    .option('-e, --event <name>', 'only this event')
    .option('-g, --group <group>', 'only those set aside from this consumer group (<service>-<listener>)')
    .option('--since <time>', 'only those set aside at or after this ISO 8601 time', (v) => isoTime(v, '--since'));
}

async function withBus(options: DeadLetterOptions, act: (bus: Bus) => Promise<void>): Promise<void> {
  const bus = await openBus(options, false);
  try {
    await act(bus);
  } finally {
    await bus.close();
  }
}

function filterOf(options: DeadLetterOptions): DeadLetterFilter {
  return {
    ...(options.api !== undefined ? { apiName: options.api } : {}),
    ...(options.event !== undefined ? { eventName: options.event } : {}),
    ...(options.group !== undefined ? { group: options.group } : {}),
    ...(options.since !== undefined ? { since: options.since } : {}),
  };
}

/** The filters as the command line gives them (for hints and logs). */
function describeFilter(filter: DeadLetterFilter): string {
  const parts = [
    filter.apiName !== undefined ? `--api ${filter.apiName}` : '',
    filter.eventName !== undefined ? `--event ${filter.eventName}` : '',
    filter.group !== undefined ? `--group ${filter.group}` : '',
    filter.since !== undefined ? `--since ${filter.since.toISOString()}` : '',
  ].filter(Boolean);
  return parts.join(' ');
}

function letterJson(letter: DeadLetter): Record<string, unknown> {
  return {
    id: letter.id,
    reason: letter.reason,
    time: letter.time.toISOString(),
    source: letter.source,
    ...(letter.group !== undefined ? { group: letter.group } : {}),
    ...(letter.apiName !== undefined ? { api_name: letter.apiName } : {}),
    ...(letter.eventName !== undefined ? { event_name: letter.eventName } : {}),
    ...(letter.message ? { message: eventJson(letter.message) } : {}),
    payload: letter.payload,
  };
}

/**
 * The event transports that keep no dead letters that can be read back (so a list without --api
 * does not look empty when it is only blind): each named once, with the APIs that use it.
 */
function blindTransports(bus: Bus, filter: DeadLetterFilter): string[] {
  if (filter.apiName !== undefined) return []; // bus.client.deadLetters refuses such an API itself
  const { config } = bus.client;
  const apiNames = new Set([
    'default',
    ...Object.keys(config.data.apis ?? {}),
    ...Object.keys(bus.client.schemas.all()),
  ]);
  const blind = new Map<string, string[]>();
  for (const apiName of [...apiNames].sort()) {
    if (bus.client.eventTransport(apiName).deadLetters) continue;
    const name = config.transport(apiName, 'event').name;
    blind.set(name, [...(blind.get(name) ?? []), apiName]);
  }
  return [...blind.entries()].map(([name, apis]) => `'${name}' (API ${apis.join(', ')})`);
}

export async function listDeadLetters(
  bus: Bus,
  options: DeadLetterOptions,
  io: CommandIo = processIo(),
): Promise<void> {
  const filter = filterOf(options);
  const limit = options.limit ?? 20;
  const page = await bus.client.deadLetters.list(filter, {
    limit,
    ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
  });
  const blind = blindTransports(bus, filter);
  if (blind.length > 0) {
    io.err.write(
      `Note: the event transport${blind.length > 1 ? 's' : ''} ${blind.join('; ')} keep${blind.length > 1 ? '' : 's'} no ` +
        'dead letters that can be read back: none of theirs are listed.\n',
    );
  }
  if (options.json) {
    const next = page.next !== undefined ? { next: page.next } : {};
    io.out.write(`${JSON.stringify({ entries: page.entries.map(letterJson), ...next })}\n`);
  } else if (page.entries.length === 0) {
    io.err.write(`No dead letters${describeFilter(filter) ? ` matching ${describeFilter(filter)}` : ''}.\n`);
  } else {
    const rows = page.entries.map((letter) => [
      letter.id,
      letter.time.toISOString(),
      `${letter.apiName ?? '?'}.${letter.eventName ?? '?'}`,
      letter.group ?? '-',
      truncate(letter.reason, 60),
    ]);
    io.out.write(table(['ID', 'SET ASIDE', 'EVENT', 'GROUP', 'REASON'], rows));
  }
  if (page.next !== undefined) {
    const again = ['lightbus deadletters list', describeFilter(filter), `--limit ${limit}`, `--cursor '${page.next}'`];
    io.err.write(`More: ${again.filter(Boolean).join(' ')}\n`);
  }
}

async function found(bus: Bus, id: string): Promise<DeadLetter> {
  const letter = await bus.client.deadLetters.get(id);
  if (!letter) {
    throw new InvalidArgumentError(
      `No dead letter '${id}' (replayed or discarded already?). List them with: lightbus deadletters list`,
    );
  }
  return letter;
}

export async function showDeadLetter(
  bus: Bus,
  id: string,
  options: DeadLetterOptions,
  io: CommandIo = processIo(),
): Promise<void> {
  const letter = await found(bus, id);
  if (options.json) {
    io.out.write(`${JSON.stringify(letterJson(letter))}\n`);
    return;
  }
  const lines = [
    `id:        ${letter.id}`,
    `set aside: ${letter.time.toISOString()}`,
    `reason:    ${letter.reason}`,
    `event:     ${letter.apiName ?? '?'}.${letter.eventName ?? '?'}`,
    `group:     ${letter.group ?? '-'}`,
    `source:    ${letter.source}`,
    letter.message
      ? `message:\n${JSON.stringify(eventJson(letter.message), null, 2).replace(/^/gm, '  ')}`
      : `payload (undecodable):\n  ${letter.payload}`,
  ];
  io.out.write(`${lines.join('\n')}\n`);
}

/** replay or discard: one by id, or --all matching the filters after a confirmation. */
export async function actOnDeadLetters(
  bus: Bus,
  action: Action,
  id: string | undefined,
  options: DeadLetterOptions,
  io: CommandIo = processIo(),
): Promise<void> {
  const filter = filterOf(options);
  const done = action === 'replay' ? 'Replayed' : 'Discarded';
  const store = bus.client.deadLetters;
  if (id !== undefined) {
    if (options.all || describeFilter(filter)) {
      throw new InvalidArgumentError(`Give either an id or --all with filters to ${action}, not both.`);
    }
    const letter = await found(bus, id);
    const count = await store[action]({ id });
    const what = { id, event: `${letter.apiName ?? '?'}.${letter.eventName ?? '?'}`, group: letter.group };
    bus.client.logger.warn(`lightbus deadletters: ${done.toLowerCase()} ${count} dead letter(s)`, what);
    report(io, options, action, count, { id });
    return;
  }
  if (!options.all) {
    throw new InvalidArgumentError(
      `Name the dead letter to ${action} (its id, from lightbus deadletters list), or give --all to ${action} every one ` +
        'matching --api, --event, --group and --since.',
    );
  }
  const matching = await countMatching(bus, filter);
  const scope = describeFilter(filter) ? `matching ${describeFilter(filter)}` : '(no filter: every one)';
  if (matching === 0) {
    report(io, options, action, 0, { filter });
    return;
  }
  if (!options.yes)
    await confirm(io, `${action === 'replay' ? 'Replay' : 'Discard'} ${matching} dead letter(s) ${scope}?`, action);
  const count = await store[action]({ all: filter });
  bus.client.logger.warn(`lightbus deadletters: ${done.toLowerCase()} ${count} dead letter(s) ${scope}`, {
    filter: { ...filter, since: filter.since?.toISOString() },
  });
  report(io, options, action, count, { filter });
}

function report(
  io: CommandIo,
  options: DeadLetterOptions,
  action: Action,
  count: number,
  which: { id: string } | { filter: DeadLetterFilter },
): void {
  if (options.json) {
    const selection = 'id' in which ? { id: which.id } : { ...which.filter, since: which.filter.since?.toISOString() };
    io.out.write(`${JSON.stringify({ action, count, selection })}\n`);
    return;
  }
  const scope =
    'id' in which ? `'${which.id}'` : describeFilter(which.filter) ? `matching ${describeFilter(which.filter)}` : '';
  io.out.write(
    `${action === 'replay' ? 'Replayed' : 'Discarded'} ${count} dead letter(s)${scope ? ` ${scope}` : ''}.\n`,
  );
}

/** How many match (paging through the stores, never loading them whole). */
async function countMatching(bus: Bus, filter: DeadLetterFilter): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await bus.client.deadLetters.list(filter, { limit: 200, ...(cursor !== undefined ? { cursor } : {}) });
    count += page.entries.length;
    cursor = page.next;
  } while (cursor !== undefined);
  return count;
}

/** Ask y/N on a terminal; refuse without one (a script must say --yes). */
async function confirm(io: CommandIo, question: string, action: Action): Promise<void> {
  if (!io.input.isTTY) {
    throw new InvalidArgumentError(
      `${question} Not confirmed: stdin is not a terminal to ask on. Run again with --yes to ${action} them.`,
    );
  }
  const prompt = createInterface({ input: io.input, output: io.err });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new InvalidArgumentError(`Nothing done: not confirmed.`);
  } finally {
    prompt.close();
  }
}
