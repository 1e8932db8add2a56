/**
 * Request/reply matching, the caller's half of the result role: the calls
 * waiting for their results, by call id. A result transport keeps one
 * `ReplyMatcher`; `expect()` registers a call before it is sent and gives the
 * `PendingResult` core waits on; each reply read from the broker goes to
 * `settle()`. Every way a wait can end is here, once, for every transport:
 *
 * - a reply arrives: the call gets it (a reply nobody waits for any more is
 *   dropped with a debug line);
 * - a reply arrives that cannot be decoded but names its call: that call fails
 *   at once with UndecodableResultError, not at its deadline;
 * - the deadline passes: the call fails with RpcTimeoutError;
 * - the caller gives up (`cancel()`): the entry goes, nothing else happens;
 * - the transport closes (`close()`): every call still waiting fails with
 *   BusClosedError, and so does any later `expect()`;
 * - the transport knows no reply can come any more (`failAll()`, e.g. a lost
 *   direct reply-to channel): every call still waiting fails with that error.
 */
import { BusClosedError, ForeignReturnPathError, RpcTimeoutError, UndecodableResultError } from '../../errors';
import type { Logger } from '../../log';
import type { OutgoingCall, OutgoingRpcMessage, ResultMessage, RpcMessage } from '../../message';
import type { PendingResult, ResultTransport, RpcTransport } from '../interfaces';
import type { Decoded } from './codec';
import { msUntil } from './deadline';

/** What the matcher needs of a call: its id, its name (for errors) and its deadline. */
export type ExpectedCall = Pick<OutgoingCall, 'id' | 'apiName' | 'procedureName' | 'deadline'>;

export interface ReplyMatcherOptions {
  /** The transport in messages: "Redis result transport" (read "The Redis result transport is closed"). */
  readonly name: string;
  readonly logger: Logger;
}

interface Waiting {
  readonly call: ExpectedCall;
  readonly resolve: (result: ResultMessage) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  /** Runs once when the call stops waiting, however that happens. */
  readonly onDone: (() => void) | undefined;
}

export class ReplyMatcher {
  private readonly waiting = new Map<string, Waiting>();
  private closed = false;

  constructor(private readonly options: ReplyMatcherOptions) {}

  /** Calls waiting for their result. */
  get size(): number {
    return this.waiting.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether the call with this id waits for its result. */
  has(callId: string): boolean {
    return this.waiting.has(callId);
  }

  /**
   * Wait for the result of `call`, to arrive along `returnPath`, until its
   * deadline. `onDone` runs once when the call stops waiting (settled, failed,
   * timed out or cancelled). Throws BusClosedError once the matcher is closed.
   */
  expect(call: ExpectedCall, returnPath: string, onDone?: () => void): PendingResult {
    if (this.closed) throw this.closedError(`cannot wait for the result of call ${call.id}`);
    if (this.waiting.has(call.id)) this.fail(call.id, new Error(`call ${call.id} was expected again`));
    let resolve!: (result: ResultMessage) => void;
    let reject!: (error: Error) => void;
    const result = new Promise<ResultMessage>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Nobody may await it (the caller timed out first): never an unhandled rejection.
    result.catch(() => undefined);
    const ms = msUntil(call.deadline);
    const seconds = Math.max(0.1, Math.ceil(ms / 100) / 10);
    const timer = setTimeout(
      () => this.fail(call.id, new RpcTimeoutError(call.apiName, call.procedureName, seconds)),
      ms,
    );
    // The caller's own wait keeps the process alive; this one only ends it.
    timer.unref?.();
    const entry: Waiting = { call, resolve, reject, timer, onDone };
    this.waiting.set(call.id, entry);
    return {
      returnPath,
      result,
      cancel: () => {
        if (this.waiting.get(call.id) === entry) this.take(call.id);
      },
    };
  }

  /**
   * A reply read from the broker. `correlationId` is the call id the transport
   * read outside the body (a header, a property), if any; otherwise the decoded
   * result's `rpcMessageId`, or for a reply that cannot be decoded, the id the
   * decoder could read. Returns whether a call was waiting for it.
   */
  settle(reply: Decoded<ResultMessage>, correlationId?: string): boolean {
    if (!reply.ok) {
      const callId = correlationId ?? reply.id;
      const entry = callId === undefined ? undefined : this.take(callId);
      this.options.logger.warn(
        `A result cannot be decoded${entry ? '; its call fails' : ' and no call waits for it; dropped'}`,
        { rpcMessageId: callId, reason: reply.reason, transport: this.options.name },
      );
      entry?.reject(new UndecodableResultError(`The result of call ${callId} cannot be decoded: ${reply.reason}.`));
      return entry !== undefined;
    }
    const callId = correlationId ?? reply.value.rpcMessageId;
    const entry = this.take(callId);
    if (!entry) {
      this.options.logger.debug(
        'A result arrived for a call nobody waits for any more (timed out or cancelled); dropped',
        {
          rpcMessageId: callId,
          transport: this.options.name,
        },
      );
      return false;
    }
    entry.resolve(reply.value);
    return true;
  }

  /** Fail one waiting call now. Returns whether it was waiting. */
  fail(callId: string, error: Error): boolean {
    const entry = this.take(callId);
    entry?.reject(error);
    return entry !== undefined;
  }

  /** Fail every waiting call with `error` (no reply can arrive for them any more). */
  failAll(error: Error): void {
    for (const callId of [...this.waiting.keys()]) this.fail(callId, error);
  }

  /** No more calls: those waiting fail with BusClosedError, later expect() calls too. Idempotent. */
  close(): void {
    this.closed = true;
    for (const [callId] of [...this.waiting]) {
      this.fail(callId, this.closedError(`call ${callId} was still waiting for its result`));
    }
  }

  private closedError(what: string): BusClosedError {
    return new BusClosedError(
      `The ${this.options.name} is closed (the bus is closing or closed): ${what}. Create a new bus.`,
    );
  }

  private take(callId: string): Waiting | undefined {
    const entry = this.waiting.get(callId);
    if (!entry) return undefined;
    this.waiting.delete(callId);
    clearTimeout(entry.timer);
    entry.onDone?.();
    return entry;
  }
}

/**
 * The error of a `sendResult` given a return path this transport cannot serve
 * (see "Foreign return paths" in the transport authors' reference): every
 * transport throws it, the worker logs it and drops the result, the caller
 * times out. `expected` shows the form this transport serves
 * (`redis+key://<key>`); `reason` replaces the default explanation.
 */
export function foreignReturnPath(
  transport: string,
  call: Pick<RpcMessage, 'id' | 'apiName' | 'procedureName' | 'returnPath'>,
  expected: string,
  reason?: string,
): ForeignReturnPathError {
  const why =
    reason ??
    `it is not a ${transport} return path (${expected}): the caller uses another result transport. Configure the same ` +
      `result_transport for API '${call.apiName}' in every process that calls or serves it`;
  return new ForeignReturnPathError(
    `Cannot send the result of ${call.apiName}.${call.procedureName}() (call ${call.id}) along return path ` +
      `${JSON.stringify(call.returnPath)} with the ${transport} result transport: ${why}. The result is dropped; the caller times out.`,
  );
}

/**
 * Make a call on a result and an rpc transport, in the one order that works:
 * expect the result (which gives the return path), build the final message
 * (frozen: nothing changes it afterwards), run `beforeSend` on it, send it.
 * If anything fails before the call is sent, the wait is cancelled.
 */
export async function sendCall(
  transports: { readonly rpc: RpcTransport; readonly result: ResultTransport },
  call: OutgoingCall,
  beforeSend?: (message: OutgoingRpcMessage) => Promise<void> | void,
): Promise<{ readonly message: OutgoingRpcMessage; readonly pending: PendingResult }> {
  const pending = await transports.result.expectResult(call);
  try {
    const message: OutgoingRpcMessage = Object.freeze({ ...call, returnPath: pending.returnPath });
    await beforeSend?.(message);
    await transports.rpc.callRpc(message);
    return { message, pending };
  } catch (error) {
    pending.cancel();
    throw error;
  }
}
