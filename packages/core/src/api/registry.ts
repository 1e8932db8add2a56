/**
 * The APIs this process registered: it serves their procedures and fires their
 * events. Lookups that fail say what exists instead.
 */
import { ApiNotRegisteredError, InvalidApiError, UnknownEventError, UnknownProcedureError } from '../errors';
import { describeApi, type Api, type ApiDefinition, type ProcedureDefinition } from './api';
import type { EventDefinition } from './event';

function list(names: Iterable<string>): string {
  return [...names].join(', ') || '(none)';
}

export class ApiRegistry {
  private readonly apis = new Map<string, ApiDefinition>();

  /** Describe and add an API instance; one API of a name per bus. */
  add(api: Api): ApiDefinition {
    const definition = describeApi(api);
    if (this.apis.has(definition.name)) {
      throw new InvalidApiError(`API '${definition.name}' is already registered on this bus.`);
    }
    this.apis.set(definition.name, definition);
    return definition;
  }

  get(apiName: string): ApiDefinition | undefined {
    return this.apis.get(apiName);
  }

  has(apiName: string): boolean {
    return this.apis.has(apiName);
  }

  names(): string[] {
    return [...this.apis.keys()];
  }

  /** Every registered API by name. */
  get all(): ReadonlyMap<string, ApiDefinition> {
    return this.apis;
  }

  /** Before a call: an API registered here must declare the procedure (other APIs are checked by their schema). */
  checkCalledProcedure(apiName: string, procedureName: string): void {
    const local = this.apis.get(apiName);
    if (local && !local.procedures.has(procedureName)) {
      throw new UnknownProcedureError(
        `API '${apiName}' has no procedure '${procedureName}'. Its procedures: ${list(local.procedures.keys())}.`,
      );
    }
  }

  /** For a worker executing a call: the procedure, or UnknownProcedureError (sent back to the caller). */
  servedProcedure(apiName: string, procedureName: string): ProcedureDefinition {
    const api = this.apis.get(apiName);
    const procedure = api?.procedures.get(procedureName);
    if (!api || !procedure) {
      throw new UnknownProcedureError(
        `API '${apiName}' has no procedure '${procedureName}'` +
          (api ? `. Its procedures: ${list(api.procedures.keys())}.` : ' in this worker.'),
      );
    }
    return procedure;
  }

  /** Before firing: only the process that registered an API fires its events, and only declared ones. */
  firedEvent(apiName: string, eventName: string): { api: ApiDefinition; event: EventDefinition } {
    const api = this.apis.get(apiName);
    if (!api) {
      throw new ApiNotRegisteredError(
        `Cannot fire ${apiName}.${eventName}: API '${apiName}' is not registered in this process. ` +
          `Only the process that registers an API fires its events: bus.client.registerApi(new YourApi()).`,
      );
    }
    const event = api.events.get(eventName);
    if (!event)
      throw new UnknownEventError(
        `API '${apiName}' has no event '${eventName}'. Its events: ${list(api.events.keys())}.`,
      );
    return { api, event };
  }

  /** Before listening: an API registered here must declare the event. */
  checkListenedEvent(apiName: string, eventName: string): void {
    const local = this.apis.get(apiName);
    if (local && !local.events.has(eventName)) {
      throw new UnknownEventError(
        `API '${apiName}' has no event '${eventName}'. Its events: ${list(local.events.keys())}.`,
      );
    }
  }
}
