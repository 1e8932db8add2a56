/** Events: the live tail (filter by API, event, text) and an API's history, each event expandable. */
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson } from '../http';

interface TailedEvent {
  id: string;
  api: string;
  event: string;
  version: number;
  kwargs: unknown;
  nativeId?: string;
  time: string;
  traceContext?: Record<string, string>;
}

const KEEP = 500;

function EventList({ events, testid }: { events: TailedEvent[]; testid: string }): VNode {
  if (events.length === 0) return html`<p class="muted" data-testid=${testid}>No events yet.</p>`;
  return html`<ul class="events" data-testid=${testid}>
    ${events.map(
      (e) =>
        html`<li key=${e.id} data-event=${`${e.api}.${e.event}`}>
          <details>
            <summary>
              <span class="muted">${e.time.slice(11, 23)}</span> <strong class="mono">${e.api}.${e.event}</strong>
              <span class="mono">${JSON.stringify(e.kwargs).slice(0, 120)}</span>
            </summary>
            <pre>
${JSON.stringify({ parameters: e.kwargs, metadata: { id: e.id, api_name: e.api, event_name: e.event, version: e.version, native_id: e.nativeId, time: e.time, trace_context: e.traceContext } }, null, 2)}</pre>
          </details>
        </li>`,
    )}
  </ul>`;
}

function Filters(props: {
  value: Record<string, string>;
  onChange: (v: Record<string, string>) => void;
  prefix: string;
  apiOnly?: boolean;
}): VNode {
  const field = (name: string, placeholder: string): VNode =>
    html`<input
      placeholder=${placeholder}
      value=${props.value[name] ?? ''}
      data-testid=${`${props.prefix}-${name}`}
      onChange=${(e: Event) => props.onChange({ ...props.value, [name]: (e.target as HTMLInputElement).value })}
    />`;
  return html`<div class="row">
    ${field('api', 'API (exact)')} ${field('event', 'Event')} ${props.apiOnly ? '' : field('q', 'Text')}
  </div>`;
}

function LiveTail(): VNode {
  const [filter, setFilter] = useState<Record<string, string>>({});
  const [events, setEvents] = useState<TailedEvent[]>([]);
  const [paused, setPaused] = useState(false);
  useEffect(() => {
    if (paused) return;
    const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v));
    let live = true;
    void getJson<{ items: TailedEvent[] }>('api/events/recent', { ...filter, limit: 100 }).then(
      (r) => live && setEvents(r.items),
    );
    const source = new EventSource(`api/events/stream?${query.toString()}`);
    source.onmessage = (m: MessageEvent<string>) => {
      const event = JSON.parse(m.data) as TailedEvent;
      setEvents((list) => [event, ...list.filter((e) => e.id !== event.id)].slice(0, KEEP));
    };
    return () => {
      live = false;
      source.close();
    };
  }, [JSON.stringify(filter), paused]);
  return html`<section>
    <h2>Live tail</h2>
    <${Filters} value=${filter} onChange=${setFilter} prefix="tail" />
    <div class="row">
      <button class="plain" onClick=${() => setPaused(!paused)}>${paused ? 'Resume' : 'Pause'}</button
      ><span class="muted">newest first, the last ${KEEP}</span>
    </div>
    <${EventList} events=${events} testid="tail" />
  </section>`;
}

function History(): VNode {
  const [filter, setFilter] = useState<Record<string, string>>({});
  const [items, setItems] = useState<TailedEvent[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const load = async (before?: string): Promise<void> => {
    if (!filter.api) return setNote('Name an API to read its history.');
    try {
      const page = await getJson<{ supported: boolean; reason?: string; items: TailedEvent[]; next?: string }>(
        'api/events/history',
        {
          api: filter.api,
          event: filter.event,
          before,
          limit: 50,
        },
      );
      setNote(page.supported ? undefined : page.reason);
      setItems((old) => (before ? [...old, ...page.items.filter((e) => !old.some((o) => o.id === e.id))] : page.items));
      setNext(page.next);
    } catch (e) {
      setNote(e instanceof Error ? e.message : String(e));
    }
  };
  return html`<section>
    <h2>History</h2>
    <${Filters} value=${filter} onChange=${setFilter} prefix="history" apiOnly=${true} />
    <div class="row"><button onClick=${() => void load()} data-testid="history-load">Load newest</button></div>
    ${note ? html`<p class="notice">${note}</p>` : ''}
    <${EventList} events=${items} testid="history" />
    ${next ? html`<div class="row"><button class="plain" onClick=${() => void load(next)}>Older</button></div>` : ''}
  </section>`;
}

export function EventsPage(): VNode {
  return html`<div>
    <h1>Events</h1>
    <${LiveTail} /><${History} />
  </div>`;
}
