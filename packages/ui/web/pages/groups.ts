/** Consumer groups per API: lag, pending and consumers where the broker tells; a group watched by name otherwise. */
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import { getJson } from '../http';
import { usePoll } from '../poll';

interface GroupInfo {
  group: string;
  destination: string;
  lag?: number;
  pending?: number;
  consumers?: number;
}
interface ApiGroups {
  api: string;
  transport?: string;
  supported: boolean;
  reason?: string;
  lagByName?: boolean;
  groups: GroupInfo[];
}

const PAGE = 10;
const n = (v: number | undefined): string => (v === undefined ? '–' : String(v));

function Watch({ api }: { api: string }): VNode {
  const [draft, setDraft] = useState('');
  const [group, setGroup] = useState('');
  const { data } = usePoll(
    () =>
      group
        ? getJson<{ supported: boolean; reason?: string; lag: GroupInfo[] }>('api/groups/lag', { api, group })
        : Promise.resolve(undefined),
    2000,
    [api, group],
  );
  return html`<div class="row">
    <input
      placeholder="group name (<service>-<listener>)"
      value=${draft}
      data-testid=${`watch-${api}`}
      onInput=${(e: Event) => setDraft((e.target as HTMLInputElement).value)}
    />
    <button class="plain" onClick=${() => setGroup(draft)}>Watch</button>
    ${
      group && data
        ? data.supported
          ? data.lag.length === 0
            ? html`<span class="muted">no such group</span>`
            : data.lag.map(
                (l) =>
                  html`<span data-testid="watched-lag" data-group=${group}
                    ><code>${l.destination}</code> lag <strong>${n(l.lag)}</strong> pending ${n(l.pending)}</span
                  >`,
              )
          : html`<span class="muted">${data.reason}</span>`
        : ''
    }
  </div>`;
}

export function GroupsPage(): VNode {
  const [query, setQuery] = useState('');
  const [offset, setOffset] = useState(0);
  const { data, error } = usePoll(
    () => getJson<{ total: number; items: ApiGroups[] }>('api/groups', { q: query, offset, limit: PAGE }),
    2000,
    [query, offset],
  );
  return html`<section>
    <h1>Consumer groups</h1>
    <div class="row">
      <input
        placeholder="Search APIs"
        value=${query}
        onInput=${(e: Event) => {
          setOffset(0);
          setQuery((e.target as HTMLInputElement).value);
        }}
      />
    </div>
    ${error ? html`<p class="bad">${error}</p>` : ''}
    ${(data?.items ?? []).map(
      (api) =>
        html`<div class="card" data-testid=${`groups-${api.api}`}>
          <h3 class="mono">${api.api} <span class="muted">${api.transport ?? ''}</span></h3>
          ${
            api.supported
              ? api.groups.length === 0
                ? html`<p class="muted">No consumer groups yet.</p>`
                : html`<table>
                    <thead>
                      <tr>
                        <th>Group</th>
                        <th>Stream / queue / topic</th>
                        <th>Lag</th>
                        <th>Pending</th>
                        <th>Consumers</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${api.groups.map(
                        (g) =>
                          html`<tr data-group=${g.group}>
                            <td class="mono">${g.group}</td>
                            <td class="mono">${g.destination}</td>
                            <td data-testid="lag">${n(g.lag)}</td>
                            <td>${n(g.pending)}</td>
                            <td>${n(g.consumers)}</td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>`
              : html`<p class="muted">${api.reason}</p>`
          }
          ${!api.supported && api.lagByName ? html`<${Watch} api=${api.api} />` : ''}
        </div>`,
    )}
    <div class="row">
      <button class="plain" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>
        Previous
      </button>
      <span class="muted"
        >${data && data.total ? `APIs ${offset + 1}–${Math.min(offset + PAGE, data.total)} of ${data.total}` : ''}</span
      >
      <button class="plain" disabled=${!data || offset + PAGE >= data.total} onClick=${() => setOffset(offset + PAGE)}>
        Next
      </button>
    </div>
  </section>`;
}
