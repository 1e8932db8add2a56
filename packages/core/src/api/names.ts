import { InvalidNameError } from '../errors';

const API_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const MEMBER_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const LISTENER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Names a procedure or event may not take: they are the verbs of a bus path
 * (`bus.a.b.event.fire`), make a path look like a promise (`then`), or belong
 * to every object.
 */
export const RESERVED_MEMBER_NAMES: ReadonlySet<string> = new Set([
  'fire',
  'listen',
  'then',
  'catch',
  'finally',
  'constructor',
  'toString',
  'toJSON',
  'valueOf',
  'inspect',
]);

/** Check an API name such as `support.case`; throws InvalidNameError saying what is wrong. */
export function assertApiName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidNameError(
      `API name must be a non-empty string (got ${JSON.stringify(name)}); set static meta = { name: 'my.api' }.`,
    );
  }
  if (name === 'default' || name.startsWith('default.')) {
    throw new InvalidNameError(
      `API name '${name}' is reserved: 'default' and 'default.*' name the config fallback (apis.default). Choose another name.`,
    );
  }
  for (const segment of name.split('.')) {
    if (segment.startsWith('_')) {
      throw new InvalidNameError(`API name '${name}' is invalid: a part may not start with '_' ('${segment}').`);
    }
    if (!API_SEGMENT.test(segment)) {
      throw new InvalidNameError(
        `API name '${name}' is invalid: each dot-separated part must be letters, digits, '_' or '-' ` +
          `and start with a letter or digit (bad part: '${segment}').`,
      );
    }
  }
}

/** Check a procedure or event name. `kind` is 'procedure' or 'event' for the message. */
export function assertMemberName(
  apiName: string,
  kind: 'procedure' | 'event' | 'parameter',
  name: unknown,
): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidNameError(`Empty ${kind} name on API '${apiName}'.`);
  }
  if (name.startsWith('_')) {
    throw new InvalidNameError(`${capitalise(kind)} name '${name}' on API '${apiName}' may not start with '_'.`);
  }
  if (!MEMBER_NAME.test(name)) {
    throw new InvalidNameError(
      `${capitalise(kind)} name '${name}' on API '${apiName}' is invalid: use letters, digits and '_', starting with a letter.`,
    );
  }
  if (kind !== 'parameter' && RESERVED_MEMBER_NAMES.has(name)) {
    throw new InvalidNameError(
      `${capitalise(kind)} name '${name}' on API '${apiName}' is reserved (reserved: ${[...RESERVED_MEMBER_NAMES].join(', ')}). Rename it.`,
    );
  }
}

/** Check a listener name; it becomes part of the consumer group `<service>-<listener>`. */
export function assertListenerName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !LISTENER_NAME.test(name)) {
    throw new InvalidNameError(
      `listenerName ${JSON.stringify(name)} is invalid: give a stable name of letters, digits, '_', '-' or '.', ` +
        `e.g. listen(handler, { listenerName: 'send-welcome-email' }). It names the consumer group '<service_name>-<listenerName>'.`,
    );
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
