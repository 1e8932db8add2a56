/**
 * Dead letters through `bus.client.deadLetters` (every event transport's store): a page at a
 * time, one by id, and replay or discard of one or of all those matching a filter. Replay and
 * discard need `confirm: true` in the request (the page asks first), and each is logged with what
 * it acted on.
 */
import type { DeadLetter, DeadLetterFilter, DeadLetterSelection } from '@lightbus/core/transport';
import { HttpError, type RouteContext } from './routes';
import { tailed } from './tail';

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function shown(letter: DeadLetter): Record<string, unknown> {
  return {
    id: letter.id,
    reason: letter.reason,
    time: letter.time.toISOString(),
    source: letter.source,
    payload: letter.payload,
    ...(letter.group !== undefined ? { group: letter.group } : {}),
    ...(letter.apiName !== undefined ? { api: letter.apiName } : {}),
    ...(letter.eventName !== undefined ? { event: letter.eventName } : {}),
    ...(letter.message ? { message: tailed(letter.message) } : {}),
  };
}

function filterFrom(get: (name: string) => unknown): DeadLetterFilter {
  const field = (name: string): string | undefined => {
    const value = get(name);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const apiName = field('api');
  const eventName = field('event');
  const group = field('group');
  const since = field('since');
  const sinceDate = since ? new Date(since) : undefined;
  if (sinceDate && Number.isNaN(sinceDate.getTime()))
    throw new HttpError(400, `since must be an ISO 8601 time (got '${since}').`);
  return {
    ...(apiName ? { apiName } : {}),
    ...(eventName ? { eventName } : {}),
    ...(group ? { group } : {}),
    ...(sinceDate ? { since: sinceDate } : {}),
  };
}

export async function listDeadLetters(ctx: RouteContext, url: URL): Promise<unknown> {
  const filter = filterFrom((name) => url.searchParams.get(name));
  const limitText = url.searchParams.get('limit');
  const limit = limitText && /^\d+$/.test(limitText) ? Math.min(Math.max(Number(limitText), 1), 200) : 25;
  const cursor = url.searchParams.get('cursor') || undefined;
  try {
    const page = await ctx.bus.client.deadLetters.list(filter, { limit, ...(cursor ? { cursor } : {}) });
    return {
      supported: true,
      entries: page.entries.map(shown),
      ...(page.next !== undefined ? { next: page.next } : {}),
    };
  } catch (error) {
    // A transport without a readable store, or a broker that did not answer: said, not an error page.
    return { supported: false, reason: text(error), entries: [] };
  }
}

export async function getDeadLetter(ctx: RouteContext, id: string): Promise<unknown> {
  const letter = await ctx.bus.client.deadLetters.get(id);
  if (!letter) throw new HttpError(404, `No dead letter '${id}' (replayed or discarded already?).`);
  return shown(letter);
}

/** Replay or discard one (`{ id }`) or all matching (`{ all: { api, event, group, since } }`), with `confirm: true`. */
export async function actOnDeadLetters(
  ctx: RouteContext,
  action: 'replay' | 'discard',
  body: Record<string, unknown>,
): Promise<unknown> {
  if (body.confirm !== true) {
    throw new HttpError(400, `To ${action} dead letters, send confirm: true (the page asks you first).`);
  }
  let which: DeadLetterSelection;
  if (typeof body.id === 'string' && body.id !== '') which = { id: body.id };
  else if (typeof body.all === 'object' && body.all !== null) {
    const all = body.all as Record<string, unknown>;
    which = { all: filterFrom((name) => all[name]) };
  } else throw new HttpError(400, 'Name the dead letters: { id } or { all: { api?, event?, group?, since? } }.');
  const count =
    action === 'replay'
      ? await ctx.bus.client.deadLetters.replay(which)
      : await ctx.bus.client.deadLetters.discard(which);
  ctx.bus.client.logger.warn(`UI: ${action === 'replay' ? 'replayed' : 'discarded'} ${count} dead letter(s)`, {
    selection: 'id' in which ? { id: which.id } : { ...which.all, since: which.all.since?.toISOString() },
  });
  return { ok: true, count };
}
