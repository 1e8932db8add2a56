/**
 * Serving procedures: one consumer per rpc transport for the APIs it carries;
 * each call is executed (validated and cast per the policy, hooks around it)
 * and its result, or its error, sent back along its return path.
 */
import { errorResultOf, newMessageId, type ResultMessage, type RpcMessage } from '../message';
import type { BusContext } from '../runtime/context';
import { toWire } from '../schema/codec';
import type { TraceCarrier } from '../telemetry';
import type { Consumer } from '../transport/interfaces';
import { isPast } from '../transport/kit/deadline';
import { errorText } from '../util/async';
import type { ConsumerStarts } from './consumers';

export class RpcServer {
  private readonly consumers: Consumer[] = [];
  private readonly served = new Set<string>();

  constructor(
    private readonly bus: BusContext,
    private readonly starts: ConsumerStarts,
  ) {}

  /** Serve these APIs (those not served yet). APIs on the same rpc transport share one consumer. */
  async serve(apiNames: readonly string[]): Promise<void> {
    const { transports, lifecycle, logger, config } = this.bus;
    const todo = apiNames.filter((name) => !this.served.has(name));
    if (todo.length === 0) return;
    todo.forEach((name) => this.served.add(name));
    const byTransport = new Map<string, string[]>();
    for (const name of todo) {
      const key = transports.key(name, 'rpc');
      byTransport.set(key, [...(byTransport.get(key) ?? []), name]);
    }
    for (const names of byTransport.values()) {
      const transport = transports.get(names[0]!, 'rpc');
      const kept = await this.starts.open(
        () => transport.consumeRpcs(names, (message) => this.execute(message), { signal: lifecycle.closingSignal }),
        (consumer) => this.consumers.push(consumer),
      );
      if (kept) logger.info(`Serving ${names.join(', ')}`, { transport: config.transport(names[0]!, 'rpc').name });
    }
  }

  /** Stop every consumer: calls in hand finish and their results are sent. */
  async stop(): Promise<void> {
    const { logger } = this.bus;
    await Promise.all(
      this.consumers
        .splice(0)
        .map((c) => c.stop().catch((error: unknown) => logger.error('Stopping an RPC consumer failed', { error }))),
    );
  }

  /** Execute one incoming call and send its result (never throws: failures become error results). */
  private async execute(message: RpcMessage): Promise<void> {
    const { logger } = this.bus;
    if (isPast(message.deadline)) {
      // At most once: the caller has given up; running it now would surprise everyone.
      logger.debug(`Dropped ${message.apiName}.${message.procedureName}(): its deadline passed before it could run`, {
        rpcMessageId: message.id,
      });
      return;
    }
    const to = {
      apiName: message.apiName,
      member: message.procedureName,
      transport: this.bus.config.transport(message.apiName, 'rpc').name,
    };
    const { result } = await this.bus.telemetry.execute(
      to,
      message,
      (traceContext) => this.run(message, traceContext),
      (outcome) => outcome.failure,
    );
    try {
      if (this.bus.hooks.has('afterRpcExecution')) await this.bus.hooks.run('afterRpcExecution', { message, result });
      await this.bus.transports.get(message.apiName, 'result').sendResult(message, result);
    } catch (error) {
      logger.error(`Could not send the result of ${message.apiName}.${message.procedureName}()`, {
        rpcMessageId: message.id,
        error,
      });
    }
  }

  /** Run the procedure: its value, or the error it raised, as a result message. */
  private async run(
    message: RpcMessage,
    traceContext: TraceCarrier | undefined,
  ): Promise<{ result: ResultMessage; failure?: unknown }> {
    const { apis, hooks, validation } = this.bus;
    try {
      const procedure = apis.servedProcedure(message.apiName, message.procedureName);
      if (hooks.has('beforeRpcExecution')) await hooks.run('beforeRpcExecution', { message });
      const params = validation.incomingCall(message);
      const value = toWire(
        await procedure.invoke(params),
        `the result of ${message.apiName}.${message.procedureName}()`,
        validation.wireSchemaOfResult(message),
      );
      validation.outgoingResult(message, value);
      const result: ResultMessage = {
        id: newMessageId(),
        rpcMessageId: message.id,
        result: value === undefined ? null : value,
        error: false,
        ...(traceContext ? { traceContext } : {}),
      };
      return { result };
    } catch (error) {
      this.bus.logger.warn(
        `${message.apiName}.${message.procedureName}() raised an error; returning it to the caller`,
        {
          rpcMessageId: message.id,
          error: errorText(error),
        },
      );
      return {
        result: { ...errorResultOf(message, error), ...(traceContext ? { traceContext } : {}) },
        failure: error,
      };
    }
  }
}
