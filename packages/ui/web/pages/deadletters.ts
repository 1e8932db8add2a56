/** Dead letters: what the transports set aside, with the reason and the original message; replay or discard, confirmed. */
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson, postJson } from '../http';

interface Letter {
  id: string;
  reason: string;
  time: string;
  source: string;
  payload: string;
  group?: string;
  api?: string;
  event?: string;
  message?: { kwargs: unknown; id: string; version: number };
}
interface Page {
  supported: boolean;
  reason?: string;
  entries: Letter[];
  next?: string;
}

const PAGE = 25;

export function DeadLettersPage(): VNode {
  const [filter, setFilter] = useState<Record<string, string>>({});
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<Page | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const [version, setVersion] = useState(0);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    getJson<Page>('api/deadletters', { ...filter, limit: PAGE, cursor }).then(setPage, (e: Error) =>
      setNote(e.message),
    );
  }, [JSON.stringify(filter), cursor, version]);

  const act = async (
    action: 'replay' | 'discard',
    target: { id: string } | { all: Record<string, string> },
    what: string,
  ): Promise<void> => {
    const verb = action === 'replay' ? 'Replay' : 'Discard';
    if (
      !confirm(
        `${verb} ${what}?${action === 'discard' ? ' This cannot be undone.' : ' It goes back to the consumer group it came from.'}`,
      )
    )
      return;
    try {
      const { count } = await postJson<{ count: number }>(`api/deadletters/${action}`, { ...target, confirm: true });
      setNote(`${action === 'replay' ? 'Replayed' : 'Discarded'} ${count} dead letter${count === 1 ? '' : 's'}.`);
    } catch (e) {
      setNote(e instanceof Error ? e.message : String(e));
    }
    setCursors([]);
    setVersion(version + 1);
  };
  const field = (name: string, placeholder: string): VNode =>
    html`<input
      placeholder=${placeholder}
      value=${filter[name] ?? ''}
      data-testid=${`dl-${name}`}
      onChange=${(e: Event) => {
        setCursors([]);
        setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value });
      }}
    />`;
  const entries = page?.entries ?? [];
  return html`<section>
    <h1>Dead letters</h1>
    <div class="row">
      ${field('api', 'API')} ${field('event', 'Event')} ${field('group', 'Consumer group')}
      <button class="plain" onClick=${() => setVersion(version + 1)}>Refresh</button>
      <button
        class="plain"
        disabled=${entries.length === 0}
        data-testid="dl-replay-all"
        onClick=${() => void act('replay', { all: filter }, 'every dead letter matching the filter')}
      >
        Replay all
      </button>
      <button
        class="plain"
        disabled=${entries.length === 0}
        onClick=${() => void act('discard', { all: filter }, 'every dead letter matching the filter')}
      >
        Discard all
      </button>
    </div>
    ${note ? html`<p class="notice" data-testid="dl-note">${note}</p>` : ''}
    ${page && !page.supported ? html`<p class="notice">${page.reason}</p>` : ''}
    ${page?.supported && entries.length === 0 ? html`<p class="muted" data-testid="dl-empty">No dead letters${Object.values(filter).some(Boolean) ? ' match' : ''}.</p>` : ''}
    ${
      entries.length > 0
        ? html`<table data-testid="deadletters">
            <thead>
              <tr>
                <th>Set aside</th>
                <th>Event</th>
                <th>Group</th>
                <th>Reason</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              ${entries.map(
                (l) =>
                  html`<tr key=${l.id} data-letter=${l.id}>
                    <td title=${l.time}>${l.time.replace('T', ' ').slice(0, 19)}</td>
                    <td>
                      <details>
                        <summary class="mono">${l.api && l.event ? `${l.api}.${l.event}` : l.source}</summary>
                        <pre>
${l.message ? JSON.stringify({ parameters: l.message.kwargs, id: l.message.id, version: l.message.version, source: l.source }, null, 2) : l.payload}</pre>
                      </details>
                    </td>
                    <td class="mono">${l.group ?? '–'}</td>
                    <td>${l.reason}</td>
                    <td>
                      <button
                        class="plain"
                        data-testid="dl-replay"
                        onClick=${() => void act('replay', { id: l.id }, 'this dead letter')}
                      >
                        Replay
                      </button>
                      <button class="plain" onClick=${() => void act('discard', { id: l.id }, 'this dead letter')}>
                        Discard
                      </button>
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : ''
    }
    <div class="row">
      <button class="plain" disabled=${cursors.length === 0} onClick=${() => setCursors(cursors.slice(0, -1))}>
        Previous
      </button>
      <button class="plain" disabled=${!page?.next} onClick=${() => page?.next && setCursors([...cursors, page.next])}>
        Next
      </button>
    </div>
  </section>`;
}
