/**
 * Calling a remote procedure, in steps: check the arguments, build the
 * message (validated per the policy), send it with a result expected, wait
 * (within the deadline, or until the bus closes), then read the result.
 */
import { assertApiName, assertMemberName } from '../api/names';
import { BusClosedError, InvalidParametersError, RemoteError, RpcTimeoutError } from '../errors';
import { errorTypeFromTrace, newMessageId, type OutgoingCall, type ResultMessage } from '../message';
import type { BusContext } from '../runtime/context';
import { toWire } from '../schema/codec';
import type { RpcSchema } from '../schema/types';
import type { TraceCarrier } from '../telemetry';
import type { PendingResult } from '../transport/interfaces';
import { sendCall } from '../transport/kit/reply';
import { InFlight, isPlainObject, withTimeout } from '../util/async';
import { describeValue } from '../util/describe';

export interface CallOptions {
  /** Seconds to wait for the result; default: the API's rpc_timeout. */
  readonly timeout?: number;
}

/** One outgoing call, its arguments checked. */
interface Call {
  readonly apiName: string;
  readonly procedureName: string;
  readonly params: Record<string, unknown>;
  /** Seconds. */
  readonly timeout: number;
  /** Epoch ms: covers everything from the check on (schema loading, hooks, sending and waiting). */
  readonly deadline: number;
  /** The API is registered in this process (a timeout then needs no hint about workers). */
  readonly local: boolean;
}

export class Caller {
  /** Calls still waiting for their result: ended with BusClosedError when the bus closes. */
  private readonly waitingCalls = new Set<() => void>();
  private readonly inFlightCalls = new InFlight();

  constructor(private readonly bus: BusContext) {}

  /** Call a remote procedure and wait for its result. */
  async call(
    apiName: string,
    procedureName: string,
    params: unknown = {},
    options: CallOptions = {},
  ): Promise<unknown> {
    this.bus.lifecycle.assertNotClosed();
    const call = this.check(apiName, procedureName, params, options);
    let pending: PendingResult | undefined;
    const run = async (traceContext: TraceCarrier | undefined): Promise<unknown> => {
      const { draft, schema } = await this.build(call, traceContext);
      const sent = await this.send(call, draft);
      pending = sent.pending;
      const message = sent.message;
      const result = await this.untilClosed(pending.result);
      if (this.bus.hooks.has('afterRpcCall')) await this.bus.hooks.run('afterRpcCall', { message, result });
      return this.read(call, schema, result);
    };
    try {
      const to = { apiName, member: procedureName, transport: this.bus.config.transport(apiName, 'rpc').name };
      return await this.inFlightCalls.track(
        this.bus.telemetry.call(to, (traceContext) =>
          withTimeout(run(traceContext), call.timeout * 1000, () => this.timeoutError(call)),
        ),
      );
    } catch (error) {
      // The result transport's matcher may see the deadline pass first: the error is the same, told with this call's hint.
      throw error instanceof RpcTimeoutError ? this.timeoutError(call) : error;
    } finally {
      // Also on timeout: release what the result transport holds for this call.
      pending?.cancel();
    }
  }

  /** End every call still waiting for its result (the bus is closing). */
  abandonWaiting(): void {
    for (const abandon of [...this.waitingCalls]) abandon();
  }

  /** Resolves once no call is in progress. */
  drain(): Promise<void> {
    return this.inFlightCalls.drain();
  }

  /** Step 1: names, parameters and timeout are usable; the deadline starts now. */
  private check(apiName: string, procedureName: string, params: unknown, options: CallOptions): Call {
    assertApiName(apiName);
    assertMemberName(apiName, 'procedure', procedureName);
    if (!isPlainObject(params)) {
      throw new InvalidParametersError(
        `Parameters of ${apiName}.${procedureName}() must be one object of named parameters, e.g. { id: 1 } (got ${describeValue(params)}).`,
      );
    }
    this.bus.apis.checkCalledProcedure(apiName, procedureName);
    const timeout = options.timeout ?? this.bus.config.api(apiName).rpcTimeout;
    if (!(typeof timeout === 'number' && timeout > 0)) {
      throw new InvalidParametersError(
        `Call option 'timeout' must be a positive number of seconds (got ${describeValue(timeout)}).`,
      );
    }
    return {
      apiName,
      procedureName,
      params,
      timeout,
      deadline: Date.now() + timeout * 1000,
      local: this.bus.apis.has(apiName),
    };
  }

  /** Step 2: the call, its parameters on the wire and validated (validate.outgoing). */
  private async build(
    call: Call,
    traceContext: TraceCarrier | undefined,
  ): Promise<{ draft: OutgoingCall; schema: RpcSchema | undefined }> {
    const { apiName, procedureName, params } = call;
    const schema = await this.bus.validation.callSchema(apiName, procedureName);
    const kwargs = toWire(params, `the parameters of ${apiName}.${procedureName}()`, schema?.parameters) as Record<
      string,
      unknown
    >;
    this.bus.validation.outgoingCall(apiName, procedureName, schema, kwargs);
    const draft: OutgoingCall = {
      id: newMessageId(),
      apiName,
      procedureName,
      kwargs: kwargs === params ? { ...params } : kwargs,
      deadline: call.deadline,
      ...(traceContext ? { traceContext } : {}),
    };
    return { draft, schema };
  }

  /**
   * Step 3: expect the result (which gives the return path), then send the
   * final message, built once and frozen; `beforeRpcCall` hooks see it as sent.
   */
  private send(call: Call, draft: OutgoingCall): ReturnType<typeof sendCall> {
    const transports = {
      result: this.bus.transports.get(call.apiName, 'result'),
      rpc: this.bus.transports.get(call.apiName, 'rpc'),
    };
    return sendCall(transports, draft, async (message) => {
      if (this.bus.hooks.has('beforeRpcCall')) await this.bus.hooks.run('beforeRpcCall', { message });
    });
  }

  /** Step 4: a remote error raises; a value is validated (validate.incoming) and cast (cast_values). */
  private read(call: Call, schema: RpcSchema | undefined, result: ResultMessage): unknown {
    if (result.error) {
      throw new RemoteError(
        call.apiName,
        call.procedureName,
        String(result.result),
        result.errorType ?? errorTypeFromTrace(result.trace),
        result.trace,
      );
    }
    return this.bus.validation.incomingResult(call.apiName, call.procedureName, schema, result.result);
  }

  private timeoutError(call: Call): RpcTimeoutError {
    const { apiName, procedureName, timeout } = call;
    return new RpcTimeoutError(
      apiName,
      procedureName,
      timeout,
      call.local
        ? ''
        : `API '${apiName}' is not registered in this process; check the name and that a worker serving it is running and reachable, ` +
            `or raise apis.${apiName}.rpc_timeout.`,
    );
  }

  /** Resolves with `promise`, or rejects with BusClosedError if the bus closes first. */
  private untilClosed<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const abandon = (): void =>
        reject(new BusClosedError('The bus was closed while this call waited for its result.'));
      this.waitingCalls.add(abandon);
      promise.then(
        (value) => {
          this.waitingCalls.delete(abandon);
          resolve(value);
        },
        (error: unknown) => {
          this.waitingCalls.delete(abandon);
          reject(error);
        },
      );
    });
  }
}
