/**
 * The three messages of the bus, as in Python Lightbus. Transports carry them;
 * their names on the wire are each transport's business (see the Redis format).
 */
import { randomUUID } from 'node:crypto';

export type Kwargs = Record<string, unknown>;

export interface RpcMessage {
  readonly id: string;
  readonly apiName: string;
  readonly procedureName: string;
  readonly kwargs: Kwargs;
  /** Where the result goes; set by the result transport before the call is sent. */
  returnPath: string;
  /** Milliseconds since the epoch after which the call must not be executed. */
  readonly deadline?: number;
}

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
}

export function newMessageId(): string {
  return randomUUID();
}

export function canonicalName(message: { apiName: string; procedureName?: string; eventName?: string }): string {
  return `${message.apiName}.${message.procedureName ?? message.eventName ?? ''}`;
}

/** Split a stack trace's first line `Name: message` into its error type, when it has one. */
export function errorTypeFromTrace(trace: string | undefined): string | undefined {
  if (!trace) return undefined;
  const lines = trace.trim().split('\n');
  // JavaScript stacks start with "TypeError: message"; Python tracebacks end with "ValueError: message".
  const candidates = [lines[0], lines[lines.length - 1]];
  for (const line of candidates) {
    const match = line && /^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Timeout)\w*)(?::|$)/.exec(line.trim());
    if (match) return match[1];
  }
  return undefined;
}
