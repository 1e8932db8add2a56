/** Services and their processes, from the state plugin's events (TypeScript and Python alike). */
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { ago, getJson } from '../http';
import { usePoll } from '../poll';

interface ProcessInfo {
  serviceName: string;
  processName: string;
  status: 'alive' | 'gone';
  lastSeen: number;
  lastEvent: string;
  pingInterval?: number;
  apiNames: string[];
  listeningFor: string[];
  language: string;
  hostname?: string;
  pid?: number;
  version: number;
}

export function ServicesPage(): VNode {
  const { data, error } = usePoll(() => getJson<{ processes: ProcessInfo[]; now: number }>('api/services'), 2000);
  return html`<section>
    <h1>Services</h1>
    ${error ? html`<p class="bad">${error}</p>` : ''}
    ${
      data && data.processes.length === 0
        ? html`<p class="notice">
            No process has reported yet. Workers report when the state plugin is on (<code
              >plugins: internal_state: enabled: true</code
            >
            in lightbus.yaml); they then appear within one ping interval.
          </p>`
        : ''
    }
    <table data-testid="services">
      <thead>
        <tr>
          <th>Service</th>
          <th>Process</th>
          <th>Status</th>
          <th>Last seen</th>
          <th>APIs</th>
          <th>Listening for</th>
          <th>Runtime</th>
        </tr>
      </thead>
      <tbody>
        ${(data?.processes ?? []).map(
          (p) =>
            html`<tr data-service=${p.serviceName}>
              <td><strong>${p.serviceName}</strong></td>
              <td class="mono">${p.processName}</td>
              <td><span class=${`badge ${p.status}`}>${p.status}</span></td>
              <td title=${new Date(p.lastSeen).toISOString()}>
                ${ago(p.lastSeen, data?.now)}
                <span class="muted">(${p.lastEvent}${p.pingInterval ? `, ping every ${p.pingInterval} s` : ''})</span>
              </td>
              <td class="mono">${p.apiNames.join(', ') || html`<span class="muted">none</span>`}</td>
              <td class="mono">${p.listeningFor.join(', ') || html`<span class="muted">none</span>`}</td>
              <td>
                ${p.language}${p.hostname ? html` <span class="muted">${p.hostname}${p.pid ? `:${p.pid}` : ''}</span>` : ''}
                <span class="muted">v${p.version}</span>
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
