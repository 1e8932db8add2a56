/** The live tail: the last events the UI's listener received, and the browsers following them (SSE). */
import type { ServerResponse } from 'node:http';
import type { EventMessage } from '@lightbus/core';

export interface TailedEvent {
  readonly id: string;
  readonly api: string;
  readonly event: string;
  readonly version: number;
  readonly kwargs: unknown;
  readonly nativeId?: string;
  /** ISO time the broker gave, else when the UI received it. */
  readonly time: string;
  readonly traceContext?: Readonly<Record<string, string>>;
}

export interface TailFilter {
  readonly api?: string;
  readonly event?: string;
  /** Case-insensitive text anywhere in the parameters, id or names. */
  readonly text?: string;
}

export function tailed(message: EventMessage): TailedEvent {
  return {
    id: message.id,
    api: message.apiName,
    event: message.eventName,
    version: message.version,
    kwargs: message.kwargs,
    time: (message.time ?? new Date()).toISOString(),
    ...(message.nativeId !== undefined ? { nativeId: message.nativeId } : {}),
    ...(message.traceContext !== undefined ? { traceContext: message.traceContext } : {}),
  };
}

export function matches(event: TailedEvent, filter: TailFilter): boolean {
  if (filter.api && event.api !== filter.api) return false;
  if (filter.event && event.event !== filter.event) return false;
  if (filter.text) {
    const haystack = `${event.api}.${event.event} ${event.id} ${JSON.stringify(event.kwargs)}`.toLowerCase();
    if (!haystack.includes(filter.text.toLowerCase())) return false;
  }
  return true;
}

/** Bounded: the newest `size` events; older ones are in the transport's history, where it keeps one. */
export class Tail {
  private readonly events: TailedEvent[] = [];
  private readonly followers = new Set<{ response: ServerResponse; filter: TailFilter }>();

  constructor(private readonly size = 1000) {}

  add(message: EventMessage): void {
    const event = tailed(message);
    this.events.push(event);
    if (this.events.length > this.size) this.events.shift();
    for (const follower of this.followers) {
      if (matches(event, follower.filter)) follower.response.write(`data: ${JSON.stringify(event)}\n\n`);
    }
  }

  /** Newest first. */
  recent(filter: TailFilter, limit: number): TailedEvent[] {
    const out: TailedEvent[] = [];
    for (let i = this.events.length - 1; i >= 0 && out.length < limit; i--) {
      const event = this.events[i]!;
      if (matches(event, filter)) out.push(event);
    }
    return out;
  }

  /** Stream matching events to a browser (Server-Sent Events) until it goes away. */
  follow(response: ServerResponse, filter: TailFilter): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    response.write(': following\n\n');
    const follower = { response, filter };
    this.followers.add(follower);
    const keepAlive = setInterval(() => response.write(': keep-alive\n\n'), 15_000);
    response.on('close', () => {
      clearInterval(keepAlive);
      this.followers.delete(follower);
    });
  }

  closeAll(): void {
    for (const { response } of this.followers) response.end();
    this.followers.clear();
  }
}
