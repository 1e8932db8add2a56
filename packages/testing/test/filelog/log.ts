/**
 * The "broker" of the example file-log transport: an append-only JSON-lines
 * file (one record a line) read back when a process opens it, and an
 * EventEmitter that tells this process's consumers something changed.
 *
 * Events, consumer groups (where each starts, what it acknowledged, how many
 * times it had each event delivered), dead letters and schemas are records in
 * the file, so they survive a restart. Calls and results are transient: they
 * travel over the emitter only. One FileLog per folder per process, shared by
 * the role transports that use it (counted: the last to close lets it go, and
 * the next to open reads the file again).
 */
import { EventEmitter, once } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ApiSchema, StartPosition } from '@lightbus/core/transport';

export type LogRecord =
  | { type: 'event'; seq: number; stream: string; time: number; payload: string }
  | { type: 'group'; group: string; stream: string; start: number }
  | { type: 'delivery'; group: string; stream: string; seq: number }
  | { type: 'ack'; group: string; stream: string; seq: number }
  | { type: 'dead'; group: string; stream: string; seq: number; id?: string; reason: string }
  | { type: 'schema'; api: string; schema: ApiSchema; expiresAt: number };

type Appended<R> = R extends LogRecord ? Omit<R, 'seq'> & Partial<Pick<R & { seq: number }, 'seq'>> : never;

export interface LogEntry {
  readonly seq: number;
  readonly stream: string;
  readonly time: number;
  readonly payload: string;
}

export interface GroupState {
  readonly start: number;
  /** Settled: acknowledged or set aside. */
  readonly settled: Set<number>;
  /** Deliveries so far of each entry (persisted: delivery_limit holds across restarts). */
  readonly deliveries: Map<number, number>;
  /** Delivered and not settled, by this process's consumers: seq -> consumer (not persisted: a restart gives them back). */
  readonly taken: Map<number, string>;
}

/** The file of the log in `dir`. */
export function logFile(dir: string): string {
  return path.join(dir, 'log.jsonl');
}

/** Every record of the log in `dir`, read from the file (for tests: dead letters). */
export function readRecords(dir: string): LogRecord[] {
  const file = logFile(dir);
  if (!existsSync(file)) return [];
  const records: LogRecord[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as LogRecord);
    } catch {
      // A line cut short by a crash mid-write: skipped.
    }
  }
  return records;
}

export class FileLog {
  /** 'change': something was appended, or a consumer gave events back. */
  readonly emitter = new EventEmitter().setMaxListeners(0);
  readonly entries: LogEntry[] = [];
  readonly schemas = new Map<string, { schema: ApiSchema; expiresAt: number }>();
  private readonly groups = new Map<string, GroupState>();
  private readonly callQueues = new Map<string, string[]>();
  private nextSeq = 1;
  users = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    for (const record of readRecords(dir)) this.apply(record);
  }

  /** Write `record` to the file, then to this process's state; wakes the consumers. */
  append(record: Appended<LogRecord>): LogRecord {
    const full = (record.type === 'event' ? { ...record, seq: this.nextSeq } : record) as LogRecord;
    appendFileSync(logFile(this.dir), `${JSON.stringify(full)}\n`);
    this.apply(full);
    this.changed();
    return full;
  }

  /** The calls to `api` waiting for a worker (in this process only: calls are not written to the file). */
  calls(api: string): string[] {
    let queue = this.callQueues.get(api);
    if (!queue) this.callQueues.set(api, (queue = []));
    return queue;
  }

  changed(): void {
    this.emitter.emit('change');
  }

  /** Resolves at the next change, or when `signal` aborts. */
  async nextChange(signal: AbortSignal): Promise<void> {
    await once(this.emitter, 'change', { signal }).catch(() => undefined);
  }

  group(group: string, stream: string): GroupState | undefined {
    return this.groups.get(`${group}\u0000${stream}`);
  }

  /** The group's state on `stream`, created (persisted) at `since` when new; `since` applies only then. */
  joinGroup(group: string, stream: string, since: StartPosition | undefined): GroupState {
    const known = this.group(group, stream);
    if (known) return known;
    this.append({ type: 'group', group, stream, start: this.startSeq(stream, since) });
    return this.group(group, stream)!;
  }

  private startSeq(stream: string, since: StartPosition | undefined): number {
    if (!since) return this.nextSeq;
    if (since.kind === 'beginning') return 1;
    if (since.kind === 'time')
      return this.entries.find((e) => e.stream === stream && e.time >= since.time.getTime())?.seq ?? this.nextSeq;
    const seq = Number(since.position);
    return Number.isInteger(seq) && seq > 0 ? seq : this.nextSeq;
  }

  private apply(record: LogRecord): void {
    switch (record.type) {
      case 'event':
        this.entries.push(record);
        this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
        return;
      case 'group':
        this.groups.set(`${record.group}\u0000${record.stream}`, {
          start: record.start,
          settled: new Set(),
          deliveries: new Map(),
          taken: new Map(),
        });
        return;
      case 'delivery': {
        const state = this.group(record.group, record.stream);
        state?.deliveries.set(record.seq, (state.deliveries.get(record.seq) ?? 0) + 1);
        return;
      }
      case 'ack':
      case 'dead': {
        const state = this.group(record.group, record.stream);
        state?.settled.add(record.seq);
        state?.taken.delete(record.seq);
        state?.deliveries.delete(record.seq);
        return;
      }
      case 'schema':
        this.schemas.set(record.api, { schema: record.schema, expiresAt: record.expiresAt });
        return;
    }
  }
}

const open = new Map<string, FileLog>();

/** The log in `dir` for this process (read from its file on first use); give it back with `releaseLog`. */
export function openLog(dir: string): FileLog {
  const key = path.resolve(dir);
  let log = open.get(key);
  if (!log) {
    log = new FileLog(key);
    open.set(key, log);
  }
  log.users += 1;
  return log;
}

export function releaseLog(log: FileLog): void {
  log.users -= 1;
  if (log.users === 0 && open.get(log.dir) === log) open.delete(log.dir);
}
