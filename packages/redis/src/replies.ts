/** Reading the RESP2 replies of the stream commands into plain shapes. */
import type { Reply } from './connection';
import type { FieldList } from './wire';

export interface StreamEntry {
  readonly stream: string;
  readonly id: string;
  /** null: the entry was deleted (trimmed) while pending. */
  readonly fields: FieldList | null;
}

export interface PendingEntry {
  readonly id: string;
  readonly consumer: string;
  readonly idleMs: number;
  readonly deliveries: number;
}

function asArray(reply: Reply): Reply[] {
  return Array.isArray(reply) ? reply : [];
}

function fieldList(reply: Reply): FieldList | null {
  if (!Array.isArray(reply)) return null;
  const fields: Array<[string, string]> = [];
  for (let i = 0; i + 1 < reply.length; i += 2) fields.push([String(reply[i]), String(reply[i + 1])]);
  return fields;
}

/** XRANGE / XREVRANGE / XCLAIM: `[[id, [field, value, ...]], ...]`. */
export function parseEntries(stream: string, reply: Reply): StreamEntry[] {
  const entries: StreamEntry[] = [];
  for (const item of asArray(reply)) {
    if (!Array.isArray(item) || item.length < 1 || item[0] === null) continue;
    entries.push({ stream, id: String(item[0]), fields: fieldList(item[1] ?? null) });
  }
  return entries;
}

/** XREADGROUP / XREAD: `[[stream, [[id, fields], ...]], ...]` or null on timeout. */
export function parseStreamsReply(reply: Reply): StreamEntry[] {
  const entries: StreamEntry[] = [];
  for (const item of asArray(reply)) {
    if (!Array.isArray(item) || item.length < 2) continue;
    entries.push(...parseEntries(String(item[0]), item[1] ?? null));
  }
  return entries;
}

/** XPENDING <stream> <group> <start> <end> <count>: `[[id, consumer, idle ms, deliveries], ...]`. */
export function parsePending(reply: Reply): PendingEntry[] {
  return asArray(reply)
    .filter((item): item is Reply[] => Array.isArray(item) && item.length >= 4)
    .map((item) => ({
      id: String(item[0]),
      consumer: String(item[1]),
      idleMs: Number(item[2]),
      deliveries: Number(item[3]),
    }));
}

/** XINFO GROUPS / XINFO CONSUMERS: a list of flat `[key, value, ...]` records. */
export function parseInfoList(reply: Reply): Array<Record<string, Reply>> {
  return asArray(reply).map((item) => {
    const record: Record<string, Reply> = {};
    const list = asArray(item);
    for (let i = 0; i + 1 < list.length; i += 2) record[String(list[i])] = list[i + 1]!;
    return record;
  });
}
