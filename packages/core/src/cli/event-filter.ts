/**
 * What `lightbus inspect` keeps of the events it reads: API and event names with `*` and `?`
 * wildcards (as Python Lightbus's inspect), an event id, and `--json-path path=value` tests on
 * the parameters.
 */
import { InvalidArgumentError } from 'commander';
import { UnknownApiError } from '../errors';
import type { EventMessage } from '../message';

/** Whether a name has wildcards in it. */
export function isPattern(text: string): boolean {
  return /[*?]/.test(text);
}

/** A wildcard pattern as a test of a whole name: `*` any run of characters (dots too), `?` one. */
export function wildcard(pattern: string): (name: string) => boolean {
  const source = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const regex = new RegExp(`^${source}$`);
  return (name) => regex.test(name);
}

/** One `--json-path` test: the value at a dotted path of the parameters equals the value given. */
export interface JsonPathTest {
  readonly path: readonly string[];
  readonly value: string;
}

export function jsonPathTest(text: string, previous: JsonPathTest[] = []): JsonPathTest[] {
  const equals = text.indexOf('=');
  const path = text.slice(0, Math.max(equals, 0));
  if (equals < 1 || path.split('.').some((segment) => segment === '')) {
    throw new InvalidArgumentError(
      `--json-path must be <dotted path>=<value>, e.g. address.city=London or items.0.sku=A1 (got '${text}').`,
    );
  }
  return [...previous, { path: path.split('.'), value: text.slice(equals + 1) }];
}

function valueAt(data: unknown, path: readonly string[]): { found: boolean; value?: unknown } {
  let current = data;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return { found: false };
    current = (current as Record<string, unknown>)[segment];
  }
  return { found: true, value: current };
}

/** The value as text equals the one given, or as JSON (`true`, `42`, `null`, `{"a":1}`) equals what it parses to. */
function sameValue(found: unknown, given: string): boolean {
  if (typeof found === 'string') return found === given;
  try {
    return JSON.stringify(found) === JSON.stringify(JSON.parse(given));
  } catch {
    return false;
  }
}

export interface EventFilter {
  /** The event name, or a pattern. */
  readonly event?: string;
  readonly id?: string;
  readonly jsonPath?: readonly JsonPathTest[];
}

export function eventMatcher(filter: EventFilter): (message: EventMessage) => boolean {
  const eventName = filter.event !== undefined ? wildcard(filter.event) : undefined;
  return (message) =>
    (filter.id === undefined || message.id === filter.id) &&
    (eventName === undefined || eventName(message.eventName)) &&
    (filter.jsonPath ?? []).every((test) => {
      const at = valueAt(message.kwargs, test.path);
      return at.found && sameValue(at.value, test.value);
    });
}

/**
 * The APIs an `--api` pattern names among those the bus knows. A name without wildcards must be
 * known; a pattern leaves out `internal.*` unless `internal` is set.
 */
export function selectApis(pattern: string, known: readonly string[], internal: boolean): string[] {
  const sorted = [...known].sort();
  const list = sorted.join(', ') || 'none';
  if (!isPattern(pattern)) {
    if (sorted.includes(pattern)) return [pattern];
    throw new UnknownApiError(
      `No API '${pattern}' on this bus: neither the bus module registers it nor has a worker stored its schema. ` +
        `Known APIs: ${list}. Check the name and --config (the transports it names), or start the API's worker.`,
    );
  }
  const matches = wildcard(pattern);
  const selected = sorted.filter((name) => matches(name) && (internal || !name.startsWith('internal.')));
  if (selected.length === 0) {
    throw new UnknownApiError(
      `No API on this bus matches '${pattern}'${internal ? '' : ' (internal.* left out: add --internal)'}. Known APIs: ${list}.`,
    );
  }
  return selected;
}
