/**
 * The three messages of the bus, as in Python Lightbus. Transports carry them;
 * their names on the wire are each transport's business (see the Redis format).
 */
import { randomUUID } from 'node:crypto';
import { encodeJson } from './json';

export { MAX_JSON_DEPTH, decodeJson, encodeJson, setOwn } from './json';

export type Kwargs = Record<string, unknown>;

export interface RpcMessage {
  readonly id: string;
  readonly apiName: string;
  readonly procedureName: string;
  readonly kwargs: Kwargs;
  /** Where the result goes: the caller's result transport's address, any transport's (carried unchanged). */
  readonly returnPath: string;
  /**
   * Milliseconds since the epoch after which the call must not be executed.
   * Always set on a call this process sends (OutgoingRpcMessage); a received
   * call may lack it (Python Lightbus sends none).
   */
  readonly deadline?: number;
  /** W3C trace context (`traceparent`, `tracestate`) of the sender's span, where tracing is on. */
  readonly traceContext?: Readonly<Record<string, string>>;
}

/** A call as its caller sends it: built once, with its deadline and return path, never changed. */
export interface OutgoingRpcMessage extends RpcMessage {
  readonly deadline: number;
}

/** A call before its return path is known: what the result transport is told to expect (`expectResult`). */
export type OutgoingCall = Omit<OutgoingRpcMessage, 'returnPath'>;

export interface ResultMessage {
  readonly id: string;
  readonly rpcMessageId: string;
  /** The procedure's return value, or the error text when `error` is true. */
  readonly result: unknown;
  readonly error: boolean;
  /** The remote stack trace when `error` is true. */
  readonly trace?: string;
  /** The remote error's class name, where the transport can carry or derive it. */
  readonly errorType?: string;
  /** W3C trace context (`traceparent`, `tracestate`) of the sender's span, where tracing is on. */
  readonly traceContext?: Readonly<Record<string, string>>;
}

export interface EventMessage<P extends object = Kwargs> {
  readonly id: string;
  readonly apiName: string;
  readonly eventName: string;
  readonly version: number;
  readonly kwargs: P;
  /** The broker's own id for the message (Redis stream id, Kafka offset, ...). */
  readonly nativeId?: string;
  /** When the broker received it, where the broker says. */
  readonly time?: Date;
  /** W3C trace context (`traceparent`, `tracestate`) of the sender's span, where tracing is on. */
  readonly traceContext?: Readonly<Record<string, string>>;
}

export function newMessageId(): string {
  return randomUUID();
}

export function canonicalName(message: { apiName: string; procedureName?: string; eventName?: string }): string {
  return `${message.apiName}.${message.procedureName ?? message.eventName ?? ''}`;
}

/**
 * The error type a remote stack trace names, whatever the name is.
 * A Python traceback names it on its final exception line: the first line
 * that is not indented after the last `Traceback (most recent call last):`
 * (`ValueError: boom`, `billing.errors.PaymentDeclined: card declined`,
 * `bus.NotFound`); lines after it continue a multi-line message, and earlier
 * tracebacks are the exceptions it was chained from. A JavaScript stack names
 * it on its first line (`TypeError: boom`).
 */
export function errorTypeFromTrace(trace: string | undefined): string | undefined {
  if (!trace) return undefined;
  const lines = trace.replace(/\s+$/, '').split('\n');
  let header = lines.length - 1;
  while (header >= 0 && !lines[header]!.startsWith('Traceback (most recent call last):')) header--;
  const exceptionLine =
    header >= 0 ? lines.slice(header + 1).find((line) => line !== '' && !/^\s/.test(line)) : lines[0];
  const match =
    exceptionLine === undefined
      ? null
      : /^([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)(?::(?:\s|$)|$)/.exec(exceptionLine.trim());
  return match?.[1];
}

/** Most `cause`s followed when describing an error. */
const MAX_CAUSES = 5;

function typeOf(error: Error): string {
  // A class that does not set `name` still has its own constructor name.
  const constructorName = (error.constructor as { name?: unknown } | undefined)?.name;
  return error.name === 'Error' &&
    typeof constructorName === 'string' &&
    constructorName !== '' &&
    error.constructor !== Error
    ? constructorName
    : error.name;
}

function stackOf(error: Error, type: string): string {
  const stack = error.stack ?? `${type}: ${error.message}`;
  // The stack's first line was written with the name the error had when it was made.
  return stack.startsWith('Error') && type !== 'Error' && !stack.startsWith(type)
    ? `${type}${stack.slice('Error'.length)}`
    : stack;
}

/** A thrown value that is not an Error, as text: its JSON where it has one. */
function thrownText(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    const text = encodeJson(value);
    if (text !== undefined) return text;
  } catch {
    // a cycle or the like: fall back to String()
  }
  return String(value);
}

/**
 * The error result of a call whose procedure threw `error`: its message, its
 * type (also for classes that do not set `name`), its stack followed by the
 * stacks of its `cause`s, and for a thrown non-Error its JSON as the text.
 */
export function errorResultOf(call: { id: string }, error: unknown): ResultMessage {
  const base = { id: newMessageId(), rpcMessageId: call.id, error: true } as const;
  if (!(error instanceof Error)) return { ...base, result: thrownText(error) };
  const errorType = typeOf(error);
  let trace = stackOf(error, errorType);
  let cause: unknown = error.cause;
  for (let i = 0; i < MAX_CAUSES && cause !== undefined; i++) {
    trace += `\nCaused by: ${cause instanceof Error ? stackOf(cause, typeOf(cause)) : thrownText(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return { ...base, result: error.message, trace, errorType };
}
