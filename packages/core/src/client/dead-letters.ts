/**
 * `bus.client.deadLetters`: the dead-letter stores of every event transport
 * this bus uses, as one store. With `apiName` in a filter only that API's
 * transport is read; otherwise each distinct transport (apis.default, every
 * API in the config, every API registered here) in turn. A dead letter's id is
 * its transport's own; get(), replay() and discard() find the store that has it.
 */
import { TransportCapabilityError } from '../errors';
import type { BusContext } from '../runtime/context';
import {
  deadLetterPageSize,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterList,
  type DeadLetterPage,
  type DeadLetterSelection,
  type DeadLetterStore,
} from '../transport/dead-letters';

export class BusDeadLetters implements DeadLetterStore {
  constructor(private readonly bus: BusContext) {}

  /** The stores to read for a filter, in a stable order (so cursors stay valid between processes). */
  private stores(filter: DeadLetterFilter | undefined): DeadLetterStore[] {
    const { transports, config } = this.bus;
    if (filter?.apiName !== undefined) {
      const store = transports.get(filter.apiName, 'event').deadLetters;
      if (!store) {
        throw new TransportCapabilityError(
          `The event transport '${config.transport(filter.apiName, 'event').name}' of API '${filter.apiName}' keeps no ` +
            'dead letters that can be read back.',
        );
      }
      return [store];
    }
    const apiNames = new Set(['default', ...Object.keys(config.data.apis ?? {}), ...this.bus.apis.all.keys()]);
    const byKey = new Map<string, string>();
    for (const apiName of [...apiNames].sort()) {
      const key = transports.key(apiName, 'event');
      if (!byKey.has(key)) byKey.set(key, apiName);
    }
    return [...byKey.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, apiName]) => transports.get(apiName, 'event').deadLetters)
      .filter((store): store is DeadLetterStore => store !== undefined);
  }

  async list(filter?: DeadLetterFilter, page?: DeadLetterPage): Promise<DeadLetterList> {
    const limit = deadLetterPageSize(page);
    const stores = this.stores(filter);
    const [index, inner] = parseCursor(page?.cursor);
    const entries: DeadLetter[] = [];
    let i = index;
    for (; i < stores.length && entries.length < limit; i++) {
      const cursor = i === index ? inner : undefined;
      const got = await stores[i]!.list(filter, {
        limit: limit - entries.length,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      entries.push(...got.entries);
      if (got.next !== undefined) return { entries, next: `${i}:${got.next}` };
    }
    // The page filled up at the end of a store: the next page starts at the following one.
    return i < stores.length ? { entries, next: `${i}:` } : { entries };
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    return (await this.owner(id))?.letter;
  }

  async replay(which: DeadLetterSelection): Promise<number> {
    if ('id' in which) return (await this.owner(which.id))?.store.replay(which) ?? 0;
    let count = 0;
    for (const store of this.stores(which.all)) count += await store.replay(which);
    return count;
  }

  async discard(which: DeadLetterSelection): Promise<number> {
    if ('id' in which) return (await this.owner(which.id))?.store.discard(which) ?? 0;
    let count = 0;
    for (const store of this.stores(which.all)) count += await store.discard(which);
    return count;
  }

  private async owner(id: string): Promise<{ store: DeadLetterStore; letter: DeadLetter } | undefined> {
    for (const store of this.stores(undefined)) {
      const letter = await store.get(id);
      if (letter) return { store, letter };
    }
    return undefined;
  }
}

/** `<store index>:<that store's cursor>` (an empty inner cursor: from its start). */
function parseCursor(cursor: string | undefined): [number, string | undefined] {
  if (cursor === undefined) return [0, undefined];
  const colon = cursor.indexOf(':');
  const index = Number(cursor.slice(0, colon));
  if (colon < 0 || !Number.isInteger(index) || index < 0) {
    throw new RangeError(`Not a dead-letter cursor: ${JSON.stringify(cursor)} (give the 'next' of a previous page).`);
  }
  const inner = cursor.slice(colon + 1);
  return [index, inner === '' ? undefined : inner];
}
