/** The APIs in the schema store (paged, searchable); one API's procedures and events, callable. */
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson, postJson, type Json, type Schema } from '../http';
import { ParameterTable, SchemaForm, typeName } from '../schema';

interface ApiSummary {
  name: string;
  procedures: number;
  events: number;
}
interface ApiDetail {
  name: string;
  rpcs: Record<string, { parameters: Schema; response: Schema }>;
  events: Record<string, { parameters: Schema }>;
  transports: Record<string, { transport: string; broker?: string }>;
}
interface Outcome {
  ok: boolean;
  kind?: 'invalid' | 'remote' | 'timeout' | 'error';
  result?: Json;
  id?: string;
  problems?: { path: string; message: string }[];
  error?: { type: string; message: string; stack?: string };
  durationMs?: number;
}

const PAGE = 25;

function OutcomeView({ outcome, what }: { outcome: Outcome; what: 'call' | 'fire' }): VNode {
  const took = outcome.durationMs !== undefined ? html` <span class="muted">in ${outcome.durationMs} ms</span>` : '';
  if (outcome.ok)
    return html`<div data-testid="outcome" class="ok">
      ${
        what === 'call'
          ? html`Result${took}:
              <pre data-testid="result">${JSON.stringify(outcome.result, null, 2)}</pre>`
          : html`Fired, id <code>${outcome.id}</code>${took}`
      }
    </div>`;
  if (outcome.kind === 'invalid')
    return html`<div data-testid="outcome" class="bad">
      Not sent: ${outcome.problems?.map((p) => html`<div>${p.message}</div>`)}
    </div>`;
  return html`<div data-testid="outcome" class="bad">
    ${outcome.kind === 'remote' ? 'Remote error' : outcome.kind === 'timeout' ? 'Timed out' : 'Failed'}${took}:
    <strong>${outcome.error?.type}</strong> ${outcome.error?.message}
    ${
      outcome.error?.stack
        ? html`<details>
            <summary>Stack</summary>
            <pre>${outcome.error.stack}</pre>
          </details>`
        : ''
    }
  </div>`;
}

function Member(props: {
  api: string;
  kind: 'procedure' | 'event';
  name: string;
  parameters: Schema;
  response?: Schema;
}): VNode {
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const [error, setError] = useState<string | undefined>();
  const id = `${props.kind}-${props.name}`;
  const submit = async (params: Record<string, Json>): Promise<void> => {
    setError(undefined);
    try {
      const body = { api: props.api, [props.kind]: props.name, params };
      setOutcome(await postJson<Outcome>(props.kind === 'procedure' ? 'api/call' : 'api/fire', body));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return html`<div class="card" data-testid=${id}>
    <h3 class="mono">${props.name}${props.kind === 'procedure' ? `() → ${typeName(props.response)}` : ''}</h3>
    <${ParameterTable} schema=${props.parameters} />
    <details>
      <summary>${props.kind === 'procedure' ? 'Call' : 'Fire'} ${props.name}</summary>
      <${SchemaForm}
        schema=${props.parameters}
        id=${id}
        action=${props.kind === 'procedure' ? 'Call' : 'Fire'}
        onSubmit=${submit}
      />
      ${error ? html`<p class="bad">${error}</p>` : ''}
      ${outcome ? html`<${OutcomeView} outcome=${outcome} what=${props.kind === 'procedure' ? 'call' : 'fire'} />` : ''}
    </details>
  </div>`;
}

function ApiView({ name }: { name: string }): VNode {
  const [api, setApi] = useState<ApiDetail | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    setApi(undefined);
    getJson<ApiDetail>(`api/apis/${encodeURIComponent(name)}`).then(setApi, (e: Error) => setError(e.message));
  }, [name]);
  if (error) return html`<p class="bad">${error}</p>`;
  if (!api) return html`<p class="muted">Loading…</p>`;
  return html`<section data-testid="api-detail">
    <h1 class="mono">${api.name}</h1>
    <p class="muted">
      ${Object.entries(api.transports).map(([role, t]) => html`<span>${role}: <code>${t.transport}</code>${t.broker ? html` <code>${t.broker}</code>` : ''} · </span>`)}
    </p>
    <h2>Procedures</h2>
    ${Object.keys(api.rpcs).length === 0 ? html`<p class="muted">None.</p>` : ''}
    ${Object.entries(api.rpcs).map(([n, r]) => html`<${Member} key=${n} api=${api.name} kind="procedure" name=${n} parameters=${r.parameters} response=${r.response} />`)}
    <h2>Events</h2>
    ${Object.keys(api.events).length === 0 ? html`<p class="muted">None.</p>` : ''}
    ${Object.entries(api.events).map(([n, e]) => html`<${Member} key=${n} api=${api.name} kind="event" name=${n} parameters=${e.parameters} />`)}
  </section>`;
}

export function ApisPage({ selected }: { selected?: string }): VNode {
  const [query, setQuery] = useState('');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<{ total: number; items: ApiSummary[] } | undefined>();
  useEffect(() => {
    void getJson<{ total: number; items: ApiSummary[] }>('api/apis', { q: query, offset, limit: PAGE }).then(setPage);
  }, [query, offset]);
  if (selected)
    return html`<p><a href="#/apis">← All APIs</a></p>
      <${ApiView} name=${selected} />`;
  return html`<section>
    <h1>APIs</h1>
    <div class="row">
      <input
        placeholder="Search APIs"
        value=${query}
        data-testid="api-search"
        onInput=${(e: Event) => {
          setOffset(0);
          setQuery((e.target as HTMLInputElement).value);
        }}
      />
      <span class="muted">${page ? `${page.total} APIs` : ''}</span>
    </div>
    <table data-testid="apis">
      <thead>
        <tr>
          <th>API</th>
          <th>Procedures</th>
          <th>Events</th>
        </tr>
      </thead>
      <tbody>
        ${(page?.items ?? []).map(
          (a) =>
            html`<tr>
              <td><a class="mono" href=${`#/apis/${encodeURIComponent(a.name)}`}>${a.name}</a></td>
              <td>${a.procedures}</td>
              <td>${a.events}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <div class="row">
      <button class="plain" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>
        Previous
      </button>
      <span class="muted"
        >${page && page.total ? `${offset + 1}–${Math.min(offset + PAGE, page.total)} of ${page.total}` : ''}</span
      >
      <button class="plain" disabled=${!page || offset + PAGE >= page.total} onClick=${() => setOffset(offset + PAGE)}>
        Next
      </button>
    </div>
  </section>`;
}
