/**
 * Tab completion of bus paths in `lightbus shell`: `bus.` → the bus's members and the first
 * segments of API names; `bus.billing.` → the next segments; `bus.billing.invoices.` → the API's
 * procedures and events; `bus.billing.invoices.created.` → fire and listen. Read from the schemas
 * the bus knows (its own APIs and those stored on the bus), since a dynamic path cannot list itself.
 */
import type { ApiSchema } from '../schema/types';

/** The members of the bus itself (bus.client and the others complete as ordinary objects). */
const BUS_MEMBERS = ['api', 'client', 'close', 'health', 'start', 'waitUntilStopped'];

/** A bus path at the end of the line: the name the bus has in scope, the segments after it, and the part being typed. */
const PATH_AT_END = /(?:^|[^\w$.])(bus((?:\.[\w$]+)*))\.([\w$]*)$/;

/** What may follow the path `segments` of the bus (undefined: not a bus path this completes). */
export function nextSegments(
  schemas: Readonly<Record<string, ApiSchema>>,
  segments: readonly string[],
): string[] | undefined {
  if (segments[0] !== undefined && BUS_MEMBERS.includes(segments[0])) return undefined;
  const out = new Set<string>(segments.length === 0 ? BUS_MEMBERS : []);
  const prefix = segments.join('.');
  for (const apiName of Object.keys(schemas)) {
    const parts = apiName.split('.');
    if (parts.length > segments.length && segments.every((segment, i) => parts[i] === segment)) {
      out.add(parts[segments.length]!);
    }
  }
  const api = schemas[prefix];
  if (api) for (const name of [...Object.keys(api.rpcs), ...Object.keys(api.events)]) out.add(name);
  const owner = schemas[segments.slice(0, -1).join('.')];
  const last = segments[segments.length - 1];
  if (owner && last !== undefined && Object.hasOwn(owner.events, last)) {
    out.add('fire');
    out.add('listen');
  }
  return out.size > 0 ? [...out].sort() : undefined;
}

/**
 * Completions of the line's end as node:repl's completer gives them ([candidates, the text they
 * replace]), or undefined when the line does not end in a bus path (the REPL's own completer then runs).
 */
export function completeBusPath(
  schemas: Readonly<Record<string, ApiSchema>>,
  line: string,
): [string[], string] | undefined {
  const match = PATH_AT_END.exec(line);
  if (!match) return undefined;
  const [, path, rest, typed] = match as unknown as [string, string, string, string];
  const segments = rest === '' ? [] : rest.slice(1).split('.');
  const next = nextSegments(schemas, segments);
  if (!next) return undefined;
  return [next.filter((name) => name.startsWith(typed)).map((name) => `${path}.${name}`), `${path}.${typed}`];
}
