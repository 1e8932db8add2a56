/**
 * @lightbus/ui — the management web UI, served by `lightbus ui` (or startUi() in code): services
 * and processes, APIs and their schemas, calls and events from generated forms, a live tail and
 * history of events, consumer groups.
 */
export { startUi, UiOptionsError } from './server';
export type { UiOptions, UiServer } from './server';
