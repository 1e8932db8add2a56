/** The UI's front end: five pages, chosen by the URL's hash (#/services, #/apis/<name>, ...). */
import { html, render } from 'htm/preact';
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson } from './http';
import { ApisPage } from './pages/apis';
import { EventsPage } from './pages/events';
import { GroupsPage } from './pages/groups';
import { ServicesPage } from './pages/services';
import { DeadLettersPage } from './pages/deadletters';

const PAGES = [
  ['services', 'Services'],
  ['apis', 'APIs'],
  ['events', 'Events'],
  ['groups', 'Consumer groups'],
  ['deadletters', 'Dead letters'],
] as const;

function useHash(): string[] {
  const read = (): string[] => location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const [parts, setParts] = useState(read());
  useEffect(() => {
    const changed = (): void => setParts(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return parts;
}

function App(): VNode {
  const [page = 'services', arg] = useHash();
  const [who, setWho] = useState('');
  useEffect(() => {
    void getJson<{ serviceName: string; config: string }>('api/overview').then((o) => setWho(`config: ${o.config}`));
  }, []);
  const body =
    page === 'apis'
      ? html`<${ApisPage} selected=${arg} />`
      : page === 'events'
        ? html`<${EventsPage} />`
        : page === 'groups'
          ? html`<${GroupsPage} />`
          : page === 'deadletters'
            ? html`<${DeadLettersPage} />`
            : html`<${ServicesPage} />`;
  return html`<header>
      <strong>Lightbus</strong>
      <nav>
        ${PAGES.map(([id, title]) => html`<a href=${`#/${id}`} class=${page === id ? 'active' : ''}>${title}</a>`)}
      </nav>
      <span class="who">${who}</span>
    </header>
    <main>${body}</main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
