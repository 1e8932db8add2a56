/**
 * The memory transport's dead-letter store: the broker's list of events set
 * aside. Ids are the broker's increasing numbers, so a page's cursor (the last
 * id it showed) survives removals. Replay gives the event back to its group
 * only (MemoryStream.replay).
 */
import {
  deadLetterPageSize,
  forEachSelected,
  matchesDeadLetter,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterList,
  type DeadLetterPage,
  type DeadLetterSelection,
  type DeadLetterStore,
} from '../dead-letters';
import type { MemoryBroker, MemoryDeadLetter } from './broker';
import { decodeEvent } from './codec';

export class MemoryDeadLetters implements DeadLetterStore {
  constructor(
    private readonly broker: MemoryBroker,
    private readonly maxStreamLength: number,
  ) {}

  async list(filter?: DeadLetterFilter, page?: DeadLetterPage): Promise<DeadLetterList> {
    const limit = deadLetterPageSize(page);
    const after = page?.cursor === undefined ? 0 : Number(page.cursor);
    const entries: DeadLetter[] = [];
    for (const stored of this.broker.deadLetters) {
      if (stored.kind !== 'event' || stored.seq <= after) continue;
      const letter = toDeadLetter(stored);
      if (!matchesDeadLetter(filter, letter)) continue;
      if (entries.length === limit) return { entries, next: entries[entries.length - 1]!.id };
      entries.push(letter);
    }
    return { entries };
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const stored = this.broker.deadLetters.find((d) => d.kind === 'event' && String(d.seq) === id);
    return stored && toDeadLetter(stored);
  }

  replay(which: DeadLetterSelection): Promise<number> {
    return forEachSelected(this, which, async (letter) => {
      if (!this.remove(letter.id)) return false;
      if (letter.group !== undefined) {
        const [apiName, eventName] = splitStream(letter.source);
        this.broker
          .stream(letter.source, this.maxStreamLength)
          .replay(letter.group, apiName, eventName, letter.payload);
      }
      return true;
    });
  }

  discard(which: DeadLetterSelection): Promise<number> {
    return forEachSelected(this, which, async (letter) => this.remove(letter.id));
  }

  private remove(id: string): boolean {
    const index = this.broker.deadLetters.findIndex((d) => String(d.seq) === id);
    if (index < 0) return false;
    this.broker.deadLetters.splice(index, 1);
    return true;
  }
}

/** `<api>.<event>` -> [api, event] (API names have dots, event names none). */
function splitStream(stream: string): [string, string] {
  const dot = stream.lastIndexOf('.');
  return [stream.slice(0, dot), stream.slice(dot + 1)];
}

function toDeadLetter(stored: MemoryDeadLetter): DeadLetter {
  const source = stored.stream ?? '';
  const [apiName, eventName] = splitStream(source);
  const decoded = decodeEvent({ payload: stored.payload, seq: stored.seq, time: stored.time });
  return {
    id: String(stored.seq),
    reason: stored.reason,
    time: stored.time,
    ...(stored.group !== undefined ? { group: stored.group } : {}),
    source,
    apiName,
    eventName,
    ...(decoded.ok ? { message: decoded.value } : {}),
    payload: stored.payload,
  };
}
