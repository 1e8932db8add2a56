/**
 * Firing an event of an API this process registered: check the parameters
 * against the declaration, fill defaults, validate (validate.outgoing), send
 * within event_fire_timeout.
 */
import { Value } from '@sinclair/typebox/value';
import type { EventDefinition } from '../api/event';
import { assertApiName } from '../api/names';
import { EventFireTimeoutError, InvalidParametersError } from '../errors';
import { newMessageId, type EventMessage } from '../message';
import type { BusContext } from '../runtime/context';
import { toWire } from '../schema/codec';
import { isPlainObject, withTimeout } from '../util/async';
import { describeValue } from '../util/describe';

function plural(count: number, word: string): string {
  return count > 1 ? `${word}s` : word;
}

/** Refuse missing required and undeclared parameters, naming them. */
function checkDeclared(
  apiName: string,
  eventName: string,
  event: EventDefinition,
  params: Record<string, unknown>,
): void {
  const declared = event.parameters.map((p) => p.name);
  const missing = event.parameters.filter((p) => p.required && params[p.name] === undefined).map((p) => p.name);
  const unknown = Object.keys(params).filter((name) => !declared.includes(name));
  if (missing.length === 0 && unknown.length === 0) return;
  const quoted = (names: string[]): string => names.map((n) => `'${n}'`).join(', ');
  const problems = [
    missing.length ? `missing ${plural(missing.length, 'parameter')} ${quoted(missing)}` : '',
    unknown.length ? `unknown ${plural(unknown.length, 'parameter')} ${quoted(unknown)}` : '',
  ].filter(Boolean);
  throw new InvalidParametersError(
    `Cannot fire ${apiName}.${eventName}: ${problems.join('; ')}. Declared parameters: ${declared.join(', ') || '(none)'}.`,
  );
}

/** Fire an event of an API this process registered; resolves once the transport has it. */
export async function fireEvent(
  bus: BusContext,
  apiName: string,
  eventName: string,
  params: unknown = {},
): Promise<void> {
  bus.lifecycle.assertNotClosed();
  assertApiName(apiName);
  const { api, event } = bus.apis.firedEvent(apiName, eventName);
  if (!isPlainObject(params)) {
    throw new InvalidParametersError(
      `Parameters of event ${apiName}.${eventName} must be one object of named parameters (got ${describeValue(params)}).`,
    );
  }
  checkDeclared(apiName, eventName, event, params);
  const filled = event.schema ? (Value.Default(event.schema, { ...params }) as Record<string, unknown>) : params;
  const kwargs = toWire(
    filled,
    `the parameters of event ${apiName}.${eventName}`,
    bus.validation.wireSchemaOfEvent(apiName, eventName),
  ) as Record<string, unknown>;
  bus.validation.outgoingEvent(apiName, eventName, kwargs);
  const id = newMessageId();
  const to = { apiName, member: eventName, transport: bus.config.transport(apiName, 'event').name };
  await bus.telemetry.fire(to, id, async (traceContext) => {
    const message: EventMessage = {
      id,
      apiName,
      eventName,
      version: api.version,
      kwargs: kwargs === params ? { ...params } : kwargs,
      ...(traceContext ? { traceContext } : {}),
    };
    if (bus.hooks.has('beforeEventSent')) await bus.hooks.run('beforeEventSent', { message });
    const timeout = bus.config.api(apiName).eventFireTimeout;
    await withTimeout(
      bus.transports.get(apiName, 'event').sendEvent(message, { timeoutSeconds: timeout }),
      timeout * 1000,
      () => new EventFireTimeoutError(apiName, eventName, timeout),
    );
    if (bus.hooks.has('afterEventSent')) await bus.hooks.run('afterEventSent', { message });
  });
}
