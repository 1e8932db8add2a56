/** Dead letters: what the transports set aside. */
import { html } from 'htm/preact';
import type { VNode } from 'preact';

export function DeadLettersPage(): VNode {
  return html`<section>
    <h1>Dead letters</h1>
    <p class="notice">Not in this version of the UI yet: use <code>lightbus deadletters</code> where available.</p>
  </section>`;
}
